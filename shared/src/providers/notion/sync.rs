//! Notion sync: the pages and databases shared with the integration (`POST /v1/search`),
//! most recently edited first.
//!
//! Cursor: `{"since": t|null, "newest": t|null, "startCursor": cursor|null, "titles": {id: title}}`:
//! `since` from the saved state, `newest` the latest `last_edited_time` read so far this run,
//! `titles` the databases read so far this run (at most [`MAX_TITLES`]), so a page whose parent
//! was already read names it by its title; other parents are named by their type and id
//! (`database_id:…`, `page_id:…`, `workspace`).
//! State: `{"since": <newest last_edited_time read>}`; as results come newest first, an
//! incremental run stops at the first result edited at or before it.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::NOTION_VERSION;
use crate::providers::SyncConnector;
use crate::providers::{Failure, ProviderError, send_with_retry};
use crate::sync::{ConnectorConfig, KindFields, Page, PageFields, Record, RecordKind, clip};

/// Notion's maximum `page_size`.
const MAX_RESULTS_PER_PAGE: u32 = 100;
/// How many database titles the cursor keeps for naming parents.
const MAX_TITLES: usize = 200;
const TITLE_MAX: usize = 200;

pub struct NotionConnector {
    config: ConnectorConfig,
    token: SecretString,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    #[serde(default)]
    since: Option<DateTime<Utc>>,
    #[serde(default)]
    newest: Option<DateTime<Utc>>,
    #[serde(default)]
    start_cursor: Option<String>,
    /// Titles of the databases read so far this run, by id.
    #[serde(default)]
    titles: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    results: Vec<Value>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    code: Option<String>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
}

impl Cursor {
    fn page(self, records: Vec<Record>) -> Page {
        Page { records, next: Some(serde_json::to_value(&self).unwrap_or_default()), ..Page::default() }
    }

    fn finish(self, records: Vec<Record>) -> Page {
        let since = self.newest.max(self.since);
        Page { records, state: Some(json!({ "since": since.map(rfc3339) })), ..Page::default() }
    }
}

impl NotionConnector {
    pub fn new(config: ConnectorConfig, token: &str) -> Self {
        Self { config, token: SecretString::from(token.to_owned()) }
    }
}

#[async_trait::async_trait]
impl SyncConnector for NotionConnector {
    /// The first cursor: the first search page, stopping at the saved `since` (if any).
    fn start(&self, state: Option<&Value>) -> Value {
        let since = state.and_then(|s| s.get("since")).and_then(Value::as_str).and_then(parse_time);
        serde_json::to_value(Cursor { since, ..Cursor::default() }).unwrap_or_default()
    }

    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        let mut cursor: Cursor = serde_json::from_value(cursor.clone())
            .map_err(|_| ProviderError::Unexpected("not a Notion sync cursor".into()))?;
        let mut body = json!({
            "page_size": self.config.page_size.clamp(1, MAX_RESULTS_PER_PAGE),
            "sort": {"timestamp": "last_edited_time", "direction": "descending"},
        });
        if let Some(start) = &cursor.start_cursor {
            body["start_cursor"] = Value::String(start.clone());
        }
        let url = format!("{}/v1/search", self.config.base_url.trim_end_matches('/'));
        let response = send_with_retry(&self.config.retry, || {
            self.config
                .http
                .post(&url)
                .bearer_auth(self.token.expose_secret())
                .header("Notion-Version", NOTION_VERSION)
                .json(&body)
        })
        .await?;
        let status = response.status();
        if status == StatusCode::BAD_REQUEST && cursor.start_cursor.is_some() {
            // A stale start cursor: search again from the top (records are idempotent).
            cursor.start_cursor = None;
            return Ok(cursor.page(Vec::new()));
        }
        if !status.is_success() {
            let code = response.json::<ErrorAnswer>().await.ok().and_then(|e| e.code).unwrap_or_default();
            let failure = Failure {
                status: Some(status.as_u16()),
                code: (!code.is_empty()).then(|| code.clone()),
                detail: format!("Notion answered HTTP {status} to the search"),
            };
            return Err(ProviderError::Unexpected(failure));
        }
        let answer: SearchAnswer = response
            .json()
            .await
            .map_err(|_| ProviderError::Unexpected("Notion sent an unreadable search answer".into()))?;

