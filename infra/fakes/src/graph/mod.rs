//! Microsoft Graph (Teams): users, teams, channels and channel messages (with their mentions and
//! replies), and their seeding. The
//! endpoints are in `api.rs`.

mod api;
pub(crate) use api::error;

use chrono::{DateTime, Duration, Utc};

use crate::oauth::OAuthProvider;
use crate::state::{FakeState, Inner};
use crate::util::{mix, short_code, uuid_from};

pub(crate) use api::{handle, rate_limited, server_error};

/// The fake tenant (directory) every user, team and token belongs to.
pub(crate) const TENANT_ID: &str = "0fa4e0a1-fa4e-4fa4-8fa4-0000000fa4e0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsTeam {
    pub id: String,
    pub display_name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsChannel {
    /// `19:…@thread.tacv2`
    pub id: String,
    pub team_id: String,
    pub display_name: String,
    pub description: String,
    /// `standard`, `private` or `shared`.
    pub membership_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsMessage {
    /// Milliseconds since the epoch of its creation, as Teams ids are.
    pub id: String,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub last_edited: Option<DateTime<Utc>>,
    /// Set when deleted; deleted messages stay listed, with an empty body.
    pub deleted: Option<DateTime<Utc>>,
    pub subject: Option<String>,
    /// `html` or `text`.
    pub content_type: String,
    pub content: String,
    pub from_id: String,
    pub from_name: String,
    pub importance: String,
    /// The `<at id="{id}">` mentions of the body.
    pub mentions: Vec<TeamsMention>,
    /// Replies, oldest first (a reply has none of its own); listed with `$expand=replies`.
    pub replies: Vec<TeamsMessage>,
}

/// A user mentioned in a message: `<at id="{id}">{mention_text}</at>` in its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsMention {
    /// The index of the `<at id="…">` tag in the body.
    pub id: u32,
    pub mention_text: String,
    pub user_id: String,
    pub user_name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub token: String,
    pub revoked: bool,
    pub id: String,
    pub display_name: String,
    pub mail: String,
    pub team_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelRec {
    pub channel: TeamsChannel,
    /// Oldest first.
    pub messages: Vec<TeamsMessage>,
}

#[derive(Default)]
pub(crate) struct Data {
    pub accounts: Vec<Account>,
    pub teams: Vec<TeamsTeam>,
    pub channels: Vec<ChannelRec>,
    pub subscriptions: Vec<GraphSubscription>,
}

/// A change-notification subscription (`POST /subscriptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSubscription {
    pub id: String,
    pub resource: String,
    pub notification_url: String,
    pub client_state: Option<String>,
    pub expiration: DateTime<Utc>,
}

impl FakeState {
    /// The Graph subscriptions in place, oldest first.
    pub fn graph_subscriptions(&self) -> Vec<GraphSubscription> {
        self.with(|s| s.graph.subscriptions.clone())
    }

    /// Removes a Graph subscription, as Graph does when it drops one (saying nothing).
    pub fn remove_graph_subscription(&self, id: &str) {
        self.with(|s| s.graph.subscriptions.retain(|sub| sub.id != id));
    }

    /// Removes every Graph subscription and sends each its `subscriptionRemoved` lifecycle
    /// notification (with its clientState), as Graph does; returns how many.
    pub fn remove_graph_subscriptions_notifying(&self) -> usize {
        let removed = self.with(|s| std::mem::take(&mut s.graph.subscriptions));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return 0 };
        for sub in &removed {
            let body = serde_json::json!({ "value": [{
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": sub.expiration.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "tenantId": TENANT_ID,
                "clientState": sub.client_state,
                "lifecycleEvent": "subscriptionRemoved",
            }]});
            let url = sub.notification_url.clone();
            runtime.spawn(async move {
                if let Err(e) = reqwest::Client::new().post(&url).json(&body).send().await {
                    tracing::warn!(error = %e, "fake Graph: a lifecycle notification was not delivered");
                }
            });
        }
        removed.len()
    }
}

