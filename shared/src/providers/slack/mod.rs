//! Slack Web API (https://api.slack.com/web). Errors come as HTTP 200 with `ok: false`.

use super::action::{ActionCall, ActionError, Performed};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{
    ActionSpec, Capabilities, ConnectorError, Failure, GrantScope, Param, Provider, ProviderError, RetryPolicy,
    Revocation, RevokeError, Subscribed, SubscriptionCall, SyncConnector, VerifyError, bearer, send_with_retry,
};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::oauth::OAuthClient;
use crate::sync::{ConnectorConfig, RecordKind};
use crate::vault::{Credentials, TokenSet};

mod actions;
mod sync;
pub use sync::SlackConnector;

/// The catalog's credential field of a token connection: a bot token.
const TOKEN: &str = "token";

pub struct Slack;

/// What automations can do in Slack.
static ACTIONS: [ActionSpec; 2] = [
    ActionSpec {
        id: "slack.postMessage",
        receipt: "Posted a message in Slack",
        params: &[Param::required("channel", "Channel id or #name"), Param::required("text", "The message")],
        scope: Some("chat:write"),
        calls: 1,
        minutes_saved: 2,
        premium: false,
    },
    ActionSpec {
        id: "slack.postAgenda",
        receipt: "Posted your day's agenda in Slack",
        params: &[
            Param::required("channel", "Channel id or #name"),
            Param::optional("intro", "A line before the agenda"),
        ],
        scope: Some("chat:write"),
        calls: 1,
        minutes_saved: 10,
        premium: false,
    },
];

static CAPABILITIES: Capabilities = Capabilities {
    auth_modes: &[AuthMode::Oauth2, AuthMode::ApiKey],
    credential_fields: &[TOKEN],
    record_kinds: &[RecordKind::Message],
    sync: &[AuthMode::Oauth2, AuthMode::ApiKey],
    realtime: true,
    actions: &ACTIONS,
    write_scopes: &[super::WriteScope { scope: "chat:write", allows: "post messages in Slack" }],
    // Limits are per method per workspace per app. The sync pages through conversations.history
    // (Tier 3: 50+ a minute), which binds before chat.postMessage (about 1 a second per channel,
    // "Special" tier): https://api.slack.com/apis/rate-limits. (Apps distributed outside the
    // Marketplace get 1 conversations.history call a minute since 2025; this app is not one.)
    budget: super::Budget::per(50, 60),
};

#[async_trait]
impl Provider for Slack {
    fn id(&self) -> &'static str {
        "slack"
    }

    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    /// A bot token belongs to the workspace's install of the app, not to one user.
    fn grant_scope(&self) -> GrantScope {
        GrantScope::Workspace
    }

    /// The workspace is the team of the account id (`{team_id}:{user_id}`).
    fn shared_grant(&self, account: &Account) -> Option<String> {
        let team = account.id.split_once(':').map_or(account.id.as_str(), |(team, _)| team);
        Some(format!("slack#{team}"))
    }

    async fn verify(
        &self,
        http: &reqwest::Client,
        base: &str,
        credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        verify(http, base, bearer(credentials, TOKEN)?).await
    }

    /// `auth.revoke`, a Web API method called with the token itself; errors come as `ok: false`.
    async fn revoke(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        tokens: &TokenSet,
    ) -> Result<Revocation, RevokeError> {
        let Some(url) = &client.revoke_url else { return Ok(Revocation::NotOffered) };
        let response = http
            .post(url)
            .bearer_auth(tokens.access_token.expose_secret())
            .send()
            .await
            .map_err(RevokeError::transport)?;
        if !response.status().is_success() {
            return Err(RevokeError::Status(response.status()));
        }
        let body: SlackAnswer = response.json().await.map_err(RevokeError::transport)?;
        if !body.ok {
            return Err(RevokeError::Refused(body.error.unwrap_or_else(|| "unknown_error".into())));
        }
        Ok(Revocation::Revoked)
    }

    /// Nothing to make: the app's event subscription sends every workspace's events; the
    /// workspace (team) id leads to the connection.
    async fn subscribe(&self, call: &SubscriptionCall<'_>) -> Result<Option<Subscribed>, ProviderError> {
        Ok(call.account.workspace.clone().map(|team| Subscribed {
            key: team,
            remote_id: None,
            expires_on: None,
            uses_secret: false,
        }))
    }

    fn connector(
        &self,
        config: ConnectorConfig,
        credentials: &Credentials,
    ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
        Ok(Box::new(SlackConnector::new(config, bearer(credentials, TOKEN)?)))
    }

    async fn perform(&self, action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        actions::perform(action, call).await
    }
}

#[derive(Deserialize)]
struct SlackAnswer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

/// Slack's error codes that mean the token itself is no good.
pub(crate) fn is_auth_error(code: &str) -> bool {
    matches!(
        code,
        "not_authed"
            | "invalid_auth"
            | "account_inactive"
            | "token_revoked"
            | "token_expired"
            | "no_permission"
            | "missing_scope"
            | "org_login_required"
            | "ekm_access_denied"
    )
}

#[derive(Deserialize)]
struct AuthTest {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

/// `POST auth.test`: checks the token and names its team and user.
pub async fn verify(http: &reqwest::Client, base: &str, token: &str) -> Result<Account, VerifyError> {
    let url = format!("{base}/auth.test");
    let response = send_with_retry(&RetryPolicy::default(), || http.post(&url).bearer_auth(token)).await?;
    let body: AuthTest = super::read_json(response, "Slack", "auth.test").await?;
    if !body.ok {
        let code = body.error.unwrap_or_else(|| "unknown_error".into());
        return Err(if is_auth_error(&code) {
            VerifyError::Rejected(Failure::code(code, "Slack refused the token").to_string())
        } else {
            ProviderError::Unexpected(Failure::code(code, "Slack answered with an error")).into()
        });
    }
    let team_id = body.team_id.unwrap_or_default();
    let user_id = body.user_id.unwrap_or_default();
    Ok(Account { id: format!("{team_id}:{user_id}"), name: body.user.unwrap_or(user_id), workspace: body.team })
}
