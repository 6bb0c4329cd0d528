//! Asana REST API (https://developers.asana.com/reference). Answers are wrapped in `data`.

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::action::{ActionCall, ActionError, Lookup, Performed};
use super::{
    ActionSpec, Capabilities, ConnectorError, Param, Provider, ProviderError, RetryPolicy, Revocation, RevokeError,
    SyncConnector, VerifyError, bearer, read_json, send_with_retry,
};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::oauth::OAuthClient;
use crate::sync::{ConnectorConfig, RecordKind};
use crate::vault::{Credentials, TokenSet};

mod actions;
mod sync;
pub use sync::AsanaConnector;

/// The catalog's credential field of a token connection: a personal access token.
const TOKEN: &str = "token";

pub struct Asana;

/// What automations can do in Asana.
static ACTIONS: [ActionSpec; 1] = [ActionSpec {
    id: "asana.createTask",
    receipt: "Created a task in Asana",
    params: &[
        Param::required("projectId", "The project the task goes in (its gid)"),
        Param::required("name", "The task's name"),
        Param::optional("dueOn", "Due date, YYYY-MM-DD"),
        Param::optional("dueAt", "Due date and time, RFC 3339 (instead of dueOn)"),
        Param::optional("notes", "The task's notes"),
        Param::optional("assignee", "Who it is assigned to: `me`, a user's gid or email"),
    ],
    scope: Some("tasks:write"),
    calls: 1,
    minutes_saved: 3,
    premium: false,
}];

static CAPABILITIES: Capabilities = Capabilities {
    auth_modes: &[AuthMode::Oauth2, AuthMode::ApiKey],
    credential_fields: &[TOKEN],
    record_kinds: &[RecordKind::Task],
    sync: &[AuthMode::Oauth2, AuthMode::ApiKey],
    realtime: false,
    actions: &ACTIONS,
};

#[async_trait]
impl Provider for Asana {
    fn id(&self) -> &'static str {
        "asana"
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

    /// The client authenticates the revocation of the refresh token.
    async fn revoke(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        tokens: &TokenSet,
    ) -> Result<Revocation, RevokeError> {
        let Some(url) = &client.revoke_url else { return Ok(Revocation::NotOffered) };
        let token = tokens.refresh_token.as_ref().unwrap_or(&tokens.access_token);
        let form = [
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.expose_secret()),
            ("token", token.expose_secret()),
        ];
        let response = http.post(url).form(&form).send().await.map_err(RevokeError::transport)?;
        match response.status() {
            status if status.is_success() => Ok(Revocation::Revoked),
            status => Err(RevokeError::Status(status)),
        }
    }

    fn connector(
        &self,
        config: ConnectorConfig,
        credentials: &Credentials,
    ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
        Ok(Box::new(AsanaConnector::new(config, bearer(credentials, TOKEN)?)))
    }

    async fn perform(&self, action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        actions::perform(action, call).await
    }

    async fn find_performed(
        &self,
        action: &'static ActionSpec,
        call: &ActionCall<'_>,
    ) -> Result<Lookup, ProviderError> {
        actions::find_performed(action, call).await
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Me {
    gid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    workspaces: Vec<Named>,
}

/// `GET /users/me`.
pub async fn verify(http: &reqwest::Client, base: &str, token: &str) -> Result<Account, VerifyError> {
    let url = format!("{base}/users/me");
    let response = send_with_retry(&RetryPolicy::default(), || {
        http.get(&url).bearer_auth(token).query(&[("opt_fields", "gid,name,workspaces.name")])
    })
    .await?;
    let me: Envelope<Me> = read_json(response, "Asana", "users/me").await?;
    let workspaces: Vec<String> = me.data.workspaces.into_iter().filter_map(|w| w.name).collect();
    Ok(Account {
        name: me.data.name.unwrap_or_else(|| me.data.gid.clone()),
        id: me.data.gid,
        workspace: (!workspaces.is_empty()).then(|| workspaces.join(", ")),
    })
}
