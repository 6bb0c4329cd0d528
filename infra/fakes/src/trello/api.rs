//! Trello REST API (`https://api.trello.com/1/...`): members, boards (with their lists and members
//! nested on request), a board's lists, members and cards.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Auth, Data, TrelloBoard, TrelloCard, TrelloList, TrelloMember};
use crate::http::ApiRequest;
use crate::state::FakeState;
use crate::util::{iso_ms, json_response, parse_datetime, parse_pairs, project, text_response, with_retry_after};

const CARD_FIELDS: &str = "badges checkItemStates closed dateLastActivity desc descData due dueComplete dueReminder email idAttachmentCover idBoard idChecklists idLabels idList idMembers idMembersVoted idShort labels manualCoverAttachment name pos shortLink shortUrl start subscribed url";

const BOARD_FIELDS: &str = "closed dateLastActivity dateLastView desc descData idOrganization idEnterprise invitations invited labelNames memberships name pinned powerUps prefs shortLink shortUrl starred subscribed url";

const LIST_FIELDS: &str = "closed idBoard name pos subscribed softLimit";

const MEMBER_FIELDS: &str =
    "avatarHash bio bioData confirmed fullName idPremOrgsAdmin initials memberType products status url username";

type Reply = Result<Response, Response>;

pub(crate) fn text(status: StatusCode, msg: &str) -> Response {
    text_response(status, msg)
}

pub(super) fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "The requested resource was not found.")
}

fn invalid_value(name: &str) -> Response {
    text(StatusCode::BAD_REQUEST, &format!("invalid value for {name}"))
}

pub(crate) fn rate_limited(secs: u64) -> Response {
    let body = json!({"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"});
    with_retry_after(json_response(StatusCode::TOO_MANY_REQUESTS, body), secs)
}

