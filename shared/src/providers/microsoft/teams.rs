//! Microsoft Teams sync through Microsoft Graph: the teams the user joined (`GET
//! /me/joinedTeams`), the channels of each (`GET /teams/{id}/channels`) and the messages of each
//! channel (`GET /teams/{id}/channels/{id}/messages?$top=…`, newest first, paged with
//! `@odata.nextLink`).
//!
//! A next link is an absolute URL: it is followed as given, but only if it is under the
//! configured base URL, so the token never goes anywhere else. Incremental: per channel, the
//! newest `lastModifiedDateTime` read; the next run stops reading a channel at the first
//! message not newer than that. A message with `deletedDateTime` is a deletion.
//!
//! Messages are listed with `$expand=replies` (Graph's documented expansion, up to 1000 replies
//! a message, in the same request): their count, and whether the signed-in user wrote one of
//! them. That user (`GET /me`, asked once per run, with the first page) is "me": a message
//! mentions me when one of its `mentions` names my id.
//!
//! Cursor: `{"teams": [{"id","name"}]|null, "team": i, "channels": [{"id","name"}]|null,
//! "channel": j, "nextLink": url|null, "newest": t|null, "since": {channel: t}, "seen": {channel: t},
//! "me": user_id|null}`:
//! `teams` is null until `/me/joinedTeams` was read, `channels` until the team's channels were;
//! `since` is the saved state, `seen` the next one.
//! State: `{"since": {channel_id: newest lastModifiedDateTime read}}`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::plain_text;
use crate::providers::SyncConnector;
use crate::providers::{ProviderError, send_with_retry};
use crate::sync::{ConnectorConfig, KindFields, MessageFields, Page, Record, RecordKey, RecordKind, clip};

/// Graph's maximum `$top` of channel messages.
const MAX_MESSAGES_PER_PAGE: u32 = 50;
const TITLE_MAX: usize = 200;
const TEXT_MAX: usize = 4000;
const NO_TEXT: &str = "(no text)";

