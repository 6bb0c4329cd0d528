//! The axum router: provider dispatch (with faults and recording) and the `/_fake/` control API.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::{FakeState, Fault, Provider, RecordedRequest};
use crate::util::{encode_pairs, json_response, mask, parse_pairs};
use crate::{asana, google, graph, notion, oauth, slack, trello};

const MAX_BODY: usize = 1024 * 1024;

/// A request to one provider, with its path made relative to the provider's base URL.
pub(crate) struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiRequest {
    /// First value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer …` header.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header(header::AUTHORIZATION.as_str())?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
    }

    pub fn is_form(&self) -> bool {
        self.header(header::CONTENT_TYPE.as_str()).is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    }

    pub fn is_json(&self) -> bool {
        self.header(header::CONTENT_TYPE.as_str()).is_some_and(|c| c.starts_with("application/json"))
    }
}

pub(crate) fn router(state: FakeState) -> Router {
    Router::new()
        .route("/_fake/health", get(health))
        .route("/_fake/secrets", get(secrets))
        .route("/_fake/reset", post(reset))
        .route("/_fake/seed-demo", post(seed_demo))
        .route("/_fake/{provider}/revoke", post(revoke))
        .route("/_fake/{provider}/faults", post(add_fault).delete(clear_faults))
        .route("/_fake/{provider}/requests", get(requests))
        .route("/_fake/{provider}/touch", post(touch))
        .route("/_fake/microsoft-graph/remove-subscriptions", post(remove_graph_subscriptions))
        .route("/hooks/{name}", post(crate::hooks::receive))
        .route("/receivers/{name}", post(crate::hooks::receive_signed).get(crate::hooks::list_signed))
        .route("/receivers/{name}/answers", post(crate::hooks::script_answers))
        .merge(oauth::routes())
        .fallback(dispatch)
        .with_state(state)
}

async fn dispatch(State(state): State<FakeState>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let Some((provider, path)) = Provider::split_path(parts.uri.path()) else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "message": "no fake provider serves this path",
                   "providers": Provider::ALL.map(|p| p.base_path())}),
        );
    };
    let body = axum::body::to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let api = ApiRequest {
        method: parts.method,
        path,
        query: parse_pairs(parts.uri.query().unwrap_or("").as_bytes()),
        headers: parts.headers,
        body,
    };

    let fault = state.take_fault(provider, &api.path);
    let resp = match fault {
        Some(Fault::RateLimited { retry_after_secs }) => rate_limited(provider, retry_after_secs),
        Some(Fault::ServerError) => server_error(provider),
        Some(Fault::LateAnswer { millis }) => {
            let resp = handle(provider, &state, &api);
            state.record(record_of(provider, &api, resp.status().as_u16()), fault, secrets_of(provider, &api));
            tokio::time::sleep(Duration::from_millis(millis)).await;
            return resp;
        }
        Some(Fault::Timeout { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            handle(provider, &state, &api)
        }
        None => match crate::callbacks::refusal(provider, &state, &api).await {
            Some(refused) => refused,
            None => handle(provider, &state, &api),
        },
    };
    state.record(record_of(provider, &api, resp.status().as_u16()), fault, secrets_of(provider, &api));
    resp
}

fn handle(provider: Provider, state: &FakeState, req: &ApiRequest) -> Response {
    match provider {
        Provider::Trello => trello::handle(state, req),
        Provider::Slack => slack::handle(state, req),
        Provider::Asana => asana::handle(state, req),
        Provider::Notion => notion::handle(state, req),
        Provider::GoogleCalendar | Provider::GoogleDrive | Provider::GoogleUserinfo => {
            google::handle(provider, state, req)
        }
        Provider::MicrosoftGraph => graph::handle(state, req),
    }
}

fn rate_limited(provider: Provider, secs: u64) -> Response {
    match provider {
        Provider::Trello => trello::rate_limited(secs),
        Provider::Slack => slack::rate_limited(secs),
        Provider::Asana => asana::rate_limited(secs),
        Provider::Notion => notion::rate_limited(secs),
        Provider::GoogleCalendar | Provider::GoogleDrive | Provider::GoogleUserinfo => google::rate_limited(secs),
        Provider::MicrosoftGraph => graph::rate_limited(secs),
    }
}

fn server_error(provider: Provider) -> Response {
    match provider {
        Provider::Trello => trello::server_error(),
        Provider::Slack => slack::server_error(),
        Provider::Asana => asana::server_error(),
        Provider::Notion => notion::server_error(),
        Provider::GoogleCalendar | Provider::GoogleDrive | Provider::GoogleUserinfo => google::server_error(),
        Provider::MicrosoftGraph => graph::server_error(),
    }
}

pub(crate) fn is_secret_param(name: &str) -> bool {
    matches!(
        name,
        "token" | "key" | "access_token" | "refresh_token" | "client_secret" | "code" | "code_verifier" | "id_token"
    )
}

fn masked_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_param(k) { mask(v) } else { v.clone() };
            (k.clone(), v)
        })
        .collect()
}

