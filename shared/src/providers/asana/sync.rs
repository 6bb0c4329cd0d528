//! Asana sync: the user's workspaces (`GET /users/me`), then in each the tasks assigned to the
//! user (`GET /tasks?assignee=me&workspace=…`), paged with Asana's `offset` tokens.
//!
//! Cursor: `{"startedAt": t, "since": t|null, "workspaces": [{"gid","name"}]|null,
//! "workspace": i, "offset": token|null}`; `workspaces` is null until `/users/me` was read.
//! State: `{"modifiedSince": <when this run started>}`, Asana's advice, so a task changed while
//! the run reads is seen again by the next one (`modified_since` is inclusive).

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::providers::SyncConnector;
use crate::providers::{ProviderError, send_with_retry};
use crate::sync::{ConnectorConfig, KindFields, Page, Record, RecordKind, TaskFields, clip};

/// Asana's maximum `limit`.
const MAX_TASKS_PER_PAGE: u32 = 100;
const TASK_FIELDS: &str = "name,completed,due_on,due_at,modified_at,permalink_url,notes,assignee.name,projects.name,\
     memberships.project.name,memberships.section.name";
const NOTES_MAX: usize = 2000;

pub struct AsanaConnector {
    config: ConnectorConfig,
    token: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    started_at: DateTime<Utc>,
    #[serde(default)]
    since: Option<DateTime<Utc>>,
    #[serde(default)]
    workspaces: Option<Vec<Workspace>>,
    #[serde(default)]
    workspace: usize,
    #[serde(default)]
    offset: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Workspace {
    gid: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
    #[serde(default)]
    next_page: Option<NextPage>,
}

#[derive(Deserialize)]
struct NextPage {
    #[serde(default)]
    offset: Option<String>,
}

#[derive(Deserialize)]
struct Me {
    #[serde(default)]
    workspaces: Vec<Workspace>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Task {
    gid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    completed: bool,
    #[serde(default)]
    due_on: Option<String>,
    #[serde(default)]
    due_at: Option<String>,
    #[serde(default)]
    modified_at: Option<DateTime<Utc>>,
    #[serde(default)]
    permalink_url: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    assignee: Option<Named>,
    #[serde(default)]
    projects: Vec<Named>,
    #[serde(default)]
    memberships: Vec<Membership>,
}

/// A task's place in a project: the project and the section it is in.
#[derive(Deserialize)]
struct Membership {
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    section: Option<Named>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Cursor {
    /// After the current workspace: the next one, or the end of the run.
    fn next_workspace(mut self) -> Page {
        self.workspace += 1;
        self.offset = None;
        let more = self.workspaces.as_ref().is_some_and(|w| self.workspace < w.len());
        if more { self.page(Vec::new()) } else { self.finish() }
    }

    /// The last page: the state for the next run.
    fn finish(self) -> Page {
        Page { state: Some(json!({ "modifiedSince": rfc3339(self.started_at) })), ..Page::default() }
    }

    fn page(self, records: Vec<Record>) -> Page {
        Page { records, next: Some(serde_json::to_value(&self).unwrap_or_default()), ..Page::default() }
    }
}

impl AsanaConnector {
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

    async fn workspaces(&self, mut cursor: Cursor) -> Result<Page, ProviderError> {
        let response = self.get("/users/me", &[("opt_fields", "workspaces.name")]).await?;
        let me: Envelope<Me> = read_json(response, "user").await?;
        let empty = me.data.workspaces.is_empty();
        cursor.workspaces = Some(me.data.workspaces);
        cursor.workspace = 0;
        cursor.offset = None;
        if empty {
            return Ok(cursor.finish());
        }
        Ok(cursor.page(Vec::new()))
    }

