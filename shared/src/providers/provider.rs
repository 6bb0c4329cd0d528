//! What a provider is to the rest of the service: the capabilities it declares and the code
//! behind each. Every provider folder implements [`Provider`] once; the registry lists them.

use async_trait::async_trait;
use serde_json::Value;

use super::action::{ActionCall, ActionError, Lookup, Performed, WriteScope};
use super::{ActionSpec, Budget, ProviderError, VerifyError};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::oauth::OAuthClient;
use crate::sync::{ConnectorConfig, Page, RecordKind};
use crate::vault::{Credentials, TokenSet};

/// What a provider can do, as code. `catalog.json` declares the same for clients; the registry
/// refuses to start when the two disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub auth_modes: &'static [AuthMode],
    /// The fields of its token connect form, as the catalog names them.
    pub credential_fields: &'static [&'static str],
    pub record_kinds: &'static [RecordKind],
    /// The auth modes whose connections have data to sync (an incoming webhook has none).
    pub sync: &'static [AuthMode],
    /// Whether the provider notifies us of changes (webhooks, push channels).
    pub realtime: bool,
    /// The write actions it offers to automations.
    pub actions: &'static [ActionSpec],
    /// What the OAuth scopes its actions need allow, as the consent prompt says it.
    pub write_scopes: &'static [WriteScope],
    /// Its published request limit: every connection's API budget (syncs and actions).
    pub budget: Budget,
}

impl Capabilities {
    pub fn syncs_with(&self, mode: AuthMode) -> bool {
        self.sync.contains(&mode)
    }

    /// What granting `scope` allows ("create events in Google Calendar").
    pub fn allows(&self, scope: &str) -> Option<&'static str> {
        self.write_scopes.iter().find(|w| w.scope == scope).map(|w| w.allows)
    }
}

/// Who else a provider's OAuth grant belongs to, which decides whether revoking it on one
/// disconnect is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantScope {
    /// The grant serves this connection alone.
    Connection,
    /// One grant per account serves every integration of the provider family (Google Calendar
    /// and Google Drive sign in with one Google client): revoking it ends all of them.
    Family,
    /// The token belongs to the provider workspace's install (a Slack bot token), shared by every
    /// user of that workspace.
    Workspace,
}

/// Whether a revocation happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    /// The provider offers no revocation endpoint: the grant ends when it expires or the user
    /// removes the app.
    NotOffered,
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("the revocation request did not reach the provider")]
    Transport(#[source] reqwest::Error),
    #[error("the provider answered HTTP {0} to the revocation")]
    Status(reqwest::StatusCode),
    #[error("the provider refused the revocation ({0})")]
    Refused(String),
}

impl RevokeError {
    /// A request that failed on the way (its URL left out: it may carry a token).
    pub fn transport(e: reqwest::Error) -> Self {
        RevokeError::Transport(e.without_url())
    }
}

/// Why a connection's stored credential cannot drive a connector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The provider, or this way of connecting to it, has nothing to sync.
    #[error("this connection has nothing to sync")]
    NothingToSync,
    /// The stored credential lacks a field the connector needs (a broken or old secret).
    #[error("the stored credential has no `{0}` field")]
    MissingField(&'static str),
}

/// What a provider needs to subscribe to a connection's changes (or to renew or stop that).
pub struct SubscriptionCall<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub credentials: &'a Credentials,
    pub account: &'a Account,
    /// Where notifications go: `{WEBHOOK_BASE_URL}/api/v1/integrations/webhooks/{provider}`.
    pub callback_url: &'a str,
    /// A fresh id for the subscription, for providers that let us name it (Google's channel
    /// id, the `s` of a Trello callback URL).
    pub key: &'a str,
    /// A fresh random secret the provider sends back with each notification (Google's channel
    /// token, Graph's clientState).
    pub secret: &'a str,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A subscription the provider made (or renewed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The id its notifications carry back (see `store::Subscription::key`).
    pub key: String,
    /// The provider's id of it, to renew or stop it.
    pub remote_id: Option<String>,
    /// When the provider ends it (`None`: it lasts until stopped).
    pub expires_on: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether it has a secret of its own (`SubscriptionCall::secret`) that notifications carry.
    pub uses_secret: bool,
}

/// Pages through one provider's data. A cursor is a JSON value the connector owns; the engine
/// stores it as it is, so a run resumes where it stopped.
#[async_trait]
pub trait SyncConnector: Send + Sync {
    /// The first cursor of a run, from the last run's saved state (`None`: from scratch).
    fn start(&self, state: Option<&Value>) -> Value;
    /// One provider request: the page at `cursor`, with the cursor that follows.
    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError>;
}

