//! Keeping OAuth tokens fresh without races, and revoking them.
//!
//! Before a provider call, a token that expires within a margin is refreshed. Of all the
//! workers and API calls that notice at once, one takes a lease on the connection (a
//! conditional write with an expiry) and refreshes; the others wait and read the secret again.
//! A rotated refresh token is stored in the same secret value as its access token.

use std::time::Duration as StdDuration;

use chrono::Duration;
use oauth2::{RefreshToken, RequestTokenError};
use secrecy::ExposeSecret;

use super::flow::{describe_token_error, token_set};
use super::{TokenResponse, http_client};
use crate::catalog::Integration;
use crate::config::AppState;
use crate::domain::{Connection, ConnectionStatus, HealthStatus};
use crate::http::ErrorChain;
use crate::providers::{Revocation, RevokeError};
use crate::store::attrs::now;
use crate::store::{GrantRelease, StoreError};
use crate::vault::{Credentials, TokenSet, VaultError};

/// Refresh when the access token has less than this left.
pub const REFRESH_MARGIN: Duration = Duration::minutes(2);
/// How long one refresher may hold the lease before another may take over.
const LEASE: Duration = Duration::seconds(20);
const WAIT_STEP: StdDuration = StdDuration::from_millis(100);
const WAIT_STEPS: u32 = 150;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The provider no longer honours the grant: the connection now needs the user.
    #[error("{0}")]
    Revoked(String),
    /// Could not refresh now (network, provider, another refresher too slow): try later.
    #[error("the token could not be refreshed now: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The connection's credentials, with an OAuth access token that is good for a while yet.
/// `rejected`: an access token the provider just refused, which must not be returned again.
pub async fn fresh_credentials(
    state: &AppState,
    connection: &Connection,
    rejected: Option<&str>,
) -> Result<Credentials, TokenError> {
    let credentials = state.vault.read(&connection.secret_id).await?;
    let Credentials::OAuth(tokens) = &credentials else { return Ok(credentials) };
    if is_usable(tokens, rejected) {
        return Ok(credentials);
    }
    let integration = state
        .catalog
        .find(connection.integration_id.as_str())
        .ok_or_else(|| TokenError::Unavailable("the integration is no longer offered".into()))?;
    let owner = ulid::Ulid::new().to_string();
    if state.store.acquire_refresh_lease(&connection.user_id, &connection.connection_id, &owner, LEASE).await? {
        let result = refresh_under_lease(state, integration, connection, rejected, &owner).await;
        state.store.release_refresh_lease(&connection.user_id, &connection.connection_id, &owner).await?;
        return result;
    }
    // Someone else is refreshing: wait for the secret to change.
    for _ in 0..WAIT_STEPS {
        tokio::time::sleep(WAIT_STEP).await;
        if let Credentials::OAuth(tokens) = state.vault.read(&connection.secret_id).await?
            && is_usable(&tokens, rejected)
        {
            return Ok(Credentials::OAuth(tokens));
        }
        let current = state.store.get_connection(&connection.user_id, &connection.connection_id).await?;
        if current.status == ConnectionStatus::NeedsReauth {
            return Err(TokenError::Revoked(current.status_reason.unwrap_or_else(|| "Sign in again.".into())));
        }
    }
    Err(TokenError::Unavailable("another refresh did not finish in time".into()))
}

fn is_usable(tokens: &TokenSet, rejected: Option<&str>) -> bool {
    !tokens.expires_within(REFRESH_MARGIN, now()) && rejected != Some(tokens.access_token.expose_secret())
}

async fn refresh_under_lease(
    state: &AppState,
    integration: &Integration,
    connection: &Connection,
    rejected: Option<&str>,
    owner: &str,
) -> Result<Credentials, TokenError> {
    let (user, id) = (&connection.user_id, &connection.connection_id);
    // Read again under the lease: the previous holder may have just refreshed.
    let Credentials::OAuth(tokens) = state.vault.read(&connection.secret_id).await? else {
        return Err(TokenError::Unavailable("the credential is not an OAuth token".into()));
    };
    if is_usable(&tokens, rejected) {
        return Ok(Credentials::OAuth(tokens));
    }
    match refresh_now(state, integration, &tokens).await {
        Ok(fresh) => {
            let credentials = Credentials::OAuth(fresh);
            // Fenced: a refresh that outlived its lease does not overwrite what the next
            // holder stored; its access token still serves this call.
            if state.store.confirm_refresh_lease(user, id, owner, LEASE).await? {
                state.vault.put(&connection.secret_id, &credentials).await?;
                tracing::info!(connection = %id, "access token refreshed");
            } else {
                tracing::warn!(connection = %id, "the refresh lease expired during the refresh; its tokens are not stored");
            }
            Ok(credentials)
        }
        Err(TokenError::Revoked(reason)) => {
            // The refused refresh token may no longer be the connection's: another refresher or a
            // re-consent may have stored new tokens meanwhile. Then those stand.
            if let Credentials::OAuth(current) = state.vault.read(&connection.secret_id).await?
                && !same_tokens(&current, &tokens)
            {
                return if is_usable(&current, rejected) {
                    Ok(Credentials::OAuth(current))
                } else {
                    Err(TokenError::Unavailable("the tokens changed during the refresh".into()))
                };
            }
            if !state.store.mark_needs_reauth(connection, &reason, owner).await? {
                return Err(TokenError::Unavailable("the connection changed during the refresh".into()));
            }
            crate::hooks::publish_health_change(state, connection, HealthStatus::ActionNeeded, &reason).await;
            Err(TokenError::Revoked(reason))
        }
        Err(e) => Err(e),
    }
}