pub(crate) fn server_error() -> Response {
    text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// `Authorization: OAuth oauth_consumer_key="KEY", oauth_token="TOKEN"` → (key, token).
pub(crate) fn oauth_header(req: &ApiRequest) -> Option<(String, String)> {
    let value = req.header("authorization")?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    let mut key = None;
    let mut token = None;
    for part in rest.split(',') {
        let Some((name, raw)) = part.trim().split_once('=') else {
            continue;
        };
        let raw = raw.trim().trim_matches('"');
        // Values may be percent-encoded (RFC 5849); decode them like a form value.
        let decoded = parse_pairs(format!("v={raw}").as_bytes()).pop().map(|(_, v)| v).unwrap_or_default();
        match name.trim() {
            "oauth_consumer_key" => key = Some(decoded),
            "oauth_token" => token = Some(decoded),
            _ => {}
        }
    }
    Some((key?, token?))
}

pub(crate) fn handle(state: &FakeState, req: &ApiRequest) -> Response {
    let path = req.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let cannot = || text(StatusCode::NOT_FOUND, &format!("Cannot {} {}", req.method, req.path));
    let method_known = matches!(req.method, Method::GET | Method::POST | Method::PUT | Method::DELETE);
    if segments.first() != Some(&"1") || !method_known {
        return cannot();
    }
    let (query_key, query_token) = (req.param("key"), req.param("token"));
    let header = oauth_header(req);
    let (key, token) = match (&header, query_key.or(query_token)) {
        (Some((k, t)), None) => (Some(k.as_str()), Some(t.as_str())),
        _ => (query_key, query_token),
    };
    state.with(|s| {
        let member = match s.trello.authenticate(key, token) {
            Auth::Ok(m) => m,
            Auth::InvalidKey => return text(StatusCode::UNAUTHORIZED, "invalid key"),
            Auth::InvalidToken => return text(StatusCode::UNAUTHORIZED, "invalid token"),
            Auth::Unauthorized => {
                return text(StatusCode::UNAUTHORIZED, "unauthorized permission requested");
            }
        };
        if let Some(reply) = super::writes::handle(s, &member, req, &segments[1..]) {
            return reply.unwrap_or_else(|e| e);
        }
        if let Some(reply) = super::webhooks::handle(s, &member, req, &segments[1..]) {
            return reply.unwrap_or_else(|e| e);
        }
        if req.method != Method::GET {
            return cannot();
        }
        let data = &s.trello;
        let reply = match segments[1..] {
            ["members", m] => with_member(data, &member, m).and_then(|_| member_json(data, &member, req)),
            ["members", m, "boards"] => {
                with_member(data, &member, m).and_then(|_| boards_json(data, &member, req.param("filter"), req))
            }
            ["members", m, "boards", filter] => {
                with_member(data, &member, m).and_then(|_| boards_json(data, &member, Some(filter), req))
            }
            ["boards", id] => visible_board(data, &member, id).and_then(|b| {
                let fields = fields_param(req, BOARD_FIELDS)?;
                let mut board = board_json(b, fields.as_deref());
                nest_lists(data, b, req, &mut board)?;
                nest_members(data, b, req, &mut board)?;
                Ok(json_response(StatusCode::OK, board))
            }),
            ["boards", id, "members"] => visible_board(data, &member, id).and_then(|b| {
                let fields = member_fields(req.param("fields"))?;
                let members = board_members(data, b, req.param("filter"))?;
                let out: Vec<Value> = members.into_iter().map(|m| board_member_json(m, &fields)).collect();
                Ok(json_response(StatusCode::OK, Value::Array(out)))
            }),
            ["boards", id, "lists"] => lists_json(data, &member, id, req.param("filter"), req),
            ["boards", id, "lists", filter] => lists_json(data, &member, id, Some(filter), req),
            ["boards", id, "cards"] => cards_json(data, &member, id, req.param("filter"), req),
            ["boards", id, "cards", filter] => cards_json(data, &member, id, Some(filter), req),
            _ => Err(cannot()),
        };
        reply.unwrap_or_else(|e| e)
    })
}

fn with_member(_data: &Data, me: &TrelloMember, who: &str) -> Result<(), Response> {
    if who == "me" || who == me.id || who == me.username { Ok(()) } else { Err(not_found()) }
}

/// `fields=all` (default) → `None`; otherwise the validated list.
fn fields_param(req: &ApiRequest, allowed: &str) -> Result<Option<Vec<String>>, Response> {
    let raw = req.param("fields").unwrap_or("all").trim();
    if raw.is_empty() || raw == "all" {
        return Ok(None);
    }
    let fields: Vec<String> = raw.split(',').map(|f| f.trim().to_owned()).collect();
    if fields.iter().any(|f| f != "id" && !allowed.split_whitespace().any(|a| a == f)) {
        return Err(invalid_value("fields"));
    }
    Ok(Some(fields))
}

fn select(obj: Value, fields: Option<&[String]>) -> Value {
    match fields {
        None => obj,
        Some(f) => project(obj, f, &["id"]),
    }
}

fn member_json(data: &Data, m: &TrelloMember, req: &ApiRequest) -> Reply {
    let initials: String = m.full_name.split_whitespace().filter_map(|w| w.chars().next()).collect();
    let id_boards: Vec<&str> = data.member_boards(&m.id).map(|b| b.id.as_str()).collect();
    let obj = json!({
        "id": m.id, "username": m.username, "fullName": m.full_name, "initials": initials,
        "url": m.url, "avatarHash": null, "avatarUrl": null, "bio": "", "confirmed": true,
        "memberType": "normal", "status": "disconnected", "idBoards": id_boards,
        "idOrganizations": [], "email": null,
    });
    let fields = match req.param("fields").map(str::trim) {
        None | Some("" | "all") => None,
        Some(raw) => Some(raw.split(',').map(|f| f.trim().to_owned()).collect::<Vec<_>>()),
    };
    Ok(json_response(StatusCode::OK, select(obj, fields.as_deref())))
}

fn board_json(b: &TrelloBoard, fields: Option<&[String]>) -> Value {
    let memberships: Vec<Value> = b
        .members
        .iter()
        .map(|m| json!({"idMember": m, "memberType": "admin", "unconfirmed": false, "deactivated": false}))
        .collect();
    let obj = json!({
        "id": b.id, "name": b.name, "desc": b.desc, "descData": null, "closed": b.closed,
        "idOrganization": null, "idEnterprise": null, "pinned": false, "url": b.url,
        "shortUrl": format!("https://trello.com/b/{}", b.short_link), "shortLink": b.short_link,
        "starred": false, "subscribed": false, "dateLastActivity": iso_ms(&b.date_last_activity),
        "dateLastView": null, "invitations": [], "invited": false, "memberships": memberships,
        "powerUps": [], "prefs": {"permissionLevel": "private", "background": "blue"},
        "labelNames": {"green": "", "yellow": "", "orange": "", "red": "", "purple": "", "blue": ""},
    });
    select(obj, fields)
}

fn boards_json(data: &Data, m: &TrelloMember, filter: Option<&str>, req: &ApiRequest) -> Reply {
    let fields = fields_param(req, BOARD_FIELDS)?;
    let filters: Vec<&str> = filter.unwrap_or("all").split(',').map(str::trim).collect();
    let mut want_all = false;
    let (mut want_open, mut want_closed) = (false, false);
    for f in &filters {
        match *f {
            "all" | "members" | "unpinned" => want_all = true,
            "open" => want_open = true,
            "closed" => want_closed = true,
            "organization" | "public" | "pinned" | "starred" => {}
            _ => return Err(invalid_value("filter")),
        }
    }
    let boards: Vec<Value> = data
        .member_boards(&m.id)
        .filter(|b| want_all || (want_open && !b.closed) || (want_closed && b.closed))
        .map(|b| board_json(b, fields.as_deref()))
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(boards)))
}

