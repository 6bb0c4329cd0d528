//! Google: accounts, the pieces the APIs share (bearer auth, the JSON error shape, `fields`
//! partial responses) and OpenID Connect userinfo. Calendar v3 is in `calendar*.rs`, Drive v3 in
//! `drive*.rs`.

mod calendar;
mod calendar_api;
mod channels;
mod drive;
mod drive_api;
mod fields;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::http::ApiRequest;
use crate::oauth::OAuthProvider;
use crate::state::{FakeState, Inner, Provider};
use crate::util::{json_response, mix, with_retry_after};

pub use calendar::{CalendarEvent, EventAttendee, EventStatus, EventTime};
pub use channels::{GoogleChannel, Watched as GoogleWatched};
pub use drive::{DriveFile, DriveUser};

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub token: String,
    pub revoked: bool,
    /// The OpenID Connect subject: 21 digits.
    pub sub: String,
    pub email: String,
    pub name: String,
}

#[derive(Default)]
pub(crate) struct Data {
    pub accounts: Vec<Account>,
    pub events: Vec<calendar::EventRec>,
    /// Calendar change counter (each event change gets the next value).
    pub event_seq: u64,
    /// Bumped by `invalidate_calendar_sync_tokens`: older sync tokens get 410.
    pub sync_epoch: u64,
    pub files: Vec<drive::FileRec>,
    pub changes: Vec<drive::ChangeRec>,
    /// Drive change counter; the start page token is the next value.
    pub change_seq: u64,
    /// Open push notification channels (`events.watch`, `changes.watch`).
    pub channels: Vec<channels::GoogleChannel>,
}

impl Data {
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        let mut found = false;
        for a in self.accounts.iter_mut().filter(|a| a.token == token) {
            a.revoked = true;
            found = true;
        }
        found
    }
}

/// Registers a Google user reachable with the bearer `token`; returns the user's `sub`.
pub(crate) fn new_account(s: &mut Inner, token: &str, sub: Option<&str>, email: &str, name: &str) -> String {
    let sub = sub.map_or_else(|| format!("10{:019}", mix(s.next_seq()) % 10_000_000_000_000_000_000), str::to_owned);
    s.google.accounts.push(Account {
        token: token.to_owned(),
        revoked: false,
        sub: sub.clone(),
        email: email.to_owned(),
        name: name.to_owned(),
    });
    sub
}

/// The `sub` of the user named by a token (static or issued by the fake OAuth server), a `sub`
/// or an email address.
pub(crate) fn owner_of(s: &Inner, token_or_user: &str) -> Option<String> {
    let key = s.oauth.resolve(OAuthProvider::Google, token_or_user).unwrap_or_default();
    s.google
        .accounts
        .iter()
        .find(|a| a.token == key || a.sub == token_or_user || a.email.eq_ignore_ascii_case(token_or_user))
        .map(|a| a.sub.clone())
}

/// Google's JSON error: `{"error": {"code", "message", "errors": [{domain, reason, message}], "status"}}`.
pub(crate) fn error(status: StatusCode, reason: &str, message: &str, status_name: Option<&str>) -> Response {
    let domain = match reason {
        "rateLimitExceeded" | "userRateLimitExceeded" => "usageLimits",
        _ => "global",
    };
    let mut body = json!({"error": {
        "errors": [{"domain": domain, "reason": reason, "message": message}],
        "code": status.as_u16(), "message": message,
    }});
    if let Some(name) = status_name {
        body["error"]["status"] = json!(name);
    }
    json_response(status, body)
}

pub(crate) fn bad_request(reason: &str, message: &str, location: &str) -> Response {
    let body = json!({"error": {
        "errors": [{"domain": "global", "reason": reason, "message": message,
                    "locationType": "parameter", "location": location}],
        "code": 400, "message": message,
    }});
    json_response(StatusCode::BAD_REQUEST, body)
}

pub(crate) fn not_found(message: &str) -> Response {
    error(StatusCode::NOT_FOUND, "notFound", message, None)
}

