//! Slack sync: the channels the token's user is in (`conversations.list`), and the messages of
//! each (`conversations.history`, newer than the last one seen in that channel).
//!
//! The cursor walks one `conversations.list` page at a time: it keeps the member channels of
//! that page still to read (the first one being read, with its `conversations.history`
//! cursor), the list cursor of the following page, and the state being built:
//! `{"channels":[{"id","name"}…], "history": cursor|null, "newestInChannel": ts|null,
//!   "list": cursor|null, "listed": bool, "oldest": {channel: ts}, "seen": {channel: ts},
//!   "me": user_id|null}`.
//! `oldest` is the saved state, consumed channel by channel; `seen` the next state. `me` is the
//! token's user (`auth.test`, asked once per run, with the first page): a message mentions it
//! when its text has `<@{me}>`, and it replied when it is among a thread's `reply_users`.
//! State: `{"oldest": {channel_id: newest ts read}}`.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::is_auth_error;
use crate::providers::SyncConnector;
use crate::providers::{Failure, ProviderError, send_with_retry};
use crate::sync::{ConnectorConfig, KindFields, MessageFields, Page, Record, RecordKind, clip};

/// Slack's maximum `limit` of `conversations.list` (it recommends at most 200).
const MAX_CHANNELS_PER_PAGE: u32 = 1000;
/// Slack's maximum `limit` of `conversations.history`.
const MAX_MESSAGES_PER_PAGE: u32 = 999;
const TITLE_MAX: usize = 200;
const TEXT_MAX: usize = 4000;

pub struct SlackConnector {
    config: ConnectorConfig,
    token: SecretString,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    /// Member channels of the current list page still to read; the first is being read.
    #[serde(default)]
    channels: VecDeque<Channel>,
    /// `conversations.history` cursor in the first channel (`None`: its first page).
    #[serde(default)]
    history: Option<String>,
    /// The newest ts read so far in the first channel.
    #[serde(default)]
    newest_in_channel: Option<String>,
    /// `conversations.list` cursor of the next list page.
    #[serde(default)]
    list: Option<String>,
    /// Whether the last list page has been read.
    #[serde(default)]
    listed: bool,
    /// The saved state: per channel, the ts after which messages are new.
    #[serde(default)]
    oldest: BTreeMap<String, String>,
    /// The state being built, for the channels read so far.
    #[serde(default)]
    seen: BTreeMap<String, String>,
    /// The token's user id, from `auth.test` (`None` until asked).
    #[serde(default)]
    me: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Channel {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    channels: Vec<ApiChannel>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    response_metadata: Option<Metadata>,
    /// `auth.test`: the token's user.
    #[serde(default)]
    user_id: Option<String>,
}

impl Answer {
    fn next_cursor(&self) -> Option<String> {
        self.response_metadata.as_ref().and_then(|m| m.next_cursor.clone()).filter(|c| !c.is_empty())
    }
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ApiChannel {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_member: bool,
}

#[derive(Deserialize)]
struct Message {
    ts: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    reply_count: Option<u64>,
    /// Of a thread's parent: who replied (Slack lists up to five of them).
    #[serde(default)]
    reply_users: Vec<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    user_profile: Option<UserProfile>,
    #[serde(default)]
    edited: Option<Edited>,
}

#[derive(Deserialize)]
struct UserProfile {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
}

#[derive(Deserialize)]
struct Edited {
    #[serde(default)]
    ts: Option<String>,
}

/// A Slack ts (`"1700000000.000100"`) as (seconds, microseconds), for comparing.
fn ts_key(ts: &str) -> Option<(u64, u64)> {
    let (secs, frac) = ts.trim().split_once('.').unwrap_or((ts.trim(), ""));
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().ok()? };
    Some((secs.parse().ok()?, micros))
}

fn ts_time(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, micros) = ts_key(ts)?;
    DateTime::from_timestamp(i64::try_from(secs).ok()?, u32::try_from(micros * 1000).ok()?)
}

