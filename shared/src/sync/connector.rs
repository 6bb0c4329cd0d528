//! The connector of a connection: its provider's [`SyncConnector`], built from its credentials.
//!
//! A connector turns a cursor into a page of records and the next cursor. Cursors are JSON
//! values owned by each connector (the engine stores them as they are), so a run can resume
//! where it stopped, and the last page's `state` lets the next run be incremental.

use serde_json::Value;

use super::record::{Page, SyncMode};
use crate::catalog::Integration;
use crate::providers::{ConnectorError, ProviderError, SyncConnector};
use crate::vault::Credentials;

/// How a connector talks to its provider.
#[derive(Clone)]
pub struct ConnectorConfig {
    pub http: reqwest::Client,
    /// The provider's API base URL (catalog or override), without a trailing slash.
    pub base_url: String,
    /// Items asked for per provider request (each provider caps it at its own maximum).
    pub page_size: u32,
    pub retry: crate::providers::RetryPolicy,
}

pub struct Connector(Box<dyn SyncConnector>);

impl Connector {
    pub fn new(connector: impl SyncConnector + 'static) -> Self {
        Self(Box::new(connector))
    }

    /// The connector of an integration's provider, with a connection's credentials.
    pub fn for_integration(
        integration: &Integration,
        config: ConnectorConfig,
        credentials: &Credentials,
    ) -> Result<Self, ConnectorError> {
        integration.provider().connector(config, credentials).map(Self)
    }

    /// The first cursor of a run: from the saved state in incremental mode, from scratch in full mode.
    pub fn start(&self, state: Option<&Value>, mode: SyncMode) -> Value {
        let state = match mode {
            SyncMode::Incremental => state,
            SyncMode::Full => None,
        };
        self.0.start(state)
    }

    pub async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        self.0.fetch_page(cursor).await
    }
}
