//! Trello webhooks: `POST /1/webhooks` (callbackURL, idModel, description; as JSON or query
//! parameters) and `DELETE /1/webhooks/{id}`. When a card is added or changed, every webhook
//! gets a real signed notification: `POST {callbackURL}` with `X-Trello-Webhook`, the base64
//! HMAC-SHA1 of the body followed by the callback URL, keyed with the app secret
//! ([`crate::demo::TRELLO_APP_SECRET`] unless [`FakeState::set_trello_app_secret`] says
//! otherwise). The `HEAD` check of the callback at creation is `crate::callbacks`'; unlike
//! Trello, every webhook hears of every card.

use aws_lc_rs::hmac;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};

use super::TrelloMember;
use super::api::text;
use crate::http::ApiRequest;
use crate::state::{FakeState, Inner};
use crate::util::json_response;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrelloWebhook {
    pub id: String,
    pub callback_url: String,
    pub id_model: String,
    pub description: String,
}

type Reply = Result<Response, Response>;

/// `None` when the request is not one of these.
pub(crate) fn handle(s: &mut Inner, member: &TrelloMember, req: &ApiRequest, segments: &[&str]) -> Option<Reply> {
    Some(match (&req.method, segments) {
        (&Method::POST, ["webhooks"]) => create(s, member, req),
        (&Method::DELETE, ["webhooks", id]) => {
            let before = s.trello.webhooks.len();
            s.trello.webhooks.retain(|w| w.id != *id);
            if s.trello.webhooks.len() == before {
                Err(text(StatusCode::NOT_FOUND, "webhook not found"))
            } else {
                Ok(json_response(StatusCode::OK, json!({ "_value": null })))
            }
        }
        _ => return None,
    })
}

fn create(s: &mut Inner, member: &TrelloMember, req: &ApiRequest) -> Reply {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let param = |name: &str| body[name].as_str().map(str::to_owned).or_else(|| req.param(name).map(str::to_owned));
    let (Some(callback_url), Some(id_model)) = (param("callbackURL"), param("idModel")) else {
        return Err(text(StatusCode::BAD_REQUEST, "invalid value for callbackURL or idModel"));
    };
    if s.trello.webhooks.iter().any(|w| w.callback_url == callback_url && w.id_model == id_model) {
        return Err(text(StatusCode::BAD_REQUEST, "A webhook with that callback, model, and token already exists"));
    }
    let id = format!("{:024x}", 0x5e00_0000_0000_0000_u64 + s.next_seq());
    let webhook =
        TrelloWebhook { id: id.clone(), callback_url, id_model, description: param("description").unwrap_or_default() };
    let answer = json!({ "id": webhook.id, "description": webhook.description, "idModel": webhook.id_model,
                         "callbackURL": webhook.callback_url, "active": true, "consecutiveFailures": 0,
                         "idMember": member.id });
    s.trello.webhooks.push(webhook);
    Ok(json_response(StatusCode::OK, answer))
}

/// The signature Trello sends with `body` to `callback_url`.
pub fn signature(secret: &str, body: &[u8], callback_url: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let mut message = body.to_vec();
    message.extend_from_slice(callback_url.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, &message).as_ref())
}

/// Sends every webhook a signed notification of `action` on the card (in the background).
pub(crate) fn notify(s: &Inner, action: &str, card_id: &str, card_name: &str, board_id: &str) {
    if s.trello.webhooks.is_empty() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let secret = s.trello.app_secret.clone().unwrap_or_else(|| crate::demo::TRELLO_APP_SECRET.to_owned());
    for webhook in &s.trello.webhooks {
        let body = json!({
            "model": { "id": webhook.id_model },
            "action": {
                "id": format!("{:024x}", Utc::now().timestamp_millis()),
                "type": action,
                "date": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "data": { "card": { "id": card_id, "name": card_name }, "board": { "id": board_id } },
            },
        })
        .to_string();
        let signed = signature(&secret, body.as_bytes(), &webhook.callback_url);
        let url = webhook.callback_url.clone();
        runtime.spawn(async move {
            let sent = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("x-trello-webhook", signed)
                .body(body)
                .send()
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "fake Trello: a webhook notification was not delivered");
            }
        });
    }
}

impl FakeState {
    /// The Trello webhooks in place, oldest first.
    pub fn trello_webhooks(&self) -> Vec<TrelloWebhook> {
        self.with(|s| s.trello.webhooks.clone())
    }

    /// The secret Trello webhook notifications are signed with.
    pub fn set_trello_app_secret(&self, secret: &str) {
        self.with(|s| s.trello.app_secret = Some(secret.to_owned()));
    }
}