/// The later of two ts (an unreadable one loses).
fn later(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if ts_key(&b) > ts_key(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

impl Cursor {
    /// Done with the first channel: record its newest ts and move to the next one.
    fn finish_channel(&mut self) {
        if let Some(channel) = self.channels.pop_front() {
            let previous = self.oldest.remove(&channel.id);
            if let Some(ts) = later(previous, self.newest_in_channel.take()) {
                self.seen.insert(channel.id, ts);
            }
        }
        self.history = None;
        self.newest_in_channel = None;
    }

    /// The page carrying `records`: with the next cursor, or with the state when all is read.
    fn into_page(self, records: Vec<Record>) -> Page {
        if self.channels.is_empty() && self.listed {
            Page { records, state: Some(json!({ "oldest": self.seen })), ..Page::default() }
        } else {
            Page { records, next: Some(serde_json::to_value(&self).unwrap_or_default()), ..Page::default() }
        }
    }
}

impl SlackConnector {
    pub fn new(config: ConnectorConfig, token: &str) -> Self {
        Self { config, token: SecretString::from(token.to_owned()) }
    }

    async fn call(&self, method: &str, query: &[(&str, &str)]) -> Result<Answer, ProviderError> {
        let url = format!("{}/{method}", self.config.base_url.trim_end_matches('/'));
        let response = send_with_retry(&self.config.retry, || {
            self.config.http.get(&url).query(query).bearer_auth(self.token.expose_secret())
        })
        .await?;
        let status = response.status();
        response.json().await.map_err(|_| {
            ProviderError::Unexpected(Failure::http(status, format!("Slack answered {method} with HTTP {status}")))
        })
    }

    /// `auth.test`: the token's user id.
    async fn me(&self) -> Result<String, ProviderError> {
        let answer = self.call("auth.test", &[]).await?;
        if !answer.ok {
            return Err(slack_error(answer.error));
        }
        answer
            .user_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unexpected("Slack's auth.test named no user".into()))
    }

    async fn list_channels(&self, mut cursor: Cursor) -> Result<Page, ProviderError> {
        let limit = self.config.page_size.clamp(1, MAX_CHANNELS_PER_PAGE).to_string();
        let mut query =
            vec![("types", "public_channel,private_channel"), ("exclude_archived", "true"), ("limit", limit.as_str())];
        if let Some(list) = &cursor.list {
            query.push(("cursor", list.as_str()));
        }
        let answer = self.call("conversations.list", &query).await?;
        if !answer.ok {
            return Err(slack_error(answer.error));
        }
        let next = answer.next_cursor();
        cursor.channels = answer
            .channels
            .into_iter()
            .filter(|c| c.is_member)
            .map(|c| Channel { name: c.name.unwrap_or_else(|| c.id.clone()), id: c.id })
            .collect();
        cursor.listed = next.is_none();
        cursor.list = next;
        cursor.history = None;
        cursor.newest_in_channel = None;
        Ok(cursor.into_page(Vec::new()))
    }

    async fn history(&self, mut cursor: Cursor) -> Result<Page, ProviderError> {
        let Some(channel) = cursor.channels.front().cloned() else {
            return Err(ProviderError::Unexpected("Slack sync cursor without a channel".into()));
        };
        let limit = self.config.page_size.clamp(1, MAX_MESSAGES_PER_PAGE).to_string();
        let mut query = vec![("channel", channel.id.as_str()), ("limit", limit.as_str())];
        if let Some(oldest) = cursor.oldest.get(&channel.id) {
            query.push(("oldest", oldest.as_str()));
        }
        if let Some(history) = &cursor.history {
            query.push(("cursor", history.as_str()));
        }
        let answer = self.call("conversations.history", &query).await?;
        if !answer.ok {
            return match answer.error.as_deref() {
                // Left or lost since it was listed: nothing to read there.
                Some("not_in_channel" | "channel_not_found") => {
                    cursor.newest_in_channel = None;
                    cursor.oldest.remove(&channel.id);
                    cursor.channels.pop_front();
                    cursor.history = None;
                    Ok(cursor.into_page(Vec::new()))
                }
                _ => Err(slack_error(answer.error)),
            };
        }
        let next = answer.next_cursor();
        let newest =
            answer.messages.iter().map(|m| m.ts.clone()).reduce(|a, b| later(Some(a), Some(b)).unwrap_or_default());
        cursor.newest_in_channel = later(cursor.newest_in_channel.take(), newest);
        let me = cursor.me.clone().unwrap_or_default();
        let records = answer.messages.into_iter().map(|m| record(m, &channel, &me)).collect();
        match next {
            Some(next) => cursor.history = Some(next),
            None => cursor.finish_channel(),
        }
        Ok(cursor.into_page(records))
    }
}

#[async_trait::async_trait]
impl SyncConnector for SlackConnector {
    /// The first cursor: the first channel list page, with the saved per-channel ts (if any).
    fn start(&self, state: Option<&Value>) -> Value {
        let oldest = state
            .and_then(|s| s.get("oldest"))
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default();
        serde_json::to_value(Cursor { oldest, ..Cursor::default() }).unwrap_or_default()
    }

    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        let mut cursor: Cursor = serde_json::from_value(cursor.clone())
            .map_err(|_| ProviderError::Unexpected("not a Slack sync cursor".into()))?;
        if cursor.me.is_none() {
            cursor.me = Some(self.me().await?);
        }
        if cursor.channels.is_empty() { self.list_channels(cursor).await } else { self.history(cursor).await }
    }
}

