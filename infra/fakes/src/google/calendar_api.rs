//! Calendar API v3 (`https://www.googleapis.com/calendar/v3`): `GET /calendars/{id}/events`
//! (paging, `syncToken` incremental sync with 410 Gone, filters, `privateExtendedProperty`),
//! `GET …/events/{eventId}` and `POST /calendars/{id}/events` (`events.insert`).

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::calendar::{CalendarEvent, EventRec, EventStatus, EventTime};
use super::{Account, bad_request, error, not_found, select};
use crate::http::ApiRequest;
use crate::state::Inner;
use crate::util::{
    b64_encode, b64url_decode, b64url_encode, iso_ms, json_response, parse_datetime, percent_decode, truthy,
};

const DEFAULT_MAX_RESULTS: usize = 250;
const MAX_MAX_RESULTS: usize = 2500;
/// Parameters a sync token cannot be combined with.
const NOT_WITH_SYNC_TOKEN: [&str; 8] = [
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
];

type Reply = Result<Response, Response>;

pub(crate) fn handle(s: &mut Inner, account: &Account, req: &ApiRequest) -> Response {
    let segments: Vec<String> = req.path.trim_matches('/').split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let reply = match segments[..] {
        ["calendars", cal, "events", ..] if cal != "primary" && !cal.eq_ignore_ascii_case(&account.email) => {
            Err(not_found("Not Found"))
        }
        ["calendars", _, "events"] if req.method == axum::http::Method::POST => insert(s, account, req),
        ["calendars", _, "events"] => list(s, account, req),
        ["calendars", _, "events", id] => match owned(s, account).find(|r| r.event.id == id) {
            Some(r) => select(event_json(&r.event, &account.email), req, None).map(ok),
            None => Err(not_found("Not Found")),
        },
        _ => Err(not_found("Not Found")),
    };
    reply.unwrap_or_else(|e| e)
}

