//! The connectors: one per provider with a sync API, chosen by integration id.
//!
//! A connector turns a cursor into a page of records and the next cursor. Cursors are JSON
//! values owned by each connector (the engine stores them as they are), so a run can resume
//! where it stopped, and the last page's `state` lets the next run be incremental.

use serde_json::Value;

use super::record::{Page, SyncMode};
use crate::providers::google::{calendar::CalendarConnector, drive::DriveConnector};
use crate::providers::microsoft::teams::TeamsConnector;
use crate::providers::{ProviderError, asana, notion, slack, trello};
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

/// Whether a connection of this integration, made this way, has data to sync. (A Teams or
/// Zapier webhook only receives posts.)
pub fn can_sync(integration: &str, auth: crate::catalog::AuthMode) -> bool {
    use crate::catalog::AuthMode;
    matches!(
        (integration, auth),
        ("trello" | "slack" | "asana" | "notion", AuthMode::ApiKey)
            | ("google-calendar" | "google-drive" | "microsoft-teams" | "slack" | "asana" | "notion", AuthMode::Oauth2)
    )
}

pub enum Connector {
    Trello(trello::TrelloConnector),
    Slack(slack::SlackConnector),
    Asana(asana::AsanaConnector),
    Notion(notion::NotionConnector),
    GoogleCalendar(CalendarConnector),
    GoogleDrive(DriveConnector),
    MicrosoftTeams(TeamsConnector),
}

impl Connector {
    /// The connector of an integration, with its credentials; `None` when the integration
    /// has nothing to sync (webhook-only integrations).
    pub fn for_integration(integration: &str, config: ConnectorConfig, credentials: &Credentials) -> Option<Self> {
        let field = |name: &str| credentials.field(name).map(str::to_owned);
        let bearer = || credentials.bearer_token().map(str::to_owned);
        Some(match integration {
            "trello" => Connector::Trello(trello::TrelloConnector::new(config, &field("apiKey")?, &field("token")?)),
            "slack" => Connector::Slack(slack::SlackConnector::new(config, &bearer()?)),
            "asana" => Connector::Asana(asana::AsanaConnector::new(config, &bearer()?)),
            "notion" => Connector::Notion(notion::NotionConnector::new(config, &bearer()?)),
            "google-calendar" => Connector::GoogleCalendar(CalendarConnector::new(config, &bearer()?)),
            "google-drive" => Connector::GoogleDrive(DriveConnector::new(config, &bearer()?)),
            // Only an OAuth connection has a token; a webhook connection has nothing to sync.
            "microsoft-teams" => Connector::MicrosoftTeams(TeamsConnector::new(config, &bearer()?)),
            _ => return None,
        })
    }

    /// The first cursor of a run: from the saved state in incremental mode, from scratch in full mode.
    pub fn start(&self, state: Option<&Value>, mode: SyncMode) -> Value {
        let state = match mode {
            SyncMode::Incremental => state,
            SyncMode::Full => None,
        };
        match self {
            Connector::Trello(c) => c.start(state),
            Connector::Slack(c) => c.start(state),
            Connector::Asana(c) => c.start(state),
            Connector::Notion(c) => c.start(state),
            Connector::GoogleCalendar(c) => c.start(state),
            Connector::GoogleDrive(c) => c.start(state),
            Connector::MicrosoftTeams(c) => c.start(state),
        }
    }

    pub async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        match self {
            Connector::Trello(c) => c.fetch_page(cursor).await,
            Connector::Slack(c) => c.fetch_page(cursor).await,
            Connector::Asana(c) => c.fetch_page(cursor).await,
            Connector::Notion(c) => c.fetch_page(cursor).await,
            Connector::GoogleCalendar(c) => c.fetch_page(cursor).await,
            Connector::GoogleDrive(c) => c.fetch_page(cursor).await,
            Connector::MicrosoftTeams(c) => c.fetch_page(cursor).await,
        }
    }
}
