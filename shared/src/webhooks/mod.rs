//! Incoming provider notifications (`POST /api/v1/integrations/webhooks/{provider}`).
//!
//! Each request is verified the way its provider documents it before anything is read or
//! stored: a forged or stale one gets 401 and touches nothing. A verified notification finds its
//! connection through the subscription index (one Query) and sets the connection's pending sync
//! (one conditional write); only the notification that sets it sends a message to the sync
//! queue (one SendMessage), so a burst coalesces. No provider is called on the way.
//! A notification for a subscription we do not know gets 410 Gone, which tells Trello to delete
//! its webhook and the others to stop retrying that delivery.

pub mod lifecycle;
pub mod verify;

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::AppState;
use crate::http::{ErrorChain, Problem, ProblemType};
use crate::queue::Notified;
use crate::store::{StoreError, Subscription};
use verify::Refusal;

/// Largest notification body accepted (Graph batches; the others send one event).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The providers that notify, by the `{provider}` of the route (their integration ids).
pub const PROVIDERS: [&str; 5] = ["slack", "trello", "google-calendar", "google-drive", "microsoft-teams"];

/// The path notifications come to.
pub fn callback_path(provider: &str) -> String {
    format!("/api/v1/integrations/webhooks/{provider}")
}

/// One request as it arrived.
pub struct Inbound<'a> {
    pub method: &'a Method,
    /// The raw query string (Trello signs the callback URL with it; Graph sends its
    /// `validationToken` in it).
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Inbound<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// Why a notification was not acted on, as the provider is answered.
#[derive(Debug)]
enum Failure {
    Refused(Refusal),
    Unknown,
    Malformed(String),
    Store(StoreError),
    Queue(crate::queue::QueueError),
    NoQueue,
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Refused(refusal) => {
                tracing::warn!(%refusal, "webhook refused");
                Problem::new(ProblemType::Unauthorized, format!("The notification was not accepted: {refusal}."))
                    .into_response()
            }
            Failure::Unknown => Problem::new(
                ProblemType::UnknownSubscription,
                "No subscription here has this id; stop sending its notifications.",
            )
            .into_response(),
            Failure::Malformed(detail) => Problem::bad_request(detail).into_response(),
            Failure::Store(e) => Problem::unavailable(&e).into_response(),
            Failure::Queue(e) => Problem::unavailable(&e).into_response(),
            Failure::NoQueue => {
                tracing::error!("webhooks: no sync queue (SYNC_QUEUE_URL)");
                Problem::new(ProblemType::Unavailable, "The notification could not be taken now.").into_response()
            }
        }
    }
}

/// What a verified request asks of us, once checked.
enum Ack {
    /// 200 with no body.
    Ok,
    /// Graph's answer to a batch: 202.
    Accepted,
    Json(Value),
    Text(String),
}

impl IntoResponse for Ack {
    fn into_response(self) -> Response {
        match self {
            Ack::Ok => StatusCode::OK.into_response(),
            Ack::Accepted => StatusCode::ACCEPTED.into_response(),
            Ack::Json(body) => (StatusCode::OK, axum::Json(body)).into_response(),
            Ack::Text(text) => {
                (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
            }
        }
    }
}

/// Answers one request to `/webhooks/{provider}` at `now`.
pub async fn receive(state: &AppState, provider: &str, request: Inbound<'_>, now: DateTime<Utc>) -> Response {
    if !PROVIDERS.contains(&provider) {
        return Problem::not_found(format!("`{provider}` sends no notifications here.")).into_response();
    }
    if request.body.len() > MAX_BODY_BYTES {
        return Problem::new(
            ProblemType::PayloadTooLarge,
            format!("A notification body is at most {MAX_BODY_BYTES} bytes."),
        )
        .into_response();
    }
    let answer = match provider {
        "slack" => slack(state, &request, now).await,
        "trello" => trello(state, &request, now).await,
        "microsoft-teams" => graph(state, &request, now).await,
        google => google_push(state, google, &request, now).await,
    };
    match answer {
        Ok(ack) => ack.into_response(),
        Err(failure) => {
            if let Failure::Refused(refusal) = &failure
                && *refusal != Refusal::NotConfigured
            {
                verification_failure(provider, *refusal).emit();
            }
            failure.into_response()
        }
    }
}

/// The metric of a notification refused as forged or stale (the dashboard's "Webhook
/// verification failures"). A provider whose secret is not configured is not counted: nothing
/// was forged.
pub fn verification_failure(provider: &str, refusal: Refusal) -> crate::metrics::Record {
    crate::metrics::Record::new("Webhook", "Provider", provider)
        .count("VerificationFailures", 1)
        .property("reason", format!("{refusal:?}"))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| Failure::Malformed(format!("The notification is not readable: {e}.")))
}

