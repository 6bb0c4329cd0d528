//! Notion API (`https://api.notion.com/v1`): `GET /v1/users/me`, `POST /v1/search`,
//! `POST /v1/pages` (a page in a database, the write an automation uses), and the
//! OAuth endpoints `/v1/oauth/authorize`, `/v1/oauth/token`, `/v1/oauth/revoke` (served by
//! `crate::oauth`).

use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::{Account, NotionItem, NotionKind, NotionParent};
use crate::http::ApiRequest;
use crate::oauth::OAuthProvider;
use crate::state::FakeState;
use crate::util::{iso_ms, json_response, mix, uuid_from, with_retry_after};

/// First version whose search lists databases as `data_source` objects.
const DATA_SOURCE_VERSION: &str = "2025-09-03";

fn request_id() -> String {
    uuid_from(mix(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"object": "error", "status": status.as_u16(), "code": code, "message": message,
               "request_id": request_id()}),
    )
}

fn validation(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "validation_error", &format!("body failed validation: {message}"))
}

pub(crate) fn rate_limited(secs: u64) -> Response {
    let msg = "You have been rate limited. Please try again in a few minutes.";
    with_retry_after(error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", msg), secs)
}

pub(crate) fn server_error() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error", "Unexpected error occurred.")
}

pub(crate) fn handle(state: &FakeState, req: &ApiRequest) -> Response {
    let path = req.path.trim_end_matches('/');
    let route = match (&req.method, path) {
        // The OAuth endpoints live under the API's base URL too (HTTP Basic client auth).
        (&Method::POST, "/v1/oauth/token") => {
            return crate::oauth::token_endpoint(state, OAuthProvider::Notion, &req.headers, &req.query, &req.body);
        }
        (&Method::POST, "/v1/oauth/revoke") => {
            return crate::oauth::revoke_endpoint(state, OAuthProvider::Notion, &req.headers, &req.query, &req.body);
        }
        (&Method::GET, "/v1/oauth/authorize") => {
            return crate::oauth::authorize(state, OAuthProvider::Notion, &req.query);
        }
        (&Method::GET, "/v1/users/me") => Route::Me,
        (&Method::POST, "/v1/search") => Route::Search,
        (&Method::POST, "/v1/pages") => Route::CreatePage,
        _ => {
            return error(StatusCode::BAD_REQUEST, "invalid_request_url", "Invalid request URL.");
        }
    };
    state.with(|s| {
        let token = req.bearer().and_then(|t| s.oauth.resolve(OAuthProvider::Notion, t).ok());
        let account = token.and_then(|t| s.notion.accounts.iter().find(|a| a.token == t && !a.revoked)).cloned();
        let Some(account) = &account else {
            return error(StatusCode::UNAUTHORIZED, "unauthorized", "API token is invalid.");
        };
        let version = match req.header("notion-version").map(str::trim) {
            None | Some("") => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "missing_version",
                    "Notion-Version header failed validation: Notion-Version header should be \
                     defined, instead was `undefined`.",
                );
            }
            Some(v) if chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err() => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "missing_version",
                    &format!(
                        "Notion-Version header failed validation: Notion-Version header should \
                         be a valid API version, instead was `{v}`."
                    ),
                );
            }
            Some(v) => v,
        };
        let data_sources = version >= DATA_SOURCE_VERSION;
        match route {
            Route::Me => json_response(StatusCode::OK, me_json(account)),
            Route::Search => {
                let items: Vec<&NotionItem> = s
                    .notion
                    .items
                    .iter()
                    .filter(|r| r.owner == account.bot_id && !r.item.in_trash)
                    .map(|r| &r.item)
                    .collect();
                search(req, account, items, data_sources).unwrap_or_else(|e| e)
            }
            Route::CreatePage => create_page(s, req, account, data_sources).unwrap_or_else(|e| e),
        }
    })
}

enum Route {
    Me,
    Search,
    CreatePage,
}

fn me_json(a: &Account) -> Value {
    json!({
        "object": "user", "id": a.bot_id, "name": a.bot_name, "avatar_url": null, "type": "bot",
        "bot": {"owner": {"type": "workspace", "workspace": true},
                "workspace_name": a.workspace_name},
        "request_id": request_id(),
    })
}

