//! Per-user caps on the sync API, against the emulator: a connection runs at most four full
//! syncs a UTC day.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Duration, Timelike, Utc};
use http_body_util::BodyExt;
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{Account, ConnectionId, IntegrationId, Plan, SyncSettings, UserId};
use integrations::store::{ConnectOutcome, NewConnection, RunOutcome};
use integrations::testing::TestEnv;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn add_connection(env: &TestEnv, user: &str) -> ConnectionId {
    let outcome = env
        .state
        .store
        .insert_connection(NewConnection {
            user_id: UserId::parse(user).unwrap(),
            connection_id: ConnectionId::generate(),
            integration_id: IntegrationId::parse("trello").unwrap(),
            auth_kind: AuthMode::ApiKey,
            secret_id: "unused".into(),
            credential_hint: "••••".into(),
            account: Account { id: format!("member-{}", ulid::Ulid::new()), name: "Member".into(), workspace: None },
            display_name: "Trello".into(),
            settings: SyncSettings { auto_sync: false, sync_interval_minutes: 60 },
            plan: integrations::domain::Plan::Free,
            connection_limit: None,
        })
        .await
        .unwrap();
    match outcome {
        ConnectOutcome::Created(c) => c.connection_id,
        other => panic!("{other:?}"),
    }
}

/// `POST /{connectionId}/sync` with `mode`: the status, the Retry-After header and the body.
async fn start_sync(env: &TestEnv, id: &ConnectionId, mode: &str) -> (StatusCode, Option<u64>, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/integrations/{id}/sync"))
        .header("authorization", format!("Bearer {}", env.token("ada", Plan::Free)))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "mode": mode }).to_string()))
        .unwrap();
    let response = sync::router(env.state_for(Function::SyncApi)).oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().parse().unwrap());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Ends the connection's queued run, as the worker would, so that another can be queued.
async fn finish_queued(env: &TestEnv, id: &ConnectionId) {
    let user = UserId::parse("ada").unwrap();
    let (runs, _) = env.state.store.list_runs(&user, id, 1, None).await.unwrap();
    let outcome = RunOutcome::failed("ended by the test", Default::default(), false);
    assert!(env.state.store.finish_run(&runs[0], &outcome).await.unwrap());
    env.take_jobs().await;
}

#[tokio::test]
async fn the_fifth_full_sync_of_a_connection_in_a_day_is_a_429_until_the_next_utc_day() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    env.state.sync.manual_gap = Duration::zero();
    let id = add_connection(&env, "ada").await;
    let other = add_connection(&env, "ada").await;

    // A full sync refused for another reason (one is in flight) does not count.
    let (status, _, body) = start_sync(&env, &id, "incremental").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _, body) = start_sync(&env, &id, "full").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    finish_queued(&env, &id).await;

    for n in 1..=4 {
        let (status, _, body) = start_sync(&env, &id, "full").await;
        assert_eq!(status, StatusCode::ACCEPTED, "full sync {n}: {body}");
        finish_queued(&env, &id).await;
    }
    let (status, retry_after, body) = start_sync(&env, &id, "full").await;
    let now = Utc::now();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["type"], "/problems/full-sync-limit-reached");
    let to_midnight = 86_400 - u64::from(now.num_seconds_from_midnight());
    let retry_after = retry_after.expect("a Retry-After header");
    assert!(retry_after.abs_diff(to_midnight) <= 5, "{retry_after} s, midnight is in {to_midnight} s");
    assert_eq!(body["retryAfterSeconds"], retry_after);

    // Incremental syncs go on, and the cap is per connection.
    let (status, _, body) = start_sync(&env, &id, "incremental").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _, body) = start_sync(&env, &other, "full").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    env.cleanup().await;
}
