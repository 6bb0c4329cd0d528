//! Google push notification channels: Calendar `POST /calendars/{id}/events/watch`, Drive
//! `POST /changes/watch?pageToken=` (required) and `POST /channels/stop {id, resourceId}` on
//! either API. When the watched data changes (an event, or a file in the change log), every open
//! unexpired channel of its owner gets a real notification, `POST {address}` with no body and
//! `X-Goog-Channel-ID`, `X-Goog-Channel-Token`, `X-Goog-Channel-Expiration`,
//! `X-Goog-Resource-ID`, `X-Goog-Resource-URI`, `X-Goog-Message-Number` and
//! `X-Goog-Resource-State` (`exists` for events, `change` for the change log). Unlike Google,
//! the opening `sync` message is not sent. A channel lasts until the `expiration` asked for,
//! at most a week (an hour when none is asked).

use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{Account, bad_request, error, not_found};
use crate::http::ApiRequest;
use crate::state::{FakeState, Inner};
use crate::util::json_response;

/// What a channel watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    CalendarEvents,
    DriveChanges,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleChannel {
    pub id: String,
    pub resource_id: String,
    pub watched: Watched,
    pub address: String,
    pub token: Option<String>,
    pub expiration: DateTime<Utc>,
    /// The `sub` of the account whose data it watches.
    pub owner: String,
    pub(crate) messages: u64,
}

/// `None` when the request is not one of these.
pub(crate) fn handle(s: &mut Inner, account: &Account, watched: Watched, req: &ApiRequest) -> Option<Response> {
    if req.method != Method::POST {
        return None;
    }
    let path = req.path.trim_matches('/');
    let reply = match (watched, path) {
        (_, "channels/stop") => stop(s, account, req),
        (Watched::CalendarEvents, p) if p.starts_with("calendars/") && p.ends_with("/events/watch") => {
            watch(s, account, watched, req, "https://www.googleapis.com/calendar/v3/calendars/primary/events")
        }
        (Watched::DriveChanges, "changes/watch") => match req.param("pageToken").filter(|t| !t.is_empty()) {
            None => Err(bad_request("required", "Required parameter: pageToken", "pageToken")),
            Some(_) => watch(s, account, watched, req, "https://www.googleapis.com/drive/v3/changes"),
        },
        _ => return None,
    };
    Some(reply.unwrap_or_else(|e| e))
}

fn body(req: &ApiRequest) -> Result<Value, Response> {
    serde_json::from_slice(&req.body).map_err(|_| bad_request("parseError", "Parse Error", "body"))
}

fn watch(
    s: &mut Inner,
    account: &Account,
    watched: Watched,
    req: &ApiRequest,
    uri: &str,
) -> Result<Response, Response> {
    let body = body(req)?;
    let Some(id) = body["id"].as_str().filter(|id| !id.is_empty()) else {
        return Err(bad_request("required", "Required: channel id", "id"));
    };
    let Some(address) = body["address"].as_str().filter(|a| !a.is_empty()) else {
        return Err(bad_request("required", "Required: address", "address"));
    };
    if !matches!(body["type"].as_str(), Some("web_hook" | "webhook")) {
        return Err(bad_request("invalid", "Invalid value for: type", "type"));
    }
    if s.google.channels.iter().any(|c| c.id == id) {
        return Err(bad_request("channelIdNotUnique", &format!("Channel id {id} not unique"), "id"));
    }
    let now = Utc::now();
    let asked = body["expiration"].as_str().and_then(|ms| DateTime::from_timestamp_millis(ms.parse().ok()?));
    let expiration = asked.unwrap_or(now + Duration::hours(1)).min(now + Duration::weeks(1));
    let channel = GoogleChannel {
        id: id.to_owned(),
        resource_id: format!("fake-resource-{:016x}", crate::util::mix(s.next_seq())),
        watched,
        address: address.to_owned(),
        token: body["token"].as_str().map(str::to_owned),
        expiration,
        owner: account.sub.clone(),
        messages: 0,
    };
    let mut answer = json!({
        "kind": "api#channel", "id": channel.id, "resourceId": channel.resource_id,
        "resourceUri": uri, "expiration": expiration.timestamp_millis().to_string(),
    });
    if let Some(token) = &channel.token {
        answer["token"] = json!(token);
    }
    s.google.channels.push(channel);
    Ok(json_response(StatusCode::OK, answer))
}

fn stop(s: &mut Inner, account: &Account, req: &ApiRequest) -> Result<Response, Response> {
    let body = body(req)?;
    let (Some(id), Some(resource_id)) = (body["id"].as_str(), body["resourceId"].as_str()) else {
        return Err(bad_request("required", "Required: id and resourceId", "id"));
    };
    let Some(at) = s.google.channels.iter().position(|c| c.id == id && c.resource_id == resource_id) else {
        return Err(not_found(&format!("Channel '{id}' not found for project")));
    };
    if s.google.channels[at].owner != account.sub {
        return Err(error(StatusCode::FORBIDDEN, "forbidden", "Forbidden", None));
    }
    s.google.channels.remove(at);
    let mut resp = Response::default();
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// Tells every open channel of `owner` watching `watched` that it changed (in the background).
pub(crate) fn notify(s: &mut Inner, owner: &str, watched: Watched) {
    let now = Utc::now();
    s.google.channels.retain(|c| c.expiration > now);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    for channel in s.google.channels.iter_mut().filter(|c| c.owner == owner && c.watched == watched) {
        channel.messages += 1;
        let (state, uri) = match watched {
            Watched::CalendarEvents => ("exists", "https://www.googleapis.com/calendar/v3/calendars/primary/events"),
            Watched::DriveChanges => ("change", "https://www.googleapis.com/drive/v3/changes"),
        };
        let mut request = reqwest::Client::new()
            .post(&channel.address)
            .header("x-goog-channel-id", &channel.id)
            .header("x-goog-channel-expiration", channel.expiration.to_rfc2822())
            .header("x-goog-resource-id", &channel.resource_id)
            .header("x-goog-resource-uri", uri)
            .header("x-goog-resource-state", state)
            .header("x-goog-message-number", channel.messages.to_string());
        if let Some(token) = &channel.token {
            request = request.header("x-goog-channel-token", token);
        }
        runtime.spawn(async move {
            if let Err(e) = request.send().await {
                tracing::warn!(error = %e, "fake Google: a push notification was not delivered");
            }
        });
    }
}

impl FakeState {
    /// The Google push channels open now, oldest first.
    pub fn google_channels(&self) -> Vec<GoogleChannel> {
        self.with(|s| s.google.channels.clone())
    }
}