    async fn tasks(&self, mut cursor: Cursor) -> Result<Page, ProviderError> {
        let Some(workspace) = cursor.workspaces.as_ref().and_then(|w| w.get(cursor.workspace)).cloned() else {
            return Err(ProviderError::Unexpected("Asana sync cursor past its workspaces".into()));
        };
        let limit = self.config.page_size.clamp(1, MAX_TASKS_PER_PAGE).to_string();
        let since = cursor.since.map(rfc3339);
        let mut query = vec![
            ("assignee", "me"),
            ("workspace", workspace.gid.as_str()),
            ("limit", limit.as_str()),
            ("opt_fields", TASK_FIELDS),
        ];
        if let Some(since) = &since {
            query.push(("modified_since", since.as_str()));
        }
        if let Some(offset) = &cursor.offset {
            query.push(("offset", offset.as_str()));
        }
        let response = self.get("/tasks", &query).await?;
        match response.status() {
            // The workspace is gone (or the user left it): nothing to read there.
            StatusCode::NOT_FOUND => return Ok(cursor.next_workspace()),
            // An offset expires; start the workspace over (records are idempotent).
            StatusCode::BAD_REQUEST if cursor.offset.is_some() => {
                cursor.offset = None;
                return Ok(cursor.page(Vec::new()));
            }
            _ => {}
        }
        let tasks: Envelope<Vec<Task>> = read_json(response, "tasks").await?;
        let container = workspace.name.clone().unwrap_or(workspace.gid.clone());
        let records = tasks.data.into_iter().map(|t| record(t, &container)).collect();
        match tasks.next_page.and_then(|p| p.offset) {
            Some(offset) => {
                cursor.offset = Some(offset);
                Ok(cursor.page(records))
            }
            None => {
                let mut page = cursor.next_workspace();
                page.records = records;
                Ok(page)
            }
        }
    }
}

#[async_trait::async_trait]
impl SyncConnector for AsanaConnector {
    /// The first cursor, which records when the run started (the next run's `modified_since`).
    fn start(&self, state: Option<&Value>) -> Value {
        let since = state
            .and_then(|s| s.get("modifiedSince"))
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let cursor = Cursor { started_at: Utc::now(), since, workspaces: None, workspace: 0, offset: None };
        serde_json::to_value(&cursor).unwrap_or_default()
    }

    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        let cursor: Cursor = serde_json::from_value(cursor.clone())
            .map_err(|_| ProviderError::Unexpected("not an Asana sync cursor".into()))?;
        match &cursor.workspaces {
            None => self.workspaces(cursor).await,
            Some(_) => self.tasks(cursor).await,
        }
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, ProviderError> {
    crate::providers::read_json(response, "Asana", what).await
}

fn record(task: Task, workspace: &str) -> Record {
    let projects: Vec<String> = task.projects.into_iter().filter_map(|p| p.name).collect();
    // The first project the task is in, with its section there when Asana names it.
    let membership = task.memberships.into_iter().find_map(|m| {
        let project = m.project.and_then(|p| p.name)?;
        Some(match m.section.and_then(|s| s.name) {
            Some(section) => format!("{project} / {section}"),
            None => project,
        })
    });
    let fields = TaskFields {
        list: membership.or_else(|| projects.first().cloned()),
        labels: Vec::new(),
        done: task.completed,
        assignees: task.assignee.and_then(|a| a.name).into_iter().collect(),
    };
    let mut data = Map::new();
    fields.write(&mut data);
    data.insert("projects".into(), Value::Array(projects.into_iter().map(Value::String).collect()));
    if let Some(notes) = task.notes.filter(|n| !n.is_empty()) {
        data.insert("notes".into(), Value::String(clip(&notes, NOTES_MAX)));
    }
    Record {
        kind: RecordKind::Task,
        external_id: task.gid,
        title: task.name,
        url: task.permalink_url,
        container: Some(workspace.to_owned()),
        status: Some(if task.completed { "done" } else { "open" }.to_owned()),
        due_at: task.due_at.or(task.due_on),
        updated_at: task.modified_at,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_first_project_with_its_section_and_the_assignee_is_named() {
        let task: Task = serde_json::from_value(json!({
            "gid": "1", "name": "Write the brief", "completed": true,
            "assignee": {"gid": "7", "name": "Demo User"},
            "projects": [{"gid": "2", "name": "Launch"}, {"gid": "3", "name": "Website"}],
            "memberships": [{"project": {"gid": "2", "name": "Launch"}, "section": {"gid": "4", "name": "Doing"}}],
        }))
        .unwrap();
        let fields = TaskFields::read(&record(task, "Workspace").data);
        assert_eq!(fields.list.as_deref(), Some("Launch / Doing"));
        assert!(fields.done);
        assert_eq!(fields.assignees, ["Demo User"]);

        let bare: Task =
            serde_json::from_value(json!({"gid": "5", "projects": [{"gid": "2", "name": "Launch"}]})).unwrap();
        let fields = TaskFields::read(&record(bare, "Workspace").data);
        assert_eq!(fields, TaskFields { list: Some("Launch".into()), ..TaskFields::default() });
    }
}
