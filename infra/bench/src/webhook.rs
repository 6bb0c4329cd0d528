//! Acknowledging a provider's notification in process: the webhooks function's handler
//! (verification, the index read, the pending-sync write, the queue message), its time less the
//! time spent in AWS calls, and the AWS requests it makes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use axum::http::{HeaderMap, HeaderValue, Method};
use integrations::catalog::AuthMode;
use integrations::config::WebhookKeys;
use integrations::domain::{Account, ConnectionId, IntegrationId, SyncSettings, UserId};
use integrations::queue::SyncQueue;
use integrations::store::{ConnectOutcome, NewConnection, Store, Subscription};
use integrations::testing::TestEnv;
use integrations::vault::Credentials;
use integrations::webhooks::{Inbound, receive, verify};

/// Counts the AWS requests of the clients it is on, and the time spent sending them.
#[derive(Debug, Default)]
struct Meter {
    requests: AtomicU64,
    nanos: AtomicU64,
    started: Mutex<Option<Instant>>,
}

#[derive(Debug, Clone, Default)]
struct Metered(Arc<Meter>);

impl Intercept for Metered {
    fn name(&self) -> &'static str {
        "bench meter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        *self.0.started.lock().unwrap() = Some(Instant::now());
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(started) = self.0.started.lock().unwrap().take() {
            self.0.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

pub struct WebhookFigures {
    pub notifications: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub dynamo_per_notification: f64,
    pub sqs_per_notification: f64,
}

const NOTIFICATIONS: usize = 300;
const SECRET: &str = "bench-trello-app-secret";

pub async fn acknowledge(env: &mut TestEnv) -> anyhow::Result<WebhookFigures> {
    let user = UserId::parse("bench-webhooks")?;
    let connection_id = ConnectionId::generate();
    let credentials = Credentials::ApiKey(Default::default());
    let secret_id = env.state.vault.create(&user, &connection_id, &credentials).await?;
    let new = NewConnection {
        user_id: user.clone(),
        connection_id: connection_id.clone(),
        integration_id: IntegrationId::parse("trello")?,
        auth_kind: AuthMode::ApiKey,
        secret_id,
        credential_hint: "••••".into(),
        account: Account { id: "bench".into(), name: "Bench".into(), workspace: None },
        display_name: "Trello".into(),
        settings: SyncSettings::default(),
        connection_limit: None,
        plan: integrations::domain::Plan::Free,
    };
    let ConnectOutcome::Created(_) = env.state.store.insert_connection(new).await? else {
        anyhow::bail!("the bench connection was not stored");
    };
    env.state
        .store
        .put_subscription(&Subscription {
            integration_id: IntegrationId::parse("trello")?,
            key: "bench".into(),
            user_id: user.clone(),
            connection_id: connection_id.clone(),
            secret_hash: None,
            remote_id: None,
            expires_on: None,
            renew_at: None,
            remake: false,
        })
        .await?;
    let queues = env.add_queues(3).await;

    // The handler's state, its clients metered.
    let (dynamo_meter, sqs_meter) = (Metered::default(), Metered::default());
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&env.aws).interceptor(dynamo_meter.clone()).build();
    let sqs = aws_sdk_sqs::config::Builder::from(&env.aws).interceptor(sqs_meter.clone()).build();
    let mut state = env.state.clone();
    state.store = Store::new(aws_sdk_dynamodb::Client::from_conf(dynamo), env.state.store.table());
    state.queue = Some(SyncQueue::new(aws_sdk_sqs::Client::from_conf(sqs), &queues.queue_url));
    let base = "https://bench.example";
    state.webhooks = WebhookKeys {
        slack_signing_secret: None,
        trello_app_secret: Some(SECRET.to_owned().into()),
        base_url: Some(base.into()),
    };

    let body = br#"{"model":{"id":"bench"},"action":{"type":"updateCard","data":{"card":{"id":"c1"}}}}"#;
    let query = "s=bench";
    let callback = format!("{base}{}?{query}", integrations::webhooks::callback_path("trello"));
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-trello-webhook",
        HeaderValue::from_str(&verify::trello_signature(SECRET.as_bytes(), body, &callback))?,
    );
    let mut own = Vec::with_capacity(NOTIFICATIONS);
    for _ in 0..NOTIFICATIONS {
        let aws_before = dynamo_meter.0.nanos.load(Ordering::Relaxed) + sqs_meter.0.nanos.load(Ordering::Relaxed);
        let started = Instant::now();
        let request = Inbound { method: &Method::POST, query: Some(query), headers: &headers, body };
        let answer = receive(&state, "trello", request, chrono::Utc::now()).await;
        let total = started.elapsed();
        anyhow::ensure!(answer.status().is_success(), "the bench notification was refused: {}", answer.status());
        let aws = dynamo_meter.0.nanos.load(Ordering::Relaxed) + sqs_meter.0.nanos.load(Ordering::Relaxed) - aws_before;
        own.push(total.saturating_sub(Duration::from_nanos(aws)));
        // Each notification takes the whole path (read, write, message): the pending sync is
        // cleared between them, unmetered.
        env.state.store.clear_sync_pending(&user, &connection_id).await?;
    }
    own.sort();
    let per = |meter: &Metered| meter.0.requests.load(Ordering::Relaxed) as f64 / NOTIFICATIONS as f64;
    Ok(WebhookFigures {
        notifications: NOTIFICATIONS,
        p50: own[NOTIFICATIONS / 2],
        p99: own[NOTIFICATIONS * 99 / 100],
        dynamo_per_notification: per(&dynamo_meter),
        sqs_per_notification: per(&sqs_meter),
    })
}
