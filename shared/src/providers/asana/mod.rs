//! Asana REST API (https://developers.asana.com/reference). Answers are wrapped in `data`.

use serde::Deserialize;

use super::{RetryPolicy, VerifyError, send_with_retry};
use crate::domain::Account;

mod sync;
pub use sync::AsanaConnector;

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
    let me: Envelope<Me> = response
        .error_for_status()
        .map_err(|e| VerifyError::Unavailable(format!("HTTP {}", e.status().unwrap_or_default())))?
        .json()
        .await
        .map_err(|_| VerifyError::Unavailable("unexpected answer from Asana".into()))?;
    let workspaces: Vec<String> = me.data.workspaces.into_iter().filter_map(|w| w.name).collect();
    Ok(Account {
        name: me.data.name.unwrap_or_else(|| me.data.gid.clone()),
        id: me.data.gid,
        workspace: (!workspaces.is_empty()).then(|| workspaces.join(", ")),
    })
}