fn same_tokens(a: &TokenSet, b: &TokenSet) -> bool {
    a.refresh_token.as_ref().map(ExposeSecret::expose_secret)
        == b.refresh_token.as_ref().map(ExposeSecret::expose_secret)
        && a.access_token.expose_secret() == b.access_token.expose_secret()
}

/// One refresh-token grant at the provider's token endpoint.
pub async fn refresh_now(
    state: &AppState,
    integration: &Integration,
    tokens: &TokenSet,
) -> Result<TokenSet, TokenError> {
    let revoked = || {
        TokenError::Revoked(format!(
            "{} no longer accepts this connection's sign-in (it was revoked or expired). Reconnect it.",
            integration.name
        ))
    };
    let Some(refresh_token) = &tokens.refresh_token else { return Err(revoked()) };
    let client = state
        .oauth
        .get(integration)
        .ok_or_else(|| TokenError::Unavailable(format!("{} sign-in is not configured", integration.name)))?;
    let http = state.oauth.http();
    let oauth_client = client.client().map_err(|e| TokenError::Unavailable(e.to_string()))?;
    let refresh = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let result: Result<TokenResponse, _> =
        oauth_client.exchange_refresh_token(&refresh).request_async(&http_client(http)).await;
    match result {
        Ok(response) => Ok(token_set(&response, Some(refresh_token), &tokens.scopes)),
        Err(RequestTokenError::ServerResponse(r))
            if matches!(r.error(), oauth2::basic::BasicErrorResponseType::InvalidGrant) =>
        {
            Err(revoked())
        }
        Err(RequestTokenError::Parse(e, body)) => {
            let slack_code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
            match slack_code.as_deref() {
                Some("invalid_refresh_token" | "invalid_grant" | "token_revoked" | "invalid_code") => Err(revoked()),
                _ => Err(TokenError::Unavailable(describe_token_error::<reqwest::Error>(RequestTokenError::Parse(
                    e, body,
                )))),
            }
        }
        Err(other) => Err(TokenError::Unavailable(describe_token_error(other))),
    }
}

/// At disconnect: the connection lets go of its grant, which is revoked at the provider only
/// when no other connection, of any user, holds it (one Google grant serves Calendar and Drive;
/// a Slack bot token serves the whole workspace). `credentials`: the connection's, unless its
/// secret is already gone (a repeated disconnect). Says what happened, for the audit entry.
pub async fn revoke_unless_shared(
    state: &AppState,
    integration: &Integration,
    connection: &Connection,
    credentials: Option<&Credentials>,
) -> Result<Option<String>, StoreError> {
    if let Some(grant) = crate::store::shared_grant(connection) {
        let release = state.store.release_grant(&grant, &connection.connection_id).await?;
        if release != GrantRelease::LastHolder {
            let revocable =
                matches!(credentials, Some(Credentials::OAuth(_))) && state.oauth.get(integration).is_some();
            return Ok(revocable.then(|| "access not revoked: another connection may hold the same grant".to_owned()));
        }
    }
    let Some(credentials) = credentials else { return Ok(None) };
    Ok(match revoke(state, integration, credentials).await {
        Ok(Revocation::Revoked) => Some("access revoked at the provider".to_owned()),
        Ok(Revocation::NotOffered) => None,
        Err(e) => {
            tracing::warn!(error = %ErrorChain(&e), "revocation at the provider failed");
            Some(format!("revocation at the provider failed: {e}"))
        }
    })
}

/// Revokes the grant at the provider, where the provider offers revocation.
pub async fn revoke(
    state: &AppState,
    integration: &Integration,
    credentials: &Credentials,
) -> Result<Revocation, RevokeError> {
    let Credentials::OAuth(tokens) = credentials else { return Ok(Revocation::NotOffered) };
    let Some(client) = state.oauth.get(integration) else { return Ok(Revocation::NotOffered) };
    integration.provider().revoke(&state.oauth.http(), client, tokens).await
}
