//! What the webhooks tests share: their user, a signed-in connection stored as the OAuth callback
//! stores one, a Trello account and board in the fakes with the emulator set up for them, and a
//! router served on a loopback port.
#![allow(dead_code)] // each test file uses some of these

use fake_providers::{FakeProviders, Provider, demo};
use integrations::catalog::AuthMode;
use integrations::config::WebhookKeys;
use integrations::domain::{Account, ConnectionId, IntegrationId, Plan, SyncSettings, UserId};
use integrations::store::{ConnectOutcome, NewConnection};
use integrations::testing::TestEnv;
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;

pub fn user() -> UserId {
    UserId::parse("ada").unwrap()
}

/// A connection signed in with `access_token` (as the OAuth callback stores it, without
/// subscribing it); its id.
pub async fn signed_in(env: &TestEnv, integration: &str, access_token: &str, settings: SyncSettings) -> ConnectionId {
    let tokens = TokenSet {
        access_token: SecretString::from(access_token),
        refresh_token: None,
        expires_at: None,
        scopes: Vec::new(),
    };
    let connection_id = ConnectionId::generate();
    let secret_id = env.state.vault.create(&user(), &connection_id, &Credentials::OAuth(tokens)).await.unwrap();
    let new = NewConnection {
        user_id: user(),
        connection_id: connection_id.clone(),
        integration_id: IntegrationId::parse(integration).unwrap(),
        auth_kind: AuthMode::Oauth2,
        secret_id,
        credential_hint: "Signed in".into(),
        account: Account { id: "ada".into(), name: "ada@example.com".into(), workspace: None },
        display_name: integration.into(),
        settings,
        connection_limit: None,
        plan: Plan::Free,
    };
    let ConnectOutcome::Created(_) = env.state.store.insert_connection(new).await.unwrap() else { panic!() };
    connection_id
}

/// The fakes with a Trello account (the demo key and token) and one board, and the emulator
/// with sync queues, Trello pointed at the fake and its webhooks called back at `base_url`.
pub async fn trello(base_url: String) -> (FakeProviders, TestEnv, String) {
    let fakes = FakeProviders::start().await;
    fakes.state().add_trello_account(demo::TRELLO_KEY, demo::TRELLO_TOKEN, "ada");
    let board = fakes.state().add_trello_board(demo::TRELLO_TOKEN, "Operations");
    let mut env = TestEnv::new().await;
    env.use_provider("trello", fakes.base_url(Provider::Trello));
    env.add_queues(3).await;
    env.state.webhooks = WebhookKeys {
        slack_signing_secret: None,
        trello_app_secret: Some(SecretString::from(demo::TRELLO_APP_SECRET)),
        base_url: Some(base_url),
    };
    (fakes, env, board)
}

/// A loopback port to serve on, and its base URL.
pub async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// Serves `app` on a loopback port; its base URL.
pub async fn serve(app: axum::Router) -> String {
    let (listener, base) = listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}
