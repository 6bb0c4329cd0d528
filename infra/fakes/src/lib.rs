//! Local fakes of the Trello, Slack, Asana, Notion, Google Calendar/Drive and Microsoft Graph
//! (Teams) HTTP APIs, and of the OAuth 2.0 authorization servers of Google, Microsoft, Slack,
//! Asana and Notion.
//!
//! One axum server answers, under a per-provider base path, in the shapes the providers
//! document, so clients can be pointed at it through their base-URL configuration:
//!
//! | provider | base URL on the fake            | real base URL                  |
//! |----------|---------------------------------|--------------------------------|
//! | Trello   | `{url}/trello`                  | `https://api.trello.com`       |
//! | Slack    | `{url}/slack/api`               | `https://slack.com/api`        |
//! | Asana    | `{url}/asana/api/1.0`           | `https://app.asana.com/api/1.0`|
//! | Notion   | `{url}/notion`                  | `https://api.notion.com`       |
//! | Google Calendar | `{url}/google/calendar/v3` | `https://www.googleapis.com/calendar/v3` |
//! | Google Drive    | `{url}/google/drive/v3`    | `https://www.googleapis.com/drive/v3`    |
//! | Google userinfo | `{url}/google/oauth2/v3`   | `https://www.googleapis.com/oauth2/v3`   |
//! | Microsoft Graph | `{url}/graph/v1.0`         | `https://graph.microsoft.com/v1.0`       |
//!
//! The OAuth servers are at [`FakeProviders::oauth_url`] (`{url}/oauth/{provider}`): `GET
//! /authorize` (consents at once, PKCE S256 required), `POST /token`, `POST /revoke`; their access
//! tokens work on the provider's data API above. Steer them with [`FakeState::deny_next_consent`],
//! [`FakeState::set_token_lifetime`], [`FakeState::expire_access_tokens`], … and inspect them with
//! [`FakeState::token_requests`] and [`FakeState::revocations`].
//!
//! Seed and inspect data through [`FakeState`]; inject failures with [`FakeState::fail_next`].
//! A separately running server is steered through `/_fake/…` (see the README of this crate's
//! binary, `fake-providers --help`).
//!
//! ```no_run
//! # async fn demo() {
//! use fake_providers::{FakeProviders, Provider, demo};
//! let fake = FakeProviders::start().await;
//! fake.state().seed_demo();
//! let slack_base = fake.base_url(Provider::Slack); // http://127.0.0.1:PORT/slack/api
//! # let _ = (slack_base, demo::SLACK_TOKEN);
//! # }
//! ```

// Handlers return `Result<Response, Response>` so `?` can short-circuit with the provider's
// error answer; the size of `Response` does not matter for a test fake.
#![allow(clippy::result_large_err)]

mod asana;
mod callbacks;
pub mod demo;
mod google;
mod graph;
mod hooks;
mod http;
mod notion;
mod oauth;
mod slack;
mod state;
mod trello;
mod util;

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use asana::{AsanaProject, AsanaTask, AsanaUser, AsanaWorkspace};
pub use demo::DemoSeed;
pub use google::{
    CalendarEvent, DriveFile, DriveUser, EventAttendee, EventStatus, EventTime, GoogleChannel, GoogleWatched,
};
pub use graph::{GraphSubscription, TeamsChannel, TeamsMention, TeamsMessage, TeamsTeam};
pub use hooks::SignedDelivery;
pub use notion::{NotionItem, NotionKind, NotionParent};
pub use oauth::{OAuthProvider, OAuthUser, TokenRequest};
pub use slack::{SlackChannel, SlackMessage};
pub use state::{FakeState, Fault, Provider, RecordedRequest};
pub use trello::{
    TrelloBoard, TrelloCard, TrelloLabel, TrelloList, TrelloMember, TrelloWebhook, trello_webhook_signature,
};

/// A running fake server. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeProviders {
    addr: SocketAddr,
    state: FakeState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeProviders {
    /// Binds `127.0.0.1:0` and serves an empty [`FakeState`] on the current tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound (use [`FakeProviders::start_on`] to handle that).
    pub async fn start() -> FakeProviders {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        match FakeProviders::start_on(addr).await {
            Ok(fake) => fake,
            Err(e) => panic!("fake-providers: cannot bind {addr}: {e}"),
        }
    }

    /// Binds `addr` and serves an empty [`FakeState`] on the current tokio runtime.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<FakeProviders> {
        FakeProviders::start_with(addr, FakeState::new()).await
    }

    /// Binds `addr` and serves `state` (which may already be seeded).
    pub async fn start_with(addr: SocketAddr, state: FakeState) -> std::io::Result<FakeProviders> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        state.set_base_url(format!("http://{addr}"));
        let app = http::router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "fake-providers server stopped");
            }
        });
        Ok(FakeProviders { addr, state, shutdown: Some(tx), task: Some(task) })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The provider's base URL on this server, e.g. `http://127.0.0.1:PORT/trello`.
    pub fn base_url(&self, provider: Provider) -> String {
        format!("{}{}", self.url(), provider.base_path())
    }

    /// The OAuth authorization server's base URL, e.g. `http://127.0.0.1:PORT/oauth/google`
    /// (endpoints `/authorize`, `/token`, `/revoke`).
    pub fn oauth_url(&self, provider: OAuthProvider) -> String {
        format!("{}{}", self.url(), provider.base_path())
    }

    /// Shared handle to seed and inspect the data.
    pub fn state(&self) -> &FakeState {
        &self.state
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
