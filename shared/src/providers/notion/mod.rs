//! Notion API (https://developers.notion.com/reference). Every call names its API version.

use serde::Deserialize;

use super::{RetryPolicy, VerifyError, send_with_retry};
use crate::domain::Account;

mod sync;
pub use sync::NotionConnector;

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
    let user: User = response
        .error_for_status()
        .map_err(|e| VerifyError::Unavailable(format!("HTTP {}", e.status().unwrap_or_default())))?
        .json()
        .await
        .map_err(|_| VerifyError::Unavailable("unexpected answer from Notion".into()))?;
    Ok(Account {
        name: user.name.unwrap_or_else(|| "Notion integration".into()),
        workspace: user.bot.and_then(|b| b.workspace_name),
        id: user.id,
    })
}
