//! The sync pipeline against the emulator (DynamoDB, SQS, Secrets Manager) and a fake Trello:
//! trigger through the API, the job from the queue, the worker's engine, the recorded outcome.

mod support;

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use fake_providers::{FakeProviders, Fault, Provider};
use http_body_util::BodyExt;
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::connections::{ConnectRequest, connect};
use integrations::domain::{ConnectionId, ConnectionStatus, Counts, Plan, SyncId, SyncJob, SyncStatus, UserId};
use integrations::provider_status;
use integrations::providers::RetryPolicy;
use integrations::sync::{JobOutcome, fail_dead_letter, run_job};
use integrations::testing::TestEnv;
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "0123456789abcdef";
const TOKEN: &str = "pipeline-test-token-0001";

struct Pipeline {
    env: TestEnv,
    fakes: FakeProviders,
    board: String,
    connection: ConnectionId,
}

impl Pipeline {
    /// A Trello account with one board of `cards` cards, connected; pages of 40.
    async fn start(cards: usize) -> Pipeline {
        let fakes = FakeProviders::start().await;
        fakes.state().add_trello_account(KEY, TOKEN, "ada");
        let board = fakes.state().add_trello_board(TOKEN, "Operations");
        fakes.state().add_trello_cards(&board, cards);
        let mut env = TestEnv::new().await;
        env.use_provider("trello", fakes.base_url(Provider::Trello));
        env.add_queues(3).await;
        env.state.sync.page_size = 40;
        env.state.sync.manual_gap = chrono::Duration::zero();
        env.state.sync.retry = RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(2),
        };
        let request: ConnectRequest = serde_json::from_value(json!({
            "integrationId": "trello",
            "credentials": { "apiKey": KEY, "token": TOKEN },
        }))
        .unwrap();
        let connection = connect(&env.state_for(Function::Connections), &caller(), request)
            .await
            .expect("connect")
            .into_connection()
            .unwrap()
            .connection_id;
        Pipeline { env, fakes, board, connection }
    }

    async fn call(&self, method: Method, path: &str, user: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.env.token(user, Plan::Free)));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
        let response =
            sync::router(self.env.state_for(Function::SyncApi)).oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let mut value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let Some(r) = retry_after {
            value["_retryAfterHeader"] = json!(r.to_str().unwrap());
        }
        (status, value)
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/integrations/{}{rest}", self.connection)
    }

    /// Triggers a sync through the API and returns the job the queue received.
    async fn trigger(&self, mode: &str) -> SyncJob {
        let (status, run) = self.call(Method::POST, &self.path("/sync"), "ada", Some(json!({ "mode": mode }))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{run}");
        let jobs = self.env.take_jobs().await;
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].sync_id.as_str(), run["syncId"].as_str().unwrap());
        jobs[0].clone()
    }

    async fn run(&self, job: &SyncJob) -> Value {
        let (status, run) = self.call(Method::GET, &self.path(&format!("/syncs/{}", job.sync_id)), "ada", None).await;
        assert_eq!(status, StatusCode::OK);
        run
    }

    async fn record_count(&self) -> usize {
        self.env.state.store.list_records(&user(), &self.connection).await.unwrap().len()
    }

    async fn connection(&self) -> integrations::domain::Connection {
        self.env.state.store.get_connection(&user(), &self.connection).await.unwrap()
    }
}

fn user() -> UserId {
    UserId::parse("ada").unwrap()
}

fn caller() -> Caller {
    Caller { user_id: user(), plan: Plan::Free }
}

#[tokio::test]
async fn a_full_sync_of_several_pages_stores_every_card_once_with_counts_and_time_saved() {
    let p = Pipeline::start(130).await;
    let job = p.trigger("full").await;
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Succeeded)
    );

    let run = p.run(&job).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["counts"], json!({ "created": 130, "updated": 0, "unchanged": 0, "deleted": 0 }));
    assert!(run["progress"]["pages"].as_u64().unwrap() >= 4, "{run}");
    assert_eq!(run["minutesSaved"], 260.0, "130 cards × 2 minutes");
    assert!(run["durationMs"].is_u64());
    assert_eq!(p.record_count().await, 130);

    let c = p.connection().await;
    assert_eq!(c.items_total, 130);
    assert_eq!(c.minutes_saved_total, 260.0);
    assert_eq!(c.last_sync.unwrap().status, SyncStatus::Succeeded);
    assert!(c.sync_in_flight.is_none());

    let stats = integrations::insights::stats(&p.env.state_for(Function::Catalog), &caller()).await.unwrap();
    assert_eq!(stats.items_processed, 130);
    assert_eq!(stats.minutes_saved, 260.0);
    assert_eq!((stats.last_7_days.syncs, stats.last_7_days.items, stats.last_7_days.failures), (1, 130, 0));
    assert_eq!(stats.time_saved_by_day.last().unwrap().minutes_saved, 260.0);
    assert_eq!(stats.recent_activity[0].items, 130);

    // Disconnecting removes what the connection synced and its history.
    integrations::connections::disconnect(&p.env.state_for(Function::Connections), &caller(), &p.connection)
        .await
        .unwrap();
    assert_eq!(p.env.state.store.list_records(&user(), &p.connection).await.unwrap().len(), 0);
    let (runs, _) = p.env.state.store.list_runs(&user(), &p.connection, 10, None).await.unwrap();
    assert!(runs.is_empty());
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_stored_credential_missing_a_field_fails_its_run_saying_which() {
    let p = Pipeline::start(3).await;
    let secret_id = p.connection().await.secret_id;
    // A broken secret: the Trello key is there, the token is not.
    let broken = integrations::vault::Credentials::ApiKey(
        [("apiKey".to_owned(), secrecy::SecretString::from(KEY))].into_iter().collect(),
    );
    p.env.state.vault.put(&secret_id, &broken).await.unwrap();

    let job = p.trigger("incremental").await;
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Failed)
    );
    let run = p.run(&job).await;
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("no `token`") && error.contains("connect Trello again"), "{error}");
    assert!(!error.contains("nothing to sync"), "{error}");
    assert_eq!(p.connection().await.status, ConnectionStatus::NeedsReauth);
    assert_eq!(p.record_count().await, 0);
}

