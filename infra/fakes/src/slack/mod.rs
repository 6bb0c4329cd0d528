//! Slack: data model and seeding. The Web API methods are in `api.rs`.

mod api;

use chrono::{DateTime, Utc};

use crate::state::{FakeState, Inner};

pub(crate) use api::{handle, rate_limited, server_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackChannel {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    /// Whether the token's bot user is in the channel (needed for `conversations.history`).
    pub is_member: bool,
    pub is_archived: bool,
    /// Unix seconds.
    pub created: i64,
    pub topic: String,
    pub purpose: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackMessage {
    /// `"1700000000.000100"`; unique within the channel.
    pub ts: String,
    pub user: String,
    pub text: String,
    pub thread_ts: Option<String>,
    pub reply_count: Option<u32>,
    /// Of a thread's parent: the users who replied (Slack lists up to five).
    pub reply_users: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub token: String,
    pub revoked: bool,
    pub team_id: String,
    pub team: String,
    pub domain: String,
    pub user_id: String,
    pub user: String,
    pub bot_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelRec {
    pub team_id: String,
    pub channel: SlackChannel,
    /// Sorted by ts (microseconds), oldest first.
    pub messages: Vec<(u64, SlackMessage)>,
}

#[derive(Default)]
pub(crate) struct Data {
    pub accounts: Vec<Account>,
    pub channels: Vec<ChannelRec>,
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

/// `"1700000000.000100"` → microseconds; also accepts `"1700000000"` and short fractions.
pub(crate) fn ts_to_micros(ts: &str) -> Option<u64> {
    let ts = ts.trim();
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let micros: u64 = format!("{frac:0<6}").parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

pub(crate) fn micros_to_ts(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

fn slack_id(s: &mut Inner, prefix: char) -> String {
    format!("{prefix}0FAKE{:05}", s.next_seq())
}

/// Registers a workspace whose bot is reachable with `token`; returns the team id.
pub(crate) fn new_account(s: &mut Inner, token: &str, team_name: &str) -> String {
    let team_id = slack_id(s, 'T');
    let user_id = slack_id(s, 'U');
    let bot_id = slack_id(s, 'B');
    let domain = crate::util::slug(team_name).to_lowercase();
    s.slack.accounts.push(Account {
        token: token.to_owned(),
        revoked: false,
        team_id: team_id.clone(),
        team: team_name.to_owned(),
        domain,
        user_id,
        user: "fake-bot".to_owned(),
        bot_id,
    });
    team_id
}

fn insert_message(rec: &mut ChannelRec, at_micros: u64, user: &str, text: &str) -> String {
    let mut micros = at_micros;
    while rec.messages.iter().any(|(m, _)| *m == micros) {
        micros += 1;
    }
    let ts = micros_to_ts(micros);
    let msg = SlackMessage {
        ts: ts.clone(),
        user: user.to_owned(),
        text: text.to_owned(),
        thread_ts: None,
        reply_count: None,
        reply_users: Vec::new(),
    };
    let idx = rec.messages.partition_point(|(m, _)| *m < micros);
    rec.messages.insert(idx, (micros, msg));
    ts
}

fn now_micros() -> u64 {
    Utc::now().timestamp_micros().max(0) as u64
}

impl FakeState {
    /// Registers a Slack workspace reachable with the bot `token`; returns its team id.
    pub fn add_slack_account(&self, token: &str, team_name: &str) -> String {
        self.with(|s| new_account(s, token, team_name))
    }

    /// The user id of the token's user (the bot user), as `auth.test` gives it.
    pub fn slack_user_id(&self, token: &str) -> Option<String> {
        self.with(|s| s.slack.accounts.iter().find(|a| a.token == token).map(|a| a.user_id.clone()))
    }

    /// Adds a public channel (the bot is a member) to the workspace of `token`; returns its id.
    /// Change privacy, membership or archival with [`FakeState::update_slack_channel`].
    pub fn add_slack_channel(&self, token: &str, name: &str) -> String {
        self.with(|s| {
            let id = slack_id(s, 'C');
            let team_id =
                s.slack.accounts.iter().find(|a| a.token == token).map(|a| a.team_id.clone()).unwrap_or_default();
            s.slack.channels.push(ChannelRec {
                team_id,
                channel: SlackChannel {
                    id: id.clone(),
                    name: name.to_owned(),
                    is_private: false,
                    is_member: true,
                    is_archived: false,
                    created: Utc::now().timestamp(),
                    topic: String::new(),
                    purpose: String::new(),
                },
                messages: Vec::new(),
            });
            id
        })
    }

    /// Edits a channel (e.g. `|c| c.is_member = false`). Returns whether it exists.
    pub fn update_slack_channel(&self, channel_id: &str, edit: impl FnOnce(&mut SlackChannel)) -> bool {
        self.with(|s| match s.slack.channel_mut(channel_id) {
            Some(rec) => {
                edit(&mut rec.channel);
                true
            }
            None => false,
        })
    }

    /// Posts a message now (ts strictly after the channel's newest); returns its ts.
    pub fn add_slack_message(&self, channel_id: &str, user: &str, text: &str) -> String {
        self.with(|s| {
            let Some(rec) = s.slack.channel_mut(channel_id) else {
                return String::new();
            };
            let newest = rec.messages.last().map_or(0, |(m, _)| m + 1);
            insert_message(rec, now_micros().max(newest), user, text)
        })
    }

    /// Posts a message at `at` (bumped by a microsecond if that ts is taken); returns its ts.
    pub fn add_slack_message_at(&self, channel_id: &str, at: DateTime<Utc>, user: &str, text: &str) -> String {
        self.with(|s| match s.slack.channel_mut(channel_id) {
            Some(rec) => insert_message(rec, at.timestamp_micros().max(0) as u64, user, text),
            None => String::new(),
        })
    }

    /// Posts `n` messages "Message 1" … "Message n", in that order; returns their ts.
    pub fn add_slack_messages(&self, channel_id: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| self.add_slack_message(channel_id, "U0FAKEHUMAN", &format!("Message {i}"))).collect()
    }

    /// Edits a message (e.g. to set `thread_ts`/`reply_count`); its ts cannot change.
    pub fn update_slack_message(&self, channel_id: &str, ts: &str, edit: impl FnOnce(&mut SlackMessage)) -> bool {
        self.with(|s| {
            let Some(rec) = s.slack.channel_mut(channel_id) else {
                return false;
            };
            match rec.messages.iter_mut().find(|(_, m)| m.ts == ts) {
                Some((_, m)) => {
                    edit(m);
                    m.ts = ts.to_owned();
                    true
                }
                None => false,
            }
        })
    }

    /// A channel's messages, oldest first.
    pub fn slack_messages(&self, channel_id: &str) -> Vec<SlackMessage> {
        self.with(|s| {
            s.slack
                .channels
                .iter()
                .find(|c| c.channel.id == channel_id)
                .map(|c| c.messages.iter().map(|(_, m)| m.clone()).collect())
                .unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_timestamps_round_trip_through_microseconds() {
        assert_eq!(ts_to_micros("1700000000.000100"), Some(1_700_000_000_000_100));
        assert_eq!(ts_to_micros("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(ts_to_micros("1700000000.5"), Some(1_700_000_000_500_000));
        assert_eq!(micros_to_ts(1_700_000_000_000_100), "1700000000.000100");
        assert_eq!(ts_to_micros("abc"), None);
        assert_eq!(ts_to_micros("1.1234567"), None);
    }
}
