//! Google: whose account an OAuth grant belongs to (OpenID Connect userinfo), and the sync of
//! Calendar events (`calendar.rs`) and Drive files (`drive.rs`). Auth: the OAuth access token
//! as a bearer token.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ProviderError, RetryPolicy, VerifyError, send_with_retry};
use crate::domain::Account;

pub mod calendar;
pub mod drive;

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `GET {userinfo}` with the access token: the account's stable `sub` and its email.
pub async fn userinfo(http: &reqwest::Client, url: &str, token: &str) -> Result<Account, VerifyError> {
    let response = send_with_retry(&RetryPolicy::default(), || http.get(url).bearer_auth(token)).await?;
    let info: UserInfo = response
        .error_for_status()
        .map_err(|e| VerifyError::Unavailable(format!("HTTP {}", e.status().unwrap_or_default())))?
        .json()
        .await
        .map_err(|_| VerifyError::Unavailable("unexpected answer from Google".into()))?;
    Ok(Account {
        name: info.email.clone().or(info.name).unwrap_or_else(|| info.sub.clone()),
        workspace: info.email.and_then(|e| e.split_once('@').map(|(_, domain)| domain.to_owned())),
        id: info.sub,
    })
}

/// The JSON of a successful answer; any other status, or a body we cannot read, is unexpected.
async fn read_json<T: DeserializeOwned>(response: reqwest::Response, what: &str) -> Result<T, ProviderError> {
    let status = response.status();
    if !status.is_success() {
        return Err(ProviderError::Unexpected(format!("Google answered HTTP {status} to the {what} request")));
    }
    response.json().await.map_err(|_| ProviderError::Unexpected(format!("Google sent an unreadable {what} answer")))
}