fn rich_text(text: &str) -> Value {
    json!([{
        "type": "text", "text": {"content": text, "link": null},
        "annotations": {"bold": false, "italic": false, "strikethrough": false,
                        "underline": false, "code": false, "color": "default"},
        "plain_text": text, "href": null,
    }])
}

fn parent_json(p: &NotionParent) -> Value {
    match p {
        NotionParent::Workspace => json!({"type": "workspace", "workspace": true}),
        NotionParent::Page(id) => json!({"type": "page_id", "page_id": id}),
        NotionParent::Database(id) => json!({"type": "database_id", "database_id": id}),
    }
}

fn item_json(i: &NotionItem, a: &Account, data_sources: bool) -> Value {
    let by = json!({"object": "user", "id": a.bot_id});
    let common = json!({
        "id": i.id, "created_time": iso_ms(&i.created_time),
        "last_edited_time": iso_ms(&i.last_edited_time), "created_by": by, "last_edited_by": by,
        "cover": null, "icon": null, "parent": parent_json(&i.parent), "archived": i.archived,
        "in_trash": i.in_trash, "url": i.url, "public_url": null,
    });
    let extra = match (i.kind, data_sources) {
        (NotionKind::Page, _) => json!({
            "object": "page", "is_locked": false,
            "properties": {"title": {"id": "title", "type": "title", "title": rich_text(&i.title)}},
        }),
        (NotionKind::Database, false) => json!({
            "object": "database", "title": rich_text(&i.title), "description": [],
            "is_inline": false,
            "properties": {"Name": {"id": "title", "name": "Name", "type": "title", "title": {}}},
        }),
        (NotionKind::Database, true) => json!({
            "object": "data_source", "title": rich_text(&i.title), "description": [],
            "parent": {"type": "database_id", "database_id": i.id},
            "database_parent": parent_json(&i.parent),
            "properties": {"Name": {"id": "title", "name": "Name", "type": "title", "title": {}}},
        }),
    };
    let mut out = common;
    if let (Value::Object(o), Value::Object(e)) = (&mut out, extra) {
        o.extend(e);
    }
    out
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn search(
    req: &ApiRequest,
    a: &Account,
    mut items: Vec<&NotionItem>,
    data_sources: bool,
) -> Result<Response, Response> {
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|_| error(StatusCode::BAD_REQUEST, "invalid_json", "Error parsing JSON body."))?
    };
    let Some(obj) = body.as_object() else {
        return Err(validation(&format!("body should be an object, instead was {}.", describe(&body))));
    };
    let field = |name: &str| obj.get(name).filter(|v| !v.is_null());

    if let Some(q) = field("query") {
        let Some(q) = q.as_str() else {
            return Err(validation(&format!(
                "body.query should be a string or `undefined`, instead was {}.",
                describe(q)
            )));
        };
        let q = q.trim().to_lowercase();
        items.retain(|i| i.title.to_lowercase().contains(&q));
    }
    if let Some(f) = field("filter") {
        let kinds = if data_sources { ["page", "data_source"] } else { ["page", "database"] };
        let value = f.get("value").and_then(Value::as_str);
        if f.get("property").and_then(Value::as_str) != Some("object") {
            return Err(validation(&format!(
                "body.filter.property should be `\"object\"`, instead was {}.",
                describe(f.get("property").unwrap_or(&Value::Null))
            )));
        }
        match value {
            Some(v) if kinds.contains(&v) => {
                let want = if v == "page" { NotionKind::Page } else { NotionKind::Database };
                items.retain(|i| i.kind == want);
            }
            _ => {
                return Err(validation(&format!(
                    "body.filter.value should be `\"{}\"` or `\"{}\"`, instead was {}.",
                    kinds[0],
                    kinds[1],
                    describe(f.get("value").unwrap_or(&Value::Null))
                )));
            }
        }
    }
    let mut ascending = false;
    if let Some(sort) = field("sort") {
        match sort.get("direction").and_then(Value::as_str) {
            Some("ascending") => ascending = true,
            Some("descending") => {}
            _ => {
                return Err(validation("body.sort.direction should be `\"ascending\"` or `\"descending\"`."));
            }
        }
        if sort.get("timestamp").and_then(Value::as_str) != Some("last_edited_time") {
            return Err(validation("body.sort.timestamp should be `\"last_edited_time\"`."));
        }
    }
    let page_size = match field("page_size") {
        None => 100,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=100).contains(&n) => n as usize,
            Some(n) if n > 100 => {
                return Err(validation(&format!("body.page_size should be ≤ `100`, instead was `{n}`.")));
            }
            Some(n) => {
                return Err(validation(&format!("body.page_size should be ≥ `1`, instead was `{n}`.")));
            }
            None => {
                return Err(validation(&format!("body.page_size should be an integer, instead was {}.", describe(v))));
            }
        },
    };
    items.sort_by(|x, y| {
        let order = x.last_edited_time.cmp(&y.last_edited_time).then_with(|| x.id.cmp(&y.id));
        if ascending { order } else { order.reverse() }
    });
    let start = match field("start_cursor") {
        None => 0,
        Some(c) => match c.as_str().and_then(|c| items.iter().position(|i| i.id == c)) {
            Some(pos) => pos,
            None => {
                return Err(validation(&format!(
                    "body.start_cursor should be a valid cursor, instead was {}.",
                    describe(c)
                )));
            }
        },
    };
    let next = items.get(start + page_size).map(|i| i.id.clone());
    let results: Vec<Value> = items.iter().skip(start).take(page_size).map(|i| item_json(i, a, data_sources)).collect();
    let kind = if data_sources { "page_or_data_source" } else { "page_or_database" };
    let mut body = json!({
        "object": "list", "results": results, "has_more": next.is_some(), "next_cursor": next,
        "type": kind, "request_id": request_id(),
    });
    body[kind] = json!({});
    Ok(json_response(StatusCode::OK, body))
}

