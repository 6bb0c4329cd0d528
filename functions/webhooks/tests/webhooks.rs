//! Incoming notifications against the emulator, as the webhooks function's IAM role: each
//! provider's verification (forged and stale requests refused with nothing stored or queued),
//! the handshakes, unknown subscriptions, and the debounce from a burst of notifications to at
//! most one run in flight and one pending.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use fake_providers::{FakeProviders, Provider};
use http_body_util::BodyExt;
use integrations::auth::Caller;
use integrations::config::{Function, WebhookKeys};
use integrations::connections::{ConnectRequest, connect};
use integrations::domain::{ConnectionId, IntegrationId, Plan, SyncStatus, Trigger, UserId};
use integrations::queue::SyncMessage;
use integrations::store::Subscription;
use integrations::testing::TestEnv;
use integrations::webhooks::verify::{secret_hash, slack_signature, trello_signature};
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

const SLACK_SECRET: &str = "slack-signing-secret-for-tests";
const TRELLO_SECRET: &str = "trello-app-secret-for-tests";
const BASE: &str = "https://hooks.example.test";
const CHANNEL_TOKEN: &str = "per-channel-token";
const CLIENT_STATE: &str = "per-subscription-client-state";
const KEY: &str = "0123456789abcdef";
const TOKEN: &str = "webhooks-test-token-0001";

struct Hooks {
    env: TestEnv,
    _fakes: FakeProviders,
    connection: ConnectionId,
}

fn user() -> UserId {
    UserId::parse("ada").unwrap()
}

impl Hooks {
    /// A Trello connection with one subscription per provider pointing at it.
    async fn start() -> Hooks {
        let fakes = FakeProviders::start().await;
        fakes.state().add_trello_account(KEY, TOKEN, "ada");
        let board = fakes.state().add_trello_board(TOKEN, "Operations");
        fakes.state().add_trello_cards(&board, 3);
        let mut env = TestEnv::new().await;
        env.use_provider("trello", fakes.base_url(Provider::Trello));
        env.add_queues(3).await;
        env.state.webhooks = WebhookKeys {
            slack_signing_secret: Some(SecretString::from(SLACK_SECRET)),
            trello_app_secret: Some(SecretString::from(TRELLO_SECRET)),
            base_url: Some(BASE.into()),
        };
        let request: ConnectRequest = serde_json::from_value(json!({
            "integrationId": "trello",
            "credentials": { "apiKey": KEY, "token": TOKEN },
        }))
        .unwrap();
        let caller = Caller { user_id: user(), plan: Plan::Free };
        let connection = connect(&env.state_for(Function::Connections), &caller, request)
            .await
            .expect("connect")
            .into_connection()
            .unwrap()
            .connection_id;
        let hooks = Hooks { env, _fakes: fakes, connection };
        for (integration, key, secret) in [
            ("trello", "sub-trello", None),
            ("slack", "T0001", None),
            ("google-calendar", "channel-1", Some(CHANNEL_TOKEN)),
            ("microsoft-teams", "graph-sub-1", Some(CLIENT_STATE)),
        ] {
            hooks.subscribe(integration, key, secret).await;
        }
        hooks
    }

    async fn subscribe(&self, integration: &str, key: &str, secret: Option<&str>) {
        let sub = Subscription {
            integration_id: IntegrationId::parse(integration).unwrap(),
            key: key.into(),
            user_id: user(),
            connection_id: self.connection.clone(),
            secret_hash: secret.map(secret_hash),
            remote_id: None,
            expires_on: None,
            renew_at: None,
            remake: false,
        };
        self.env.state.store.put_subscription(&sub).await.unwrap();
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String, String) {
        let response = webhooks::router(self.env.state_for(Function::Webhooks)).oneshot(request).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, String::from_utf8_lossy(&body).into_owned())
    }

    async fn slack(&self, body: &Value, timestamp: i64) -> (StatusCode, String, String) {
        let body = body.to_string();
        let signature = slack_signature(SLACK_SECRET.as_bytes(), timestamp, body.as_bytes());
        self.slack_signed(body, timestamp, &signature).await
    }

    async fn slack_signed(&self, body: String, timestamp: i64, signature: &str) -> (StatusCode, String, String) {
        let request = Request::post("/api/v1/integrations/webhooks/slack")
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    async fn trello(&self, subscription: &str, body: &Value, secret: &str) -> (StatusCode, String, String) {
        let path = format!("/api/v1/integrations/webhooks/trello?s={subscription}");
        let body = body.to_string();
        let signature = trello_signature(secret.as_bytes(), body.as_bytes(), &format!("{BASE}{path}"));
        let request = Request::post(path)
            .header("content-type", "application/json")
            .header("x-trello-webhook", signature)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    async fn google(&self, channel: &str, token: &str, state: &str) -> (StatusCode, String, String) {
        let request = Request::post("/api/v1/integrations/webhooks/google-calendar")
            .header("x-goog-channel-id", channel)
            .header("x-goog-channel-token", token)
            .header("x-goog-resource-state", state)
            .header("x-goog-resource-id", "resource-1")
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    async fn graph(&self, body: &Value) -> (StatusCode, String, String) {
        let request = Request::post("/api/v1/integrations/webhooks/microsoft-teams")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// The connection's item as stored.
    async fn connection_item(&self) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        self.env
            .dynamo()
            .get_item()
            .table_name(&self.env.table)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("USER#ada".into()))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONN#{}", self.connection)))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn pending(&self) -> bool {
        self.connection_item().await.contains_key("pendingSync")
    }

    /// Hands the messages to the sync worker, as Lambda would.
    async fn work(&self, messages: Vec<SyncMessage>) {
        let mut event = SqsEvent::default();
        event.records = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let mut record = SqsMessage::default();
                record.message_id = Some(format!("m{i}"));
                record.body = Some(serde_json::to_string(&m).unwrap());
                record
            })
            .collect();
        let response = sync::handle_sqs_event(
            &self.env.state_for(Function::SyncWorker),
            None,
            event,
            Instant::now() + Duration::from_secs(60),
        )
        .await;
        assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    }

    async fn runs(&self) -> Vec<integrations::domain::SyncRun> {
        self.env.state.store.list_runs(&user(), &self.connection, 100, None).await.unwrap().0
    }
}

