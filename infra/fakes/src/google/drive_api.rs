//! Drive API v3 (`https://www.googleapis.com/drive/v3`): `GET /changes/startPageToken`,
//! `GET /changes`, `GET /files` (with a subset of `q`), `GET /files/{id}`. Responses carry only
//! Drive's default fields unless `fields` asks for more, as Drive v3 does.

use std::cmp::Ordering;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::drive::{DriveFile, FileRec};
use super::{Account, bad_request, not_found, select};
use crate::http::ApiRequest;
use crate::state::Inner;
use crate::util::{b64url_decode, b64url_encode, iso_ms, json_response, mix, parse_datetime, percent_decode};

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;
const FILE_FIELDS: &str = "kind,id,name,mimeType";
const LIST_FIELDS: &str = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)";
const CHANGE_FIELDS: &str =
    "kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,file(kind,id,name,mimeType))";

type Reply = Result<Response, Response>;

pub(crate) fn handle(s: &Inner, account: &Account, req: &ApiRequest) -> Response {
    let path = req.path.trim_end_matches('/');
    let reply = match path {
        "/changes/startPageToken" => {
            let body = json!({"kind": "drive#startPageToken", "startPageToken": next_token(s)});
            select(body, req, None).map(ok)
        }
        "/changes" => changes(s, account, req),
        "/files" => files(s, account, req),
        _ => match path.strip_prefix("/files/").map(percent_decode) {
            Some(id) => match s.google.files.iter().find(|r| r.file.id == id && r.owner == account.sub && !r.deleted) {
                Some(r) => select(file_json(s, r, account), req, Some(FILE_FIELDS)).map(ok),
                None => Err(file_not_found(&id)),
            },
            None => Err(not_found("Not Found")),
        },
    };
    reply.unwrap_or_else(|e| e)
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn file_not_found(id: &str) -> Response {
    let message = format!("File not found: {id}.");
    let body = json!({"error": {
        "errors": [{"domain": "global", "reason": "notFound", "message": message,
                    "locationType": "parameter", "location": "fileId"}],
        "code": 404, "message": message,
    }});
    json_response(StatusCode::NOT_FOUND, body)
}

/// The start page token: the next value of the change counter.
fn next_token(s: &Inner) -> String {
    (s.google.change_seq + 1).to_string()
}

fn page_size(req: &ApiRequest) -> Result<usize, Response> {
    match req.param("pageSize").filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            _ => Err(bad_request(
                "invalid",
                &format!("Invalid value '{v}'. Values must be within the range: [1, {MAX_PAGE_SIZE}]"),
                "pageSize",
            )),
        },
    }
}

/// A Drive `User` as `requester` sees it.
fn user_json(name: &str, email: &str, requester: &Account) -> Value {
    json!({
        "kind": "drive#user", "displayName": name, "emailAddress": email,
        "me": email.eq_ignore_ascii_case(&requester.email),
        "permissionId": format!("{:020}", mix(email.to_lowercase().bytes().fold(0, |h, b| mix(h ^ u64::from(b))))),
    })
}

pub(crate) fn file_json(s: &Inner, r: &FileRec, requester: &Account) -> Value {
    let f = &r.file;
    let owner = s.google.accounts.iter().find(|a| a.sub == r.owner);
    let (owner_name, owner_email) = owner.map_or(("", ""), |a| (a.name.as_str(), a.email.as_str()));
    let last = match &f.last_modifying_user {
        Some(u) => user_json(&u.display_name, &u.email_address, requester),
        None => user_json(owner_name, owner_email, requester),
    };
    json!({
        "kind": "drive#file", "id": f.id, "name": f.name, "mimeType": f.mime_type,
        "createdTime": iso_ms(&f.created_time), "modifiedTime": iso_ms(&f.modified_time),
        "trashed": f.trashed, "explicitlyTrashed": f.trashed, "parents": f.parents,
        "webViewLink": f.web_view_link, "ownedByMe": r.owner == requester.sub,
        "owners": [user_json(owner_name, owner_email, requester)], "lastModifyingUser": last,
    })
}

fn changes(s: &Inner, account: &Account, req: &ApiRequest) -> Reply {
    let from = match req.param("pageToken").filter(|t| !t.is_empty()) {
        None => return Err(bad_request("required", "Required parameter: pageToken", "pageToken")),
        Some(t) => match t.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(bad_request("invalid", "Invalid Value", "pageToken")),
        },
    };
    let size = page_size(req)?;
    let include_removed = req.param("includeRemoved") != Some("false");
    // Drive reports each file once, with its latest change in the range.
    let mut latest: Vec<&super::drive::ChangeRec> = Vec::new();
    for c in s.google.changes.iter().filter(|c| c.owner == account.sub && c.seq >= from) {
        latest.retain(|l| l.file_id != c.file_id);
        latest.push(c);
    }
    latest.sort_by_key(|c| c.seq);
    if !include_removed {
        latest.retain(|c| !c.removed);
    }
    let page: Vec<Value> = latest
        .iter()
        .take(size)
        .map(|c| {
            let mut v = json!({"kind": "drive#change", "changeType": "file", "time": iso_ms(&c.time),
                               "removed": c.removed, "fileId": c.file_id});
            if !c.removed
                && let Some(r) = s.google.files.iter().find(|r| r.file.id == c.file_id)
            {
                v["file"] = file_json(s, r, account);
            }
            v
        })
        .collect();
    let mut body = json!({"kind": "drive#changeList", "changes": page});
    match latest.get(size) {
        Some(next) => body["nextPageToken"] = json!(next.seq.to_string()),
        None => body["newStartPageToken"] = json!(next_token(s)),
    }
    select(body, req, Some(CHANGE_FIELDS)).map(ok)
}