impl Data {
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        let mut found = false;
        for a in self.accounts.iter_mut().filter(|a| a.token == token) {
            a.revoked = true;
            found = true;
        }
        found
    }

    fn channel_mut(&mut self, id: &str) -> Option<&mut ChannelRec> {
        self.channels.iter_mut().find(|c| c.channel.id == id)
    }
}

/// Registers a user (id `id`, or a new GUID) reachable with the bearer `token`; returns the id.
pub(crate) fn new_account(s: &mut Inner, token: &str, id: Option<&str>, display_name: &str, mail: &str) -> String {
    let id = id.map_or_else(|| uuid_from(mix(s.next_seq()) ^ 0x6A7F), str::to_owned);
    s.graph.accounts.push(Account {
        token: token.to_owned(),
        revoked: false,
        id: id.clone(),
        display_name: display_name.to_owned(),
        mail: mail.to_owned(),
        team_ids: Vec::new(),
    });
    id
}

/// Index of the account named by a token (static or OAuth-issued), user id or mail.
fn account_index(s: &Inner, token_or_user: &str) -> Option<usize> {
    let key = s.oauth.resolve(OAuthProvider::Microsoft, token_or_user).unwrap_or_default();
    s.graph
        .accounts
        .iter()
        .position(|a| a.token == key || a.id == token_or_user || a.mail.eq_ignore_ascii_case(token_or_user))
}

fn insert_message(rec: &mut ChannelRec, at: DateTime<Utc>, from: (&str, &str), html: &str) -> String {
    let mut millis = at.timestamp_millis();
    while rec.messages.iter().any(|m| m.id == millis.to_string()) {
        millis += 1;
    }
    let created = DateTime::from_timestamp_millis(millis).unwrap_or(at);
    let msg = posted(millis, created, from, html);
    let idx = rec.messages.partition_point(|m| m.created <= created);
    rec.messages.insert(idx, msg);
    millis.to_string()
}

/// A message or reply as posted: its id is its creation time in milliseconds.
fn posted(millis: i64, created: DateTime<Utc>, from: (&str, &str), html: &str) -> TeamsMessage {
    TeamsMessage {
        id: millis.to_string(),
        created,
        last_modified: created,
        last_edited: None,
        deleted: None,
        subject: None,
        content_type: "html".to_owned(),
        content: html.to_owned(),
        from_id: from.0.to_owned(),
        from_name: from.1.to_owned(),
        importance: "normal".to_owned(),
        mentions: Vec::new(),
        replies: Vec::new(),
    }
}

/// A stable user id for a colleague named `name`.
fn colleague_id(name: &str) -> String {
    uuid_from(name.bytes().fold(0xF20A, |h, b| mix(h ^ u64::from(b))))
}

impl FakeState {
    /// Registers a Microsoft 365 user reachable with the bearer `token` (e.g.
    /// [`crate::demo::MICROSOFT_TOKEN`]); returns the user's id (a GUID).
    pub fn add_microsoft_account(&self, token: &str, display_name: &str, mail: &str) -> String {
        self.with(|s| new_account(s, token, None, display_name, mail))
    }

    /// Adds a team that the user of `token_or_user` (a token, user id or mail) has joined;
    /// returns its id.
    pub fn add_team(&self, token_or_user: &str, display_name: &str) -> String {
        self.with(|s| {
            let id = uuid_from(mix(s.next_seq()) ^ 0x7EA3);
            s.graph.teams.push(TeamsTeam {
                id: id.clone(),
                display_name: display_name.to_owned(),
                description: format!("Fake team {display_name}"),
            });
            if let Some(i) = account_index(s, token_or_user) {
                s.graph.accounts[i].team_ids.push(id.clone());
            }
            id
        })
    }

    /// Adds a standard channel to a team; returns its id (`19:…@thread.tacv2`).
    pub fn add_channel(&self, team_id: &str, display_name: &str) -> String {
        self.with(|s| {
            let id = format!("19:{}@thread.tacv2", short_code(s.next_seq() ^ 0xC4A2_0000, 32));
            s.graph.channels.push(ChannelRec {
                channel: TeamsChannel {
                    id: id.clone(),
                    team_id: team_id.to_owned(),
                    display_name: display_name.to_owned(),
                    description: String::new(),
                    membership_type: "standard".to_owned(),
                },
                messages: Vec::new(),
            });
            id
        })
    }

