//! Lambda `webhooks`: the providers' change notifications, verified and turned into pending
//! syncs. Public routes (no authorizer): each request is verified as its provider documents it.
//! The logic is in `integrations::webhooks`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use integrations::AppState;
use integrations::http::{ApiPath, Routes, unreadable_body, with_problem_fallbacks};
use integrations::webhooks::{Inbound, receive};

const PATH: &str = "/api/v1/integrations/webhooks/{provider}";

pub fn router(state: AppState) -> Router {
    with_problem_fallbacks(routes(state))
}

/// The routes alone, for merging with other functions' routes (the local dev server). `GET`
/// answers `HEAD` too: Trello's check of a callback URL.
pub fn routes<R: From<Routes>>(state: AppState) -> R {
    Routes::new().post(PATH, notification).get(PATH, notification).with_state(state).into()
}

async fn notification(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return unreadable_body(rejection).into_response(),
    };
    let request = Inbound { method: &method, query: query.as_deref(), headers: &headers, body: &body };
    receive(&state, &provider, request, integrations::store::attrs::now()).await
}
