//! OAuth connections through the connections router, against a fake authorization server per
//! provider family and the emulator: consent with PKCE and a one-time state, the callback,
//! refresh without races, rotation, revoked grants, re-consent and revocation on disconnect.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{App, REDIRECT, client, query_param};
use fake_providers::{OAuthProvider, Provider};
use integrations::config::Function;
use integrations::domain::{ConnectionId, ConnectionStatus, Plan, UserId};
use integrations::oauth::{OAuthClients, TokenError, fresh_credentials};
use integrations::vault::Credentials;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

#[tokio::test]
async fn google_calendar_connects_through_consent_with_pkce_and_keeps_the_tokens_in_the_vault() {
    let app = App::start().await;
    let (url, cookie) = app.start_sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    assert_eq!(query_param(&url, "client_id").as_deref(), Some(OAuthProvider::Google.client_id()));
    assert_eq!(query_param(&url, "redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(query_param(&url, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query_param(&url, "access_type").as_deref(), Some("offline"));
    assert_eq!(query_param(&url, "prompt").as_deref(), Some("consent"));
    assert!(query_param(&url, "scope").unwrap().contains("calendar.readonly"));
    assert!(query_param(&url, "state").unwrap().len() >= 16);
    assert!(cookie.starts_with("doo_oauth_"));

    let query = app.consent(&url).await;
    let (status, location) = app.callback(&query, Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/integrations?connected="), "{location}");
    assert!(location.ends_with("&integration=google-calendar"));

    let connections = app.connections("ada").await;
    assert_eq!(connections.len(), 1);
    let c = &connections[0];
    assert_eq!(c.auth_kind, integrations::catalog::AuthMode::Oauth2);
    assert_eq!(c.account.name, app.fakes.state().oauth_user(OAuthProvider::Google).email);
    let tokens = app.tokens("ada", &c.connection_id).await;
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.expires_at.is_some());
    assert!(tokens.scopes.iter().any(|s| s.contains("calendar.readonly")), "{:?}", tokens.scopes);
    app.env.cleanup().await;
}

#[tokio::test]
async fn every_provider_family_signs_in_and_names_the_account() {
    let app = App::start().await;
    for (i, integration) in ["microsoft-teams", "slack", "asana", "notion", "google-drive"].iter().enumerate() {
        let user = format!("user-{i}");
        let id = app.sign_in(&user, json!({ "integrationId": integration, "returnUrl": "/integrations" })).await;
        let c = app.env.state.store.get_connection(&UserId::parse(&user).unwrap(), &id).await.unwrap();
        assert_eq!(c.integration_id.as_str(), *integration);
        assert!(!c.account.id.is_empty() && !c.account.name.is_empty(), "{integration}: {:?}", c.account);
        assert_eq!(c.status, ConnectionStatus::Active);
    }
    // Slack asks for its scopes comma-separated.
    let (url, _) = app.start_sign_in("slacker", json!({ "integrationId": "slack" })).await;
    assert!(query_param(&url, "scope").unwrap().contains("channels:read,channels:history"));
    app.env.cleanup().await;
}

#[tokio::test]
async fn an_unknown_tampered_reused_or_expired_state_is_refused_and_nothing_is_stored() {
    let app = App::start().await;
    let (url, cookie) = app.start_sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let query = app.consent(&url).await;
    let state = query_param(&format!("http://x/{query}"), "state").unwrap();
    let code = query_param(&format!("http://x/{query}"), "code").unwrap();

    let tampered = format!("?code={code}&state={}x", state);
    assert_eq!(app.callback(&tampered, Some(&cookie)).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.callback(&format!("?code={code}"), Some(&cookie)).await.0, StatusCode::BAD_REQUEST);

    assert_eq!(app.callback(&query, Some(&cookie)).await.0, StatusCode::SEE_OTHER);
    let (status, body) = app.callback(&query, Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a state is good once");
    assert!(body.contains("already used"), "{body}");
    assert_eq!(app.connections("ada").await.len(), 1);

    // Expired: the state item outlived its ten minutes.
    let (url, cookie) = app.start_sign_in("grace", json!({ "integrationId": "google-calendar" })).await;
    let state = query_param(&url, "state").unwrap();
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    app.env
        .dynamo()
        .update_item()
        .table_name(&app.env.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("OAUTH#{state}")))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("OAUTH".into()))
        .update_expression("SET validUntil = :past")
        .expression_attribute_values(":past", aws_sdk_dynamodb::types::AttributeValue::S(past))
        .send()
        .await
        .unwrap();
    let query = app.consent(&url).await;
    let (status, body) = app.callback(&query, Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("ten minutes"), "{body}");
    assert!(app.connections("grace").await.is_empty());
    assert!(app.env.secret_names().await.len() == 1, "only ada's secret");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_sign_in_completed_in_another_browser_is_refused() {
    let app = App::start().await;
    // Mallory starts a flow and sends the link to Ada, whose browser lacks Mallory's cookie.
    let (url, _mallorys_cookie) = app.start_sign_in("mallory", json!({ "integrationId": "google-calendar" })).await;
    let (_, adas_cookie) = app.start_sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let query = app.consent(&url).await;
    let (status, body) = app.callback(&query, Some(&adas_cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("another browser"), "{body}");
    let (status, _) = app.callback(&query, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(app.connections("mallory").await.is_empty());
    assert!(app.connections("ada").await.is_empty());
    assert!(app.env.secret_names().await.is_empty());
    app.env.cleanup().await;
}

#[tokio::test]
async fn declining_consent_comes_back_as_declined_and_stores_nothing() {
    let app = App::start().await;
    app.fakes.state().deny_next_consent(OAuthProvider::Google);
    let (url, cookie) = app.start_sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let query = app.consent(&url).await;
    let (status, location) = app.callback(&query, Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/integrations?oauthError=access_denied&integration=google-calendar");
    assert!(app.connections("ada").await.is_empty());
    assert!(app.env.secret_names().await.is_empty());
    app.env.cleanup().await;
}

#[tokio::test]
async fn an_integration_without_a_configured_client_says_so_and_return_urls_stay_on_site() {
    let mut app = App::start().await;
    app.env.state.oauth = OAuthClients::default();
    let token = app.env.token("ada", Plan::Free);
    let request = |body: Value| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/integrations/connect")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, _, body) = app.send(request(json!({ "integrationId": "google-drive" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["type"], "/problems/oauth-not-configured");
    app.env.state.oauth =
        OAuthClients::default().with_client("google-drive", client(&app.fakes, OAuthProvider::Google));
    let (status, _, body) =
        app.send(request(json!({ "integrationId": "google-drive", "returnUrl": "https://evil.example/" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    app.env.cleanup().await;
}

#[tokio::test]
async fn twenty_concurrent_refreshes_make_exactly_one_token_request() {
    let app = App::start().await;
    let id = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let user = UserId::parse("ada").unwrap();
    let connection = app.env.state.store.get_connection(&user, &id).await.unwrap();
    // The access token is about to expire.
    let mut tokens = app.tokens("ada", &id).await;
    let old_access = tokens.access_token.expose_secret().to_owned();
    tokens.expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(30));
    app.env.state.vault.put(&connection.secret_id, &Credentials::OAuth(tokens)).await.unwrap();
    let before = app.fakes.state().token_requests(OAuthProvider::Google).len();

    let worker = app.env.state_for(Function::SyncWorker);
    let refreshes = (0..20).map(|_| fresh_credentials(&worker, &connection, None));
    let results = futures::future::join_all(refreshes).await;
    let access: Vec<String> = results.into_iter().map(|r| r.unwrap().access_token().unwrap().to_owned()).collect();
    let grants: Vec<_> = app.fakes.state().token_requests(OAuthProvider::Google)[before..].to_vec();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].grant_type, "refresh_token");
    assert!(access.iter().all(|a| *a == access[0] && *a != old_access), "everyone got the one new token");
    let fresh = app.tokens("ada", &id).await;
    assert!(fresh.expires_at.unwrap() > chrono::Utc::now() + chrono::Duration::minutes(10));
    assert!(fresh.refresh_token.is_some(), "Google's refresh answer has no refresh token: the old one is kept");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_rotated_refresh_token_is_stored_with_its_access_token() {
    let app = App::start().await;
    let id = app.sign_in("ada", json!({ "integrationId": "microsoft-teams" })).await;
    let connection = app.env.state.store.get_connection(&UserId::parse("ada").unwrap(), &id).await.unwrap();
    let before = app.tokens("ada", &id).await;
    let old_refresh = before.refresh_token.as_ref().unwrap().expose_secret().to_owned();
    let rejected = before.access_token.expose_secret().to_owned();
    let fresh =
        fresh_credentials(&app.env.state_for(Function::SyncWorker), &connection, Some(&rejected)).await.unwrap();
    let after = app.tokens("ada", &id).await;
    assert_eq!(fresh.access_token(), Some(after.access_token.expose_secret()));
    assert_ne!(after.refresh_token.as_ref().unwrap().expose_secret(), old_refresh, "rotated");
    // The old refresh token no longer works at the provider: only the stored pair is usable.
    assert!(!app.fakes.state().revoke_grant(OAuthProvider::Microsoft, &old_refresh));
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_revoked_grant_asks_for_reconnection_and_re_consent_keeps_the_connection() {
    let app = App::start().await;
    let id = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let user = UserId::parse("ada").unwrap();
    let connection = app.env.state.store.get_connection(&user, &id).await.unwrap();
    let tokens = app.tokens("ada", &id).await;
    assert!(
        app.fakes.state().revoke_grant(OAuthProvider::Google, tokens.refresh_token.as_ref().unwrap().expose_secret())
    );

    let rejected = tokens.access_token.expose_secret().to_owned();
    let result = fresh_credentials(&app.env.state_for(Function::SyncWorker), &connection, Some(&rejected)).await;
    assert!(matches!(result, Err(TokenError::Revoked(_))), "{:?}", result.err());
    let c = app.env.state.store.get_connection(&user, &id).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::NeedsReauth);
    assert!(c.status_reason.unwrap().contains("Reconnect"));

    let again = app.sign_in("ada", json!({ "integrationId": "google-calendar", "connectionId": id.to_string() })).await;
    assert_eq!(again, id, "the same connection, with its history");
    let c = app.env.state.store.get_connection(&user, &id).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::Active);
    assert_eq!(app.connections("ada").await.len(), 1);
    assert_ne!(app.tokens("ada", &id).await.access_token.expose_secret(), rejected);
    app.env.cleanup().await;
}

#[tokio::test]
async fn disconnect_revokes_at_the_provider_and_deletes_the_secret() {
    let app = App::start().await;
    let id = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let request = Request::builder()
        .method(Method::DELETE)
        .uri(format!("/api/v1/integrations/{id}"))
        .header("authorization", format!("Bearer {}", app.env.token("ada", Plan::Free)))
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = app.send(request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Google).len(), 1);
    assert!(app.env.secret_names().await.is_empty());
    let audit = app.env.state.store.audit_entries(&UserId::parse("ada").unwrap(), 5).await.unwrap();
    assert_eq!(audit[0].action, "disconnected");
    assert_eq!(audit[0].detail.as_deref(), Some("access revoked at the provider"));

    // A provider that fails to revoke does not block the disconnect; the audit says so.
    let id = app.sign_in("ada", json!({ "integrationId": "slack" })).await;
    app.fakes.state().fail_next(Provider::Slack, "/auth.revoke", fake_providers::Fault::ServerError, 10);
    let request = Request::builder()
        .method(Method::DELETE)
        .uri(format!("/api/v1/integrations/{id}"))
        .header("authorization", format!("Bearer {}", app.env.token("ada", Plan::Free)))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.0, StatusCode::NO_CONTENT);
    let audit = app.env.state.store.audit_entries(&UserId::parse("ada").unwrap(), 5).await.unwrap();
    assert!(audit[0].detail.as_deref().unwrap().starts_with("revocation at the provider failed"), "{:?}", audit[0]);
    assert!(app.env.secret_names().await.is_empty());
    app.env.cleanup().await;
}

/// Signs in and runs the first sync through the queue's job and the worker's engine.
async fn first_sync(app: &App, user: &str, integration: &str) -> (ConnectionId, integrations::domain::SyncRun) {
    let id = app.sign_in(user, json!({ "integrationId": integration })).await;
    let caller = integrations::auth::Caller { user_id: UserId::parse(user).unwrap(), plan: Plan::Free };
    let run = integrations::sync::trigger_sync(&app.env.state_for(Function::SyncApi), &caller, &id, Default::default())
        .await
        .unwrap();
    let job = app.env.take_jobs().await.pop().expect("a queued job");
    assert_eq!(job.sync_id, run.sync_id);
    integrations::sync::run_job(&app.env.state_for(Function::SyncWorker), &job).await.unwrap();
    let run = app.env.state.store.get_run(&caller.user_id, &id, &run.sync_id).await.unwrap();
    (id, run)
}

#[tokio::test]
async fn every_provider_family_goes_from_sign_in_to_a_first_sync_with_data() {
    let mut app = App::start().await;
    app.env.add_queues(3).await;
    for (i, integration) in
        ["google-calendar", "google-drive", "microsoft-teams", "slack", "asana", "notion"].iter().enumerate()
    {
        let (_, run) = first_sync(&app, &format!("family-{i}"), integration).await;
        assert_eq!(run.status, integrations::domain::SyncStatus::Succeeded, "{integration}: {:?}", run.error);
        assert!(run.counts.created > 0, "{integration} brought records in: {:?}", run.counts);
        assert!(run.minutes_saved > 0.0);
    }
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_token_that_expires_mid_sync_is_refreshed_and_the_sync_completes() {
    let mut app = App::start().await;
    app.env.add_queues(3).await;
    app.env.state.sync.page_size = 5;
    let id = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let caller = integrations::auth::Caller { user_id: UserId::parse("ada").unwrap(), plan: Plan::Free };
    let run = integrations::sync::trigger_sync(&app.env.state_for(Function::SyncApi), &caller, &id, Default::default())
        .await
        .unwrap();
    let job = app.env.take_jobs().await.pop().unwrap();
    // Slow the pages down, and revoke the access token at the provider once two are in.
    app.fakes.state().fail_next(
        Provider::GoogleCalendar,
        "/calendars",
        fake_providers::Fault::Timeout { millis: 120 },
        30,
    );
    let before = app.fakes.state().token_requests(OAuthProvider::Google).len();
    let state = app.env.state_for(Function::SyncWorker);
    let worker = tokio::spawn(async move { integrations::sync::run_job(&state, &job).await });
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        let current = app.env.state.store.get_run(&caller.user_id, &id, &run.sync_id).await.unwrap();
        if current.progress.pages >= 2 {
            break;
        }
    }
    assert!(app.fakes.state().expire_access_tokens(OAuthProvider::Google) > 0);
    let outcome = worker.await.unwrap().unwrap();
    assert_eq!(outcome, integrations::sync::JobOutcome::Finished(integrations::domain::SyncStatus::Succeeded));
    let refreshes = app.fakes.state().token_requests(OAuthProvider::Google)[before..]
        .iter()
        .filter(|r| r.grant_type == "refresh_token")
        .count();
    assert_eq!(refreshes, 1);
    let done = app.env.state.store.get_run(&caller.user_id, &id, &run.sync_id).await.unwrap();
    let events = app.env.state.store.list_records(&caller.user_id, &id).await.unwrap().len() as u64;
    assert_eq!(done.counts.created, events);
    assert!(events >= 30, "every current event of the demo calendar: {events}");
    app.env.cleanup().await;
}

/// Ada's Slack connection, whose grant the provider has revoked, with a refresh of it on its way
/// to a slow token endpoint; and a good token set (Bob's) to store meanwhile.
async fn a_refresh_on_its_way_to_refusal(
    app: &App,
) -> (
    integrations::domain::Connection,
    integrations::vault::TokenSet,
    tokio::task::JoinHandle<Result<Credentials, TokenError>>,
) {
    let id = app.sign_in("ada", json!({ "integrationId": "slack" })).await;
    let bobs = app.sign_in("bob", json!({ "integrationId": "slack" })).await;
    let connection = app.env.state.store.get_connection(&UserId::parse("ada").unwrap(), &id).await.unwrap();
    let old = app.tokens("ada", &id).await;
    let good = app.tokens("bob", &bobs).await;
    assert!(app.fakes.state().revoke_grant(OAuthProvider::Slack, old.refresh_token.as_ref().unwrap().expose_secret()));
    app.fakes.state().fail_next(Provider::Slack, "/oauth.v2.access", fake_providers::Fault::Timeout { millis: 600 }, 1);
    let (state, c, rejected) = (app.env.state.clone(), connection.clone(), old.access_token.expose_secret().to_owned());
    let refresh = tokio::spawn(async move { fresh_credentials(&state, &c, Some(&rejected)).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    (connection, good, refresh)
}

#[tokio::test]
async fn a_refused_refresh_does_not_ask_for_reconnection_when_new_tokens_were_stored_meanwhile() {
    let app = App::start().await;
    let (connection, good, refresh) = a_refresh_on_its_way_to_refusal(&app).await;
    // Ada re-consents while the refresh with her old token is on its way.
    app.env.state.vault.put(&connection.secret_id, &Credentials::OAuth(good.clone())).await.unwrap();
    let result = refresh.await.unwrap();
    assert_eq!(result.unwrap().access_token(), Some(good.access_token.expose_secret()));
    let c = app.env.state.store.get_connection(&connection.user_id, &connection.connection_id).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::Active);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_refresher_whose_lease_expired_does_not_decide_for_the_next_holder() {
    let app = App::start().await;
    let (connection, _, refresh) = a_refresh_on_its_way_to_refusal(&app).await;
    // The first refresher's lease runs out (as if it took longer than the lease), and another
    // takes it.
    app.env
        .dynamo()
        .update_item()
        .table_name(&app.env.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", connection.user_id)))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONN#{}", connection.connection_id)))
        .update_expression("SET refreshLeaseUntil = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::S("2000-01-01T00:00:00.000Z".into()),
        )
        .send()
        .await
        .unwrap();
    let store = &app.env.state.store;
    let lease = chrono::Duration::seconds(20);
    assert!(store.acquire_refresh_lease(&connection.user_id, &connection.connection_id, "next", lease).await.unwrap());
    let result = refresh.await.unwrap();
    assert!(matches!(result, Err(TokenError::Unavailable(_))), "{:?}", result.err());
    let c = store.get_connection(&connection.user_id, &connection.connection_id).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::Active, "the lease's holder decides");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_connection_being_disconnected_cannot_be_re_consented() {
    let app = App::start().await;
    let id = app.sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let (url, cookie) =
        app.start_sign_in("ada", json!({ "integrationId": "google-calendar", "connectionId": id.to_string() })).await;
    let connection = app.env.state.store.get_connection(&UserId::parse("ada").unwrap(), &id).await.unwrap();
    app.env.state.store.mark_disconnecting(&connection).await.unwrap();
    // A re-consent started before the disconnect does not bring the connection back...
    let query = app.consent(&url).await;
    let (status, location) = app.callback(&query, Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("oauthError=connection_gone"), "{location}");
    // ...and none starts during it.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/integrations/connect")
        .header("authorization", format!("Bearer {}", app.env.token("ada", Plan::Free)))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "integrationId": "google-calendar", "connectionId": id.to_string() }).to_string()))
        .unwrap();
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["type"], "/problems/disconnecting");
    let c = app.env.state.store.get_connection(&UserId::parse("ada").unwrap(), &id).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::Disconnecting);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_callback_without_the_flows_cookie_does_not_use_up_the_state() {
    let app = App::start().await;
    let (url, cookie) = app.start_sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    let query = app.consent(&url).await;
    // Someone else's browser (no cookie, or another flow's) arrives first with Ada's link...
    let (_, mallorys_cookie) = app.start_sign_in("mallory", json!({ "integrationId": "google-calendar" })).await;
    assert_eq!(app.callback(&query, None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.callback(&query, Some(&mallorys_cookie)).await.0, StatusCode::BAD_REQUEST);
    // ...and Ada's own browser still completes her sign-in.
    let (status, location) = app.callback(&query, Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("connected="), "{location}");
    app.env.cleanup().await;
}

#[tokio::test]
async fn at_most_ten_sign_ins_are_open_at_once_and_the_eleventh_says_when_to_retry() {
    let app = App::start().await;
    let start = |user: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/integrations/connect")
            .header("authorization", format!("Bearer {}", app.env.token(user, Plan::Free)))
            .header("content-type", "application/json")
            .body(Body::from(json!({ "integrationId": "google-calendar" }).to_string()))
            .unwrap()
    };
    let mut flows = Vec::new();
    for _ in 0..10 {
        flows.push(app.start_sign_in("ada", json!({ "integrationId": "google-calendar" })).await);
    }
    let (status, headers, body) = app.send(start("ada")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["type"], "/problems/too-many-sign-ins");
    assert_eq!(headers[axum::http::header::CONTENT_TYPE], "application/problem+json");
    let retry: u64 = headers[axum::http::header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "the oldest expires within ten minutes: {retry}");
    // Another user is not affected, nor are expired sign-ins counted; a completed one frees
    // its place.
    for i in 0..10 {
        use aws_sdk_dynamodb::types::AttributeValue;
        app.env
            .dynamo()
            .put_item()
            .table_name(&app.env.table)
            .item("PK", AttributeValue::S("USER#grace".into()))
            .item("SK", AttributeValue::S(format!("STATE#2026-01-01T00:00:00.000Z#expired{i}")))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(app.send(start("grace")).await.0, StatusCode::OK);
    let (url, cookie) = flows.pop().unwrap();
    let query = app.consent(&url).await;
    assert_eq!(app.callback(&query, Some(&cookie)).await.0, StatusCode::SEE_OTHER);
    assert_eq!(app.send(start("ada")).await.0, StatusCode::OK);
    app.env.cleanup().await;
}
