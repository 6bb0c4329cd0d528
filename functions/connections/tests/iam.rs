//! The connections function allowed only what template.yaml grants it (see
//! `TestEnv::state_for`): a connection that has synced disconnects, and the emulator enforces
//! the functions' policies at all.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use fake_providers::{FakeProviders, Provider};
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::domain::{ConnectionId, Plan, SyncStatus, UserId};
use integrations::sync::{JobOutcome, SyncMode, run_job, trigger_sync};
use integrations::testing::{TestEnv, function_config, iam_enforced};
use serde_json::json;
use tower::ServiceExt;

async fn call(env: &TestEnv, method: Method, path: &str, body: Option<serde_json::Value>) -> (StatusCode, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", env.token("ada", Plan::Free)));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
    let router = connections::router(env.state_for(Function::Connections));
    let response = router.oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// #9.1: the disconnect deletes the synced records with BatchWriteItem, which
/// ConnectionsFunction's policy must grant.
#[tokio::test]
async fn a_connection_that_has_synced_disconnects_and_leaves_nothing() {
    let fakes = FakeProviders::start().await;
    fakes.state().seed_demo();
    let mut env = TestEnv::new().await;
    env.use_provider("trello", fakes.base_url(Provider::Trello));
    env.add_queues(3).await;
    let credentials =
        json!({ "apiKey": fake_providers::demo::TRELLO_KEY, "token": fake_providers::demo::TRELLO_TOKEN });
    let connect = json!({ "integrationId": "trello", "credentials": credentials });
    let (status, created) = call(&env, Method::POST, "/api/v1/integrations/connect", Some(connect)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let id = ConnectionId::parse(created["connectionId"].as_str().unwrap()).unwrap();

    let user = UserId::parse("ada").unwrap();
    let caller = Caller { user_id: user.clone(), plan: Plan::Free };
    trigger_sync(&env.state_for(Function::SyncApi), &caller, &id, SyncMode::Full).await.expect("a sync is queued");
    let jobs = env.take_jobs().await;
    let outcome = run_job(&env.state_for(Function::SyncWorker), &jobs[0]).await.expect("the sync runs");
    assert_eq!(outcome, JobOutcome::Finished(SyncStatus::Succeeded));
    assert!(!env.state.store.list_records(&user, &id).await.unwrap().is_empty(), "the sync stored records");

    let (status, body) = call(&env, Method::DELETE, &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(env.state.store.list_connections(&user).await.unwrap().is_empty(), "not left `disconnecting`");
    assert!(env.state.store.list_records(&user, &id).await.unwrap().is_empty(), "its records are deleted");
    assert!(env.secret_names().await.is_empty(), "its secret is deleted");
    // Reconnecting the same account is possible again: its guard went with it.
    let connect = json!({ "integrationId": "trello", "credentials": credentials });
    let (status, body) = call(&env, Method::POST, "/api/v1/integrations/connect", Some(connect)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    drop(fakes);
    env.cleanup().await;
}

/// `make test` runs the emulator with IAM on: a request a function's role is not granted is
/// refused by the emulator itself, not only by the harness's check of the template.
#[tokio::test]
async fn the_emulator_refuses_what_a_functions_role_is_not_granted() {
    assert!(
        iam_enforced(),
        "the emulator does not enforce the functions' IAM policies: run `make test`, or by hand \
         `EMULATOR_IAM=1 start_emulator; enable_emulator_iam` (infra/local/scripts/env.sh)"
    );
    let env = TestEnv::new().await;
    // The raw client of the catalog's role (no harness check): it may read the table, not write.
    let catalog = aws_sdk_dynamodb::Client::new(&function_config(&env.aws, Function::Catalog));
    let key = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.into());
    let get = catalog.get_item().table_name(&env.table).key("PK", key("x")).key("SK", key("y")).send().await;
    assert!(get.is_ok(), "{get:?}");
    let put = catalog.put_item().table_name(&env.table).item("PK", key("x")).item("SK", key("y")).send().await;
    let err = put.expect_err("the catalog may not write");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "{err:?}");
    env.cleanup().await;
}
