//! Trello REST API (https://developer.atlassian.com/cloud/trello/rest/).
//! Auth: API key + token in the `Authorization: OAuth …` header, so neither lands in a URL.

use serde::Deserialize;

use super::{RetryPolicy, VerifyError, send_with_retry};
use crate::domain::Account;

mod sync;
pub use sync::TrelloConnector;

pub(crate) fn auth_header(key: &str, token: &str) -> String {
    format!("OAuth oauth_consumer_key=\"{key}\", oauth_token=\"{token}\"")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    id: String,
    username: String,
    #[serde(default)]
    full_name: Option<String>,
}

/// `GET /1/members/me`: whose token this is.
pub async fn verify(http: &reqwest::Client, base: &str, key: &str, token: &str) -> Result<Account, VerifyError> {
    let url = format!("{base}/1/members/me");
    let response = send_with_retry(&RetryPolicy::default(), || {
        http.get(&url)
            .query(&[("fields", "id,username,fullName")])
            .header(reqwest::header::AUTHORIZATION, auth_header(key, token))
    })
    .await?;
    if response.status() == reqwest::StatusCode::BAD_REQUEST {
        return Err(VerifyError::Rejected("Trello did not accept the API key or token".into()));
    }
    let member: Member = response
        .error_for_status()
        .map_err(|e| VerifyError::Unavailable(format!("HTTP {}", e.status().unwrap_or_default())))?
        .json()
        .await
        .map_err(|_| VerifyError::Unavailable("unexpected answer from Trello".into()))?;
    Ok(Account {
        id: member.id,
        name: member.full_name.filter(|n| !n.is_empty()).unwrap_or_else(|| member.username.clone()),
        workspace: Some(format!("@{}", member.username)),
    })
}