fn slack_event(event_id: &str, team: &str) -> Value {
    json!({
        "type": "event_callback", "team_id": team, "api_app_id": "A0001", "event_id": event_id,
        "event_time": 1_700_000_000, "event": { "type": "message", "channel": "C1", "text": "hello" },
    })
}

fn graph_notification(subscription: &str, client_state: &str) -> Value {
    json!({ "value": [{
        "subscriptionId": subscription, "clientState": client_state, "changeType": "created",
        "resource": "teams('t1')/channels('c1')/messages('m1')", "tenantId": "tenant",
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
    }]})
}

#[tokio::test]
async fn forged_and_stale_notifications_get_401_and_nothing_is_stored_or_queued() {
    let hooks = Hooks::start().await;
    let now = Utc::now().timestamp();

    let body = slack_event("Ev1", "T0001").to_string();
    let forged = slack_signature(b"not-the-signing-secret", now, body.as_bytes());
    assert_eq!(hooks.slack_signed(body.clone(), now, &forged).await.0, StatusCode::UNAUTHORIZED);
    // Signed with the right secret, but replayed six minutes later.
    let old = now - 6 * 60;
    let replayed = slack_signature(SLACK_SECRET.as_bytes(), old, body.as_bytes());
    let (status, content_type, detail) = hooks.slack_signed(body.clone(), old, &replayed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(content_type.starts_with("application/problem+json"), "{content_type}");
    assert!(detail.contains("too old"), "{detail}");
    // Unsigned.
    let request = Request::post("/api/v1/integrations/webhooks/slack").body(Body::from(body)).unwrap();
    assert_eq!(hooks.send(request).await.0, StatusCode::UNAUTHORIZED);

    let card = json!({ "action": { "type": "updateCard" }, "model": { "id": "board" } });
    assert_eq!(hooks.trello("sub-trello", &card, "another-app-secret").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(hooks.google("channel-1", "guessed-token", "exists").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(hooks.graph(&graph_notification("graph-sub-1", "guessed")).await.0, StatusCode::UNAUTHORIZED);

    assert!(hooks.env.take_sync_messages().await.is_empty(), "nothing queued");
    assert!(!hooks.pending().await, "no sync pending");
    let seen = hooks
        .env
        .dynamo()
        .get_item()
        .table_name(&hooks.env.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("HOOKEVENT#slack#Ev1".into()))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("EVENT".into()))
        .send()
        .await
        .unwrap();
    assert!(seen.item.is_none(), "a refused event is not remembered");
    hooks.env.cleanup().await;
}

#[tokio::test]
async fn the_slack_challenge_and_the_graph_validation_are_answered() {
    let hooks = Hooks::start().await;
    let now = Utc::now().timestamp();
    let challenge = json!({ "type": "url_verification", "token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" });
    let (status, _, body) = hooks.slack(&challenge, now).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["challenge"], challenge["challenge"]);
    // The challenge is signed too: an unsigned one is refused.
    let unsigned =
        Request::post("/api/v1/integrations/webhooks/slack").body(Body::from(challenge.to_string())).unwrap();
    assert_eq!(hooks.send(unsigned).await.0, StatusCode::UNAUTHORIZED);

    let request =
        Request::post("/api/v1/integrations/webhooks/microsoft-teams?validationToken=Validation%3A%20Testing%20client")
            .header("content-type", "text/plain")
            .body(Body::empty())
            .unwrap();
    let (status, content_type, body) = hooks.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(body, "Validation: Testing client");

    // Trello's check of the callback at creation.
    for method in [Method::HEAD, Method::GET] {
        let request = Request::builder()
            .method(method.clone())
            .uri("/api/v1/integrations/webhooks/trello?s=sub-trello")
            .body(Body::empty())
            .unwrap();
        assert_eq!(hooks.send(request).await.0, StatusCode::OK, "{method}");
    }
    // Google's first message on a new channel only says it is open.
    assert_eq!(hooks.google("channel-1", CHANNEL_TOKEN, "sync").await.0, StatusCode::OK);
    assert!(hooks.env.take_sync_messages().await.is_empty());
    hooks.env.cleanup().await;
}

#[tokio::test]
async fn an_unknown_subscription_is_told_to_stop_with_410() {
    let hooks = Hooks::start().await;
    let now = Utc::now().timestamp();
    let card = json!({ "action": { "type": "updateCard" } });
    let (status, _, body) = hooks.trello("no-such-subscription", &card, TRELLO_SECRET).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(body.contains("unknown-subscription"), "{body}");
    assert_eq!(hooks.google("no-such-channel", CHANNEL_TOKEN, "exists").await.0, StatusCode::GONE);
    assert_eq!(hooks.graph(&graph_notification("no-such-sub", CLIENT_STATE)).await.0, StatusCode::GONE);
    assert_eq!(hooks.slack(&slack_event("Ev9", "T-unknown"), now).await.0, StatusCode::GONE);
    let request = Request::post("/api/v1/integrations/webhooks/asana").body(Body::empty()).unwrap();
    assert_eq!(hooks.send(request).await.0, StatusCode::NOT_FOUND);
    let big = vec![b' '; integrations::webhooks::MAX_BODY_BYTES + 1];
    let request = Request::post("/api/v1/integrations/webhooks/microsoft-teams").body(Body::from(big)).unwrap();
    assert_eq!(hooks.send(request).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(hooks.env.take_sync_messages().await.is_empty());
    hooks.env.cleanup().await;
}

#[tokio::test]
async fn each_provider_s_verified_notification_sets_one_pending_sync_and_slack_retries_are_dropped() {
    let hooks = Hooks::start().await;
    let now = Utc::now().timestamp();
    let expect_one_pending = async |what: &str| {
        let messages = hooks.env.take_sync_messages().await;
        assert_eq!(messages.len(), 1, "{what}: {messages:?}");
        let SyncMessage::Notified { notified } = &messages[0] else { panic!("{what}: {messages:?}") };
        assert_eq!(notified.connection_id, hooks.connection);
        assert!(hooks.pending().await, "{what}");
        hooks.env.state.store.clear_sync_pending(&user(), &hooks.connection).await.unwrap();
    };

    assert_eq!(hooks.slack(&slack_event("Ev1", "T0001"), now).await.0, StatusCode::OK);
    expect_one_pending("slack").await;
    // Slack's retry of the same event: acknowledged, and nothing done.
    assert_eq!(hooks.slack(&slack_event("Ev1", "T0001"), now).await.0, StatusCode::OK);
    assert!(hooks.env.take_sync_messages().await.is_empty());
    assert!(!hooks.pending().await);

    let card = json!({ "action": { "type": "updateCard" }, "model": { "id": "board" } });
    assert_eq!(hooks.trello("sub-trello", &card, TRELLO_SECRET).await.0, StatusCode::OK);
    expect_one_pending("trello").await;
    assert_eq!(hooks.google("channel-1", CHANNEL_TOKEN, "exists").await.0, StatusCode::OK);
    expect_one_pending("google").await;
    assert_eq!(hooks.graph(&graph_notification("graph-sub-1", CLIENT_STATE)).await.0, StatusCode::ACCEPTED);
    expect_one_pending("graph").await;
    hooks.env.cleanup().await;
}

#[tokio::test]
async fn a_thousand_notifications_for_one_connection_make_at_most_two_sync_runs() {
    let hooks = Hooks::start().await;
    let card = json!({ "action": { "type": "updateCard" }, "model": { "id": "board" } });
    let mut messages = Vec::new();
    for round in 0..2 {
        for _ in 0..500 {
            assert_eq!(hooks.trello("sub-trello", &card, TRELLO_SECRET).await.0, StatusCode::OK);
        }
        let sent = hooks.env.take_sync_messages().await;
        assert_eq!(sent.len(), 1, "round {round}: one message for the burst, not {}", sent.len());
        messages.extend(sent.clone());
        // The worker turns the pending sync into a run, or (a run a moment ago) asks again later.
        hooks.work(sent).await;
        for message in hooks.env.take_sync_messages().await {
            match message {
                SyncMessage::Job(job) => {
                    integrations::sync::run_job(&hooks.env.state_for(Function::SyncWorker), &job).await.unwrap();
                }
                SyncMessage::Notified { .. } => assert_eq!(round, 1, "asked again later only after a run"),
            }
        }
    }
    let runs = hooks.runs().await;
    assert_eq!(runs.len(), 1, "the second burst waits for the gap: {runs:?}");
    assert!(runs.iter().all(|r| r.trigger == Trigger::Webhook && r.status == SyncStatus::Succeeded));
    assert!(hooks.pending().await, "the second burst is pending, as one run");
    let connection = hooks.env.state.store.get_connection(&user(), &hooks.connection).await.unwrap();
    assert!(connection.fresh_as_of.is_some());
    assert!(hooks.env.state.store.list_records(&user(), &hooks.connection).await.unwrap().len() == 3);
    hooks.env.cleanup().await;
}
