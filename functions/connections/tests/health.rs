//! A connection's health as the API shows it: a refused grant needs the user at once, and a
//! reconnect makes it ok again; each change is audited.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::App;
use fake_providers::OAuthProvider;
use integrations::config::Function;
use integrations::domain::{Plan, UserId};
use integrations::oauth::{TokenError, fresh_credentials};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

async fn shown(app: &App, id: &str) -> Value {
    let request = Request::builder()
        .uri(format!("/api/v1/integrations/{id}"))
        .header("authorization", format!("Bearer {}", app.env.token("ada", Plan::Free)))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_refused_grant_is_action_needed_at_once_and_a_reconnect_makes_it_ok_both_audited() {
    let app = App::start().await;
    let id = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let user = UserId::parse("ada").unwrap();
    assert_eq!(shown(&app, id.as_str()).await["health"]["status"], "ok");

    let tokens = app.tokens("ada", &id).await;
    assert!(
        app.fakes.state().revoke_grant(OAuthProvider::Google, tokens.refresh_token.as_ref().unwrap().expose_secret())
    );
    let connection = app.env.state.store.get_connection(&user, &id).await.unwrap();
    let rejected = tokens.access_token.expose_secret().to_owned();
    let result = fresh_credentials(&app.env.state_for(Function::SyncWorker), &connection, Some(&rejected)).await;
    assert!(matches!(result, Err(TokenError::Revoked(_))));

    let body = shown(&app, id.as_str()).await;
    assert_eq!(body["health"]["status"], "action-needed", "{body}");
    assert_eq!(body["health"]["action"], "reconnect", "{body}");
    let today = chrono::Utc::now().format("%-d %b").to_string();
    assert_eq!(body["health"]["reasons"][0], format!("Reconnect: Google Calendar refused the token on {today}"));
    // The list says the same.
    let request = Request::builder()
        .uri("/api/v1/integrations/connected")
        .header("authorization", format!("Bearer {}", app.env.token("ada", Plan::Free)))
        .body(Body::empty())
        .unwrap();
    let (_, _, list) = app.send(request).await;
    assert_eq!(list["connections"][0]["health"]["status"], "action-needed", "{list}");

    app.sign_in("ada", json!({ "integrationId": "google-calendar", "connectionId": id.to_string() })).await;
    let body = shown(&app, id.as_str()).await;
    assert_eq!(body["health"]["status"], "ok", "{body}");
    assert_eq!(body["health"]["action"], "none", "{body}");

    let audit = app.env.state.store.audit_entries(&user, 10).await.unwrap();
    let actions: Vec<_> = audit.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["connected", "health_changed", "health_changed", "reconnected"]);
    assert!(audit[2].detail.as_deref().unwrap().starts_with("ok → action-needed: Google Calendar no longer accepts"));
    assert_eq!(audit[1].detail.as_deref(), Some("action-needed → ok: reconnected"));
    app.env.cleanup().await;
}