fn record_of(provider: Provider, req: &ApiRequest, status: u16) -> RecordedRequest {
    let body = if req.body.is_empty() {
        None
    } else if req.is_form() {
        Some(encode_pairs(&masked_pairs(&parse_pairs(&req.body))))
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(mut map)) => {
                for (k, v) in map.iter_mut() {
                    if let (true, Some(s)) = (is_secret_param(k), v.as_str()) {
                        *v = Value::String(mask(s));
                    }
                }
                Some(Value::Object(map).to_string())
            }
            _ => Some(String::from_utf8_lossy(&req.body).chars().take(4096).collect()),
        }
    };
    let credential = credential_of(provider, req).map(|c| mask(&c));
    RecordedRequest {
        provider,
        method: req.method.to_string(),
        path: req.path.clone(),
        query: encode_pairs(&masked_pairs(&req.query)),
        body,
        credential,
        status,
        fault: None,
        at: Utc::now(),
    }
}

/// The credentials a request carried, unmasked: its credential and its secret parameters.
fn secrets_of(provider: Provider, req: &ApiRequest) -> Vec<String> {
    let form = if req.is_form() { parse_pairs(&req.body) } else { Vec::new() };
    let params = req.query.iter().chain(form.iter());
    let mut secrets: Vec<String> = params.filter(|(k, _)| is_secret_param(k)).map(|(_, v)| v.clone()).collect();
    secrets.extend(credential_of(provider, req));
    secrets
}

fn credential_of(provider: Provider, req: &ApiRequest) -> Option<String> {
    if provider == Provider::Trello {
        return req.param("token").map(str::to_owned).or_else(|| trello::oauth_header(req).map(|(_, token)| token));
    }
    if let Some(b) = req.bearer() {
        return Some(b.to_owned());
    }
    req.param("token").map(str::to_owned)
}

// ---- control API -------------------------------------------------------------------------

pub(crate) fn control_error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, json!({"ok": false, "error": message.into()}))
}

fn parse_provider(name: &str) -> Result<Provider, Response> {
    name.parse().map_err(|e: String| control_error(StatusCode::NOT_FOUND, e))
}

pub(crate) fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| control_error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

async fn secrets(State(state): State<FakeState>) -> Response {
    json_response(StatusCode::OK, json!({"secrets": state.secrets()}))
}

async fn health() -> Response {
    json_response(StatusCode::OK, json!({"ok": true}))
}

async fn reset(State(state): State<FakeState>) -> Response {
    state.reset();
    json_response(StatusCode::OK, json!({"ok": true}))
}

async fn seed_demo(State(state): State<FakeState>) -> Response {
    let demo = state.seed_demo();
    json_response(StatusCode::OK, json!({"ok": true, "demo": demo}))
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn revoke(State(state): State<FakeState>, Path(p): Path<String>, body: Bytes) -> Response {
    let provider = match parse_provider(&p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match parse_body::<TokenBody>(&body) {
        Ok(b) => {
            let revoked = state.revoke(provider, &b.token);
            json_response(StatusCode::OK, json!({"ok": true, "revoked": revoked}))
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultBody {
    #[serde(default)]
    path_prefix: String,
    fault: String,
    retry_after_secs: Option<u64>,
    millis: Option<u64>,
    times: Option<u32>,
}

async fn add_fault(State(state): State<FakeState>, Path(p): Path<String>, body: Bytes) -> Response {
    let provider = match parse_provider(&p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let b = match parse_body::<FaultBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let fault = match b.fault.as_str() {
        "rate_limited" => Fault::RateLimited { retry_after_secs: b.retry_after_secs.unwrap_or(1) },
        "server_error" => Fault::ServerError,
        "timeout" => Fault::Timeout { millis: b.millis.unwrap_or(5_000) },
        "late_answer" => Fault::LateAnswer { millis: b.millis.unwrap_or(5_000) },
        other => {
            return control_error(
                StatusCode::BAD_REQUEST,
                format!("unknown fault `{other}` (rate_limited | server_error | timeout)"),
            );
        }
    };
    state.fail_next(provider, &b.path_prefix, fault, b.times.unwrap_or(1));
    json_response(StatusCode::OK, json!({"ok": true}))
}

async fn clear_faults(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match parse_provider(&p) {
        Ok(provider) => {
            state.with(|s| s.faults.retain(|f| f.provider != provider));
            json_response(StatusCode::OK, json!({"ok": true}))
        }
        Err(r) => r,
    }
}

async fn requests(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match parse_provider(&p) {
        Ok(provider) => json_response(StatusCode::OK, json!(state.requests(provider))),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct TouchBody {
    id: String,
}

/// Graph drops every subscription and tells each (`subscriptionRemoved`).
async fn remove_graph_subscriptions(State(state): State<FakeState>) -> Response {
    let removed = state.remove_graph_subscriptions_notifying();
    json_response(StatusCode::OK, json!({ "removed": removed }))
}

async fn touch(State(state): State<FakeState>, Path(p): Path<String>, body: Bytes) -> Response {
    let provider = match parse_provider(&p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let b = match parse_body::<TouchBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let touched = match provider {
        Provider::Trello => state.touch_trello_card(&b.id),
        Provider::Slack | Provider::MicrosoftGraph | Provider::GoogleUserinfo => false,
        Provider::Asana => state.touch_asana_task(&b.id),
        Provider::Notion => state.touch_notion_page(&b.id),
        Provider::GoogleCalendar => state.update_calendar_event(&b.id, |_| {}),
        Provider::GoogleDrive => state.modify_drive_file(&b.id, |_| {}),
    };
    json_response(StatusCode::OK, json!({"ok": true, "touched": touched}))
}
