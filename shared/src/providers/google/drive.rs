//! Google Drive sync: the user's files, then their changes.
//!
//! The first run asks for the start page token of the change log *before* listing the files
//! (`GET /changes/startPageToken`, then `GET /files?q=trashed=false`, paged with `pageToken`),
//! so a change made while the files are being listed is still seen by the next run. The next
//! runs read the change log from the saved token (`GET /changes`, paged with `nextPageToken`
//! until a page carries `newStartPageToken`); a removed or trashed file is a deletion.
//!
//! Cursor: `{"step":"start"}`, `{"step":"files","startPageToken":t,"pageToken":t|null}` or
//! `{"step":"changes","pageToken":t}`.
//! State: `{"pageToken": <where the change log continues>}`.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::read_json;
use crate::providers::SyncConnector;
use crate::providers::{ProviderError, send_with_retry};
use crate::sync::{ConnectorConfig, FileFields, KindFields, Page, Record, RecordKey, RecordKind};

/// Drive's maximum `pageSize` of `files.list` and `changes.list`.
const MAX_PER_PAGE: u32 = 1000;
const FILE_FIELDS: &str = concat!(
    "nextPageToken,files(id,name,mimeType,modifiedTime,webViewLink,trashed,parents,",
    "owners(displayName,me),lastModifyingUser(displayName,me))"
);
const CHANGE_FIELDS: &str = concat!(
    "nextPageToken,newStartPageToken,",
    "changes(removed,fileId,time,file(id,name,mimeType,modifiedTime,webViewLink,trashed,",
    "owners(displayName,me),lastModifyingUser(displayName,me)))"
);
const CONTAINER: &str = "My Drive";

pub struct DriveConnector {
    config: ConnectorConfig,
    token: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "lowercase", rename_all_fields = "camelCase")]
enum Cursor {
    /// First run: get the change log's start page token.
    Start,
    /// First run: the existing files; the state will be `start_page_token`.
    Files { start_page_token: String, page_token: Option<String> },
    /// The change log from `page_token`.
    Changes { page_token: String },
}

impl Cursor {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartPageToken {
    start_page_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<File>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeList {
    #[serde(default)]
    changes: Vec<Change>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    new_start_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    #[serde(default)]
    removed: bool,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    file: Option<File>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    modified_time: Option<DateTime<Utc>>,
    #[serde(default)]
    web_view_link: Option<String>,
    #[serde(default)]
    trashed: bool,
    #[serde(default)]
    owners: Vec<User>,
    #[serde(default)]
    last_modifying_user: Option<User>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    #[serde(default)]
    display_name: Option<String>,
    /// This user is the one the token belongs to.
    #[serde(default)]
    me: bool,
}

impl DriveConnector {
    pub fn new(config: ConnectorConfig, token: &str) -> Self {
        Self { config, token: SecretString::from(token.to_owned()) }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Response, ProviderError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        send_with_retry(&self.config.retry, || {
            self.config.http.get(&url).query(query).bearer_auth(self.token.expose_secret())
        })
        .await
    }

    fn page_size(&self) -> String {
        self.config.page_size.clamp(1, MAX_PER_PAGE).to_string()
    }

    async fn start_page_token(&self) -> Result<Page, ProviderError> {
        let response = self.get("/changes/startPageToken", &[]).await?;
        let token: StartPageToken = read_json(response, "start page token").await?;
        let next = Cursor::Files { start_page_token: token.start_page_token, page_token: None };
        Ok(Page { next: Some(next.to_json()), ..Page::default() })
    }

    async fn files(&self, start_page_token: String, page_token: Option<String>) -> Result<Page, ProviderError> {
        let size = self.page_size();
        let mut query = vec![("pageSize", size.as_str()), ("q", "trashed=false"), ("fields", FILE_FIELDS)];
        if let Some(page_token) = &page_token {
            query.push(("pageToken", page_token.as_str()));
        }
        let response = self.get("/files", &query).await?;
        let list: FileList = read_json(response, "files").await?;
        let records = list.files.into_iter().filter(|f| !f.trashed).map(record).collect();
        Ok(match list.next_page_token {
            Some(next) => {
                let cursor = Cursor::Files { start_page_token, page_token: Some(next) };
                Page { records, next: Some(cursor.to_json()), ..Page::default() }
            }
            None => Page { records, state: Some(json!({ "pageToken": start_page_token })), ..Page::default() },
        })
    }

    async fn changes(&self, page_token: String) -> Result<Page, ProviderError> {
        let size = self.page_size();
        let query = [
            ("pageToken", page_token.as_str()),
            ("pageSize", size.as_str()),
            ("includeRemoved", "true"),
            ("fields", CHANGE_FIELDS),
        ];
        let response = self.get("/changes", &query).await?;
        let list: ChangeList = read_json(response, "changes").await?;
        let mut page = Page::default();
        for change in list.changes {
            let gone = |id: String| RecordKey { kind: RecordKind::File, external_id: id };
            match (change.removed, change.file) {
                (false, Some(file)) if !file.trashed => page.records.push(record(file)),
                (false, Some(file)) => page.deleted.push(gone(file.id)),
                (true, file) => {
                    if let Some(id) = change.file_id.or(file.map(|f| f.id)) {
                        page.deleted.push(gone(id));
                    }
                }
                // A change of something else than a file (a shared drive): nothing to sync.
                (false, None) => {}
            }
        }
        match (list.next_page_token, list.new_start_page_token) {
            (Some(next), _) => page.next = Some(Cursor::Changes { page_token: next }.to_json()),
            (None, Some(new_start)) => page.state = Some(json!({ "pageToken": new_start })),
            (None, None) => {
                return Err(ProviderError::Unexpected(
                    "Google Drive sent a last change page without a newStartPageToken".into(),
                ));
            }
        }
        Ok(page)
    }
}

#[async_trait::async_trait]
impl SyncConnector for DriveConnector {
    /// The first cursor: the change log from the saved page token, or (without one) the files.
    fn start(&self, state: Option<&Value>) -> Value {
        match state.and_then(|s| s.get("pageToken")).and_then(Value::as_str) {
            Some(token) => Cursor::Changes { page_token: token.to_owned() },
            None => Cursor::Start,
        }
        .to_json()
    }

    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        let cursor: Cursor = serde_json::from_value(cursor.clone())
            .map_err(|_| ProviderError::Unexpected("not a Google Drive sync cursor".into()))?;
        match cursor {
            Cursor::Start => self.start_page_token().await,
            Cursor::Files { start_page_token, page_token } => self.files(start_page_token, page_token).await,
            Cursor::Changes { page_token } => self.changes(page_token).await,
        }
    }
}

fn record(file: File) -> Record {
    let name = |u: &User| u.display_name.clone().filter(|n| !n.is_empty());
    let fields = FileFields {
        mime_type: file.mime_type,
        owner: file.owners.first().and_then(name),
        last_modified_by: file.last_modifying_user.as_ref().and_then(name),
        modified_by_me: file.last_modifying_user.as_ref().is_some_and(|u| u.me),
    };
    let mut data = Map::new();
    fields.write(&mut data);
    Record {
        kind: RecordKind::File,
        external_id: file.id,
        title: file.name,
        url: file.web_view_link,
        container: Some(CONTAINER.to_owned()),
        status: Some("active".to_owned()),
        due_at: None,
        updated_at: file.modified_time,
        data,
    }
}
