//! Notion API (https://developers.notion.com/reference). Every call names its API version.

use async_trait::async_trait;
use serde::Deserialize;

use super::action::{ActionCall, ActionError, Performed};
use super::{
    ActionSpec, Capabilities, ConnectorError, Param, Provider, RetryPolicy, SyncConnector, VerifyError, bearer,
    read_json, send_with_retry,
};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::sync::{ConnectorConfig, RecordKind};
use crate::vault::Credentials;

mod actions;
mod sync;
pub use sync::NotionConnector;

/// The catalog's credential field of a token connection: an internal integration's secret.
const TOKEN: &str = "token";

pub struct Notion;

/// What automations can do in Notion.
static ACTIONS: [ActionSpec; 1] = [ActionSpec {
    id: "notion.createPage",
    receipt: "Created a page in Notion",
    params: &[
        Param::required("databaseId", "The database the page goes in"),
        Param::required("title", "The page's title"),
        Param::optional("titleProperty", "The database's title property, if not found by its id `title`"),
        Param::optional("content", "A paragraph of text on the page"),
    ],
    scope: None,
    calls: 1,
    minutes_saved: 3,
    premium: false,
}];

static CAPABILITIES: Capabilities = Capabilities {
    auth_modes: &[AuthMode::Oauth2, AuthMode::ApiKey],
    credential_fields: &[TOKEN],
    record_kinds: &[RecordKind::Page],
    sync: &[AuthMode::Oauth2, AuthMode::ApiKey],
    realtime: false,
    actions: &ACTIONS,
};

#[async_trait]
impl Provider for Notion {
    fn id(&self) -> &'static str {
        "notion"
    }

    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    async fn verify(
        &self,
        http: &reqwest::Client,
        base: &str,
        credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        verify(http, base, bearer(credentials, TOKEN)?).await
    }

    fn connector(
        &self,
        config: ConnectorConfig,
        credentials: &Credentials,
    ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
        Ok(Box::new(NotionConnector::new(config, bearer(credentials, TOKEN)?)))
    }

    /// A page made by an answer that was lost is not looked up (see `actions`): the default
    /// `find_performed` says [`Lookup::NotOffered`](super::action::Lookup::NotOffered).
    async fn perform(&self, action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        actions::perform(action, call).await
    }
}

pub(crate) const NOTION_VERSION: &str = "2022-06-28";

#[derive(Deserialize)]
struct Bot {
    #[serde(default)]
    workspace_name: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    bot: Option<Bot>,
}

/// `GET /v1/users/me`: the integration's bot user and its workspace.
pub async fn verify(http: &reqwest::Client, base: &str, token: &str) -> Result<Account, VerifyError> {
    let url = format!("{base}/v1/users/me");
    let response = send_with_retry(&RetryPolicy::default(), || {
        http.get(&url).bearer_auth(token).header("Notion-Version", NOTION_VERSION)
    })
    .await?;
    let user: User = read_json(response, "Notion", "users/me").await?;
    Ok(Account {
        name: user.name.unwrap_or_else(|| "Notion integration".into()),
        workspace: user.bot.and_then(|b| b.workspace_name),
        id: user.id,
    })
}