#[tokio::test]
async fn a_connection_with_nothing_to_sync_is_refused_sync_now_with_a_409() {
    let p = Pipeline::start(1).await;
    let request: ConnectRequest = serde_json::from_value(json!({
        "integrationId": "microsoft-teams",
        "credentials": { "webhookUrl": "https://contoso.webhook.office.com/webhookb2/a/IncomingWebhook/b/c" },
    }))
    .unwrap();
    let webhook = connect(&p.env.state_for(Function::Connections), &caller(), request)
        .await
        .unwrap()
        .into_connection()
        .unwrap()
        .connection_id;
    let path = format!("/api/v1/integrations/{webhook}/sync");
    let (status, problem) = p.call(Method::POST, &path, "ada", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/nothing-to-sync");
    assert!(problem["detail"].as_str().unwrap().contains("Microsoft Teams"), "{problem}");
    assert!(p.env.take_jobs().await.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn synced_cards_are_items_until_their_connection_is_disconnected() {
    let p = Pipeline::start(45).await;
    run_job(&p.env.state_for(Function::SyncWorker), &p.trigger("full").await).await.unwrap();
    let items = format!("/api/v1/integrations/items?connectionId={}&limit=100", p.connection);
    let (status, page) = p.call(Method::GET, &items, "ada", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 45);
    assert!(page["items"].as_array().unwrap().iter().all(|i| i["integrationId"] == "trello" && i["kind"] == "task"));
    let (_, other) = p.call(Method::GET, &items, "bob", None).await;
    assert!(other["items"].as_array().unwrap().is_empty(), "another user sees none of them");

    integrations::connections::disconnect(&p.env.state_for(Function::Connections), &caller(), &p.connection)
        .await
        .unwrap();
    let (_, after) = p.call(Method::GET, &items, "ada", None).await;
    assert!(after["items"].as_array().unwrap().is_empty(), "{after}");
    p.env.cleanup().await;
}

#[tokio::test]
async fn an_incremental_sync_picks_up_only_what_changed() {
    let p = Pipeline::start(60).await;
    let first = p.trigger("incremental").await;
    run_job(&p.env.state_for(Function::SyncWorker), &first).await.unwrap();
    let cards = p.fakes.state().trello_cards(&p.board);
    for card in cards.iter().take(3) {
        p.fakes.state().update_trello_card(&card.id, |c| c.name.push_str(" (edited)"));
        p.fakes.state().touch_trello_card(&card.id);
    }
    p.fakes.state().add_trello_cards(&p.board, 2);

    let second = p.trigger("incremental").await;
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &second).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Succeeded)
    );
    let run = p.run(&second).await;
    assert_eq!(run["counts"], json!({ "created": 2, "updated": 3, "unchanged": 0, "deleted": 0 }), "{run}");
    assert_eq!(p.record_count().await, 62);
    assert_eq!(p.connection().await.items_total, 65);
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_full_resync_removes_cards_that_are_gone_only_after_the_new_data_is_in() {
    let p = Pipeline::start(50).await;
    run_job(&p.env.state_for(Function::SyncWorker), &p.trigger("full").await).await.unwrap();
    // Four cards leave the board (moved to someone else's board): gone for this account.
    p.fakes.state().add_trello_account("fedcba9876543210", "someone-elses-token-0001", "grace");
    let elsewhere = p.fakes.state().add_trello_board("someone-elses-token-0001", "Elsewhere");
    let cards = p.fakes.state().trello_cards(&p.board);
    for card in cards.iter().take(4) {
        p.fakes.state().update_trello_card(&card.id, |c| c.id_board = elsewhere.clone());
    }
    let job = p.trigger("full").await;
    // Until the run ends, nothing is removed: a failure halfway keeps the old data.
    p.fakes.state().fail_next(Provider::Trello, "/1/boards", Fault::ServerError, 100);
    assert!(matches!(run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(), JobOutcome::Retry(_)));
    assert_eq!(p.record_count().await, 50);
    p.fakes.state().clear_faults();
    run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap();
    let run = p.run(&job).await;
    assert_eq!(run["counts"]["deleted"], 4, "{run}");
    assert_eq!(run["counts"]["unchanged"], 46, "{run}");
    assert_eq!(p.record_count().await, 46);
    p.env.cleanup().await;
}

#[tokio::test]
async fn two_triggers_at_once_queue_one_run_and_the_other_is_told_which() {
    let p = Pipeline::start(5).await;
    let path = p.path("/sync");
    let (a, b) = tokio::join!(p.call(Method::POST, &path, "ada", None), p.call(Method::POST, &path, "ada", None));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::ACCEPTED, StatusCode::CONFLICT]);
    let (accepted, conflict) = if a.0 == StatusCode::ACCEPTED { (a.1, b.1) } else { (b.1, a.1) };
    assert_eq!(conflict["type"], "/problems/sync-in-progress");
    assert_eq!(conflict["syncId"], accepted["syncId"]);
    assert_eq!(p.env.take_jobs().await.len(), 1, "one message queued");
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_manual_trigger_within_the_minimum_gap_is_429_with_retry_after() {
    let mut p = Pipeline::start(3).await;
    p.env.state.sync.manual_gap = chrono::Duration::seconds(60);
    run_job(&p.env.state_for(Function::SyncWorker), &p.trigger("incremental").await).await.unwrap();
    let (status, problem) = p.call(Method::POST, &p.path("/sync"), "ada", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    let secs: u64 = problem["_retryAfterHeader"].as_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs));
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_redelivered_message_after_success_is_dropped_without_a_second_run() {
    let p = Pipeline::start(45).await;
    let job = p.trigger("incremental").await;
    run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap();
    let requests = p.fakes.state().requests(Provider::Trello).len();
    assert_eq!(run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(), JobOutcome::AlreadyFinished);
    assert_eq!(p.fakes.state().requests(Provider::Trello).len(), requests, "no provider call");
    assert_eq!(p.connection().await.items_total, 45);
    let (_, history) = p.call(Method::GET, &p.path("/syncs"), "ada", None).await;
    assert_eq!(history["syncs"].as_array().unwrap().len(), 1);
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_worker_killed_mid_run_is_resumed_by_redelivery_and_ends_once_with_no_card_lost_or_doubled() {
    let p = Pipeline::start(200).await;
    let job = p.trigger("full").await;
    // Slow card pages down so the worker can be killed between them.
    p.fakes.state().fail_next(Provider::Trello, "/1/boards", Fault::Timeout { millis: 150 }, 50);
    let state = p.env.state_for(Function::SyncWorker);
    let worker = {
        let job = job.clone();
        tokio::spawn(async move { run_job(&state, &job).await })
    };
    loop {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let run = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
        if run.progress.pages >= 3 {
            worker.abort();
            break;
        }
    }
    let _ = worker.await;
    let interrupted = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
    assert_eq!(interrupted.status, SyncStatus::Running);
    p.fakes.state().clear_faults();

    // SQS delivers the message again.
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Succeeded)
    );
    let run = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
    assert_eq!(run.attempts, 2);
    assert_eq!(p.record_count().await, 200);
    assert_eq!(run.counts.created + run.counts.unchanged, 200, "{:?}", run.counts);
    assert_eq!(run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(), JobOutcome::AlreadyFinished);
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_revoked_token_fails_the_run_and_asks_the_user_to_reconnect() {
    let p = Pipeline::start(10).await;
    p.fakes.state().revoke(Provider::Trello, TOKEN);
    let job = p.trigger("incremental").await;
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Failed)
    );
    let c = p.connection().await;
    assert_eq!(c.status, ConnectionStatus::NeedsReauth);
    assert!(c.status_reason.unwrap().contains("connect it again"));
    assert!(c.sync_in_flight.is_none());
    let (status, problem) = p.call(Method::POST, &p.path("/sync"), "ada", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "/problems/connection-not-active");
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_provider_error_then_success_completes_and_a_lasting_one_ends_in_the_dead_letter_path() {
    let p = Pipeline::start(10).await;
    p.fakes.state().fail_next(Provider::Trello, "/1/members", Fault::ServerError, 1);
    let job = p.trigger("incremental").await;
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Succeeded)
    );

    p.fakes.state().fail_next(Provider::Trello, "/1/members", Fault::ServerError, 100);
    let job = p.trigger("full").await;
    assert!(matches!(run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(), JobOutcome::Retry(_)));
    let run = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
    assert_eq!(run.status, SyncStatus::Running, "left for redelivery");
    assert_eq!(
        fail_dead_letter(&p.env.state_for(Function::SyncWorker), &job, Some(5)).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Failed)
    );
    let run = p.run(&job).await;
    assert_eq!(run["status"], "failed");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .starts_with("Gave up after 5 attempts: Trello had a problem on its side (it answered 500)"),
        "{run}"
    );
    assert!(p.connection().await.sync_in_flight.is_none());
    p.env.cleanup().await;
}

