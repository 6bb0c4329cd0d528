//! Real HTTP clients of the providers' documented APIs, one module per provider. Base URLs
//! come from the catalog, overridable with `{PROVIDER}_API_BASE_URL`.

pub mod asana;
pub mod google;
pub mod microsoft;
pub mod notion;
mod retry;
pub mod slack;
pub mod trello;
mod webhook;

use std::time::Duration;

use crate::catalog::Integration;
use crate::domain::Account;
use crate::vault::Credentials;

pub use retry::{ProviderError, RetryPolicy, send_with_retry};

/// One HTTP client for every provider call of a process (built once at cold start).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("director-of-one-integrations/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client configuration is valid")
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The provider said no: wrong or revoked credential.
    #[error("{0}")]
    Rejected(String),
    /// We could not get an answer (network, 5xx, rate limit): nothing can be concluded.
    #[error("the provider could not be reached: {0}")]
    Unavailable(String),
    #[error("{0} cannot be connected with a key or token")]
    Unsupported(String),
}

impl From<ProviderError> for VerifyError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Unauthorized(reason) => VerifyError::Rejected(reason),
            other => VerifyError::Unavailable(other.to_string()),
        }
    }
}

/// Checks a credential against the provider's API and says whose account it is.
pub async fn verify(
    http: &reqwest::Client,
    base: &str,
    integration: &Integration,
    credentials: &Credentials,
) -> Result<Account, VerifyError> {
    let field = |name: &str| credentials.field(name).unwrap_or_default();
    match integration.id.as_str() {
        "trello" => trello::verify(http, base, field("apiKey"), field("token")).await,
        "slack" => slack::verify(http, base, credentials.bearer_token().unwrap_or_default()).await,
        "asana" => asana::verify(http, base, credentials.bearer_token().unwrap_or_default()).await,
        "notion" => notion::verify(http, base, credentials.bearer_token().unwrap_or_default()).await,
        "microsoft-teams" | "zapier" => Ok(webhook::account(field("webhookUrl"))),
        other => Err(VerifyError::Unsupported(other.to_owned())),
    }
}
