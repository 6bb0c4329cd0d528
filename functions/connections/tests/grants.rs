//! Revoking a grant never breaks another connection: a grant shared by the integrations of a
//! provider family (one Google grant for Calendar and Drive) or by a workspace's users (a Slack
//! bot token) is revoked by the disconnect of its last holder only, and a sign-in that is not
//! stored never revokes a grant that a connection holds. Against the fake providers, which
//! record every revocation.

mod common;

use axum::http::StatusCode;
use common::App;
use fake_providers::{OAuthProvider, OAuthUser};
use integrations::config::Function;
use integrations::domain::{ConnectionId, UserId};
use integrations::oauth::fresh_credentials;
use secrecy::ExposeSecret;
use serde_json::json;

/// The next Google sign-ins are by another Google account.
fn another_google_account(app: &App, id: &str) {
    let user = OAuthUser { id: id.into(), name: format!("User {id}"), email: format!("{id}@example.com") };
    app.fakes.state().set_oauth_user(OAuthProvider::Google, user);
    // No account is attached under this token: the next grant makes one for the new user.
    app.fakes.state().attach_oauth_account(OAuthProvider::Google, "unattached");
}

fn connected_id(location: &str) -> ConnectionId {
    let id = location.split("connected=").nth(1).expect(location).split('&').next().unwrap();
    ConnectionId::parse(id).unwrap()
}

/// The connection's grant still works at the provider: a refresh succeeds.
async fn grant_still_works(app: &App, user: &str, id: &ConnectionId) {
    let connection = app.env.state.store.get_connection(&UserId::parse(user).unwrap(), id).await.unwrap();
    let rejected = app.tokens(user, id).await.access_token.expose_secret().to_owned();
    let fresh = fresh_credentials(&app.env.state_for(Function::SyncWorker), &connection, Some(&rejected)).await;
    assert!(fresh.is_ok(), "{user}'s {id} still refreshes: {:?}", fresh.err());
}

#[tokio::test]
async fn disconnecting_google_drive_keeps_the_google_grant_that_calendar_holds() {
    let app = App::start().await;
    let calendar = connected_id(&app.sign_in_outcome("ada", "google-calendar").await);
    let drive = connected_id(&app.sign_in_outcome("ada", "google-drive").await);

    assert_eq!(app.disconnect("ada", &drive).await, StatusCode::NO_CONTENT);
    assert!(app.fakes.state().revocations(OAuthProvider::Google).is_empty(), "Calendar still holds the grant");
    grant_still_works(&app, "ada", &calendar).await;
    let audit = app.env.state.store.audit_entries(&UserId::parse("ada").unwrap(), 1).await.unwrap();
    assert!(audit[0].detail.as_deref().unwrap_or_default().contains("not revoked"), "{:?}", audit[0]);

    assert_eq!(app.disconnect("ada", &calendar).await, StatusCode::NO_CONTENT);
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Google).len(), 1, "the last holder revokes");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_google_grant_held_by_another_user_of_the_service_is_not_revoked() {
    let app = App::start().await;
    // Two users of the service sign in with one Google account (a shared team account).
    let adas = connected_id(&app.sign_in_outcome("ada", "google-calendar").await);
    let bobs = connected_id(&app.sign_in_outcome("bob", "google-drive").await);
    assert_eq!(app.disconnect("ada", &adas).await, StatusCode::NO_CONTENT);
    assert!(app.fakes.state().revocations(OAuthProvider::Google).is_empty());
    grant_still_works(&app, "bob", &bobs).await;
    assert_eq!(app.disconnect("bob", &bobs).await, StatusCode::NO_CONTENT);
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Google).len(), 1);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_slack_workspace_install_is_revoked_when_its_last_user_disconnects() {
    let app = App::start().await;
    let adas = connected_id(&app.sign_in_outcome("ada", "slack").await);
    let bobs = connected_id(&app.sign_in_outcome("bob", "slack").await);
    assert_eq!(app.disconnect("ada", &adas).await, StatusCode::NO_CONTENT);
    assert!(app.fakes.state().revocations(OAuthProvider::Slack).is_empty(), "Bob's workspace keeps the bot");
    assert_eq!(app.disconnect("bob", &bobs).await, StatusCode::NO_CONTENT);
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Slack).len(), 1);
    app.env.cleanup().await;
}