/// One `q` term: `trashed = false`, `mimeType != '…'`, `'id' in parents`, `name contains '…'`,
/// `modifiedTime > '…'`; terms are joined with `and`.
fn matches_term(f: &DriveFile, term: &str) -> Option<bool> {
    let unquote = |v: &str| {
        let v = v.trim();
        v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).map(|v| v.replace("\\'", "'"))
    };
    if let Some(parent) = term.strip_suffix(" in parents") {
        let id = unquote(parent)?;
        return Some(f.parents.contains(&id));
    }
    let ops = [" contains ", "!=", ">=", "<=", "=", ">", "<"];
    // The earliest operator (the longer one where two start at the same place).
    let (i, op) =
        ops.iter().filter_map(|op| term.find(op).map(|i| (i, *op))).min_by_key(|(i, op)| (*i, -(op.len() as i64)))?;
    let (field, value) = (term[..i].trim(), term[i + op.len()..].trim());
    match (field, op.trim()) {
        ("trashed", "=" | "!=") => {
            let want = match value {
                "true" => true,
                "false" => false,
                _ => return None,
            };
            Some((f.trashed == want) == (op == "="))
        }
        ("mimeType", "=" | "!=") => Some((f.mime_type == unquote(value)?) == (op == "=")),
        ("name", "=" | "!=") => Some((f.name == unquote(value)?) == (op == "=")),
        ("name", "contains") => Some(f.name.to_lowercase().contains(&unquote(value)?.to_lowercase())),
        ("modifiedTime" | "createdTime", op) => {
            let at = parse_datetime(&unquote(value)?)?;
            let t = if field == "modifiedTime" { f.modified_time } else { f.created_time };
            match op {
                ">" => Some(t > at),
                ">=" => Some(t >= at),
                "<" => Some(t < at),
                "<=" => Some(t <= at),
                "=" => Some(t == at),
                _ => Some(t != at),
            }
        }
        _ => None,
    }
}

fn split_and(q: &str) -> Vec<&str> {
    let lower = q.to_ascii_lowercase();
    let (mut terms, mut start) = (Vec::new(), 0);
    for (i, _) in lower.match_indices(" and ") {
        terms.push(q[start..i].trim());
        start = i + 5;
    }
    terms.push(q[start..].trim());
    terms
}

fn compare(a: &DriveFile, b: &DriveFile, order: &[(String, bool)]) -> Ordering {
    for (key, desc) in order {
        let o = match key.as_str() {
            "name" | "name_natural" => a.name.cmp(&b.name),
            "createdTime" => a.created_time.cmp(&b.created_time),
            "folder" => (b.mime_type == super::drive::FOLDER).cmp(&(a.mime_type == super::drive::FOLDER)),
            _ => a.modified_time.cmp(&b.modified_time),
        };
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.id.cmp(&b.id)
}

fn files(s: &Inner, account: &Account, req: &ApiRequest) -> Reply {
    let size = page_size(req)?;
    let q = req.param("q").unwrap_or("").trim();
    let terms: Vec<&str> = if q.is_empty() { Vec::new() } else { split_and(q) };
    let invalid_q = || bad_request("invalid", "Invalid Value", "q");
    let mut order = Vec::new();
    for part in req.param("orderBy").unwrap_or("").split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, desc) = match part.split_once(' ') {
            Some((k, d)) if d.trim() == "desc" => (k, true),
            Some(_) => return Err(bad_request("invalid", "Invalid Value", "orderBy")),
            None => (part, false),
        };
        if !["name", "name_natural", "createdTime", "modifiedTime", "folder", "modifiedByMeTime"].contains(&key) {
            return Err(bad_request("invalid", "Invalid Value", "orderBy"));
        }
        order.push((key.to_owned(), desc));
    }
    // Validate the query even when there is no file to test it on.
    let probe = DriveFile {
        id: String::new(),
        name: String::new(),
        mime_type: String::new(),
        created_time: chrono::DateTime::UNIX_EPOCH,
        modified_time: chrono::DateTime::UNIX_EPOCH,
        trashed: false,
        parents: Vec::new(),
        web_view_link: String::new(),
        last_modifying_user: None,
    };
    if terms.iter().any(|t| matches_term(&probe, t).is_none()) {
        return Err(invalid_q());
    }
    let mut selected: Vec<&FileRec> = Vec::new();
    for r in s.google.files.iter().filter(|r| r.owner == account.sub && !r.deleted) {
        let mut keep = true;
        for term in &terms {
            keep &= matches_term(&r.file, term).ok_or_else(invalid_q)?;
        }
        if keep {
            selected.push(r);
        }
    }
    selected.sort_by(|a, b| compare(&a.file, &b.file, &order));
    let start = match req.param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => b64url_decode(t)
            .and_then(|d| d.strip_prefix("offset:").and_then(|n| n.parse::<usize>().ok()))
            .ok_or_else(|| bad_request("invalid", "Invalid Value", "pageToken"))?,
    };
    let page: Vec<Value> = selected.iter().skip(start).take(size).map(|r| file_json(s, r, account)).collect();
    let mut body = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": page});
    if selected.len() > start + size {
        body["nextPageToken"] = json!(b64url_encode(&format!("offset:{}", start + size)));
    }
    select(body, req, Some(LIST_FIELDS)).map(ok)
}