/// `member_fields` (or a members route's `fields`): `all` or a list; default `fullName,username`.
fn member_fields(raw: Option<&str>) -> Result<Vec<String>, Response> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("fullName,username");
    let all = MEMBER_FIELDS.split_whitespace().map(str::to_owned).collect();
    if raw == "all" {
        return Ok(all);
    }
    let fields: Vec<String> = raw.split(',').map(|f| f.trim().to_owned()).collect();
    if fields.iter().any(|f| f != "id" && !MEMBER_FIELDS.split_whitespace().any(|a| a == f)) {
        return Err(invalid_value("fields"));
    }
    Ok(fields)
}

/// The board's members for a `filter` (`all`, `normal`, `admins`, `owners`, `none`). Every
/// member of a fake board is a normal member.
fn board_members<'a>(data: &'a Data, b: &TrelloBoard, filter: Option<&str>) -> Result<Vec<&'a TrelloMember>, Response> {
    let all = b.members.iter().filter_map(|id| data.member(id));
    match filter.map(str::trim).unwrap_or("all") {
        "all" | "normal" => Ok(all.collect()),
        "none" | "admins" | "owners" => Ok(Vec::new()),
        _ => Err(invalid_value("filter")),
    }
}

fn board_member_json(m: &TrelloMember, fields: &[String]) -> Value {
    let initials: String = m.full_name.split_whitespace().filter_map(|w| w.chars().next()).collect();
    let obj = json!({
        "id": m.id, "fullName": m.full_name, "username": m.username, "initials": initials,
        "avatarHash": null, "url": m.url, "confirmed": true, "memberType": "normal",
    });
    project(obj, fields, &["id"])
}

