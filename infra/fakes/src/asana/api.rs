//! Asana REST API (`https://app.asana.com/api/1.0`): users, workspaces, tasks, and `POST /tasks`.

use std::cmp::Ordering;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{Account, AsanaTask, Data};
use crate::http::ApiRequest;
use crate::oauth::OAuthProvider;
use crate::state::{FakeState, Provider};
use crate::util::{
    b64url_decode, b64url_encode, encode_pairs, iso_ms, json_response, parse_datetime, with_retry_after,
};

const HELP: &str = "For more information on API status codes and how to handle them, \
                    read the docs on errors: https://developers.asana.com/docs/errors";

type Reply = Result<Response, Response>;

fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({"errors": [{"message": message, "help": HELP}]}))
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

pub(crate) fn rate_limited(secs: u64) -> Response {
    let msg = "You've made too many requests and hit a rate limit. \
               Please retry after the given amount of time.";
    with_retry_after(error(StatusCode::TOO_MANY_REQUESTS, msg), secs)
}

pub(crate) fn server_error() -> Response {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"errors": [{"message": "Server Error", "phrase": "6 sad squid snuggle softly"}]}),
    )
}

pub(crate) fn handle(state: &FakeState, req: &ApiRequest) -> Response {
    let path = req.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let no_route = || error(StatusCode::NOT_FOUND, "No matching route for request");
    let create = req.method == Method::POST && segments[..] == ["tasks"];
    if req.method != Method::GET && !create {
        return no_route();
    }
    state.with(|s| {
        let base = match &s.base_url {
            Some(u) => format!("{u}{}", Provider::Asana.base_path()),
            None => Provider::Asana.real_base_url().to_owned(),
        };
        let token = req.bearer().and_then(|t| s.oauth.resolve(OAuthProvider::Asana, t).ok());
        let account = match token {
            Some(t) => s.asana.accounts.iter().find(|a| a.token == t && !a.revoked),
            None => None,
        };
        let Some(account) = account else {
            return error(StatusCode::UNAUTHORIZED, "Not Authorized");
        };
        let opt_fields = opt_fields(req);
        if create {
            let account = account.clone();
            return create_task(s, &account, req, &opt_fields).unwrap_or_else(|e| e);
        }
        let data = &s.asana;
        let reply = match segments[..] {
            ["users", who] => user(data, account, who).map(|u| ok(json!({"data": select(u, &opt_fields, None)}))),
            ["workspaces"] => {
                let items = account
                    .workspace_gids
                    .iter()
                    .filter_map(|g| data.workspace(g))
                    .map(|w| (w.gid.clone(), workspace_json(&w.gid, &w.name)))
                    .collect();
                let compact = ["gid", "name", "resource_type"];
                paginate(req, &base, "/workspaces", items, &opt_fields, Some(&compact))
            }
            ["workspaces", gid] => match account.workspace_gids.iter().any(|g| g == gid) {
                true => {
                    let w = data.workspace(gid).map_or(json!({}), |w| workspace_json(&w.gid, &w.name));
                    Ok(ok(json!({"data": select(w, &opt_fields, None)})))
                }
                false => Err(error(StatusCode::NOT_FOUND, &format!("workspace: Unknown object: {gid}"))),
            },
            ["tasks"] => tasks(data, account, req, &base, &opt_fields),
            ["tasks", gid] => match data.tasks.iter().find(|t| t.gid == gid) {
                Some(t) if account.workspace_gids.contains(&t.workspace_gid) => {
                    Ok(ok(json!({"data": select(task_json(data, t), &opt_fields, None)})))
                }
                _ => Err(error(StatusCode::NOT_FOUND, &format!("task: Unknown object: {gid}"))),
            },
            _ => Err(no_route()),
        };
        reply.unwrap_or_else(|e| e)
    })
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn opt_fields(req: &ApiRequest) -> Option<Vec<String>> {
    let raw = req.param("opt_fields")?.trim();
    (!raw.is_empty()).then(|| raw.split(',').map(|f| f.trim().to_owned()).collect())
}

fn compact(v: &Value) -> Value {
    project_fields(v, &["gid".into(), "name".into(), "resource_type".into()])
}

/// Asana's `opt_fields`: `gid` always; `a.b` selects inside `a`; a bare relation gives its
/// compact form (`gid`, `name`, `resource_type`).
fn project_fields(v: &Value, fields: &[String]) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| project_fields(i, fields)).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            if let Some(g) = map.get("gid") {
                out.insert("gid".into(), g.clone());
            }
            let mut tops: Vec<&str> = Vec::new();
            for f in fields {
                let top = f.split('.').next().unwrap_or_default();
                if !tops.contains(&top) {
                    tops.push(top);
                }
            }
            for top in tops {
                let Some(value) = map.get(top) else { continue };
                let prefix = format!("{top}.");
                let subs: Vec<String> =
                    fields.iter().filter_map(|f| f.strip_prefix(&prefix).map(str::to_owned)).collect();
                let projected = match (subs.is_empty(), value) {
                    (true, Value::Object(_)) => compact(value),
                    (true, Value::Array(a)) => Value::Array(a.iter().map(compact).collect()),
                    (true, other) => other.clone(),
                    (false, other) => project_fields(other, &subs),
                };
                out.insert(top.to_owned(), projected);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// With `opt_fields`, the projection; otherwise the default representation (`default_fields`
/// keeps only those, e.g. the compact form that list endpoints return).
fn select(full: Value, opt: &Option<Vec<String>>, default_fields: Option<&[&str]>) -> Value {
    match (opt, default_fields) {
        (Some(fields), _) => project_fields(&full, fields),
        (None, Some(keep)) => {
            let fields: Vec<String> = keep.iter().map(|f| (*f).to_owned()).collect();
            crate::util::project(full, &fields, &[])
        }
        (None, None) => full,
    }
}

fn workspace_json(gid: &str, name: &str) -> Value {
    json!({"gid": gid, "name": name, "resource_type": "workspace", "is_organization": false,
           "email_domains": []})
}

fn user(data: &Data, account: &Account, who: &str) -> Result<Value, Response> {
    let u = &account.user;
    if !(who == "me" || who == u.gid || who == u.email) {
        return Err(error(StatusCode::NOT_FOUND, &format!("user: Unknown object: {who}")));
    }
    let workspaces: Vec<Value> = account
        .workspace_gids
        .iter()
        .filter_map(|g| data.workspace(g))
        .map(|w| json!({"gid": w.gid, "name": w.name, "resource_type": "workspace"}))
        .collect();
    Ok(json!({"gid": u.gid, "email": u.email, "name": u.name, "photo": null,
              "resource_type": "user", "workspaces": workspaces}))
}

fn task_json(data: &Data, t: &AsanaTask) -> Value {
    let projects: Vec<Value> = t
        .project_gids
        .iter()
        .filter_map(|g| data.project(g))
        .map(|p| json!({"gid": p.gid, "name": p.name, "resource_type": "project"}))
        .collect();
    let assignee = t
        .assignee_gid
        .as_deref()
        .and_then(|g| data.user(g))
        .map(|u| json!({"gid": u.gid, "name": u.name, "resource_type": "user"}));
    let workspace =
        data.workspace(&t.workspace_gid).map(|w| json!({"gid": w.gid, "name": w.name, "resource_type": "workspace"}));
    let project_in_link = t.project_gids.first().map_or("0", String::as_str);
    json!({
        "gid": t.gid, "resource_type": "task", "resource_subtype": "default_task", "name": t.name,
        "notes": t.notes, "html_notes": format!("<body>{}</body>", t.notes),
        "completed": t.completed, "completed_at": t.completed_at.as_ref().map(iso_ms),
        "created_at": iso_ms(&t.created_at), "modified_at": iso_ms(&t.modified_at),
        "due_on": t.due_on.map(|d| d.format("%Y-%m-%d").to_string()), "due_at": t.due_at.as_ref().map(iso_ms),
        "start_on": null, "permalink_url": format!("https://app.asana.com/0/{project_in_link}/{}", t.gid),
        "assignee": assignee, "workspace": workspace, "projects": projects, "tags": [],
        "followers": [], "parent": null, "num_subtasks": 0, "memberships": [],
    })
}

fn by_gid(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn date_param(req: &ApiRequest, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    match req.param(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse_datetime(v).map(Some).ok_or_else(|| bad_request(&format!("{name}: Invalid date-time: {v}"))),
    }
}

fn tasks(data: &Data, account: &Account, req: &ApiRequest, base: &str, opt: &Option<Vec<String>>) -> Reply {
    let must = "Must specify exactly one of project, tag, section, user task list, or assignee + workspace";
    let (project, assignee, workspace) = (req.param("project"), req.param("assignee"), req.param("workspace"));
    let selected: Vec<&AsanaTask> = match (project, assignee, workspace) {
        (Some(p), None, None) => {
            match data.project(p) {
                Some(pr) if account.workspace_gids.contains(&pr.workspace_gid) => {}
                _ => {
                    return Err(error(StatusCode::NOT_FOUND, &format!("project: Unknown object: {p}")));
                }
            }
            data.tasks.iter().filter(|t| t.project_gids.iter().any(|g| g == p)).collect()
        }
        (None, Some(a), Some(w)) => {
            let user_gid = if a == "me" {
                account.user.gid.clone()
            } else {
                match data.accounts.iter().map(|x| &x.user).find(|u| u.gid == a || u.email == a) {
                    Some(u) => u.gid.clone(),
                    None => {
                        return Err(bad_request(&format!("assignee: Not a recognized ID: {a}")));
                    }
                }
            };
            if !w.bytes().all(|b| b.is_ascii_digit()) || w.is_empty() {
                return Err(bad_request(&format!("workspace: Not a recognized ID: {w}")));
            }
            if !account.workspace_gids.iter().any(|g| g == w) {
                return Err(error(StatusCode::NOT_FOUND, &format!("workspace: Unknown object: {w}")));
            }
            data.tasks
                .iter()
                .filter(|t| t.workspace_gid == w && t.assignee_gid.as_deref() == Some(user_gid.as_str()))
                .collect()
        }
        _ => return Err(bad_request(must)),
    };
    let modified_since = date_param(req, "modified_since")?;
    let completed_since = match req.param("completed_since").map(str::trim) {
        Some("now") => Some(Utc::now()),
        _ => date_param(req, "completed_since")?,
    };
    let items = selected
        .into_iter()
        .filter(|t| modified_since.is_none_or(|m| t.modified_at >= m))
        .filter(|t| completed_since.is_none_or(|c| !t.completed || t.completed_at.is_some_and(|at| at >= c)))
        .map(|t| (t.gid.clone(), task_json(data, t)))
        .collect();
    let compact = ["gid", "name", "resource_type", "resource_subtype"];
    paginate(req, base, "/tasks", items, opt, Some(&compact))
}

/// Asana offset pagination: opaque tokens; `next_page` only when `limit` was given.
fn paginate(
    req: &ApiRequest,
    base: &str,
    path: &str,
    mut items: Vec<(String, Value)>,
    opt: &Option<Vec<String>>,
    default_fields: Option<&[&str]>,
) -> Reply {
    let limit = match req.param("limit").map(str::trim) {
        None | Some("") => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => Some(n as usize),
            _ => return Err(bad_request("limit: Must be between 1 and 100")),
        },
    };
    let after = match req.param("offset").map(str::trim) {
        None | Some("") => None,
        Some(token) => {
            let decoded = b64url_decode(token)
                .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                .and_then(|v| v.get("after").and_then(Value::as_str).map(str::to_owned));
            Some(decoded.ok_or_else(|| bad_request("offset: Your pagination token is invalid or expired."))?)
        }
    };
    items.sort_by(|a, b| by_gid(&a.0, &b.0));
    if let Some(after) = &after {
        items.retain(|(g, _)| by_gid(g, after) == Ordering::Greater);
    }
    let more = limit.is_some_and(|n| items.len() > n);
    if let Some(n) = limit {
        items.truncate(n);
    }
    let next_page = match (more, items.last()) {
        (true, Some((last, _))) => {
            let offset = b64url_encode(&json!({"v": 1, "after": last}).to_string());
            let mut pairs: Vec<(String, String)> = req.query.iter().filter(|(k, _)| k != "offset").cloned().collect();
            pairs.push(("offset".into(), offset.clone()));
            let next_path = format!("{path}?{}", encode_pairs(&pairs));
            json!({"offset": offset, "uri": format!("{base}{next_path}"), "path": next_path})
        }
        _ => Value::Null,
    };
    let data: Vec<Value> = items.into_iter().map(|(_, v)| select(v, opt, default_fields)).collect();
    let body = match limit {
        Some(_) => json!({"data": data, "next_page": next_page}),
        None => json!({"data": data}),
    };
    Ok(ok(body))
}

/// `POST /tasks` with `{"data": {…}}`: a task in a workspace, or in projects (whose workspace it
/// takes), answered 201 with the task.
fn create_task(s: &mut crate::state::Inner, account: &Account, req: &ApiRequest, opt: &Option<Vec<String>>) -> Reply {
    let body: Value =
        serde_json::from_slice(&req.body).map_err(|_| bad_request("Could not parse request data, invalid JSON"))?;
    let Some(data) = body.get("data").and_then(Value::as_object) else {
        return Err(bad_request("Missing input: data"));
    };
    let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_owned);
    let project_gids: Vec<String> = match data.get("projects") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(gids)) => gids.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(_) => return Err(bad_request("projects: Not an Array")),
    };
    let mut workspace_gid = text("workspace");
    for gid in &project_gids {
        match s.asana.project(gid) {
            Some(p) if account.workspace_gids.contains(&p.workspace_gid) => {
                workspace_gid.get_or_insert_with(|| p.workspace_gid.clone());
            }
            _ => return Err(error(StatusCode::NOT_FOUND, &format!("project: Unknown object: {gid}"))),
        }
    }
    let Some(workspace_gid) = workspace_gid else {
        return Err(bad_request("You should specify one of workspace, parent, projects"));
    };
    if !account.workspace_gids.contains(&workspace_gid) {
        return Err(error(StatusCode::NOT_FOUND, &format!("workspace: Unknown object: {workspace_gid}")));
    }
    let (due_on, due_at) = (text("due_on"), text("due_at"));
    if due_on.is_some() && due_at.is_some() {
        return Err(bad_request("You may only provide one of due_on or due_at"));
    }
    let due_on = match due_on {
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| bad_request(&format!("due_on: Invalid date: {d}")))?,
        ),
        None => None,
    };
    let due_at = match due_at {
        Some(d) => Some(parse_datetime(&d).ok_or_else(|| bad_request(&format!("due_at: Invalid date-time: {d}")))?),
        None => None,
    };
    let assignee_gid = match text("assignee").as_deref() {
        None => None,
        Some("me") => Some(account.user.gid.clone()),
        Some(a) => match s.asana.accounts.iter().map(|x| &x.user).find(|u| u.gid == a || u.email == a) {
            Some(u) => Some(u.gid.clone()),
            None => return Err(bad_request(&format!("assignee: Not a recognized ID: {a}"))),
        },
    };
    let now = Utc::now();
    let gid = super::gid(s);
    let task = AsanaTask {
        gid,
        name: text("name").unwrap_or_default(),
        notes: text("notes").unwrap_or_default(),
        completed: false,
        completed_at: None,
        due_on,
        due_at,
        created_at: now,
        modified_at: now,
        workspace_gid,
        assignee_gid,
        project_gids,
    };
    let json = task_json(&s.asana, &task);
    s.asana.tasks.push(task);
    Ok(json_response(StatusCode::CREATED, json!({"data": select(json, opt, None)})))
}