/// Sets each subscription's connection's sync pending, queuing the ones that were not pending.
async fn notify(state: &AppState, subscriptions: &[Subscription], now: DateTime<Utc>) -> Result<(), Failure> {
    for sub in subscriptions {
        if !state.store.mark_sync_pending(&sub.user_id, &sub.connection_id, now).await? {
            continue; // pending already (or not active): this notification coalesces
        }
        let queue = state.queue.as_ref().ok_or(Failure::NoQueue)?;
        let notified = Notified {
            user_id: sub.user_id.clone(),
            connection_id: sub.connection_id.clone(),
            integration_id: sub.integration_id.clone(),
        };
        if let Err(e) = queue.send_notified(&notified, std::time::Duration::ZERO).await {
            // Not pending after all: the provider retries on our error, and sets it again.
            if let Err(clear) = state.store.clear_sync_pending(&sub.user_id, &sub.connection_id).await {
                tracing::error!(error = %ErrorChain(&clear), "could not clear a pending sync whose message was lost");
            }
            return Err(Failure::Queue(e));
        }
    }
    Ok(())
}

async fn known(state: &AppState, provider: &str, key: &str) -> Result<Vec<Subscription>, Failure> {
    let subs = state.store.find_subscriptions(provider, key).await?;
    if subs.is_empty() { Err(Failure::Unknown) } else { Ok(subs) }
}

#[derive(Deserialize)]
struct SlackEnvelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    team_id: Option<String>,
    event_id: Option<String>,
}

/// Slack Events API: the v0 signature within five minutes, the URL verification challenge,
/// and retries dropped by their event id.
async fn slack(state: &AppState, request: &Inbound<'_>, now: DateTime<Utc>) -> Result<Ack, Failure> {
    let secret = state.webhooks.slack_signing_secret.as_ref().ok_or(Refusal::NotConfigured)?;
    verify::slack(
        secret.expose_secret().as_bytes(),
        request.header("x-slack-request-timestamp"),
        request.header("x-slack-signature"),
        request.body,
        now.timestamp(),
    )?;
    let envelope: SlackEnvelope = parse(request.body)?;
    match envelope.kind.as_str() {
        "url_verification" => {
            let challenge = envelope.challenge.ok_or_else(|| Failure::Malformed("No challenge to answer.".into()))?;
            Ok(Ack::Json(json!({ "challenge": challenge })))
        }
        "event_callback" => {
            let (Some(team), Some(event)) = (envelope.team_id, envelope.event_id) else {
                return Err(Failure::Malformed("An event needs its team_id and event_id.".into()));
            };
            let subs = known(state, "slack", &team).await?;
            if state.store.first_sight_of_event("slack", &event, now).await? {
                notify(state, &subs, now).await?;
            }
            Ok(Ack::Ok)
        }
        _ => Ok(Ack::Ok),
    }
}

