//! Real HTTP clients of the providers' documented APIs, one folder per provider, each
//! implementing [`Provider`] once; [`registry`] lists them. Base URLs come from the catalog,
//! overridable with `{PROVIDER}_API_BASE_URL`. Nothing outside these folders and the registry
//! matches on provider ids.

pub mod action;
pub mod asana;
mod budget;
pub mod google;
pub mod microsoft;
pub mod notion;
mod provider;
pub mod registry;
mod retry;
pub mod slack;
pub mod trello;
mod webhook;
pub mod zapier;

use serde::de::DeserializeOwned;

pub use action::{ActionCall, ActionError, ActionSpec, Lookup, Param, Performed, WriteScope, send_write};
pub use budget::{Budget, BudgetView};
pub use provider::{
    Capabilities, ConnectorError, GrantScope, Provider, Revocation, RevokeError, Subscribed, SubscriptionCall,
    SyncConnector, bearer, field,
};
pub use registry::Registry;
pub use retry::{Failure, ProviderError, RetryPolicy, send_with_retry};

/// One HTTP client for every provider call of a process (built once at cold start), on the
/// process's one TLS configuration.
pub fn http_client() -> reqwest::Client {
    crate::clients::provider_http().expect("the HTTP client configuration is valid")
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The provider said no: wrong or revoked credential.
    #[error("{0}")]
    Rejected(String),
    /// We could not get an answer we understand (network, 5xx, rate limit): nothing can be
    /// concluded about the credential.
    #[error("the provider could not be reached")]
    Unavailable(#[source] ProviderError),
    #[error("{0} cannot be connected with a key or token")]
    Unsupported(&'static str),
    #[error("the credential is incomplete")]
    Incomplete(#[source] ConnectorError),
}

impl From<ProviderError> for VerifyError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Unauthorized(failure) => VerifyError::Rejected(failure.to_string()),
            other => VerifyError::Unavailable(other),
        }
    }
}

impl From<ConnectorError> for VerifyError {
    fn from(e: ConnectorError) -> Self {
        VerifyError::Incomplete(e)
    }
}

/// The JSON of a successful answer. Any other status is unexpected; so is a body that does not
/// parse, and the error then names the field that failed (`data[2].gid: invalid type …`).
pub(crate) async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
    provider: &str,
    what: &str,
) -> Result<T, ProviderError> {
    let status = response.status();
    if !status.is_success() {
        let detail = format!("{provider} answered HTTP {status} to the {what} request");
        return Err(ProviderError::Unexpected(Failure::http(status, detail)));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ProviderError::Transport { timed_out: e.is_timeout(), source: e.without_url() })?;
    let deserializer = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let detail = format!("{provider} sent an unreadable {what} answer (at `{field}`: {})", e.inner());
        ProviderError::Unexpected(detail.into())
    })
}