    /// Posts an HTML message at `at` (bumped by a millisecond if that id is taken) from a
    /// colleague named `from_name`; returns its id.
    pub fn add_channel_message_at(&self, channel_id: &str, at: DateTime<Utc>, from_name: &str, html: &str) -> String {
        self.with(|s| {
            let from_id = colleague_id(from_name);
            match s.graph.channel_mut(channel_id) {
                Some(rec) => insert_message(rec, at, (&from_id, from_name), html),
                None => String::new(),
            }
        })
    }

    /// Adds a reply at `at` to a channel message, from the user `from` (`(id, display name)`:
    /// [`FakeState::teams_colleague_id`] of a colleague, or an account's id); returns its id
    /// (empty if there is no such message).
    pub fn add_channel_reply_at(
        &self,
        channel_id: &str,
        message_id: &str,
        at: DateTime<Utc>,
        from: (&str, &str),
        html: &str,
    ) -> String {
        self.with(|s| {
            let Some(parent) =
                s.graph.channel_mut(channel_id).and_then(|c| c.messages.iter_mut().find(|m| m.id == message_id))
            else {
                return String::new();
            };
            // Reply ids are creation times too, after the parent's and unique among its replies.
            let mut millis = at.timestamp_millis().max(parent.created.timestamp_millis() + 1);
            while parent.replies.iter().any(|r| r.id == millis.to_string()) {
                millis += 1;
            }
            let created = DateTime::from_timestamp_millis(millis).unwrap_or(at);
            let reply = posted(millis, created, from, html);
            let idx = parent.replies.partition_point(|r| r.created <= created);
            parent.replies.insert(idx, reply);
            millis.to_string()
        })
    }

    /// The user id the fake gives the colleague named `name` in the messages it posts.
    pub fn teams_colleague_id(&self, name: &str) -> String {
        colleague_id(name)
    }

    /// Posts `n` messages "Message 1" … "Message n", a second apart ending now; returns their ids.
    pub fn add_channel_messages(&self, channel_id: &str, n: usize) -> Vec<String> {
        let now = Utc::now();
        (1..=n)
            .map(|i| {
                let at = now - Duration::seconds((n - i) as i64);
                self.add_channel_message_at(channel_id, at, "Fake Colleague", &format!("<p>Message {i}</p>"))
            })
            .collect()
    }

    /// Replaces a message's content (sets `lastEditedDateTime` and `lastModifiedDateTime`).
    pub fn edit_channel_message(&self, channel_id: &str, message_id: &str, html: &str) -> bool {
        self.update_channel_message(channel_id, message_id, |m| {
            let now = Utc::now();
            m.content = html.to_owned();
            m.last_edited = Some(now);
            m.last_modified = now;
        })
    }

    /// Deletes a message the way Teams does: it stays listed with `deletedDateTime` and no body.
    pub fn delete_channel_message(&self, channel_id: &str, message_id: &str) -> bool {
        self.update_channel_message(channel_id, message_id, |m| {
            let now = Utc::now();
            m.deleted = Some(now);
            m.last_modified = now;
            m.content = String::new();
        })
    }

    /// Edits a message as is (its id and creation time cannot change).
    pub fn update_channel_message(
        &self,
        channel_id: &str,
        message_id: &str,
        edit: impl FnOnce(&mut TeamsMessage),
    ) -> bool {
        self.with(|s| {
            let Some(m) =
                s.graph.channel_mut(channel_id).and_then(|c| c.messages.iter_mut().find(|m| m.id == message_id))
            else {
                return false;
            };
            let (id, created) = (m.id.clone(), m.created);
            edit(m);
            m.id = id;
            m.created = created;
            true
        })
    }

    /// A channel's messages, oldest first.
    pub fn channel_messages(&self, channel_id: &str) -> Vec<TeamsMessage> {
        self.with(|s| {
            s.graph.channels.iter().find(|c| c.channel.id == channel_id).map(|c| c.messages.clone()).unwrap_or_default()
        })
    }
}