fn slack_error(code: Option<String>) -> ProviderError {
    let code = code.unwrap_or_else(|| "unknown_error".into());
    if is_auth_error(&code) {
        ProviderError::Unauthorized(Failure::code(code, "Slack refused the token"))
    } else {
        ProviderError::Unexpected(Failure::code(code, "Slack answered with an error"))
    }
}

/// Whether `text` mentions the user `me`: `<@U…>`, or `<@U…|name>` as older messages have it.
fn mentions(text: &str, me: &str) -> bool {
    !me.is_empty() && (text.contains(&format!("<@{me}>")) || text.contains(&format!("<@{me}|")))
}

fn record(message: Message, channel: &Channel, me: &str) -> Record {
    let edited = message.edited.and_then(|e| e.ts);
    let updated_at = edited.as_deref().and_then(ts_time).or_else(|| ts_time(&message.ts));
    let user = message.user.or(message.bot_id);
    let profile_name = message
        .user_profile
        .and_then(|p| p.display_name.filter(|n| !n.trim().is_empty()).or(p.real_name.filter(|n| !n.trim().is_empty())));
    let fields = MessageFields {
        author: profile_name.or(message.username.filter(|n| !n.is_empty())).or_else(|| user.clone()),
        channel: Some(channel.name.clone()),
        mentions_me: mentions(&message.text, me),
        replied_by_me: !me.is_empty() && message.reply_users.iter().any(|u| u == me),
        reply_count: message.reply_count.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
    };
    let mut data = Map::new();
    fields.write(&mut data);
    if let Some(user) = user {
        data.insert("user".into(), Value::String(user));
    }
    data.insert("text".into(), Value::String(clip(&message.text, TEXT_MAX)));
    if let Some(thread_ts) = message.thread_ts {
        data.insert("threadTs".into(), Value::String(thread_ts));
    }
    Record {
        kind: RecordKind::Message,
        external_id: format!("{}:{}", channel.id, message.ts),
        title: clip(&message.text, TITLE_MAX),
        url: None,
        container: Some(format!("#{}", channel.name)),
        status: None,
        due_at: None,
        updated_at,
        data,
    }
}