/// `GET /1/boards/{id}?lists=…&list_fields=…`: the board's lists nested as `lists`.
fn nest_lists(data: &Data, b: &TrelloBoard, req: &ApiRequest, board: &mut Value) -> Result<(), Response> {
    let keep: fn(&TrelloList) -> bool = match req.param("lists").map(str::trim) {
        None | Some("" | "none") => return Ok(()),
        Some("all") => |_| true,
        Some("open") => |l| !l.closed,
        Some("closed") => |l| l.closed,
        Some(_) => return Err(invalid_value("lists")),
    };
    let fields = match req.param("list_fields").map(str::trim) {
        None | Some("" | "all") => None,
        Some(raw) => {
            let fields: Vec<String> = raw.split(',').map(|f| f.trim().to_owned()).collect();
            if fields.iter().any(|f| f != "id" && !LIST_FIELDS.split_whitespace().any(|a| a == f)) {
                return Err(invalid_value("list_fields"));
            }
            Some(fields)
        }
    };
    let mut lists: Vec<&TrelloList> = data.board_lists(&b.id).filter(|l| keep(l)).collect();
    lists.sort_by(|x, y| x.pos.total_cmp(&y.pos));
    board["lists"] = Value::Array(lists.into_iter().map(|l| list_json(l, fields.as_deref())).collect());
    Ok(())
}

/// `GET /1/boards/{id}?members=…&member_fields=…`: the board's members nested as `members`.
fn nest_members(data: &Data, b: &TrelloBoard, req: &ApiRequest, board: &mut Value) -> Result<(), Response> {
    let filter = match req.param("members").map(str::trim) {
        None | Some("" | "none") => return Ok(()),
        Some(f) => f,
    };
    let members = board_members(data, b, Some(filter)).map_err(|_| invalid_value("members"))?;
    let fields = member_fields(req.param("member_fields")).map_err(|_| invalid_value("member_fields"))?;
    board["members"] = Value::Array(members.into_iter().map(|m| board_member_json(m, &fields)).collect());
    Ok(())
}

fn visible_board<'a>(data: &'a Data, m: &TrelloMember, id: &str) -> Result<&'a TrelloBoard, Response> {
    let well_formed = (id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()))
        || (id.len() == 8 && id.chars().all(|c| c.is_ascii_alphanumeric()));
    if !well_formed {
        return Err(text(StatusCode::BAD_REQUEST, "invalid id"));
    }
    match data.board(id) {
        None => Err(not_found()),
        Some(b) if b.members.contains(&m.id) => Ok(b),
        Some(_) => Err(text(StatusCode::UNAUTHORIZED, "unauthorized permission requested")),
    }
}

fn list_json(l: &TrelloList, fields: Option<&[String]>) -> Value {
    let obj = json!({
        "id": l.id, "name": l.name, "closed": l.closed, "idBoard": l.id_board, "pos": l.pos,
        "subscribed": false, "softLimit": null,
    });
    select(obj, fields)
}

fn lists_json(data: &Data, m: &TrelloMember, id: &str, filter: Option<&str>, req: &ApiRequest) -> Reply {
    let board = visible_board(data, m, id)?;
    let fields = fields_param(req, LIST_FIELDS)?;
    let keep = |l: &&TrelloList| match filter.unwrap_or("open") {
        "open" => Ok(!l.closed),
        "closed" => Ok(l.closed),
        "all" => Ok(true),
        "none" => Ok(false),
        _ => Err(()),
    };
    let mut lists = Vec::new();
    for l in data.board_lists(&board.id) {
        match keep(&l) {
            Ok(true) => lists.push(l),
            Ok(false) => {}
            Err(()) => return Err(invalid_value("filter")),
        }
    }
    lists.sort_by(|a, b| a.pos.total_cmp(&b.pos));
    let out: Vec<Value> = lists.into_iter().map(|l| list_json(l, fields.as_deref())).collect();
    Ok(json_response(StatusCode::OK, Value::Array(out)))
}

