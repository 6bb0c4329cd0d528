//! The catalog function through its router, against the emulator.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{Account, ConnectionId, IntegrationId, Plan, SyncSettings, UserId};
use integrations::providers::Registry;
use integrations::store::NewConnection;
use integrations::testing::TestEnv;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn get(env: &TestEnv, path: &str, user: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().uri(path);
    if let Some(user) = user {
        request = request.header("authorization", format!("Bearer {}", env.token(user, Plan::Free)));
    }
    let response =
        catalog::router(env.state_for(Function::Catalog)).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn connect(env: &TestEnv, user: &str, integration: &str, account: &str) {
    env.state
        .store
        .insert_connection(NewConnection {
            user_id: UserId::parse(user).unwrap(),
            connection_id: ConnectionId::generate(),
            integration_id: IntegrationId::parse(integration).unwrap(),
            auth_kind: AuthMode::ApiKey,
            secret_id: "unused".into(),
            credential_hint: "••••".into(),
            account: Account { id: account.into(), name: account.into(), workspace: None },
            display_name: integration.into(),
            settings: SyncSettings::default(),
            plan: integrations::domain::Plan::Free,
            connection_limit: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_catalog_lists_every_provider_and_filters_by_category() {
    let env = TestEnv::new().await;
    let (status, all) = get(&env, "/api/v1/integrations/available", Some("ada")).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = all["integrations"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    let providers: Vec<&str> = Registry::get().providers().iter().map(|p| p.id()).collect();
    assert_eq!(ids, providers);
    assert_eq!(all["syncIntervals"]["choices"], json!([15, 30, 60, 240, 720, 1440]));
    assert_eq!(all["categories"].as_array().unwrap().len(), 6);
    let trello = all["integrations"].as_array().unwrap().iter().find(|i| i["id"] == "trello").unwrap();
    assert_eq!(trello["credentialFields"][1]["name"], "token");
    assert_eq!(trello["credentialFields"][1]["secret"], true);

    let (_, comms) = get(&env, "/api/v1/integrations/available?category=communication", Some("ada")).await;
    let ids: Vec<_> = comms["integrations"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["slack", "microsoft-teams"]);
    env.cleanup().await;
}

#[tokio::test]
async fn an_unknown_category_is_400_listing_the_valid_ones() {
    let env = TestEnv::new().await;
    let (status, problem) = get(&env, "/api/v1/integrations/available?category=crm", Some("ada")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["validCategories"].as_array().unwrap().len(), 6);
    let (status, _) = get(&env, "/api/v1/integrations/available?colour=red", Some("ada")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    env.cleanup().await;
}

#[tokio::test]
async fn one_integration_by_id_or_404() {
    let env = TestEnv::new().await;
    let (status, slack) = get(&env, "/api/v1/integrations/available/slack", Some("ada")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(slack["status"], "available");
    assert_eq!(slack["capabilities"]["sync"], json!(["oauth2", "api_key"]));
    assert_eq!(slack["capabilities"]["recordKinds"], json!(["message"]));
    for internal in ["oauth", "apiBaseUrl", "minutesSavedPerItem"] {
        assert!(slack.get(internal).is_none(), "{internal} is the service's own configuration: {slack}");
    }
    let (_, teams) = get(&env, "/api/v1/integrations/available/microsoft-teams", Some("ada")).await;
    assert_eq!(teams["capabilities"]["sync"], json!(["oauth2"]), "its incoming webhook has nothing to sync");
    let (status, problem) = get(&env, "/api/v1/integrations/available/myspace", Some("ada")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["type"], "/problems/not-found");
    env.cleanup().await;
}

#[tokio::test]
async fn the_catalog_needs_a_signed_in_caller() {
    let env = TestEnv::new().await;
    let (status, _) = get(&env, "/api/v1/integrations/available", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    env.cleanup().await;
}

#[tokio::test]
async fn stats_count_the_callers_connections_by_category() {
    let env = TestEnv::new().await;
    connect(&env, "ada", "trello", "m1").await;
    connect(&env, "ada", "slack", "t1").await;
    connect(&env, "grace", "google-drive", "g1").await;
    let (status, stats) = get(&env, "/api/v1/integrations/stats", Some("ada")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["available"], 8);
    assert_eq!(stats["connected"], 2);
    assert_eq!(stats["connectedByCategory"]["task-management"], 1);
    assert_eq!(stats["connectedByCategory"]["communication"], 1);
    assert_eq!(stats["timeSavedByDay"].as_array().unwrap().len(), 30);
    env.cleanup().await;
}

#[tokio::test]
async fn recommendations_leave_out_what_is_connected_and_put_uncovered_categories_first() {
    let env = TestEnv::new().await;
    connect(&env, "ada", "trello", "m1").await;
    for (user, account) in [("u1", "a"), ("u2", "b"), ("u3", "c")] {
        connect(&env, user, "google-calendar", account).await;
    }
    connect(&env, "u4", "slack", "s").await;
    let (status, body) = get(&env, "/api/v1/integrations/recommendations", Some("ada")).await;
    assert_eq!(status, StatusCode::OK);
    let recs = body["recommendations"].as_array().unwrap();
    let ids: Vec<_> = recs.iter().map(|r| r["integrationId"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"trello"));
    assert_eq!(ids[0], "google-calendar", "{ids:?}");
    assert_eq!(ids[1], "slack", "{ids:?}");
    assert_eq!(recs[0]["reason"], "You have no calendar tool connected yet; 3 managers use it");
    env.cleanup().await;
}
