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

#[tokio::test]
async fn an_idle_grant_is_refreshed_by_the_scheduler_and_a_refused_one_needs_the_user() {
    use integrations::store::IDLE_REFRESH;
    use integrations::sync::{SchedulerReport, keep_grants_alive};
    let app = App::start().await;
    // Signed in, auto-sync off: nothing uses the grant.
    let calendar = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let teams = app.sign_in("ada", json!({ "integrationId": "microsoft-teams" })).await;
    let scheduler = app.env.state_for(Function::SyncScheduler);
    let grants = |p| app.fakes.state().token_requests(p).iter().filter(|r| r.grant_type == "refresh_token").count();
    let pass = |at| {
        let scheduler = &scheduler;
        async move {
            let mut report = SchedulerReport::default();
            for shard in 0..integrations::store::DUE_SHARDS {
                keep_grants_alive(scheduler, shard, at, &mut report).await;
            }
            report
        }
    };

    // Not yet due: nothing is read as due, nothing refreshed.
    let soon = chrono::Utc::now() + IDLE_REFRESH - chrono::Duration::days(1);
    assert_eq!(pass(soon).await.grants_refreshed, 0);
    assert_eq!(grants(OAuthProvider::Google), 0);

    // Google's grant was removed meanwhile; Microsoft's is fine.
    let google = app.tokens("ada", &calendar).await;
    assert!(
        app.fakes.state().revoke_grant(OAuthProvider::Google, google.refresh_token.as_ref().unwrap().expose_secret())
    );
    let due = chrono::Utc::now() + IDLE_REFRESH + chrono::Duration::minutes(1);
    let before = app.tokens("ada", &teams).await;
    let report = pass(due).await;
    assert_eq!((report.grants_refreshed, report.errors), (1, 0), "{report:?}");
    assert_eq!(grants(OAuthProvider::Microsoft), 1);
    assert_ne!(app.tokens("ada", &teams).await.access_token.expose_secret(), before.access_token.expose_secret());
    assert_eq!(shown(&app, calendar.as_str()).await["health"]["status"], "action-needed");
    assert_eq!(shown(&app, teams.as_str()).await["health"]["status"], "ok");

    // Refreshed, Teams is not due again for another while; the refused one has left the index.
    assert_eq!(pass(due).await.grants_refreshed, 0);
    assert_eq!(grants(OAuthProvider::Microsoft), 1);
    assert_eq!(grants(OAuthProvider::Google), 1, "the refused refresh was tried once");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_change_of_health_is_published_to_the_hooks_listening_both_ways() {
    use integrations::auth::Caller;
    use integrations::domain::{HookId, SyncStatus};
    use integrations::hooks::EventType;
    use integrations::store::Hook;
    use integrations::sync::{JobOutcome, SyncMode, run_job, trigger_sync};
    let mut app = App::start().await;
    app.env.add_queues(3).await;
    app.env.add_hook_queues(3).await;
    app.env.state.sync.manual_gap = chrono::Duration::zero();
    let user = UserId::parse("ada").unwrap();
    let id = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let hook = Hook {
        hook_id: HookId::generate(),
        user_id: None,
        target_url: "https://example.com/hook".into(),
        events: vec![EventType::ConnectionHealthChanged],
        created_at: chrono::Utc::now(),
    };
    app.env.state.store.insert_hook(&user, &hook).await.unwrap();
    let caller = Caller { user_id: user.clone(), plan: Plan::Free };
    let sync = async || {
        trigger_sync(&app.env.state_for(Function::SyncApi), &caller, &id, SyncMode::Incremental).await.unwrap();
        let job = app.env.take_jobs().await.remove(0);
        run_job(&app.env.state_for(Function::SyncWorker), &job).await.unwrap()
    };
    assert_eq!(sync().await, JobOutcome::Finished(SyncStatus::Succeeded));
    assert_eq!(app.env.take_hook_deliveries().await, [], "ok stays ok: nothing to say");

    // The user removed the app at Google: the access token stops working, the refresh gets
    // invalid_grant.
    assert!(app.fakes.state().revoke_all_grants(OAuthProvider::Google) > 0);
    assert_eq!(sync().await, JobOutcome::Finished(SyncStatus::Failed));
    let deliveries = app.env.take_hook_deliveries().await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(
        (deliveries[0].hook_id.clone(), deliveries[0].event.as_str()),
        (hook.hook_id.clone(), "connection.health_changed")
    );
    let body: Value = serde_json::from_str(&deliveries[0].body).unwrap();
    assert_eq!(body["type"], "connection.health_changed");
    assert_eq!(body["data"]["connectionId"], id.to_string());
    assert_eq!(body["data"]["integrationId"], "google-calendar");
    assert_eq!((&body["data"]["from"], &body["data"]["to"]), (&json!("ok"), &json!("action-needed")));
    assert!(body["data"]["reasons"][0].as_str().unwrap().contains("no longer accepts"), "{body}");

    // Reconnected: ok again, said once.
    app.sign_in("ada", json!({ "integrationId": "google-calendar", "connectionId": id.to_string() })).await;
    let deliveries = app.env.take_hook_deliveries().await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let body: Value = serde_json::from_str(&deliveries[0].body).unwrap();
    assert_eq!((&body["data"]["from"], &body["data"]["to"]), (&json!("action-needed"), &json!("ok")));
    assert_eq!(body["data"]["reasons"], json!(["reconnected"]));
    assert_eq!(sync().await, JobOutcome::Finished(SyncStatus::Succeeded));
    assert_eq!(app.env.take_hook_deliveries().await, []);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_token_the_provider_will_not_renew_is_warned_of_before_it_expires() {
    let app = App::start().await;
    // Slack without token rotation: an expiry and no refresh token.
    app.fakes.state().set_token_lifetime(OAuthProvider::Slack, std::time::Duration::from_secs(5 * 24 * 3600));
    app.fakes.state().set_refresh_tokens(OAuthProvider::Slack, false);
    let id = app.sign_in("ada", json!({ "integrationId": "slack" })).await;
    assert!(app.tokens("ada", &id).await.refresh_token.is_none(), "the fake gives no refresh token");
    let body = shown(&app, id.as_str()).await;
    assert_eq!(body["health"]["status"], "attention", "{body}");
    assert_eq!(body["health"]["action"], "reconnect", "{body}");
    assert_eq!(body["health"]["reasons"][0], "Slack's token expires in 5 days", "{body}");

    // A reconnect with a token that can be renewed: no warning left.
    app.fakes.state().set_refresh_tokens(OAuthProvider::Slack, true);
    app.sign_in("ada", json!({ "integrationId": "slack", "connectionId": id.to_string() })).await;
    let body = shown(&app, id.as_str()).await;
    assert_eq!(body["health"]["status"], "ok", "{body}");
    app.env.cleanup().await;
}
