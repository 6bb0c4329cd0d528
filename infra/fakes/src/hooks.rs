//! Incoming-webhook receivers, as a Teams incoming webhook or a Zapier Catch Hook: `POST
//! {url}/hooks/{name}` keeps the JSON body and answers as Teams does (`1`). Inspect them with
//! [`FakeState::hook_posts`].
//!
//! Signed-webhook receivers (REST hook targets, `webhook.post`): `POST {url}/receivers/{name}`
//! keeps the Standard Webhooks headers and the raw body and answers scripted statuses
//! ([`FakeState::answer_next`]); inspect them with [`FakeState::signed_deliveries`] or `GET
//! {url}/receivers/{name}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::state::FakeState;
use crate::util::text_response;

#[derive(Default)]
pub(crate) struct Data {
    posts: Vec<(String, Value)>,
}

pub(crate) async fn receive(State(state): State<FakeState>, Path(name): Path<String>, body: Bytes) -> Response {
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return text_response(StatusCode::BAD_REQUEST, "Bad payload received by generic incoming webhook.");
    };
    state.with(|s| s.hooks.posts.push((name, json)));
    text_response(StatusCode::OK, "1")
}

impl FakeState {
    /// The JSON bodies posted to `{url}/hooks/{name}`, oldest first.
    pub fn hook_posts(&self, name: &str) -> Vec<Value> {
        self.with(|s| s.hooks.posts.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect())
    }
}

/// A signed webhook as a receiver got it: the Standard Webhooks headers and the raw body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedDelivery {
    pub webhook_id: String,
    pub webhook_timestamp: String,
    pub webhook_signature: String,
    /// The body exactly as received (what the signature covers).
    pub body: String,
    /// The status it was answered with.
    pub answered: u16,
}

#[derive(Default)]
pub(crate) struct Receivers {
    received: std::collections::HashMap<String, Vec<SignedDelivery>>,
    /// Statuses to answer with next, per receiver (then 200).
    answers: std::collections::HashMap<String, std::collections::VecDeque<u16>>,
}

/// `POST {url}/receivers/{name}`: a signed-webhook receiver (a hook target). It keeps the
/// webhook headers and the raw body, and answers the next scripted status (200 when none).
pub(crate) async fn receive_signed(
    State(state): State<FakeState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let answered = state.with(|s| {
        let answered = s.receivers.answers.get_mut(&name).and_then(|a| a.pop_front()).unwrap_or(200);
        s.receivers.received.entry(name).or_default().push(SignedDelivery {
            webhook_id: header("webhook-id"),
            webhook_timestamp: header("webhook-timestamp"),
            webhook_signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
            answered,
        });
        answered
    });
    text_response(StatusCode::from_u16(answered).unwrap_or(StatusCode::OK), "")
}

/// `GET {url}/receivers/{name}`: what the receiver got, oldest first.
pub(crate) async fn list_signed(State(state): State<FakeState>, Path(name): Path<String>) -> Response {
    let received = state.signed_deliveries(&name);
    crate::util::json_response(StatusCode::OK, serde_json::json!({ "received": received }))
}

/// `POST {url}/receivers/{name}/answers` with `[500, 200]`: the statuses to answer with next.
pub(crate) async fn script_answers(
    State(state): State<FakeState>,
    Path(name): Path<String>,
    axum::Json(answers): axum::Json<Vec<u16>>,
) -> Response {
    state.answer_next(&name, &answers);
    text_response(StatusCode::NO_CONTENT, "")
}

impl FakeState {
    /// The signed webhooks `{url}/receivers/{name}` got, oldest first.
    pub fn signed_deliveries(&self, name: &str) -> Vec<SignedDelivery> {
        self.with(|s| s.receivers.received.get(name).cloned().unwrap_or_default())
    }

    /// Makes `{url}/receivers/{name}` answer these statuses to its next requests (then 200).
    pub fn answer_next(&self, name: &str, statuses: &[u16]) {
        self.with(|s| s.receivers.answers.entry(name.to_owned()).or_default().extend(statuses.iter().copied()));
    }
}