/// One provider. Methods a provider has no use for keep their defaults; the capabilities say
/// which ones it does use, and the registry's test checks that they agree with the catalog.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The catalog id (`trello`, `google-calendar`, …).
    fn id(&self) -> &'static str;

    fn capabilities(&self) -> &'static Capabilities;

    /// Providers whose integrations share one OAuth client name it here (`GOOGLE`), so that
    /// `GOOGLE_CLIENT_ID` serves them all.
    fn oauth_client_family(&self) -> Option<&'static str> {
        None
    }

    fn grant_scope(&self) -> GrantScope {
        GrantScope::Connection
    }

    /// Extra authorize-URL parameters when a connection is asked for one more scope
    /// (incremental consent): Google's `include_granted_scopes=true`. Providers that keep what
    /// was granted before by themselves need none.
    fn incremental_consent(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The grant a connection to `account` holds when other connections may hold it too
    /// (`None`: the grant is the connection's own): the family's account, or the workspace.
    fn shared_grant(&self, account: &Account) -> Option<String> {
        match self.grant_scope() {
            GrantScope::Connection => None,
            GrantScope::Family => Some(format!("{}#{}", self.oauth_client_family().unwrap_or(self.id()), account.id)),
            GrantScope::Workspace => {
                Some(format!("{}#{}", self.id(), account.workspace.as_deref().unwrap_or(&account.id)))
            }
        }
    }

    /// Checks a token-connect credential at the provider and says whose account it is.
    async fn verify(
        &self,
        _http: &reqwest::Client,
        _base: &str,
        _credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        Err(VerifyError::Unsupported(self.id()))
    }

    /// Whose account an OAuth grant is for. By default the same check a token connect uses.
    async fn oauth_account(
        &self,
        http: &reqwest::Client,
        base: &str,
        _client: &OAuthClient,
        credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        self.verify(http, base, credentials).await
    }

    /// Ends an OAuth grant at the provider, where it offers that.
    async fn revoke(
        &self,
        _http: &reqwest::Client,
        _client: &OAuthClient,
        _tokens: &TokenSet,
    ) -> Result<Revocation, RevokeError> {
        Ok(Revocation::NotOffered)
    }

    /// Performs one of its declared actions, sending the write once.
    async fn perform(&self, action: &'static ActionSpec, _call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        Err(ActionError::Unsupported(action.id))
    }

    /// Looks for what an earlier attempt of the same action made, by the call's marker, before
    /// a write whose outcome was lost is sent again.
    async fn find_performed(
        &self,
        _action: &'static ActionSpec,
        _call: &ActionCall<'_>,
    ) -> Result<Lookup, ProviderError> {
        Ok(Lookup::NotOffered)
    }

    /// Subscribes to the connection's changes where the provider notifies (`None`: it does not,
    /// for this connection).
    async fn subscribe(&self, _call: &SubscriptionCall<'_>) -> Result<Option<Subscribed>, ProviderError> {
        Ok(None)
    }

    /// Extends a subscription before it expires. By default it cannot be: the caller makes a
    /// new one.
    async fn renew(&self, _call: &SubscriptionCall<'_>, _remote_id: &str) -> Result<Subscribed, ProviderError> {
        Err(ProviderError::Unexpected("this provider's subscriptions are not renewed".to_owned().into()))
    }

    /// Stops a subscription (on disconnect).
    async fn unsubscribe(&self, _call: &SubscriptionCall<'_>, _remote_id: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The sync connector for a connection's credentials.
    fn connector(
        &self,
        _config: ConnectorConfig,
        _credentials: &Credentials,
    ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
        Err(ConnectorError::NothingToSync)
    }
}

/// The token a provider takes as `Authorization: Bearer`: an OAuth access token, or the named
/// field of a token connection.
pub fn bearer<'a>(credentials: &'a Credentials, field: &'static str) -> Result<&'a str, ConnectorError> {
    match credentials {
        Credentials::OAuth(_) => credentials.access_token().ok_or(ConnectorError::MissingField("access_token")),
        Credentials::ApiKey(_) => credentials.field(field).ok_or(ConnectorError::MissingField(field)),
    }
}

/// A named field of a token connection.
pub fn field<'a>(credentials: &'a Credentials, name: &'static str) -> Result<&'a str, ConnectorError> {
    credentials.field(name).ok_or(ConnectorError::MissingField(name))
}