pub(super) fn card_json(c: &TrelloCard, fields: Option<&[String]>) -> Value {
    let labels: Vec<Value> =
        c.labels.iter().map(|l| json!({"id": l.id, "idBoard": c.id_board, "name": l.name, "color": l.color})).collect();
    let id_labels: Vec<&str> = c.labels.iter().map(|l| l.id.as_str()).collect();
    let obj = json!({
        "id": c.id, "name": c.name, "desc": c.desc, "descData": {"emoji": {}}, "closed": c.closed,
        "idBoard": c.id_board, "idList": c.id_list, "idShort": c.id_short, "idLabels": id_labels,
        "idMembers": c.id_members, "idMembersVoted": [], "idChecklists": [], "idAttachmentCover": null,
        "labels": labels, "due": c.due.as_ref().map(iso_ms), "dueComplete": c.due_complete,
        "dueReminder": null, "start": null, "email": null, "manualCoverAttachment": false,
        "pos": c.pos, "shortLink": c.short_link, "shortUrl": c.short_url, "url": c.url,
        "subscribed": false, "checkItemStates": [], "dateLastActivity": iso_ms(&c.date_last_activity),
        "badges": {"comments": 0, "attachments": 0, "checkItems": 0, "checkItemsChecked": 0,
                   "description": !c.desc.is_empty(), "due": c.due.as_ref().map(iso_ms),
                   "dueComplete": c.due_complete},
    });
    select(obj, fields)
}

/// `before`/`since` accept a card id or a date; both become an id bound.
fn id_bound(req: &ApiRequest, name: &str) -> Result<Option<String>, Response> {
    match req.param(name).map(str::trim) {
        None | Some("" | "null") => Ok(None),
        Some(v) if v.len() == 24 && v.chars().all(|c| c.is_ascii_hexdigit()) => Ok(Some(v.to_ascii_lowercase())),
        Some(v) => match parse_datetime(v) {
            Some(t) => {
                let secs = t.timestamp().clamp(0, u32::MAX as i64);
                Ok(Some(format!("{secs:08x}0000000000000000")))
            }
            None => Err(invalid_value(name)),
        },
    }
}

fn cards_json(data: &Data, m: &TrelloMember, id: &str, filter: Option<&str>, req: &ApiRequest) -> Reply {
    let board = visible_board(data, m, id)?;
    let fields = fields_param(req, CARD_FIELDS)?;
    let limit = match req.param("limit").map(str::trim) {
        None | Some("") => None,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Some(n),
            _ => return Err(invalid_value("limit")),
        },
    };
    let before = id_bound(req, "before")?;
    let since = id_bound(req, "since")?;
    let keep: fn(&TrelloCard) -> bool = match filter.unwrap_or("visible") {
        "visible" | "open" => |c: &TrelloCard| !c.closed,
        "closed" => |c: &TrelloCard| c.closed,
        "all" => |_: &TrelloCard| true,
        "none" => |_: &TrelloCard| false,
        _ => return Err(invalid_value("filter")),
    };
    let mut cards: Vec<&TrelloCard> = data.board_cards(&board.id).filter(|c| keep(c)).collect();
    if limit.is_none() && before.is_none() && since.is_none() {
        // The whole board, in board order: list by list, top to bottom.
        cards.sort_by(|a, b| {
            data.list_pos(&a.id_list).total_cmp(&data.list_pos(&b.id_list)).then(a.pos.total_cmp(&b.pos))
        });
    } else {
        // Paged: newest first, like Trello's id-based paging.
        cards.retain(|c| before.as_ref().is_none_or(|b| c.id < *b));
        cards.retain(|c| since.as_ref().is_none_or(|s| c.id > *s));
        cards.sort_by(|a, b| b.id.cmp(&a.id));
        if let Some(n) = limit {
            cards.truncate(n);
        }
    }
    let out: Vec<Value> = cards.into_iter().map(|c| card_json(c, fields.as_deref())).collect();
    Ok(json_response(StatusCode::OK, Value::Array(out)))
}