/// `events.insert`: summary, start and end (`dateTime` or `date`), description, and private
/// extended properties; answers the event as `events.get` does.
fn insert(s: &mut Inner, account: &Account, req: &ApiRequest) -> Reply {
    let body: Value =
        serde_json::from_slice(&req.body).map_err(|_| bad_request("parseError", "Parse Error", "body"))?;
    let time = |name: &str| -> Result<EventTime, Response> {
        let t = &body[name];
        let missing = || bad_request("required", &format!("Missing {name} time."), name);
        if let Some(date) = t["date"].as_str() {
            return chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map(EventTime::Date).map_err(|_| missing());
        }
        t["dateTime"].as_str().and_then(parse_datetime).map(EventTime::DateTime).ok_or_else(missing)
    };
    let (start, end) = (time("start")?, time("end")?);
    if end.instant() < start.instant() {
        return Err(bad_request("timeRangeEmpty", "The specified time range is empty.", "end"));
    }
    let private = body["extendedProperties"]["private"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let id = super::calendar::event_id(s.next_seq());
    s.google.event_seq += 1;
    let now = super::calendar::now_ms();
    let event = CalendarEvent {
        id,
        status: EventStatus::Confirmed,
        summary: body["summary"].as_str().unwrap_or_default().to_owned(),
        description: body["description"].as_str().map(str::to_owned),
        location: body["location"].as_str().map(str::to_owned),
        start,
        end,
        attendees: Vec::new(),
        created: now,
        updated: now,
    };
    let json = event_json(&event, &account.email);
    s.google.events.push(EventRec {
        owner: account.sub.clone(),
        seq: s.google.event_seq,
        event,
        private_properties: private,
    });
    super::channels::notify(s, &account.sub, super::channels::Watched::CalendarEvents);
    Ok(ok(json))
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn owned<'a>(s: &'a Inner, account: &'a Account) -> impl Iterator<Item = &'a EventRec> + 'a {
    s.google.events.iter().filter(move |r| r.owner == account.sub)
}

fn full_sync_required() -> Response {
    error(StatusCode::GONE, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.", None)
}

fn sync_token(epoch: u64, seq: u64) -> String {
    b64_encode(&format!("sync:{epoch}:{seq}"))
}

fn parse_sync_token(token: &str) -> Option<(u64, u64)> {
    let decoded = crate::util::b64_decode(token)?;
    let mut parts = decoded.strip_prefix("sync:")?.split(':');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Where a listing continues: after sort key `after`; changes since `since` (incremental sync);
/// `high` is the change counter when the listing began (the next sync token).
struct PageToken {
    after: String,
    since: Option<u64>,
    high: u64,
    epoch: u64,
}

impl PageToken {
    fn encode(&self) -> String {
        b64url_encode(&json!({"a": self.after, "s": self.since, "h": self.high, "e": self.epoch}).to_string())
    }

    fn decode(token: &str) -> Option<PageToken> {
        let v: Value = serde_json::from_str(&b64url_decode(token)?).ok()?;
        Some(PageToken {
            after: v.get("a")?.as_str()?.to_owned(),
            since: v.get("s").and_then(Value::as_u64),
            high: v.get("h")?.as_u64()?,
            epoch: v.get("e")?.as_u64()?,
        })
    }
}

fn time_param(req: &ApiRequest, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    match req.param(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.contains('T') => parse_datetime(v)
            .map(Some)
            .ok_or_else(|| bad_request("invalid", &format!("Invalid value for: {name}"), name)),
        Some(_) => Err(bad_request("invalid", &format!("Invalid value for: {name}"), name)),
    }
}

fn list(s: &Inner, account: &Account, req: &ApiRequest) -> Reply {
    let param = |n: &str| req.param(n).filter(|v| !v.is_empty());
    let max = match param("maxResults") {
        None => DEFAULT_MAX_RESULTS,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_MAX_RESULTS).contains(&n) => n,
            _ => {
                let msg = format!("Invalid value '{v}'. Values must be within the range: [1, {MAX_MAX_RESULTS}]");
                return Err(bad_request("invalid", &msg, "maxResults"));
            }
        },
    };
    let sync = param("syncToken");
    if sync.is_some() {
        if let Some(n) = NOT_WITH_SYNC_TOKEN.into_iter().find(|n| param(n).is_some()) {
            return Err(bad_request("invalid", &format!("{n} cannot be used together with syncToken."), n));
        }
        if param("showDeleted") == Some("false") {
            return Err(bad_request("invalid", "showDeleted cannot be false together with syncToken.", "showDeleted"));
        }
    }
    let page = match param("pageToken") {
        None => None,
        Some(t) => {
            Some(PageToken::decode(t).ok_or_else(|| bad_request("invalid", "Invalid page token value.", "pageToken"))?)
        }
    };
    let epoch = s.google.sync_epoch;
    let (since, high, after) = match (&page, sync) {
        (Some(p), _) if p.since.is_some() && p.epoch != epoch => return Err(full_sync_required()),
        (Some(p), _) => (p.since, p.high, Some(p.after.clone())),
        (None, Some(t)) => match parse_sync_token(t) {
            Some((e, seq)) if e == epoch && seq <= s.google.event_seq => (Some(seq), s.google.event_seq, None),
            _ => return Err(full_sync_required()),
        },
        (None, None) => (None, s.google.event_seq, None),
    };
    let order = param("orderBy");
    match order {
        None | Some("updated") => {}
        Some("startTime") if truthy(param("singleEvents")) => {}
        Some("startTime") => {
            let msg = "The requested ordering is not available for the particular query.";
            return Err(error(StatusCode::BAD_REQUEST, "badRequest", msg, None));
        }
        Some(_) => return Err(bad_request("invalid", "Invalid value for: orderBy", "orderBy")),
    }
    let (time_min, time_max) = (time_param(req, "timeMin")?, time_param(req, "timeMax")?);
    let updated_min = time_param(req, "updatedMin")?;
    if let (Some(a), Some(b)) = (time_min, time_max)
        && a >= b
    {
        return Err(error(StatusCode::BAD_REQUEST, "timeRangeEmpty", "The specified time range is empty.", None));
    }
    let show_deleted = truthy(param("showDeleted"));
    // `privateExtendedProperty=name=value`, each given must match.
    let private: Vec<(&str, &str)> = req
        .query
        .iter()
        .filter(|(k, _)| k == "privateExtendedProperty")
        .filter_map(|(_, v)| v.split_once('='))
        .collect();
    let text = param("q").map(str::to_lowercase);

    let key = |e: &CalendarEvent| {
        let t = match order {
            Some("startTime") => e.start.instant(),
            Some("updated") => e.updated,
            _ => e.created,
        };
        format!("{:020}|{}", t.timestamp_micros().max(0), e.id)
    };
    let mut matching: Vec<(String, &EventRec)> = owned(s, account)
        .filter(|r| match since {
            Some(seq) => r.seq > seq,
            None => {
                let e = &r.event;
                e.status != EventStatus::Cancelled || show_deleted || updated_min.is_some_and(|u| e.updated >= u)
            }
        })
        .filter(|r| time_min.is_none_or(|t| r.event.end.instant() > t))
        .filter(|r| time_max.is_none_or(|t| r.event.start.instant() < t))
        .filter(|r| updated_min.is_none_or(|u| r.event.updated >= u))
        .filter(|r| private.iter().all(|(k, v)| r.private_properties.iter().any(|(pk, pv)| pk == k && pv == v)))
        .filter(|r| {
            let e = &r.event;
            text.as_deref().is_none_or(|q| {
                [Some(&e.summary), e.description.as_ref(), e.location.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|f| f.to_lowercase().contains(q))
            })
        })
        .map(|r| (key(&r.event), r))
        .collect();
    matching.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(after) = &after {
        matching.retain(|(k, _)| k > after);
    }
    let more = matching.len() > max;
    matching.truncate(max);
    let items: Vec<Value> = matching.iter().map(|(_, r)| item_json(&r.event, &account.email)).collect();
    let updated = owned(s, account).map(|r| r.event.updated).max().unwrap_or_else(Utc::now);
    let mut body = json!({
        "kind": "calendar#events", "etag": format!("\"{}\"", updated.timestamp_micros()),
        "summary": account.email, "description": "", "updated": iso_ms(&updated), "timeZone": "UTC",
        "accessRole": "owner", "defaultReminders": [], "items": items,
    });
    match (more, matching.last()) {
        (true, Some((last, _))) => {
            body["nextPageToken"] = json!(PageToken { after: last.clone(), since, high, epoch }.encode());
        }
        _ => body["nextSyncToken"] = json!(sync_token(epoch, high)),
    }
    select(body, req, None).map(ok)
}

fn time_json(t: &EventTime) -> Value {
    match t {
        EventTime::DateTime(t) => json!({"dateTime": t.to_rfc3339_opts(SecondsFormat::Secs, true), "timeZone": "UTC"}),
        EventTime::Date(d) => json!({"date": d.format("%Y-%m-%d").to_string()}),
    }
}

fn etag(e: &CalendarEvent) -> String {
    format!("\"{}\"", e.updated.timestamp_micros())
}

/// A listed event; deleted (cancelled) ones carry only what Google guarantees for them.
fn item_json(e: &CalendarEvent, owner_email: &str) -> Value {
    if e.status == EventStatus::Cancelled {
        return json!({"kind": "calendar#event", "etag": etag(e), "id": e.id, "status": "cancelled",
                      "updated": iso_ms(&e.updated)});
    }
    event_json(e, owner_email)
}

fn event_json(e: &CalendarEvent, owner_email: &str) -> Value {
    let is_me = |email: &str| email.eq_ignore_ascii_case(owner_email);
    let person = |email: &str, name: Option<&String>| {
        let mut p = json!({"email": email});
        if let Some(name) = name {
            p["displayName"] = json!(name);
        }
        if is_me(email) {
            p["self"] = json!(true);
        }
        p
    };
    let me = person(owner_email, None);
    let organizer = e.attendees.iter().find(|a| a.organizer).map_or(me, |a| person(&a.email, a.display_name.as_ref()));
    let mut v = json!({
        "kind": "calendar#event", "etag": etag(e), "id": e.id, "status": e.status.as_str(),
        "htmlLink": format!("https://www.google.com/calendar/event?eid={}",
                            b64url_encode(&format!("{} {owner_email}", e.id))),
        "created": iso_ms(&e.created), "updated": iso_ms(&e.updated), "summary": e.summary,
        "creator": organizer, "organizer": organizer, "start": time_json(&e.start), "end": time_json(&e.end),
        "iCalUID": format!("{}@google.com", e.id), "sequence": 0,
        "reminders": {"useDefault": true}, "eventType": "default",
    });
    if let Some(d) = &e.description {
        v["description"] = json!(d);
    }
    if let Some(l) = &e.location {
        v["location"] = json!(l);
    }
    if !e.attendees.is_empty() {
        let attendees: Vec<Value> = e
            .attendees
            .iter()
            .map(|a| {
                let mut v = person(&a.email, a.display_name.as_ref());
                if a.organizer {
                    v["organizer"] = json!(true);
                }
                v["responseStatus"] = json!(a.response_status);
                v
            })
            .collect();
        v["attendees"] = json!(attendees);
    }
    v
}