fn unauthenticated() -> Response {
    let message = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie \
                   or other valid authentication credential. See \
                   https://developers.google.com/identity/sign-in/web/devconsole-project.";
    let body = json!({"error": {
        "code": 401, "message": message,
        "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                    "location": "Authorization", "locationType": "header"}],
        "status": "UNAUTHENTICATED",
    }});
    with_www_authenticate(json_response(StatusCode::UNAUTHORIZED, body))
}

fn with_www_authenticate(mut resp: Response) -> Response {
    let value = HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"");
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    resp
}

pub(crate) fn rate_limited(secs: u64) -> Response {
    let resp =
        error(StatusCode::TOO_MANY_REQUESTS, "rateLimitExceeded", "Rate Limit Exceeded", Some("RESOURCE_EXHAUSTED"));
    with_retry_after(resp, secs)
}

pub(crate) fn server_error() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "backendError", "Backend Error", Some("INTERNAL"))
}

/// The account of the request's bearer token (static or OAuth-issued, unexpired, unrevoked).
pub(crate) fn authenticate<'a>(s: &'a Inner, req: &ApiRequest) -> Option<&'a Account> {
    let token = s.oauth.resolve(OAuthProvider::Google, req.bearer()?).ok()?;
    s.google.accounts.iter().find(|a| a.token == token && !a.revoked)
}

pub(crate) fn handle(provider: Provider, state: &FakeState, req: &ApiRequest) -> Response {
    let writes = matches!(provider, Provider::GoogleCalendar | Provider::GoogleDrive) && req.method == Method::POST;
    if req.method != Method::GET && !writes {
        return error(StatusCode::METHOD_NOT_ALLOWED, "methodNotAllowed", "Method not allowed", None);
    }
    state.with(|s| {
        if provider == Provider::GoogleUserinfo {
            return userinfo(s, req);
        }
        let Some(account) = authenticate(s, req) else {
            return unauthenticated();
        };
        let account = account.clone();
        let watched = match provider {
            Provider::GoogleCalendar => channels::Watched::CalendarEvents,
            _ => channels::Watched::DriveChanges,
        };
        if let Some(reply) = channels::handle(s, &account, watched, req) {
            return reply;
        }
        match provider {
            Provider::GoogleCalendar => calendar_api::handle(s, &account, req),
            _ if req.method == Method::POST => {
                error(StatusCode::METHOD_NOT_ALLOWED, "methodNotAllowed", "Method not allowed", None)
            }
            _ => drive_api::handle(s, &account, req),
        }
    })
}

/// `GET /oauth2/v3/userinfo` (OpenID Connect userinfo).
fn userinfo(s: &Inner, req: &ApiRequest) -> Response {
    if req.path.trim_end_matches('/') != "/userinfo" {
        return not_found("Not Found");
    }
    let Some(a) = authenticate(s, req) else {
        let body = json!({"error": "invalid_request", "error_description": "Invalid Credentials"});
        return with_www_authenticate(json_response(StatusCode::UNAUTHORIZED, body));
    };
    let (given, family) = a.name.split_once(' ').unwrap_or((a.name.as_str(), ""));
    let body = json!({
        "sub": a.sub, "name": a.name, "given_name": given, "family_name": family,
        "picture": format!("https://lh3.googleusercontent.com/a/fake-{}=s96-c", a.sub),
        "email": a.email, "email_verified": true,
    });
    json_response(StatusCode::OK, body)
}

/// Applies `fields` (or the method's default selection) to a response body.
pub(crate) fn select(body: Value, req: &ApiRequest, default: Option<&str>) -> Result<Value, Response> {
    let spec = match req.param("fields").map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => f,
        None => match default {
            Some(d) => d,
            None => return Ok(body),
        },
    };
    let selection = fields::parse(spec)
        .ok_or_else(|| bad_request("invalidParameter", &format!("Invalid field selection {spec}"), "fields"))?;
    Ok(fields::apply(&body, &selection))
}

impl FakeState {
    /// Registers a Google user reachable with the bearer `token` (e.g. [`crate::demo::GOOGLE_TOKEN`]);
    /// returns the user's `sub`.
    pub fn add_google_account(&self, token: &str, email: &str, name: &str) -> String {
        self.with(|s| new_account(s, token, None, email, name))
    }
}
