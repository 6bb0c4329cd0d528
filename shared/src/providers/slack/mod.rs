//! Slack Web API (https://api.slack.com/web). Errors come as HTTP 200 with `ok: false`.

use serde::Deserialize;

use super::{ProviderError, RetryPolicy, VerifyError, send_with_retry};
use crate::domain::Account;

mod sync;
pub use sync::SlackConnector;

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
    let body: AuthTest =
        response.json().await.map_err(|_| VerifyError::Unavailable("unexpected answer from Slack".into()))?;
    if !body.ok {
        let code = body.error.unwrap_or_else(|| "unknown_error".into());
        return Err(if is_auth_error(&code) {
            VerifyError::Rejected(format!("Slack refused the token ({code})"))
        } else {
            ProviderError::Unexpected(format!("Slack error {code}")).into()
        });
    }
    let team_id = body.team_id.unwrap_or_default();
    let user_id = body.user_id.unwrap_or_default();
    Ok(Account { id: format!("{team_id}:{user_id}"), name: body.user.unwrap_or(user_id), workspace: body.team })
}
