//! Routes: the authorization servers under `/oauth/{provider}/…` and their control API under
//! `/_fake/oauth/{provider}/…`.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::{OAuthProvider, OAuthUser, authorize, revoke, token};
use crate::http::{control_error, parse_body};
use crate::state::FakeState;
use crate::util::{json_response, parse_pairs};

pub(crate) fn routes() -> Router<FakeState> {
    Router::new()
        .route("/oauth/{provider}/authorize", get(authorize_route))
        .route("/oauth/{provider}/token", post(token_route))
        .route("/oauth/{provider}/revoke", post(revoke_route))
        // Microsoft's endpoints as MSAL-style clients build them from an authority URL.
        .route("/oauth/{provider}/{tenant}/oauth2/v2.0/authorize", get(tenant_authorize_route))
        .route("/oauth/{provider}/{tenant}/oauth2/v2.0/token", post(tenant_token_route))
        .route("/_fake/oauth/{provider}/user", get(user).post(set_user))
        .route("/_fake/oauth/{provider}/attach", post(attach))
        .route("/_fake/oauth/{provider}/deny-next", post(deny_next))
        .route("/_fake/oauth/{provider}/lifetime", post(lifetime))
        .route("/_fake/oauth/{provider}/token-requests", get(token_requests))
        .route("/_fake/oauth/{provider}/revocations", get(revocations))
        .route("/_fake/oauth/{provider}/revoke-grant", post(revoke_grant))
        .route("/_fake/oauth/{provider}/expire", post(expire))
        .route("/_fake/oauth/{provider}/revoke-all", post(revoke_all))
}

fn provider(name: &str) -> Result<OAuthProvider, Response> {
    name.parse().map_err(|e: String| control_error(StatusCode::NOT_FOUND, e))
}

fn query_of(uri: &Uri) -> Vec<(String, String)> {
    parse_pairs(uri.query().unwrap_or("").as_bytes())
}

async fn authorize_route(State(state): State<FakeState>, Path(p): Path<String>, uri: Uri) -> Response {
    match provider(&p) {
        Ok(p) => authorize::authorize(&state, p, &query_of(&uri)),
        Err(r) => r,
    }
}

async fn token_route(
    State(state): State<FakeState>,
    Path(p): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query_of(&uri);
    let sent = query
        .iter()
        .chain(parse_pairs(&body).iter())
        .filter(|(k, _)| crate::http::is_secret_param(k))
        .map(|(_, v)| v.clone())
        .collect::<Vec<_>>();
    let client_secret = token::basic_credentials(&headers).map(|(_, secret)| secret);
    state.with(|s| sent.iter().chain(client_secret.iter()).for_each(|secret| s.saw_secret(secret)));
    match provider(&p) {
        Ok(p) => token::token_endpoint(&state, p, &headers, &query, &body),
        Err(r) => r,
    }
}

async fn revoke_route(
    State(state): State<FakeState>,
    Path(p): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match provider(&p) {
        Ok(p) => revoke::revoke_endpoint(&state, p, &headers, &query_of(&uri), &body),
        Err(r) => r,
    }
}

fn microsoft(p: &str) -> Result<OAuthProvider, Response> {
    match provider(p)? {
        OAuthProvider::Microsoft => Ok(OAuthProvider::Microsoft),
        other => Err(control_error(StatusCode::NOT_FOUND, format!("{other} has no tenant endpoints"))),
    }
}

async fn tenant_authorize_route(
    State(state): State<FakeState>,
    Path((p, _tenant)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    match microsoft(&p) {
        Ok(p) => authorize::authorize(&state, p, &query_of(&uri)),
        Err(r) => r,
    }
}

async fn tenant_token_route(
    State(state): State<FakeState>,
    Path((p, _tenant)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match microsoft(&p) {
        Ok(p) => token::token_endpoint(&state, p, &headers, &query_of(&uri), &body),
        Err(r) => r,
    }
}

fn ok() -> Response {
    json_response(StatusCode::OK, json!({"ok": true}))
}

async fn user(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match provider(&p) {
        Ok(p) => json_response(StatusCode::OK, json!(state.oauth_user(p))),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct UserBody {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
}

async fn set_user(State(state): State<FakeState>, Path(p): Path<String>, body: Bytes) -> Response {
    let (p, b) = match (provider(&p), parse_body::<UserBody>(&body)) {
        (Ok(p), Ok(b)) => (p, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let current = state.oauth_user(p);
    let user = OAuthUser {
        id: b.id.unwrap_or(current.id),
        name: b.name.unwrap_or(current.name),
        email: b.email.unwrap_or(current.email),
    };
    state.set_oauth_user(p, user.clone());
    json_response(StatusCode::OK, json!({"ok": true, "user": user}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachBody {
    account_token: String,
}

async fn attach(State(state): State<FakeState>, Path(p): Path<String>, body: Bytes) -> Response {
    match (provider(&p), parse_body::<AttachBody>(&body)) {
        (Ok(p), Ok(b)) => {
            state.attach_oauth_account(p, &b.account_token);
            ok()
        }
        (Err(r), _) | (_, Err(r)) => r,
    }
}

async fn deny_next(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match provider(&p) {
        Ok(p) => {
            state.deny_next_consent(p);
            ok()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct LifetimeBody {
    secs: u64,
}

async fn lifetime(State(state): State<FakeState>, Path(p): Path<String>, body: Bytes) -> Response {
    match (provider(&p), parse_body::<LifetimeBody>(&body)) {
        (Ok(p), Ok(b)) => {
            state.set_token_lifetime(p, Duration::from_secs(b.secs));
            ok()
        }
        (Err(r), _) | (_, Err(r)) => r,
    }
}

async fn token_requests(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match provider(&p) {
        Ok(p) => json_response(StatusCode::OK, json!(state.token_requests(p))),
        Err(r) => r,
    }
}

async fn revocations(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match provider(&p) {
        Ok(p) => json_response(StatusCode::OK, json!(state.revocations(p))),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn revoke_grant(State(state): State<FakeState>, Path(p): Path<String>, body: Bytes) -> Response {
    match (provider(&p), parse_body::<TokenBody>(&body)) {
        (Ok(p), Ok(b)) => {
            let revoked = state.revoke_grant(p, &b.token);
            json_response(StatusCode::OK, json!({"ok": true, "revoked": revoked}))
        }
        (Err(r), _) | (_, Err(r)) => r,
    }
}

async fn expire(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match provider(&p) {
        Ok(p) => json_response(StatusCode::OK, json!({"ok": true, "expired": state.expire_access_tokens(p)})),
        Err(r) => r,
    }
}

async fn revoke_all(State(state): State<FakeState>, Path(p): Path<String>) -> Response {
    match provider(&p) {
        Ok(p) => json_response(StatusCode::OK, json!({"ok": true, "revoked": state.revoke_all_grants(p)})),
        Err(r) => r,
    }
}