/// `POST /v1/pages` under a database: `parent.database_id` names a database shared with the
/// integration, and `properties` holds its title property (by name, `Name`, or id, `title`) and
/// nothing it does not have. Answers the new page.
fn create_page(
    s: &mut crate::state::Inner,
    req: &ApiRequest,
    a: &Account,
    data_sources: bool,
) -> Result<Response, Response> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "invalid_json", "Error parsing JSON body."))?;
    let Some(database) = body.pointer("/parent/database_id").and_then(Value::as_str) else {
        return Err(validation("body.parent.database_id should be defined, instead was `undefined`."));
    };
    let shared = s.notion.items.iter().any(|r| {
        r.owner == a.bot_id && r.item.id == database && r.item.kind == NotionKind::Database && !r.item.in_trash
    });
    if !shared {
        return Err(error(
            StatusCode::NOT_FOUND,
            "object_not_found",
            &format!(
                "Could not find database with ID: {database}. Make sure the relevant pages and databases are \
                 shared with your integration."
            ),
        ));
    }
    let Some(properties) = body.get("properties").and_then(Value::as_object) else {
        return Err(validation("body.properties should be an object, instead was `undefined`."));
    };
    let mut title = None;
    for (key, value) in properties {
        if key != "title" && key != "Name" {
            return Err(validation(&format!("{key} is not a property that exists.")));
        }
        let Some(parts) = value.get("title").and_then(Value::as_array) else {
            return Err(validation(&format!("body.properties.{key}.title should be an array.")));
        };
        let text: String = parts
            .iter()
            .filter_map(|p| p.pointer("/text/content").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .concat();
        title = Some(text);
    }
    let id = uuid_from(s.next_seq());
    let now = Utc::now();
    let title = title.unwrap_or_default();
    let item = NotionItem {
        url: format!("https://www.notion.so/{}-{}", crate::util::slug(&title), id.replace('-', "")),
        id,
        kind: NotionKind::Page,
        title,
        created_time: now,
        last_edited_time: now,
        parent: NotionParent::Database(database.to_owned()),
        archived: false,
        in_trash: false,
    };
    let json = item_json(&item, a, data_sources);
    s.notion.items.push(super::ItemRec { owner: a.bot_id.clone(), item });
    Ok(json_response(StatusCode::OK, json))
}