#[tokio::test]
async fn the_history_pages_newest_first_with_an_opaque_cursor() {
    let p = Pipeline::start(2).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = p.trigger("incremental").await;
        run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap();
        ids.push(job.sync_id.to_string());
    }
    let (_, first) = p.call(Method::GET, &p.path("/syncs?limit=2"), "ada", None).await;
    let got: Vec<_> = first["syncs"].as_array().unwrap().iter().map(|r| r["syncId"].as_str().unwrap()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = p.call(Method::GET, &p.path(&format!("/syncs?limit=2&cursor={cursor}")), "ada", None).await;
    assert_eq!(second["syncs"][0]["syncId"], ids[0].as_str());
    p.env.cleanup().await;
}

#[tokio::test]
async fn bad_sync_requests_are_problems_and_other_users_see_nothing() {
    let p = Pipeline::start(1).await;
    let unknown = SyncId::generate();
    let cases = [
        (Method::POST, p.path("/sync"), "ada", Some(json!({ "mode": "sideways" })), StatusCode::UNPROCESSABLE_ENTITY),
        (Method::POST, p.path("/sync"), "ada", Some(json!({ "extra": true })), StatusCode::UNPROCESSABLE_ENTITY),
        (Method::POST, p.path("/sync"), "mallory", None, StatusCode::NOT_FOUND),
        (Method::GET, p.path("/syncs"), "mallory", None, StatusCode::NOT_FOUND),
        (Method::GET, p.path(&format!("/syncs/{unknown}")), "ada", None, StatusCode::NOT_FOUND),
        (Method::GET, p.path("/syncs/not-a-ulid"), "ada", None, StatusCode::BAD_REQUEST),
        (Method::GET, p.path("/syncs?cursor=bm9wZQ"), "ada", None, StatusCode::BAD_REQUEST),
        (Method::GET, p.path("/syncs?limit=0"), "ada", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/integrations/nope/syncs".to_owned(), "ada", None, StatusCode::BAD_REQUEST),
        (Method::DELETE, p.path("/sync"), "ada", None, StatusCode::METHOD_NOT_ALLOWED),
    ];
    for (method, path, user, body, expected) in cases {
        let (status, problem) = p.call(method.clone(), &path, user, body).await;
        assert_eq!(status, expected, "{method} {path}: {problem}");
        assert_eq!(problem["status"], expected.as_u16());
    }
    // Malformed JSON is a 400.
    let request = Request::builder()
        .method(Method::POST)
        .uri(p.path("/sync"))
        .header("authorization", format!("Bearer {}", p.env.token("ada", Plan::Free)))
        .header("content-type", "application/json")
        .body(Body::from("{"))
        .unwrap();
    let response = sync::router(p.env.state_for(Function::SyncApi)).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A body that is not declared as JSON is refused as such.
    let request = Request::builder()
        .method(Method::POST)
        .uri(p.path("/sync"))
        .header("authorization", format!("Bearer {}", p.env.token("ada", Plan::Free)))
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"mode":"full"}"#))
        .unwrap();
    let response = sync::router(p.env.state_for(Function::SyncApi)).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A body over the cap is a 413 problem like every other error, not axum's plain text.
    let request = Request::builder()
        .method(Method::POST)
        .uri(p.path("/sync"))
        .header("authorization", format!("Bearer {}", p.env.token("ada", Plan::Free)))
        .header("content-type", "application/json")
        .body(Body::from(" ".repeat(integrations::http::MAX_BODY_BYTES + 1)))
        .unwrap();
    let response = sync::router(p.env.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    p.env.cleanup().await;
}

/// The worker function as Lambda runs it: the next message of the sync queue (one per
/// invocation, as template.yaml's BatchSize), handled with the invocation's deadline and
/// stopped at that deadline whatever it is doing; a message it acknowledges is deleted, any
/// other comes back after a second. `false`: no message was waiting.
async fn invoke_worker(env: &TestEnv, time: Duration) -> bool {
    let queues = env.queues.as_ref().expect("queues");
    let sqs = aws_sdk_sqs::Client::new(&env.aws);
    let out = sqs
        .receive_message()
        .queue_url(&queues.queue_url)
        .max_number_of_messages(1)
        .visibility_timeout(1)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap();
    let Some(received) = out.messages().first() else { return false };
    let mut message = SqsMessage::default();
    message.message_id = received.message_id().map(str::to_owned);
    message.body = received.body().map(str::to_owned);
    message.event_source_arn = Some(queues.queue_arn.clone());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    let deadline = Instant::now() + time;
    let handled = tokio::time::timeout(
        time,
        sync::handle_sqs_event(&env.state_for(Function::SyncWorker), Some(&queues.dlq_arn), event, deadline),
    )
    .await;
    if handled.is_ok_and(|response| response.batch_item_failures.is_empty()) {
        let handle = received.receipt_handle().unwrap_or_default();
        sqs.delete_message().queue_url(&queues.queue_url).receipt_handle(handle).send().await.unwrap();
    }
    true
}

/// Whether the run is among those the scheduler would end as overdue at `at`.
async fn taken_for_overdue(p: &Pipeline, sync: &SyncId, at: chrono::DateTime<chrono::Utc>) -> bool {
    for shard in 0..integrations::store::DUE_SHARDS {
        if p.env.state.store.overdue_runs(shard, at).await.unwrap().iter().any(|r| &r.sync_id == sync) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_first_sync_of_50000_cards_longer_than_an_invocation_goes_on_as_the_same_run_until_each_card_is_stored_once()
{
    const CARDS: u64 = 50_000;
    // Each invocation has time for several pages of 500 (the emulator writes some 1,000 items a
    // second, fewer on a busy machine) and keeps 3 s of it to finish the page in hand.
    const INVOCATION: Duration = Duration::from_secs(8);
    let mut p = Pipeline::start(0).await;
    p.env.use_provider("trello", support::large_trello_board(CARDS).await);
    p.env.state.sync.page_size = 500;
    p.env.state.sync.deadline_margin = Duration::from_secs(3);
    // Queued an hour and a half ago (the queue was busy): an hour from now it is past the
    // scheduler's deadline, unless it goes on.
    let now = chrono::Utc::now();
    let run = integrations::domain::SyncRun::queued(
        user(),
        p.connection.clone(),
        integrations::domain::IntegrationId::parse("trello").unwrap(),
        integrations::domain::Trigger::Manual,
        integrations::sync::SyncMode::Incremental,
        now - chrono::Duration::minutes(90),
    );
    p.env.state.store.queue_run(&run, None, None).await.unwrap().unwrap();
    let job = run.job();
    p.env.state.queue.as_ref().unwrap().send(&job).await.unwrap();
    let in_an_hour = now + chrono::Duration::hours(1);
    assert!(taken_for_overdue(&p, &job.sync_id, in_an_hour).await);

    let (mut invocations, mut idle) = (0, 0);
    loop {
        let run = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
        if run.status.is_finished() || invocations >= 100 || idle >= 20 {
            break;
        }
        if invoke_worker(&p.env, INVOCATION).await {
            invocations += 1;
            idle = 0;
        } else {
            idle += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if invocations == 1 {
            // It went on in a new message, and its deadline moved with it.
            assert!(!taken_for_overdue(&p, &job.sync_id, in_an_hour).await);
        }
    }

    let run = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
    assert_eq!(run.status, SyncStatus::Succeeded, "after {invocations} invocations: {run:?}");
    assert!(invocations >= 3, "{invocations} invocations");
    // Each card counted once (a page read again after an invocation that overran on a busy
    // machine counts as unchanged the second time).
    let Counts { created, updated, unchanged, deleted } = run.counts;
    assert_eq!((created + unchanged, updated, deleted), (CARDS, 0, 0), "{:?}", run.counts);
    assert_eq!(run.progress.items, CARDS);
    assert_eq!(support::count_items(&p.env, "ada", &format!("REC#{}#", p.connection)).await, CARDS as usize);
    let connection = p.connection().await;
    assert_eq!(connection.items_total, CARDS);
    assert!(connection.sync_in_flight.is_none());
    let state = p.env.state.store.sync_state(&user(), &p.connection).await.unwrap();
    assert!(state.is_some(), "the next sync starts from where this one ended");
    let (runs, _) = p.env.state.store.list_runs(&user(), &p.connection, 10, None).await.unwrap();
    assert_eq!(runs.len(), 1, "one run, however many invocations");
    // A message still on the queue (one whose invocation overran on a busy machine after it had
    // queued the continuation) is a redelivery of a finished run: dropped, changing nothing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    while invoke_worker(&p.env, INVOCATION).await {}
    let after = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
    assert_eq!((after.status, after.counts), (run.status, run.counts));
    assert!(p.env.take_jobs().await.is_empty(), "no message left behind");
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_sync_whose_api_budget_runs_out_yields_and_goes_on_later_as_the_same_run_until_every_card_is_in() {
    use integrations::providers::Registry;
    use integrations::store::{Bucket, Spend};
    const CARDS: usize = 1200;
    let mut p = Pipeline::start(CARDS).await;
    // 30 pages of 40 against Trello's 100 requests per 10 s, all spent by another worker whose
    // clock is two seconds ahead: nothing comes back for two seconds, however slow this machine.
    let budget = Registry::get().find("trello").unwrap().capabilities().budget;
    let mut bucket = Bucket::new(&user(), &p.connection, budget);
    let now = integrations::store::attrs::now() + chrono::Duration::seconds(2);
    assert!(matches!(p.env.state.store.spend(&mut bucket, budget.capacity, now).await.unwrap(), Spend::Spent { .. }));
    // The connection shows what is left of its budget.
    let shown = integrations::connections::get(&p.env.state_for(Function::Connections), &caller(), &p.connection)
        .await
        .unwrap();
    let shown = serde_json::to_value(shown).unwrap();
    assert_eq!(shown["budget"]["capacity"], 100);
    assert_eq!(shown["budget"]["refillPerSecond"], 10.0);
    assert!(shown["budget"]["available"].as_u64().unwrap() < 10, "{shown}");
    // Never wait for the budget in process: every empty bucket makes the run yield.
    p.env.state.sync.max_budget_pause = Duration::ZERO;
    let job = p.trigger("full").await;
    p.env.state.queue.as_ref().unwrap().send(&job).await.unwrap();

    let (mut invocations, mut idle) = (0, 0);
    loop {
        let run = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
        if run.status.is_finished() || invocations >= 60 || idle >= 60 {
            break;
        }
        if invoke_worker(&p.env, Duration::from_secs(30)).await {
            invocations += 1;
            idle = 0;
            let budget_left = p.env.state.store.bucket_level(&user(), &p.connection).await.unwrap().unwrap();
            assert!(budget_left.tokens >= 0.0, "never overspent: {budget_left:?}");
        } else {
            idle += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let run = p.env.state.store.get_run(&user(), &p.connection, &job.sync_id).await.unwrap();
    assert_eq!(run.status, SyncStatus::Succeeded, "after {invocations} invocations: {run:?}");
    assert!(invocations >= 2, "the run yielded at least once ({invocations} invocations)");
    assert_eq!(run.counts.created, CARDS as u64);
    assert_eq!(run.error, None, "yielding is not a failure");
    assert_eq!(p.record_count().await, CARDS);
    let (runs, _) = p.env.state.store.list_runs(&user(), &p.connection, 10, None).await.unwrap();
    assert_eq!(runs.len(), 1, "one run, however many messages");

    p.env.cleanup().await;
}

#[tokio::test]
async fn a_run_past_its_page_cap_fails_saying_so() {
    let mut p = Pipeline::start(200).await;
    p.env.state.sync.max_pages_per_run = 4;
    let job = p.trigger("full").await;
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Failed)
    );
    let run = p.run(&job).await;
    assert_eq!(run["error"], "Trello kept returning more pages; the sync was stopped after 4 pages.", "{run}");
    assert_eq!(run["progress"]["pages"], 4);
    assert!(p.connection().await.sync_in_flight.is_none());
    p.env.cleanup().await;
}

#[tokio::test]
async fn disconnecting_during_a_sync_ends_it_and_leaves_no_record_run_or_secret_behind() {
    let mut p = Pipeline::start(200).await;
    let proxy = support::Proxy::start(p.fakes.url(), Vec::new()).await;
    p.env.use_provider("trello", format!("{}{}", proxy.url, Provider::Trello.base_path()));
    // The second page of cards waits until the connection is gone.
    proxy.hold(|url| url.contains("/cards?") && url.contains("before="));
    let job = p.trigger("full").await;
    let worker = {
        let (state, job) = (p.env.state_for(Function::SyncWorker), job.clone());
        tokio::spawn(async move { run_job(&state, &job).await })
    };
    proxy.held().await;
    assert_eq!(p.record_count().await, 40, "the first page is in");

    integrations::connections::disconnect(&p.env.state_for(Function::Connections), &caller(), &p.connection)
        .await
        .unwrap();
    proxy.release();
    let outcome = worker.await.unwrap().unwrap();
    assert!(matches!(outcome, JobOutcome::AlreadyFinished | JobOutcome::Finished(SyncStatus::Failed)), "{outcome:?}");

    let left: Vec<String> = support::partition_keys(&p.env, "ada")
        .await
        .into_iter()
        .filter(|sk| sk.starts_with("REC#") || sk.starts_with("SYNC#") || sk.starts_with("CONN#"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(p.env.secret_names().await.is_empty());
    let card_pages = p.fakes.state().requests(Provider::Trello).iter().filter(|r| r.path.ends_with("/cards")).count();
    assert_eq!(card_pages, 2, "the worker asked for no page after the one in hand");
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_page_an_interrupted_worker_left_after_a_disconnect_is_removed_when_its_message_comes_back() {
    let p = Pipeline::start(45).await;
    let job = p.trigger("full").await;
    integrations::connections::disconnect(&p.env.state_for(Function::Connections), &caller(), &p.connection)
        .await
        .unwrap();
    // A worker that wrote a page after the disconnect read the records, and stopped there.
    let record = integrations::sync::Record {
        kind: integrations::sync::RecordKind::Task,
        external_id: "5f00000000000000000000aa".into(),
        title: "Written too late".into(),
        url: None,
        container: None,
        status: None,
        due_at: None,
        updated_at: None,
        data: Default::default(),
    };
    let trello = integrations::domain::IntegrationId::parse("trello").unwrap();
    p.env.state.store.upsert_records(&user(), &p.connection, &trello, &job.sync_id, &[record], true).await.unwrap();

    assert_eq!(run_job(&p.env.state_for(Function::SyncWorker), &job).await.unwrap(), JobOutcome::AlreadyFinished);
    assert_eq!(p.record_count().await, 0);
    p.env.cleanup().await;
}

#[tokio::test]
async fn a_run_whose_provider_hangs_continues_later_and_the_other_runs_of_its_batch_finish() {
    let mut p = Pipeline::start(50).await;
    // Bob's board answers its cards only when the test says so.
    p.fakes.state().add_trello_account("fedcba9876543210", "pipeline-test-token-0002", "bob");
    let slow_board = p.fakes.state().add_trello_board("pipeline-test-token-0002", "Slow");
    p.fakes.state().add_trello_cards(&slow_board, 10);
    let proxy = support::Proxy::start(p.fakes.url(), Vec::new()).await;
    p.env.use_provider("trello", format!("{}{}", proxy.url, Provider::Trello.base_path()));
    proxy.hold(move |url| url.contains(&format!("/boards/{slow_board}/cards")));
    p.env.state.sync.deadline_margin = Duration::from_millis(1500);
    let bob = Caller { user_id: UserId::parse("bob").unwrap(), plan: Plan::Free };
    let request: ConnectRequest = serde_json::from_value(json!({
        "integrationId": "trello",
        "credentials": { "apiKey": "fedcba9876543210", "token": "pipeline-test-token-0002" },
    }))
    .unwrap();
    let bobs = connect(&p.env.state, &bob, request).await.unwrap().into_connection().unwrap().connection_id;
    let quick = p.trigger("full").await;
    let slow = integrations::sync::trigger_sync(&p.env.state, &bob, &bobs, integrations::sync::SyncMode::Full)
        .await
        .unwrap()
        .job();
    p.env.take_jobs().await;

    let queues = p.env.queues.clone().unwrap();
    let mut event = SqsEvent::default();
    for (i, job) in [&slow, &quick].into_iter().enumerate() {
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("m{i}"));
        message.body = Some(serde_json::to_string(job).unwrap());
        message.event_source_arn = Some(queues.queue_arn.clone());
        event.records.push(message);
    }
    let time = Duration::from_secs(5);
    let handled = tokio::time::timeout(
        time,
        sync::handle_sqs_event(
            &p.env.state_for(Function::SyncWorker),
            Some(&queues.dlq_arn),
            event,
            Instant::now() + time,
        ),
    )
    .await
    .expect("the batch is answered before the deadline");
    assert!(handled.batch_item_failures.is_empty(), "both acknowledged");
    assert_eq!(p.run(&quick).await["status"], "succeeded");
    let waiting = p.env.state.store.get_run(&bob.user_id, &bobs, &slow.sync_id).await.unwrap();
    assert_eq!(waiting.status, SyncStatus::Running);
    assert_eq!(p.env.take_jobs().await, vec![slow.clone()], "the slow run goes on in a new message");

    proxy.release();
    assert_eq!(
        run_job(&p.env.state_for(Function::SyncWorker), &slow).await.unwrap(),
        JobOutcome::Finished(SyncStatus::Succeeded)
    );
    assert_eq!(p.env.state.store.list_records(&bob.user_id, &bobs).await.unwrap().len(), 10);
    p.env.cleanup().await;
}

#[tokio::test]
async fn three_failed_syncs_in_a_row_need_attention_with_the_reason_and_a_success_makes_it_ok_again() {
    use integrations::domain::{FAILURES_FOR_ATTENTION, HealthAction, HealthStatus, HookId};
    use integrations::hooks::EventType;
    let mut p = Pipeline::start(3).await;
    p.env.add_hook_queues(3).await;
    let hook = integrations::store::Hook {
        hook_id: HookId::generate(),
        user_id: None,
        target_url: "https://example.com/hook".into(),
        events: vec![EventType::ConnectionHealthChanged],
        created_at: chrono::Utc::now(),
    };
    p.env.state.store.insert_hook(&user(), &hook).await.unwrap();
    let worker = p.env.state_for(Function::SyncWorker);
    p.fakes.state().fail_next(Provider::Trello, "/1/members", Fault::ServerError, 1000);
    for failed in 1..=FAILURES_FOR_ATTENTION {
        let job = p.trigger("incremental").await;
        assert!(matches!(run_job(&worker, &job).await.unwrap(), JobOutcome::Retry(_)));
        assert_eq!(fail_dead_letter(&worker, &job, Some(5)).await.unwrap(), JobOutcome::Finished(SyncStatus::Failed));
        let health = p.connection().await.health.unwrap();
        assert_eq!(p.connection().await.consecutive_failures, failed);
        let expected = if failed < FAILURES_FOR_ATTENTION { HealthStatus::Ok } else { HealthStatus::Attention };
        assert_eq!(health.status, expected, "after {failed} failures: {health:?}");
    }
    let health = p.connection().await.health.unwrap();
    assert_eq!(health.action, HealthAction::Retry);
    assert!(health.reasons[0].starts_with("3 syncs in a row failed: Gave up after 5 attempts: Trello"), "{health:?}");
    // As GET /{id} shows it.
    let api = p.env.state_for(Function::Connections);
    let shown = integrations::connections::get(&api, &caller(), &p.connection).await.unwrap();
    let body = serde_json::to_value(shown).unwrap();
    assert_eq!(body["health"]["status"], "attention", "{body}");
    assert_eq!(body["health"]["action"], "retry", "{body}");

    p.fakes.state().clear_faults();
    let job = p.trigger("incremental").await;
    assert_eq!(run_job(&worker, &job).await.unwrap(), JobOutcome::Finished(SyncStatus::Succeeded));
    let connection = p.connection().await;
    let health = connection.health.unwrap();
    assert_eq!((health.status, connection.consecutive_failures), (HealthStatus::Ok, 0));
    assert!(health.reasons.iter().any(|r| r.starts_with("Data fresh as of")), "{health:?}");

    // Each change of health was audited, once.
    let audit = p.env.state.store.audit_entries(&user(), 20).await.unwrap();
    let changes: Vec<_> =
        audit.iter().filter(|a| a.action == "health_changed").map(|a| a.detail.clone().unwrap()).collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes[0].starts_with("attention → ok: a sync succeeded"), "{changes:?}");
    assert!(changes[1].starts_with("ok → attention: 3 syncs in a row failed"), "{changes:?}");
    // And sent to the hook listening, once each, with the same reasons.
    let sent: Vec<serde_json::Value> =
        p.env.take_hook_deliveries().await.iter().map(|d| serde_json::from_str(&d.body).unwrap()).collect();
    let moves: Vec<_> = sent.iter().map(|b| (b["data"]["from"].clone(), b["data"]["to"].clone())).collect();
    assert_eq!(moves.len(), 2, "{sent:?}");
    assert!(moves.contains(&("ok".into(), "attention".into())) && moves.contains(&("attention".into(), "ok".into())));
    let reasons: Vec<_> = sent.iter().map(|b| b["data"]["reasons"][0].as_str().unwrap().to_owned()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("3 syncs in a row failed")), "{reasons:?}");
    assert!(reasons.contains(&"a sync succeeded".to_owned()), "{reasons:?}");
    p.env.cleanup().await;
}

#[tokio::test]
async fn each_invocation_adds_its_provider_calls_to_the_health_rollup_the_health_report_reads() {
    let p = Pipeline::start(10).await;
    let worker = p.env.state_for(Function::SyncWorker);
    p.fakes.state().fail_next(Provider::Trello, "/1/members", Fault::ServerError, 1);
    let job = p.trigger("incremental").await;
    assert_eq!(run_job(&worker, &job).await.unwrap(), JobOutcome::Finished(SyncStatus::Succeeded));
    let report = provider_status::report(&p.env.state_for(Function::Catalog), chrono::Utc::now()).await.unwrap();
    let trello = &report.providers[0];
    assert_eq!((trello.integration_id.as_str(), trello.runs, trello.failed_runs), ("trello", 1, 0));
    assert_eq!(trello.failed_calls, 1);
    assert!(trello.calls >= 2 && trello.p50_ms.is_some(), "{trello:?}");
    assert_eq!(trello.status, provider_status::Status::Ok, "{trello:?}");

    // Trello failing every call: each invocation adds its failed calls, though the run goes on.
    p.fakes.state().fail_next(Provider::Trello, "/1/members", Fault::ServerError, 100);
    let job = p.trigger("full").await;
    for _ in 0..4 {
        assert!(matches!(run_job(&worker, &job).await.unwrap(), JobOutcome::Retry(_)));
    }
    let report = provider_status::report(&p.env.state_for(Function::Catalog), chrono::Utc::now()).await.unwrap();
    let trello = &report.providers[0];
    assert_eq!((trello.runs, trello.failed_calls), (1, 9), "{trello:?}");
    assert_eq!(trello.status, provider_status::Status::Degraded, "{trello:?}");
    assert!(trello.message.as_deref().unwrap().starts_with("Trello is failing"), "{trello:?}");
    p.env.cleanup().await;
}
