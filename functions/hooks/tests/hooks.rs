//! The hooks API and delivery worker against the emulator (each function as its IAM role) and a
//! local signed-webhook receiver: subscribe (premium, the secret shown once), another user's
//! hook answering 404, a target answering 500 then 200 (delivered once, after a retry), a 410
//! unsubscribing the hook, a private-address target refused at subscribe and at delivery, and
//! the fan-out's cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use fake_providers::FakeProviders;
use http_body_util::BodyExt;
use integrations::config::Function;
use integrations::domain::{Plan, UserId};
use integrations::hooks::target::TargetPolicy;
use integrations::hooks::{EventType, HookDelivery, HookEvent, publish};
use integrations::queue::HookQueue;
use integrations::standard_webhooks::{SigningSecret, verify};
use integrations::testing::{TestEnv, function_config};
use serde_json::{Value, json};
use tower::ServiceExt;

const USER: &str = "hooks-user";

struct App {
    env: TestEnv,
    fakes: FakeProviders,
}

impl App {
    async fn start() -> App {
        let fakes = FakeProviders::start().await;
        let mut env = TestEnv::new().await;
        env.add_hook_queues(3).await;
        App { env, fakes }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        user: &str,
        plan: Plan,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1/integrations/hooks{path}"))
            .header("authorization", format!("Bearer {}", self.env.token(user, plan)));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
        let response =
            hooks::router(self.env.state_for(Function::HooksApi)).oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, USER, Plan::Premium, body).await
    }

    fn receiver(&self, name: &str) -> String {
        format!("{}/receivers/{name}", self.fakes.url())
    }

    /// Subscribes `USER` to item.created at the receiver `name`; returns the hook id and secret.
    async fn subscribe(&self, name: &str) -> (String, SigningSecret) {
        let body = json!({"targetUrl": self.receiver(name), "events": ["item.created"]});
        let (status, hook) = self.api(Method::POST, "", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let secret = SigningSecret::parse(hook["signingSecret"].as_str().unwrap()).unwrap();
        (hook["hookId"].as_str().unwrap().to_owned(), secret)
    }

    /// Publishes an item.created event as the sync worker does.
    async fn publish_item(&self, key: &str) {
        let event = HookEvent {
            kind: EventType::ItemCreated,
            key: key.into(),
            occurred_at: Utc::now(),
            data: json!({"itemId": key, "title": "Q4 report"}),
        };
        let unsent =
            publish(&self.env.state_for(Function::SyncWorker), &UserId::parse(USER).unwrap(), &[event]).await.unwrap();
        assert_eq!(unsent, 0);
    }

    /// The deliveries waiting on the queue, waiting up to `wait` for the first.
    async fn queued(&self, wait: Duration) -> Vec<HookDelivery> {
        let started = std::time::Instant::now();
        loop {
            let taken = self.env.take_hook_deliveries().await;
            if !taken.is_empty() || started.elapsed() > wait {
                return taken;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Runs deliveries through the worker, as Lambda would; asserts none failed.
    async fn work(&self, deliveries: &[HookDelivery], policy: TargetPolicy) {
        let records = deliveries
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut m = SqsMessage::default();
                m.message_id = Some(i.to_string());
                m.body = Some(serde_json::to_string(d).unwrap());
                m
            })
            .collect();
        let mut event = SqsEvent::default();
        event.records = records;
        let mut state = self.env.state_for(Function::HooksWorker);
        state.hook_targets = policy;
        let response = hooks::handle_sqs_event(&state, event).await;
        assert!(response.batch_item_failures.is_empty(), "every delivery handled");
    }
}

const DEV: TargetPolicy = TargetPolicy { allow_loopback: true };

#[tokio::test]
async fn subscribing_shows_the_secret_once_and_hooks_are_premium_and_private_to_their_user() {
    let app = App::start().await;
    let (id, _) = app.subscribe("first").await;
    let (status, listed) = app.api(Method::GET, "", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["hooks"].as_array().unwrap().len(), 1);
    assert_eq!(listed["hooks"][0]["hookId"], id.as_str());
    assert_eq!(listed["hooks"][0]["events"], json!(["item.created"]));
    assert!(!listed.to_string().contains("whsec_"), "the secret is shown only when subscribing: {listed}");

    // Free plan: 403 premium-required.
    let body = json!({"targetUrl": app.receiver("free"), "events": ["item.created"]});
    let (status, problem) = app.call(Method::POST, "", "free-user", Plan::Free, Some(body)).await;
    assert_eq!((status, problem["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/premium-required")));

    // Another user's hook is missing to them.
    for (method, path) in [(Method::DELETE, format!("/{id}")), (Method::GET, format!("/{id}/deliveries"))] {
        let (status, _) = app.call(method, &path, "someone-else", Plan::Premium, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // Bad input: problem+json, never a 500.
    for body in [
        json!({"targetUrl": app.receiver("x"), "events": []}),
        json!({"targetUrl": "http://example.com/hook", "events": ["item.created"]}),
        json!({"targetUrl": app.receiver("x"), "events": ["item.deleted"]}),
        json!({"targetUrl": app.receiver("x"), "events": ["item.created"], "colour": "red"}),
    ] {
        let (status, problem) = app.api(Method::POST, "", Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {problem}");
    }
    let (status, _) = app.api(Method::DELETE, "/not-an-id", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    assert_eq!(app.env.secret_names().await.len(), 1);
    let (status, _) = app.api(Method::DELETE, &format!("/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(app.env.secret_names().await.is_empty(), "unsubscribing removes the secret");
    let (status, _) = app.api(Method::DELETE, &format!("/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_target_answering_500_then_200_gets_the_event_once_after_a_retry() {
    let app = App::start().await;
    let (id, secret) = app.subscribe("flaky").await;
    app.fakes.state().answer_next("flaky", &[500]);
    app.publish_item("card-1@1").await;
    let first = app.queued(Duration::ZERO).await;
    assert_eq!(first.len(), 1);
    app.work(&first, DEV).await;

    let (_, listed) = app.api(Method::GET, &format!("/{id}/deliveries"), None).await;
    assert_eq!(listed["deliveries"][0]["status"], "retrying", "{listed}");
    assert_eq!(listed["deliveries"][0]["attempts"][0]["statusCode"], 500);

    // The next attempt comes back on the queue after its delay (5 s).
    let second = app.queued(Duration::from_secs(15)).await;
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].attempt, &second[0].message_id), (2, &first[0].message_id));
    app.work(&second, DEV).await;

    let received = app.fakes.state().signed_deliveries("flaky");
    assert_eq!(received.iter().map(|r| r.answered).collect::<Vec<_>>(), [500, 200], "delivered once, after a retry");
    assert_eq!(received[0].webhook_id, received[1].webhook_id, "every attempt carries the same webhook-id");
    let got = &received[1];
    verify(&secret, &got.webhook_id, &got.webhook_timestamp, &got.webhook_signature, &got.body, Utc::now().timestamp())
        .expect("signed with the secret shown at subscribe");
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["title"].as_str()), (Some("item.created"), Some("Q4 report")));

    let (_, listed) = app.api(Method::GET, &format!("/{id}/deliveries"), None).await;
    let delivery = &listed["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{listed}");
    let codes: Vec<&Value> = delivery["attempts"].as_array().unwrap().iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(codes, [&json!(500), &json!(200)]);
    assert!(delivery["attempts"][1]["durationMs"].is_u64());
    assert!(app.queued(Duration::ZERO).await.is_empty(), "nothing more to send");

    // Redeliver: the same message again, as a new delivery.
    let path = format!("/{id}/deliveries/{}/redeliver", delivery["deliveryId"].as_str().unwrap());
    let (status, queued) = app.api(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let again = app.queued(Duration::ZERO).await;
    assert_eq!((again.len(), &again[0].message_id, again[0].attempt), (1, &first[0].message_id, 1));
    let (status, _) = app.call(Method::POST, &path, "someone-else", Plan::Premium, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_target_answering_410_gone_is_unsubscribed() {
    let app = App::start().await;
    let (_, _) = app.subscribe("gone").await;
    app.fakes.state().answer_next("gone", &[410]);
    app.publish_item("card-2@1").await;
    app.work(&app.queued(Duration::ZERO).await, DEV).await;
    let (_, listed) = app.api(Method::GET, "", None).await;
    assert_eq!(listed["hooks"], json!([]), "the hook was removed");
    assert!(app.env.secret_names().await.is_empty(), "with its secret");
    assert!(app.queued(Duration::from_secs(1)).await.is_empty(), "no retry after 410");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_private_address_target_is_refused_at_subscribe_and_at_delivery() {
    let app = App::start().await;
    for target in
        ["https://10.0.0.7/hook", "https://192.168.1.10/hook", "https://[fd00::1]/hook", "https://169.254.169.254/"]
    {
        let body = json!({"targetUrl": target, "events": ["item.created"]});
        let (status, problem) = app.api(Method::POST, "", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{target}");
        assert_eq!(problem["type"], "/problems/invalid-hook");
    }
    // A host name accepted at subscribe (it resolved to loopback, allowed here as in dev) is
    // resolved and checked again when sent: in AWS, where loopback is refused, nothing goes out.
    let port = app.fakes.addr().port();
    let body = json!({"targetUrl": format!("https://localhost:{port}/receivers/inside"), "events": ["item.created"]});
    let (status, hook) = app.api(Method::POST, "", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let id = hook["hookId"].as_str().unwrap();
    app.publish_item("card-3@1").await;
    app.work(&app.queued(Duration::ZERO).await, TargetPolicy { allow_loopback: false }).await;
    assert!(app.fakes.state().signed_deliveries("inside").is_empty(), "nothing was sent");
    let (_, listed) = app.api(Method::GET, &format!("/{id}/deliveries"), None).await;
    assert_eq!(listed["deliveries"][0]["status"], "refused", "{listed}");
    assert!(listed["deliveries"][0]["attempts"][0]["error"].as_str().unwrap().contains("private"));
    app.env.cleanup().await;
}

/// Counts the SQS requests a client sends.
#[derive(Debug, Clone, Default)]
struct CountRequests(Arc<AtomicUsize>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn fanning_out_costs_one_query_and_one_send_per_ten_deliveries() {
    let app = App::start().await;
    for i in 0..12 {
        app.subscribe(&format!("r{i}")).await;
    }
    let mut state = app.env.state_for(Function::SyncWorker);
    let (sends, reads) = (CountRequests::default(), CountRequests::default());
    let config = function_config(&app.env.aws, Function::SyncWorker);
    let sqs = aws_sdk_sqs::config::Builder::from(&config).interceptor(sends.clone()).build();
    state.hooks = Some(HookQueue::new(aws_sdk_sqs::Client::from_conf(sqs), state.hooks.as_ref().unwrap().url()));
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&config).interceptor(reads.clone()).build();
    state.store = integrations::store::Store::new(aws_sdk_dynamodb::Client::from_conf(dynamo), state.store.table());
    let events: Vec<HookEvent> = (0..2)
        .map(|i| HookEvent {
            kind: EventType::ItemCreated,
            key: format!("card-{i}@1"),
            occurred_at: Utc::now(),
            data: json!({}),
        })
        .collect();
    assert_eq!(publish(&state, &UserId::parse(USER).unwrap(), &events).await.unwrap(), 0);
    // 12 hooks × 2 events = 24 deliveries: 3 SendMessageBatch, and the hooks read by 1 Query.
    assert_eq!(sends.0.load(Ordering::SeqCst), 3);
    assert_eq!(reads.0.load(Ordering::SeqCst), 1);
    assert_eq!(app.queued(Duration::ZERO).await.len(), 24);
    app.env.cleanup().await;
}
