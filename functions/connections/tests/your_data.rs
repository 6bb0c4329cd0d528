//! Your data: the export holds everything of the caller and no secret; "delete me" leaves
//! nothing of the caller in the table or in Secrets Manager, and nothing of anyone else goes.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::App;
use fake_providers::{OAuthProvider, Provider};
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::domain::{Plan, UserId};
use integrations::sync::{SyncMode, run_job, trigger_sync};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

async fn call(app: &App, method: Method, path: &str, user: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", app.env.token(user, Plan::Free)));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
    let (status, _, value) = app.send(request.body(body).unwrap()).await;
    (status, value)
}

/// Everything in the table that mentions `needle`, anywhere in any attribute.
async fn table_mentions(app: &App, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pages = app.env.dynamo().scan().table_name(&app.env.table).into_paginator().items().send();
    while let Some(item) = pages.next().await {
        let item = item.unwrap();
        let text = format!("{item:?}");
        if text.contains(needle) {
            found.push(text);
        }
    }
    found
}

async fn connect_trello(app: &App, user: &str) -> String {
    let body = json!({
        "integrationId": "trello",
        "credentials": { "apiKey": fake_providers::demo::TRELLO_KEY, "token": fake_providers::demo::TRELLO_TOKEN },
    });
    let (status, created) = call(app, Method::POST, "/api/v1/integrations/connect", user, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["connectionId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_export_holds_connections_items_runs_and_audit_and_no_secret() {
    let mut app = App::start().await;
    app.env.use_provider("trello", app.fakes.base_url(Provider::Trello));
    app.env.add_queues(3).await;
    let trello = connect_trello(&app, "ada").await;
    let caller = Caller { user_id: UserId::parse("ada").unwrap(), plan: Plan::Free };
    let id = integrations::domain::ConnectionId::parse(&trello).unwrap();
    trigger_sync(&app.env.state_for(Function::SyncApi), &caller, &id, SyncMode::Incremental).await.unwrap();
    let job = app.env.take_jobs().await.remove(0);
    run_job(&app.env.state_for(Function::SyncWorker), &job).await.unwrap();
    let google = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let google_tokens = app.tokens("ada", &google).await;

    let (status, export) = call(&app, Method::GET, "/api/v1/integrations/export", "ada", None).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["connections"].as_array().unwrap().len(), 2, "{export}");
    assert_eq!(export["connections"][0]["health"]["status"], "ok");
    assert!(export["data"]["items"].as_array().unwrap().len() > 1, "synced cards are exported");
    assert_eq!(export["data"]["syncRuns"].as_array().unwrap().len(), 1);
    assert!(export["data"]["audit"].as_array().unwrap().len() >= 2);
    let text = export.to_string();
    for secret in [
        fake_providers::demo::TRELLO_TOKEN,
        google_tokens.access_token.expose_secret(),
        google_tokens.refresh_token.as_ref().unwrap().expose_secret(),
    ] {
        assert!(!text.contains(secret), "a secret is in the export");
    }
    assert!(!text.contains("secretId") && !text.contains("GSI1PK"), "internal attributes are in the export");
    app.env.cleanup().await;
}

#[tokio::test]
async fn delete_me_revokes_and_removes_everything_of_the_caller_and_nothing_of_anyone_else() {
    let mut app = App::start().await;
    app.env.use_provider("trello", app.fakes.base_url(Provider::Trello));
    connect_trello(&app, "ada").await;
    app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    // A sign-in left open, and a settings change in the audit trail.
    app.start_sign_in("ada", json!({ "integrationId": "slack" })).await;
    let grace = connect_trello(&app, "grace").await;
    let revocations_before = app.fakes.state().revocations(OAuthProvider::Google).len();

    let (status, deleted) = call(&app, Method::DELETE, "/api/v1/integrations/me", "ada", None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["connections"], 2, "{deleted}");
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Google).len(), revocations_before + 1, "revoked");

    assert_eq!(table_mentions(&app, "ada").await, Vec::<String>::new(), "the table still holds Ada's data");
    let secrets = app.env.secret_names().await;
    assert!(secrets.iter().all(|s| !s.contains("/ada/")), "{secrets:?}");
    assert!(secrets.iter().any(|s| s.contains("/grace/")), "Grace's secret stays: {secrets:?}");
    let (status, _) = call(&app, Method::GET, &format!("/api/v1/integrations/{grace}"), "grace", None).await;
    assert_eq!(status, StatusCode::OK, "Grace's connection stays");
    let (_, list) = call(&app, Method::GET, "/api/v1/integrations/connected", "ada", None).await;
    assert_eq!(list["connections"], json!([]));

    // Done twice, it finds nothing more to do.
    let (status, again) = call(&app, Method::DELETE, "/api/v1/integrations/me", "ada", None).await;
    assert_eq!((status, &again["connections"]), (StatusCode::OK, &json!(0)), "{again}");
    app.env.cleanup().await;
}
