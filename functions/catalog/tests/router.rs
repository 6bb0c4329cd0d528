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
    get_on(env, path, user, Plan::Free).await
}

async fn get_on(env: &TestEnv, path: &str, user: Option<&str>, plan: Plan) -> (StatusCode, Value) {
    let mut request = Request::builder().uri(path);
    if let Some(user) = user {
        request = request.header("authorization", format!("Bearer {}", env.token(user, plan)));
    }
    let response =
        catalog::router(env.state_for(Function::Catalog)).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn connect(env: &TestEnv, user: &str, integration: &str, account: &str) -> ConnectionId {
    let id = ConnectionId::generate();
    env.state
        .store
        .insert_connection(NewConnection {
            user_id: UserId::parse(user).unwrap(),
            connection_id: id.clone(),
            integration_id: IntegrationId::parse(integration).unwrap(),
            auth_kind: AuthMode::ApiKey,
            secret_id: env.state.vault.secret_name(&UserId::parse(user).unwrap(), &id),
            credential_hint: "••••".into(),
            account: Account { id: account.into(), name: account.into(), workspace: None },
            display_name: integration.into(),
            settings: SyncSettings::default(),
            plan: integrations::domain::Plan::Free,
            connection_limit: None,
        })
        .await
        .unwrap();
    id
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

#[tokio::test]
async fn the_audit_trail_pages_newest_first_and_filters_by_connection_and_action() {
    let env = TestEnv::new().await;
    let trello = connect(&env, "ada", "trello", "a1").await;
    let slack = connect(&env, "ada", "slack", "a2").await;
    connect(&env, "grace", "trello", "g1").await;
    let caller = integrations::auth::Caller { user_id: UserId::parse("ada").unwrap(), plan: Plan::Free };
    let change = integrations::connections::SettingsInput { auto_sync: Some(true), ..Default::default() };
    integrations::connections::configure(&env.state_for(Function::Connections), &caller, &trello, change)
        .await
        .unwrap();

    let (status, page) = get(&env, "/api/v1/integrations/audit?limit=2", Some("ada")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let actions: Vec<_> = page["entries"].as_array().unwrap().iter().map(|e| e["action"].clone()).collect();
    assert_eq!(actions, [json!("settings_changed"), json!("connected")]);
    assert_eq!(page["entries"][1]["connectionId"], slack.as_str());
    let cursor = page["nextCursor"].as_str().expect("a next page");
    let (_, next) = get(&env, &format!("/api/v1/integrations/audit?limit=2&cursor={cursor}"), Some("ada")).await;
    assert_eq!(next["entries"].as_array().unwrap().len(), 1, "{next}");
    assert_eq!(next["entries"][0]["connectionId"], trello.as_str());

    let (_, only) =
        get(&env, &format!("/api/v1/integrations/audit?connectionId={trello}&action=connected"), Some("ada")).await;
    assert_eq!(only["entries"].as_array().unwrap().len(), 1, "{only}");
    assert_eq!(only["entries"][0]["integrationId"], "trello");
    // Grace sees only her own entry; Ada's connection id matches nothing of hers.
    let (_, grace) = get(&env, &format!("/api/v1/integrations/audit?connectionId={trello}"), Some("grace")).await;
    assert_eq!(grace["entries"], json!([]), "{grace}");

    for bad in ["action=deleted", "limit=0", "connectionId=nope", "cursor=%%%", "colour=red"] {
        let (status, problem) = get(&env, &format!("/api/v1/integrations/audit?{bad}"), Some("ada")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
    }
    // Ada's cursor, read as Grace, is not a way into Ada's trail.
    let (_, stolen) = get(&env, &format!("/api/v1/integrations/audit?cursor={cursor}"), Some("grace")).await;
    assert!(stolen["entries"].as_array().unwrap().iter().all(|e| e["connectionId"] != trello.as_str()));
    env.cleanup().await;
}

#[tokio::test]
async fn the_plan_shows_limits_as_data_and_usage_against_them() {
    let env = TestEnv::new().await;
    connect(&env, "ada", "trello", "a1").await;
    connect(&env, "ada", "slack", "a2").await;
    let (status, plan) = get(&env, "/api/v1/integrations/plan", Some("ada")).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["plan"], "free");
    assert_eq!(plan["usage"], json!({ "connections": 2, "automations": 0 }));
    assert_eq!(plan["limits"]["connections"], Plan::FREE_CONNECTION_LIMIT);
    assert_eq!(plan["limits"]["historyDays"], 30);
    assert_eq!(plan["premium"]["historyDays"], 365);
    assert_eq!(plan["premium"]["automations"], Value::Null);

    let (_, premium) = get_on(&env, "/api/v1/integrations/plan", Some("grace"), Plan::Premium).await;
    assert_eq!(premium["plan"], "premium");
    assert_eq!(premium["usage"]["connections"], 0);
    assert_eq!(premium["limits"], premium["premium"]);
    env.cleanup().await;
}

#[tokio::test]
async fn recommendations_say_what_users_of_your_tools_also_connect_from_counters_kept_at_connect() {
    let env = TestEnv::new().await;
    let mut calendars = Vec::new();
    for n in 0..5 {
        let user = format!("user-{n}");
        connect(&env, &user, "trello", &format!("t{n}")).await;
        if n < 3 {
            calendars.push((user.clone(), connect(&env, &user, "google-calendar", &format!("g{n}")).await));
        }
    }
    // A second Trello account of one user is not a second user.
    connect(&env, "user-0", "trello", "t0-second").await;
    connect(&env, "ada", "trello", "ada-t").await;
    let (status, body) = get(&env, "/api/v1/integrations/recommendations", Some("ada")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = &body["recommendations"][0];
    assert_eq!(first["integrationId"], "google-calendar", "{body}");
    assert_eq!(first["reason"], "Most people who use Trello also connect Google Calendar (50%)");
    assert_eq!(first["action"]["body"], json!({ "integrationId": "google-calendar" }));

    // Two of them disconnect their calendar: the share follows.
    for (user, id) in calendars.iter().take(2) {
        let caller = integrations::auth::Caller { user_id: UserId::parse(user).unwrap(), plan: Plan::Free };
        integrations::connections::disconnect(&env.state_for(Function::Connections), &caller, id).await.unwrap();
    }
    let (_, body) = get(&env, "/api/v1/integrations/recommendations", Some("ada")).await;
    let calendar = body["recommendations"].as_array().unwrap().iter().find(|r| r["integrationId"] == "google-calendar");
    assert_eq!(calendar.unwrap()["reason"], "16% of people who use Trello also connect Google Calendar", "{body}");

    // With Trello and Google Calendar connected, blocking focus time is worth switching on.
    connect(&env, "ada", "google-calendar", "ada-g").await;
    let (_, body) = get(&env, "/api/v1/integrations/recommendations", Some("ada")).await;
    let focus = body["automations"].as_array().unwrap().iter().find(|a| a["templateId"] == "block-focus-time");
    assert_eq!(focus.expect("suggested")["action"]["method"], "POST", "{body}");
    env.cleanup().await;
}

#[tokio::test]
async fn provider_health_lists_only_providers_called_in_the_last_hour_and_needs_a_sign_in() {
    let env = TestEnv::new().await;
    let (status, report) = get(&env, "/api/v1/integrations/health", Some("ada")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["providers"], json!([]));
    let mut calls = integrations::metrics::CallStats::default();
    calls.record(false, std::time::Duration::from_millis(120));
    let old = chrono::Utc::now() - chrono::Duration::hours(2);
    env.state.store.record_health("slack", &calls, Some(true), old).await.unwrap();
    env.state.store.record_health("trello", &calls, Some(true), chrono::Utc::now()).await.unwrap();
    let (_, report) = get(&env, "/api/v1/integrations/health", Some("ada")).await;
    assert_eq!(
        report["providers"],
        json!([{"integrationId": "trello", "name": "Trello", "status": "ok", "successRate": 1.0, "p50Ms": 200,
                "calls": 1, "failedCalls": 0, "runs": 1, "failedRuns": 0}])
    );
    let (status, _) = get(&env, "/api/v1/integrations/health", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    env.cleanup().await;
}