/// Trello: `HEAD`/`GET` is its check of the callback at creation; a `POST` carries
/// `X-Trello-Webhook`, over the body and the callback URL (ours names the subscription in `s`).
async fn trello(state: &AppState, request: &Inbound<'_>, now: DateTime<Utc>) -> Result<Ack, Failure> {
    if request.method != Method::POST {
        return Ok(Ack::Ok);
    }
    let secret = state.webhooks.trello_app_secret.as_ref().ok_or(Refusal::NotConfigured)?;
    let base = state.webhooks.base_url.as_deref().ok_or(Refusal::NotConfigured)?;
    let callback = match request.query {
        Some(query) => format!("{base}{}?{query}", callback_path("trello")),
        None => format!("{base}{}", callback_path("trello")),
    };
    verify::trello(secret.expose_secret().as_bytes(), request.header("x-trello-webhook"), request.body, &callback)?;
    let key = request.query_param("s").ok_or(Failure::Unknown)?;
    let subs = known(state, "trello", &key).await?;
    notify(state, &subs, now).await?;
    Ok(Ack::Ok)
}

/// Google Calendar and Drive push notifications: the channel id names the subscription, and
/// its token is the channel's own secret. `sync` only says the channel is open.
async fn google_push(
    state: &AppState,
    provider: &str,
    request: &Inbound<'_>,
    now: DateTime<Utc>,
) -> Result<Ack, Failure> {
    let channel = request.header("x-goog-channel-id").ok_or(Refusal::Unsigned)?;
    let token = request.header("x-goog-channel-token");
    let resource_state = request.header("x-goog-resource-state").unwrap_or_default();
    let subs = known(state, provider, channel).await?;
    for sub in &subs {
        verify::secret_matches(sub.secret_hash.as_deref(), token)?;
    }
    match resource_state {
        "sync" => Ok(Ack::Ok),
        // exists, not_exists (Calendar), change, update, remove, … (Drive): something changed.
        _ => {
            notify(state, &subs, now).await?;
            Ok(Ack::Ok)
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphBatch {
    value: Vec<GraphNotification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphNotification {
    subscription_id: String,
    client_state: Option<String>,
    lifecycle_event: Option<String>,
}

/// Microsoft Graph: the `validationToken` handshake, each notification's `clientState`, and the
/// lifecycle notifications (the same URL receives them).
async fn graph(state: &AppState, request: &Inbound<'_>, now: DateTime<Utc>) -> Result<Ack, Failure> {
    if let Some(token) = request.query_param("validationToken") {
        if token.len() > 4096 {
            return Err(Failure::Malformed("The validation token is too long.".into()));
        }
        return Ok(Ack::Text(token));
    }
    let batch: GraphBatch = parse(request.body)?;
    // Every notification is checked before any is acted on: one forged entry refuses the batch.
    let mut verified = Vec::new();
    for n in &batch.value {
        let subs = match state.store.find_subscriptions("microsoft-teams", &n.subscription_id).await? {
            subs if subs.is_empty() => continue,
            subs => subs,
        };
        for sub in &subs {
            verify::secret_matches(sub.secret_hash.as_deref(), n.client_state.as_deref())?;
        }
        verified.push((n, subs));
    }
    if verified.is_empty() {
        return Err(Failure::Unknown);
    }
    for (n, subs) in verified {
        match n.lifecycle_event.as_deref() {
            // A change, or changes Graph could not deliver: the incremental sync catches up.
            None | Some("missed") => notify(state, &subs, now).await?,
            // Renewed (reauthorized) or created again by the scheduler's next pass.
            Some(event @ ("reauthorizationRequired" | "subscriptionRemoved")) => {
                for mut sub in subs {
                    if event == "subscriptionRemoved" {
                        lifecycle::fall_back(state, &sub.user_id, &sub.connection_id, now).await?;
                    }
                    sub.renew_at = Some(now);
                    state.store.put_subscription(&sub).await?;
                }
            }
            Some(_) => {}
        }
    }
    Ok(Ack::Accepted)
}
