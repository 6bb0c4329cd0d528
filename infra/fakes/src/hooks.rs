//! Incoming-webhook receivers, as a Teams incoming webhook or a Zapier Catch Hook: `POST
//! {url}/hooks/{name}` keeps the JSON body and answers as Teams does (`1`). Inspect them with
//! [`FakeState::hook_posts`].

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