#[tokio::test]
async fn signing_in_again_to_a_connected_account_keeps_the_working_connection() {
    let app = App::start().await;
    let calendar = connected_id(&app.sign_in_outcome("ada", "google-calendar").await);
    let asana = connected_id(&app.sign_in_outcome("ada", "asana").await);
    for integration in ["google-calendar", "asana"] {
        let location = app.sign_in_outcome("ada", integration).await;
        assert!(location.contains("oauthError=already_connected"), "{location}");
    }
    assert!(app.fakes.state().revocations(OAuthProvider::Google).is_empty());
    assert!(app.fakes.state().revocations(OAuthProvider::Asana).is_empty());
    grant_still_works(&app, "ada", &calendar).await;
    grant_still_works(&app, "ada", &asana).await;
    assert_eq!(app.env.secret_names().await.len(), 2, "the second sign-in's secret is gone");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_sign_in_over_the_plan_limit_revokes_its_grant_only_when_no_connection_holds_it() {
    let app = App::start().await;
    // Ada starts signing in to Google Calendar with two connections, and connects Google Drive
    // (her third, the free plan's last) before she comes back from Calendar's consent.
    for integration in ["microsoft-teams", "asana"] {
        app.sign_in_outcome("ada", integration).await;
    }
    let (url, cookie) = app.start_sign_in("ada", json!({ "integrationId": "google-calendar" })).await;
    app.sign_in_outcome("ada", "google-drive").await;
    let query = app.consent(&url).await;
    let (_, location) = app.callback(&query, Some(&cookie)).await;
    assert!(location.contains("oauthError=plan_limit_reached"), "{location}");
    assert!(app.fakes.state().revocations(OAuthProvider::Google).is_empty(), "Drive holds the grant");

    // Bob's Google account is connected nowhere: the grant he just gave is ended again.
    for integration in ["microsoft-teams", "asana"] {
        app.sign_in_outcome("bob", integration).await;
    }
    let (url, cookie) = app.start_sign_in("bob", json!({ "integrationId": "google-calendar" })).await;
    app.sign_in_outcome("bob", "notion").await;
    another_google_account(&app, "bob-google");
    let query = app.consent(&url).await;
    let (_, location) = app.callback(&query, Some(&cookie)).await;
    assert!(location.contains("oauthError=plan_limit_reached"), "{location}");
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Google).len(), 1);
    assert_eq!(app.env.secret_names().await.len(), 6);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_sign_in_that_cannot_be_stored_revokes_its_grant_only_when_no_connection_holds_it() {
    let app = App::start().await;
    let drive = connected_id(&app.sign_in_outcome("ada", "google-drive").await);
    app.break_connection_counter("ada").await;
    let location = app.sign_in_outcome("ada", "google-calendar").await;
    assert!(location.contains("oauthError=storage_failed"), "{location}");
    assert!(app.fakes.state().revocations(OAuthProvider::Google).is_empty(), "Drive holds the grant");
    grant_still_works(&app, "ada", &drive).await;

    let location = app.sign_in_outcome("ada", "asana").await;
    assert!(location.contains("oauthError=storage_failed"), "{location}");
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Asana).len(), 1, "Asana's grant is its own");
    assert_eq!(app.env.secret_names().await.len(), 1, "only Drive's secret");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_disconnect_whose_secret_is_already_gone_still_lets_go_of_the_grant() {
    let app = App::start().await;
    let calendar = connected_id(&app.sign_in_outcome("ada", "google-calendar").await);
    let drive = connected_id(&app.sign_in_outcome("ada", "google-drive").await);
    // A first DELETE of Drive stopped after removing its secret; the repeat finishes it.
    let user = UserId::parse("ada").unwrap();
    let connection = app.env.state.store.get_connection(&user, &drive).await.unwrap();
    app.env.state.store.mark_disconnecting(&connection).await.unwrap();
    app.env.state.vault.delete(&connection.secret_id).await.unwrap();
    assert_eq!(app.disconnect("ada", &drive).await, StatusCode::NO_CONTENT);
    assert!(app.fakes.state().revocations(OAuthProvider::Google).is_empty());
    // Calendar is now the grant's last holder.
    assert_eq!(app.disconnect("ada", &calendar).await, StatusCode::NO_CONTENT);
    assert_eq!(app.fakes.state().revocations(OAuthProvider::Google).len(), 1);
    app.env.cleanup().await;
}
