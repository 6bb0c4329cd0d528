//! Asana's action: create a task in a project (`POST /tasks`, body `{"data": {…}}`). A new task's
//! notes end with the action's marker. Asana's task search is premium-only, so a retry whose
//! first answer was lost finds the task by listing the project's tasks modified lately
//! (`GET /tasks?project=…&modified_since=…&opt_fields=notes,…`) and looking for the marker,
//! instead of making a second one.

use chrono::{Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::TOKEN;
use crate::providers::action::{ActionCall, ActionError, Lookup, Performed, send_write};
use crate::providers::{ActionSpec, ProviderError, RetryPolicy, bearer, read_json, send_with_retry};

/// How far back the lookup reads: longer than any redelivery of the job takes.
const LOOKUP_WINDOW: Duration = Duration::days(14);
/// Pages of 100 tasks the lookup reads at most.
const LOOKUP_PAGES: usize = 20;

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
struct Task {
    gid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    permalink_url: Option<String>,
}

impl From<Task> for Performed {
    fn from(t: Task) -> Self {
        Performed { id: Some(t.gid), url: t.permalink_url, title: t.name }
    }
}

/// The line a created task's notes end with.
fn marker_line(marker: &str) -> String {
    format!("[director-of-one:{marker}]")
}

fn check_date(name: &'static str, value: &str) -> Result<(), ActionError> {
    let ok = match name {
        "dueOn" => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
        _ => chrono::DateTime::parse_from_rfc3339(value).is_ok(),
    };
    let expected = if name == "dueOn" { "a date, YYYY-MM-DD" } else { "an RFC 3339 time" };
    ok.then_some(()).ok_or_else(|| ActionError::Param { name, reason: format!("is not {expected} (`{value}`)") })
}

pub(super) async fn perform(action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
    if action.id != "asana.createTask" {
        return Err(ActionError::Unsupported(action.id));
    }
    let token = bearer(call.credentials, TOKEN).map_err(|_| ActionError::Unsupported(action.id))?;
    let notes = match call.optional("notes") {
        Some(notes) => format!("{notes}\n\n{}", marker_line(call.marker)),
        None => marker_line(call.marker),
    };
    let mut data = Map::new();
    data.insert("projects".into(), json!([call.param("projectId")?]));
    data.insert("name".into(), call.param("name")?.into());
    data.insert("notes".into(), notes.into());
    match (call.optional("dueOn"), call.optional("dueAt")) {
        (Some(_), Some(_)) => {
            return Err(ActionError::Param { name: "dueAt", reason: "cannot be given with `dueOn`".into() });
        }
        (Some(on), None) => {
            check_date("dueOn", on)?;
            data.insert("due_on".into(), on.into());
        }
        (None, Some(at)) => {
            check_date("dueAt", at)?;
            data.insert("due_at".into(), at.into());
        }
        (None, None) => {}
    }
    if let Some(assignee) = call.optional("assignee") {
        data.insert("assignee".into(), assignee.into());
    }
    let request = call
        .http
        .post(format!("{}/tasks", call.base))
        .bearer_auth(token)
        .query(&[("opt_fields", "name,permalink_url")])
        .json(&json!({"data": Value::Object(data)}));
    let response = send_write(request).await?;
    // It was made; an answer we cannot read does not undo that.
    let task: Envelope<Task> = read_json(response, "Asana", "task create").await.map_err(ActionError::Uncertain)?;
    Ok(task.data.into())
}

pub(super) async fn find_performed(
    action: &'static ActionSpec,
    call: &ActionCall<'_>,
) -> Result<Lookup, ProviderError> {
    if action.id != "asana.createTask" {
        return Ok(Lookup::NotOffered);
    }
    let (Ok(token), Ok(project)) = (bearer(call.credentials, TOKEN), call.param("projectId")) else {
        return Ok(Lookup::NotOffered);
    };
    let url = format!("{}/tasks", call.base);
    let since = (Utc::now() - LOOKUP_WINDOW).to_rfc3339_opts(SecondsFormat::Secs, true);
    let line = marker_line(call.marker);
    let mut offset: Option<String> = None;
    for _ in 0..LOOKUP_PAGES {
        let request = || {
            let mut query = vec![
                ("project", project),
                ("modified_since", since.as_str()),
                ("opt_fields", "name,notes,permalink_url"),
                ("limit", "100"),
            ];
            if let Some(offset) = &offset {
                query.push(("offset", offset));
            }
            call.http.get(&url).bearer_auth(token).query(&query)
        };
        let response = send_with_retry(&RetryPolicy::default(), request).await?;
        let page: Envelope<Vec<Task>> = read_json(response, "Asana", "project tasks").await?;
        if let Some(task) = page.data.into_iter().find(|t| t.notes.as_deref().is_some_and(|n| n.ends_with(&line))) {
            return Ok(Lookup::Found(task.into()));
        }
        match page.next_page.and_then(|p| p.offset) {
            Some(next) => offset = Some(next),
            None => return Ok(Lookup::NotFound),
        }
    }
    // Too many tasks changed lately to be sure it is not among them.
    Ok(Lookup::NotOffered)
}