pub struct TeamsConnector {
    config: ConnectorConfig,
    token: SecretString,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    /// The teams joined (`None` until listed); the one at `team` is being read.
    #[serde(default)]
    teams: Option<Vec<Named>>,
    #[serde(default)]
    team: usize,
    /// The channels of that team (`None` until listed); the one at `channel` is being read.
    #[serde(default)]
    channels: Option<Vec<Named>>,
    #[serde(default)]
    channel: usize,
    /// The next page of that channel's messages (`None`: its first page).
    #[serde(default)]
    next_link: Option<String>,
    /// The newest `lastModifiedDateTime` read so far in that channel.
    #[serde(default)]
    newest: Option<DateTime<Utc>>,
    /// The saved state: per channel, the time after which a message is new.
    #[serde(default)]
    since: BTreeMap<String, DateTime<Utc>>,
    /// The next state, for the channels read so far.
    #[serde(default)]
    seen: BTreeMap<String, DateTime<Utc>>,
    /// The signed-in user's id, from `GET /me` (`None` until asked).
    #[serde(default)]
    me: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Named {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Collection<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entity {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
}

impl From<Entity> for Named {
    fn from(e: Entity) -> Self {
        Named { name: e.display_name.filter(|n| !n.is_empty()).unwrap_or_else(|| e.id.clone()), id: e.id }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    id: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    web_url: Option<String>,
    #[serde(default)]
    created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    last_modified_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    deleted_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    from: Option<Sender>,
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    mentions: Vec<Mention>,
    /// With `$expand=replies`; `None` if Graph did not expand them.
    #[serde(default)]
    replies: Option<Vec<Reply>>,
    /// How many replies there are when Graph says so beside the expanded ones.
    #[serde(default, rename = "replies@odata.count")]
    replies_count: Option<u32>,
}

#[derive(Deserialize)]
struct Mention {
    #[serde(default)]
    mentioned: Option<Mentioned>,
}

/// Who a mention names: a user, or a channel, team or tag (no user then).
#[derive(Deserialize)]
struct Mentioned {
    #[serde(default)]
    user: Option<MentionedUser>,
}

#[derive(Deserialize)]
struct MentionedUser {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    #[serde(default)]
    from: Option<Sender>,
    #[serde(default)]
    deleted_date_time: Option<DateTime<Utc>>,
}

/// The signed-in user (`GET /me`).
#[derive(Deserialize)]
struct Me {
    id: String,
}

impl Message {
    fn modified(&self) -> Option<DateTime<Utc>> {
        self.last_modified_date_time.or(self.created_date_time)
    }
}

#[derive(Deserialize)]
struct Sender {
    #[serde(default)]
    user: Option<Entity>,
    #[serde(default)]
    application: Option<Entity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

impl Cursor {
    fn done(&self) -> bool {
        self.teams.as_ref().is_some_and(|t| self.team >= t.len())
    }

    fn next_team(&mut self) {
        self.team += 1;
        self.channels = None;
        self.channel = 0;
        self.next_link = None;
        self.newest = None;
    }

    /// Done with the channel being read: record its newest time and move to the next one.
    fn finish_channel(&mut self, channel_id: &str) {
        let newest = match (self.since.get(channel_id).copied(), self.newest.take()) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(newest) = newest {
            self.seen.insert(channel_id.to_owned(), newest);
        }
        self.next_link = None;
        self.channel += 1;
        if self.channels.as_ref().is_none_or(|c| self.channel >= c.len()) {
            self.next_team();
        }
    }

    /// The page carrying `records`: with the next cursor, or with the state when all is read.
    fn into_page(self, records: Vec<Record>, deleted: Vec<RecordKey>) -> Page {
        if self.done() {
            Page { records, deleted, state: Some(json!({ "since": self.seen })), ..Page::default() }
        } else {
            let next = Some(serde_json::to_value(&self).unwrap_or_default());
            Page { records, deleted, next, ..Page::default() }
        }
    }
}

impl TeamsConnector {
    pub fn new(config: ConnectorConfig, token: &str) -> Self {
        Self { config, token: SecretString::from(token.to_owned()) }
    }

    fn base(&self) -> &str {
        self.config.base_url.trim_end_matches('/')
    }

    /// `{base}/{segments…}`, each segment escaped as a path segment.
    fn url(&self, segments: &[&str]) -> Result<url::Url, ProviderError> {
        let invalid = || ProviderError::Unexpected("the Microsoft Graph base URL is not usable".into());
        let mut url = url::Url::parse(self.base()).map_err(|_| invalid())?;
        url.path_segments_mut().map_err(|_| invalid())?.pop_if_empty().extend(segments);
        Ok(url)
    }

    /// A next link is followed only if it is under the configured base URL.
    fn check_link(&self, link: &str) -> Result<(), ProviderError> {
        let under_base = link.strip_prefix(self.base()).is_some_and(|rest| rest.starts_with(['/', '?']));
        if under_base {
            Ok(())
        } else {
            Err(ProviderError::Unexpected("Microsoft Graph sent a next link to another address; not followed".into()))
        }
    }

    async fn get(&self, url: &str) -> Result<reqwest::Response, ProviderError> {
        send_with_retry(&self.config.retry, || self.config.http.get(url).bearer_auth(self.token.expose_secret())).await
    }

    /// `GET /me`: the signed-in user's id.
    async fn me(&self) -> Result<String, ProviderError> {
        let response = self.get(self.url(&["me"])?.as_str()).await?;
        let me: Me = read_json(response, "signed-in user").await?;
        Ok(me.id)
    }

    async fn joined_teams(&self, mut cursor: Cursor) -> Result<Page, ProviderError> {
        let response = self.get(self.url(&["me", "joinedTeams"])?.as_str()).await?;
        let teams: Collection<Entity> = read_json(response, "joined teams").await?;
        cursor.teams = Some(teams.value.into_iter().map(Named::from).collect());
        cursor.team = 0;
        cursor.channels = None;
        Ok(cursor.into_page(Vec::new(), Vec::new()))
    }

    async fn channels(&self, mut cursor: Cursor) -> Result<Page, ProviderError> {
        let Some(team) = cursor.teams.as_ref().and_then(|t| t.get(cursor.team)).cloned() else {
            return Err(ProviderError::Unexpected("Microsoft Teams sync cursor past its teams".into()));
        };
        let response = self.get(self.url(&["teams", &team.id, "channels"])?.as_str()).await?;
        if response.status() == StatusCode::NOT_FOUND {
            // The team went away since it was listed: nothing of it to sync.
            cursor.next_team();
            return Ok(cursor.into_page(Vec::new(), Vec::new()));
        }
        let channels: Collection<Entity> = read_json(response, "channels").await?;
        let channels: Vec<Named> = channels.value.into_iter().map(Named::from).collect();
        if channels.is_empty() {
            cursor.next_team();
        } else {
            cursor.channels = Some(channels);
            cursor.channel = 0;
            cursor.next_link = None;
            cursor.newest = None;
        }
        Ok(cursor.into_page(Vec::new(), Vec::new()))
    }

    async fn messages(&self, mut cursor: Cursor) -> Result<Page, ProviderError> {
        let team = cursor.teams.as_ref().and_then(|t| t.get(cursor.team)).cloned();
        let channel = cursor.channels.as_ref().and_then(|c| c.get(cursor.channel)).cloned();
        let (Some(team), Some(channel)) = (team, channel) else {
            return Err(ProviderError::Unexpected("Microsoft Teams sync cursor past its channels".into()));
        };
        let url = match &cursor.next_link {
            Some(link) => {
                self.check_link(link)?;
                link.clone()
            }
            None => {
                let mut url = self.url(&["teams", &team.id, "channels", &channel.id, "messages"])?;
                let top = self.config.page_size.clamp(1, MAX_MESSAGES_PER_PAGE);
                url.set_query(Some(&format!("$top={top}&$expand=replies")));
                url.into()
            }
        };
        let response = self.get(&url).await?;
        if response.status() == StatusCode::NOT_FOUND {
            // The channel went away since it was listed.
            cursor.finish_channel(&channel.id);
            return Ok(cursor.into_page(Vec::new(), Vec::new()));
        }
        let messages: Collection<Message> = read_json(response, "channel messages").await?;
        let since = cursor.since.get(&channel.id).copied();
        let container = format!("{} / {}", team.name, channel.name);
        let (mut records, mut deleted, mut reached_since) = (Vec::new(), Vec::new(), false);
        for message in messages.value {
            let modified = message.modified();
            if let (Some(since), Some(modified)) = (since, modified)
                && modified <= since
            {
                // Newest first: the rest was read by an earlier run.
                reached_since = true;
                break;
            }
            cursor.newest = cursor.newest.max(modified);
            let external_id = format!("{}:{}:{}", team.id, channel.id, message.id);
            if message.deleted_date_time.is_some() {
                deleted.push(RecordKey { kind: RecordKind::Message, external_id });
            } else {
                let me = cursor.me.as_deref().unwrap_or_default();
                records.push(record(message, external_id, &container, &channel.name, me));
            }
        }
        match messages.next_link.filter(|_| !reached_since) {
            Some(link) => {
                self.check_link(&link)?;
                cursor.next_link = Some(link);
            }
            None => cursor.finish_channel(&channel.id),
        }
        Ok(cursor.into_page(records, deleted))
    }
}

#[async_trait::async_trait]
impl SyncConnector for TeamsConnector {
    /// The first cursor: the joined teams, with the saved per-channel times (if any).
    fn start(&self, state: Option<&Value>) -> Value {
        let since = state
            .and_then(|s| s.get("since"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(channel, t)| {
                        let t = DateTime::parse_from_rfc3339(t.as_str()?).ok()?;
                        Some((channel.clone(), t.with_timezone(&Utc)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::to_value(Cursor { since, ..Cursor::default() }).unwrap_or_default()
    }

    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        let mut cursor: Cursor = serde_json::from_value(cursor.clone())
            .map_err(|_| ProviderError::Unexpected("not a Microsoft Teams sync cursor".into()))?;
        if cursor.me.is_none() {
            cursor.me = Some(self.me().await?);
        }
        match (&cursor.teams, &cursor.channels) {
            (None, _) => self.joined_teams(cursor).await,
            (Some(_), None) => self.channels(cursor).await,
            (Some(_), Some(_)) => self.messages(cursor).await,
        }
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, ProviderError> {
    crate::providers::read_json(response, "Microsoft Graph", what).await
}

/// The user id of a message's (or reply's) sender.
fn sender_id(from: Option<&Sender>) -> Option<&str> {
    from.and_then(|f| f.user.as_ref()).map(|u| u.id.as_str())
}

fn record(message: Message, external_id: String, container: &str, channel: &str, me: &str) -> Record {
    let updated_at = message.modified();
    let is_me = |id: Option<&str>| !me.is_empty() && id == Some(me);
    let replies: Vec<&Reply> =
        message.replies.as_deref().unwrap_or_default().iter().filter(|r| r.deleted_date_time.is_none()).collect();
    let reply_count = message.replies_count.filter(|n| *n as usize > replies.len()).unwrap_or(replies.len() as u32);
    let fields = MessageFields {
        author: message
            .from
            .as_ref()
            .and_then(|f| f.user.as_ref().or(f.application.as_ref()))
            .and_then(|e| e.display_name.clone().filter(|n| !n.is_empty())),
        channel: Some(channel.to_owned()),
        mentions_me: message
            .mentions
            .iter()
            .any(|m| is_me(m.mentioned.as_ref().and_then(|u| u.user.as_ref()).and_then(|u| u.id.as_deref()))),
        replied_by_me: replies.iter().any(|r| is_me(sender_id(r.from.as_ref()))),
        reply_count,
    };
    let text = match message.body {
        Some(Body { content: Some(content), content_type }) => match content_type.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("text") => content.split_whitespace().collect::<Vec<_>>().join(" "),
            _ => plain_text(&content),
        },
        _ => String::new(),
    };
    let title = match message.subject.filter(|s| !s.trim().is_empty()) {
        Some(subject) => clip(subject.trim(), TITLE_MAX),
        None if text.is_empty() => NO_TEXT.to_owned(),
        None => clip(&text, TITLE_MAX),
    };
    let mut data = Map::new();
    fields.write(&mut data);
    data.insert("text".into(), Value::String(clip(&text, TEXT_MAX)));
    Record {
        kind: RecordKind::Message,
        external_id,
        title,
        url: message.web_url,
        container: Some(container.to_owned()),
        status: None,
        due_at: None,
        updated_at,
        data,
    }
}