        // Parents named by title: the databases read earlier this run and the results of this page.
        for result in &answer.results {
            let object = result.get("object").and_then(Value::as_str).unwrap_or("page");
            if let Some(id) = result.get("id").and_then(Value::as_str)
                && object != "page"
                && (cursor.titles.len() < MAX_TITLES || cursor.titles.contains_key(id))
            {
                cursor.titles.insert(id.to_owned(), clip(&title(result, object), TITLE_MAX));
            }
        }
        let mut titles = cursor.titles.clone();
        for result in &answer.results {
            let object = result.get("object").and_then(Value::as_str).unwrap_or("page");
            if let Some(id) = result.get("id").and_then(Value::as_str) {
                titles.entry(id.to_owned()).or_insert_with(|| clip(&title(result, object), TITLE_MAX));
            }
        }
        let mut records = Vec::with_capacity(answer.results.len());
        let mut reached_since = false;
        for result in &answer.results {
            let edited = result.get("last_edited_time").and_then(Value::as_str).and_then(parse_time);
            if let (Some(edited), Some(since)) = (edited, cursor.since)
                && edited <= since
            {
                reached_since = true;
                break;
            }
            let Some(record) = record(result, edited, &titles) else {
                return Err(ProviderError::Unexpected("Notion sent a search result without an id".into()));
            };
            cursor.newest = cursor.newest.max(edited);
            records.push(record);
        }
        match answer.next_cursor.filter(|_| answer.has_more) {
            Some(next) if !reached_since => {
                cursor.start_cursor = Some(next);
                Ok(cursor.page(records))
            }
            _ => Ok(cursor.finish(records)),
        }
    }
}

/// The plain text of a rich-text array.
fn plain_text(rich: Option<&Value>) -> String {
    rich.and_then(Value::as_array)
        .map(|parts| parts.iter().filter_map(|p| p.get("plain_text").and_then(Value::as_str)).collect())
        .unwrap_or_default()
}

fn title(result: &Value, object: &str) -> String {
    let rich = if object == "page" {
        result
            .get("properties")
            .and_then(Value::as_object)
            .and_then(|props| props.values().find(|p| p.get("type").and_then(Value::as_str) == Some("title")))
            .and_then(|p| p.get("title"))
    } else {
        result.get("title")
    };
    let text = plain_text(rich);
    if text.trim().is_empty() { "Untitled".to_owned() } else { text }
}

/// A result's parent: its title if known, else its type and id (`database_id:…`, `workspace`).
fn parent(result: &Value, titles: &BTreeMap<String, String>) -> Option<String> {
    let parent = result.get("parent")?;
    let kind = parent.get("type").and_then(Value::as_str).filter(|t| !t.is_empty())?;
    match parent.get(kind).and_then(Value::as_str) {
        Some(id) => Some(titles.get(id).cloned().unwrap_or_else(|| format!("{kind}:{id}"))),
        // `workspace: true` and the like: the type alone says it.
        None => Some(kind.to_owned()),
    }
}

fn record(result: &Value, edited: Option<DateTime<Utc>>, titles: &BTreeMap<String, String>) -> Option<Record> {
    let id = result.get("id").and_then(Value::as_str)?;
    let object = result.get("object").and_then(Value::as_str).unwrap_or("page");
    let flag = |name: &str| result.get(name).and_then(Value::as_bool).unwrap_or(false);
    let status = if flag("archived") || flag("in_trash") { "archived" } else { "open" };
    let fields = PageFields {
        parent: parent(result, titles),
        last_edited_by: result.pointer("/last_edited_by/id").and_then(Value::as_str).map(str::to_owned),
    };
    let mut data = Map::new();
    fields.write(&mut data);
    data.insert("object".into(), Value::String(object.to_owned()));
    Some(Record {
        kind: RecordKind::Page,
        external_id: id.to_owned(),
        title: title(result, object),
        url: result.get("url").and_then(Value::as_str).map(str::to_owned),
        container: Some("Notion".to_owned()),
        status: Some(status.to_owned()),
        due_at: None,
        updated_at: edited,
        data,
    })
}
