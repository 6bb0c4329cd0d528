//! The checks Trello and Microsoft Graph make of a callback URL before they create a
//! subscription, on when [`FakeState::check_callbacks`] says so (the `fake-providers` binary,
//! and tests that serve the webhooks function on a port; others subscribe unreachable URLs):
//!
//! - Trello sends `HEAD {callbackURL}` and creates the webhook only if it answers 200; otherwise
//!   `400 URL ({callbackURL}) did not return 200 status code, got {status}`.
//! - Graph sends `POST {notificationUrl}?validationToken={token}` (and to the
//!   `lifecycleNotificationUrl`) and creates the subscription only if the answer comes within
//!   10 s, is 200, `text/plain`, and is the token itself; otherwise `400 ValidationError`.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::http::ApiRequest;
use crate::state::{FakeState, Provider};

/// Graph's limit for the validation answer.
const GRAPH_VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);

impl FakeState {
    /// Whether Trello's `HEAD` check and Graph's validation request are made before a
    /// subscription is created (off until set; kept across resets).
    pub fn check_callbacks(&self, on: bool) {
        self.with(|s| s.checks_callbacks = on);
    }
}

/// The provider's refusal when the request creates a subscription whose callback fails its
/// check; `None` to go on (not such a request, checks off, or the callback passed).
pub(crate) async fn refusal(provider: Provider, state: &FakeState, req: &ApiRequest) -> Option<Response> {
    if req.method != Method::POST || !state.with(|s| s.checks_callbacks) {
        return None;
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let path = req.path.trim_matches('/');
    match provider {
        Provider::Trello if path == "1/webhooks" => {
            let url = body["callbackURL"].as_str().or_else(|| req.param("callbackURL"))?;
            trello_head(url).await
        }
        Provider::MicrosoftGraph if path == "subscriptions" => {
            let urls = [body["notificationUrl"].as_str(), body["lifecycleNotificationUrl"].as_str()];
            for url in urls.into_iter().flatten() {
                if let Some(refused) = graph_validation(url, state).await {
                    return Some(refused);
                }
            }
            None
        }
        _ => None,
    }
}

async fn trello_head(url: &str) -> Option<Response> {
    let status = match client().head(url).send().await {
        Ok(answer) if answer.status() == reqwest::StatusCode::OK => return None,
        Ok(answer) => answer.status().as_u16().to_string(),
        Err(_) => "no answer".to_owned(),
    };
    let message = format!("URL ({url}) did not return 200 status code, got {status}");
    Some(crate::trello::text(StatusCode::BAD_REQUEST, &message))
}

async fn graph_validation(url: &str, state: &FakeState) -> Option<Response> {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {:08x}-{:04x}",
        state.with(|s| s.next_seq()),
        0x5b5c
    );
    let answer = async {
        let sent = client().post(url).query(&[("validationToken", &token)]).timeout(GRAPH_VALIDATION_TIMEOUT);
        let answer = sent.send().await.ok()?;
        let plain = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/plain"));
        let status = answer.status();
        let text = answer.text().await.ok()?;
        (status == reqwest::StatusCode::OK && plain && text == token).then_some(())
    };
    match answer.await {
        Some(()) => None,
        None => Some(crate::graph::error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation \
             request.",
        )),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(GRAPH_VALIDATION_TIMEOUT)
        .build()
        .unwrap_or_default()
}
