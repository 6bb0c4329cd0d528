//! The authorization code flow: the authorize URL (PKCE S256 + one-time state), and the
//! callback that checks the state, exchanges the code, and creates or restores the connection.

use chrono::Duration;
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError, Scope, TokenResponse as _,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{OAuthClient, OAuthSetupError, TokenResponse, http_client, split_scopes};
use crate::auth::Caller;
use crate::catalog::{AuthMode, Integration};
use crate::config::AppState;
use crate::connections::ConnectError;
use crate::domain::{Account, ConnectionId, ConnectionStatus, HealthStatus, SyncSettings};
use crate::http::ErrorChain;
use crate::providers::VerifyError;
use crate::store::attrs::now;
use crate::store::{AuditAction, ConnectOutcome, NewConnection, OAUTH_STATE_TTL, OAuthState, StoreError, Subject};
use crate::vault::{Credentials, TokenSet, VaultError};

/// Where the page asks to come back to: a path on this origin, never another site.
pub(crate) fn checked_return_url(raw: Option<&str>) -> Result<String, ConnectError> {
    let url = raw.unwrap_or("/integrations");
    // Browsers drop tabs and newlines from URLs ("/\t/evil.example" becomes "//evil.example"),
    // so no control character or white space is allowed anywhere.
    let safe = url.starts_with('/')
        && !url.starts_with("//")
        && !url.contains('\\')
        && !url.contains("://")
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    if !safe || url.len() > 512 {
        return Err(ConnectError::InvalidSettings(
            "returnUrl must be a path on this site, such as /integrations".into(),
        ));
    }
    Ok(url.to_owned())
}

/// A started sign-in: where to send the browser, and the cookie that binds the flow to this
/// browser (so a sign-in link started by someone else cannot attach their grant to this user,
/// nor this user's grant to someone else).
pub struct OAuthStart {
    pub authorization_url: String,
    pub cookie_name: String,
    pub cookie_value: String,
}

/// The cookie that carries a flow's browser binding (one per flow, so flows do not collide).
pub fn binding_cookie_name(state: &str) -> String {
    let prefix: String = state.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    format!("doo_oauth_{prefix}")
}

fn binding_hash(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The most sign-ins a user may have open (started, neither completed nor expired) at once.
pub const MAX_OPEN_SIGN_INS: usize = 10;

impl OAuthStart {
    /// The `Set-Cookie` value that binds the flow to this browser; sent back only to the
    /// callback, for ten minutes.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/api/v1/integrations/oauth/callback; Max-Age=600; HttpOnly; Secure; SameSite=Lax",
            self.cookie_name, self.cookie_value
        )
    }
}

/// Starts a sign-in: the provider's authorize URL for the caller, remembered under a one-time
/// state for ten minutes. With `reconnect`, the connection is restored in place afterwards.
pub async fn start_oauth(
    state: &AppState,
    caller: &Caller,
    integration: &Integration,
    return_url: Option<&str>,
    reconnect: Option<ConnectionId>,
) -> Result<OAuthStart, ConnectError> {
    start(state, caller, integration, return_url, reconnect, None).await
}

/// Starts incremental consent: the sign-in that restores `connection` in place (its id kept)
/// with its read scopes and `scope` too, on the provider's terms for adding a scope (Google's
/// `include_granted_scopes=true`). The callback stores the new token set and its granted scopes.
pub async fn start_consent(
    state: &AppState,
    caller: &Caller,
    integration: &Integration,
    connection: &ConnectionId,
    scope: &str,
    return_url: Option<&str>,
) -> Result<OAuthStart, ConnectError> {
    start(state, caller, integration, return_url, Some(connection.clone()), Some(scope)).await
}

async fn start(
    state: &AppState,
    caller: &Caller,
    integration: &Integration,
    return_url: Option<&str>,
    reconnect: Option<ConnectionId>,
    extra_scope: Option<&str>,
) -> Result<OAuthStart, ConnectError> {
    let Some(endpoints) = &integration.oauth else {
        return Err(ConnectError::OauthNotAvailable(integration.name.clone()));
    };
    let client =
        state.oauth.get(integration).ok_or_else(|| ConnectError::OauthNotAvailable(integration.name.clone()))?;
    let return_url = checked_return_url(return_url)?;
    if let Some(id) = &reconnect {
        let existing = match state.store.get_connection(&caller.user_id, id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Err(ConnectError::UnknownConnection),
            Err(e) => return Err(e.into()),
        };
        if existing.integration_id != integration.id {
            return Err(ConnectError::InvalidSettings("connectionId belongs to another integration".into()));
        }
        if existing.status == ConnectionStatus::Disconnecting {
            return Err(ConnectError::Disconnecting);
        }
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let csrf = CsrfToken::new_random();
    let oauth_client = client.client().map_err(|e| ConnectError::OauthNotAvailable(e.to_string()))?;
    let mut scopes = endpoints.scopes.clone();
    if let Some(extra) = extra_scope
        && !scopes.iter().any(|s| s == extra)
    {
        scopes.push(extra.to_owned());
    }
    let mut request = oauth_client.authorize_url(|| csrf.clone()).set_pkce_challenge(challenge);
    if endpoints.scope_separator == " " {
        request = request.add_scopes(scopes.iter().cloned().map(Scope::new));
    } else if !scopes.is_empty() {
        request = request.add_extra_param("scope", scopes.join(&endpoints.scope_separator));
    }
    for (name, value) in &endpoints.extra_params {
        request = request.add_extra_param(name.clone(), value.clone());
    }
    if extra_scope.is_some() {
        for (name, value) in integration.provider().incremental_consent() {
            request = request.add_extra_param(*name, *value);
        }
    }
    let (url, csrf) = request.url();
    let binding = CsrfToken::new_random().secret().clone();
    let stored = state
        .store
        .put_oauth_state(
            &OAuthState {
                state: csrf.secret().clone(),
                binding_hash: binding_hash(&binding),
                user_id: caller.user_id.clone(),
                integration_id: integration.id.clone(),
                verifier: verifier.secret().clone(),
                scopes,
                return_url,
                reconnect,
                plan: caller.plan,
                expires_at: now() + OAUTH_STATE_TTL,
            },
            MAX_OPEN_SIGN_INS,
        )
        .await?;
    if let Err(refused) = stored {
        return Err(ConnectError::TooManySignIns { retry_after_secs: refused.retry_after_secs });
    }
    Ok(OAuthStart {
        authorization_url: url.to_string(),
        cookie_name: binding_cookie_name(csrf.secret()),
        cookie_value: binding,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the browser goes after the callback.
#[derive(Debug, PartialEq)]
pub enum CallbackOutcome {
    /// Back to the page, with `connected=…` or `oauthError=…` in the query.
    Redirect(String),
    /// No usable state: nothing can be trusted or stored; the user gets a 400.
    InvalidState(&'static str),
}

fn redirect(return_url: &str, pairs: &[(&str, &str)]) -> CallbackOutcome {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let sep = if return_url.contains('?') { '&' } else { '?' };
    CallbackOutcome::Redirect(format!("{return_url}{sep}{}", query.finish()))
}

/// What stops a callback from answering at all (anything else redirects with a reason).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error(transparent)]
    Setup(#[from] OAuthSetupError),
    /// The token endpoint's answer, in words (never its tokens).
    #[error("the token endpoint refused the code: {0}")]
    Refused(String),
}

/// The provider sent the user back. The one-time state says who they are; nothing is stored
/// unless it checks out and the code exchange succeeds.
/// `binding`: the value of the flow's cookie ([`binding_cookie_name`]) as the browser sent it.
#[tracing::instrument(skip_all)]
pub async fn complete_oauth(
    state: &AppState,
    query: CallbackQuery,
    binding: Option<&str>,
) -> Result<CallbackOutcome, CallbackError> {
    let Some(state_token) = query.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 256) else {
        return Ok(CallbackOutcome::InvalidState("The sign-in link is missing its state. Start again from the page."));
    };
    let unknown = "This sign-in link is unknown or was already used. Start again from the page.";
    let Some(st) = state.store.get_oauth_state(state_token).await? else {
        return Ok(CallbackOutcome::InvalidState(unknown));
    };
    // Checked before the state is used up: a request from another browser cannot spend it.
    if binding.map(binding_hash).as_deref() != Some(st.binding_hash.as_str()) {
        tracing::warn!(integration = %st.integration_id, "a sign-in was completed in another browser than it started in");
        return Ok(CallbackOutcome::InvalidState(
            "This sign-in was started in another browser or by another user. Start again from the page.",
        ));
    }
    if !state.store.take_oauth_state(&st).await? {
        return Ok(CallbackOutcome::InvalidState(unknown));
    }
    if st.expires_at < now() {
        return Ok(CallbackOutcome::InvalidState(
            "This sign-in took longer than ten minutes. Start again from the page.",
        ));
    }
    let integration_id = st.integration_id.to_string();
    let fail = |code: &str| redirect(&st.return_url, &[("oauthError", code), ("integration", &integration_id)]);
    if let Some(error) = query.error.as_deref() {
        tracing::info!(integration = %integration_id, error, "the provider returned an authorization error");
        let code = if error == "access_denied" { "access_denied" } else { "provider_error" };
        let detail = format!("{} answered {code}", st.integration_id);
        let declined = state
            .store
            .write_audit_about(
                &st.user_id,
                st.plan,
                AuditAction::SignInDeclined,
                Subject::Integration(&st.integration_id),
                Some(&detail),
            )
            .await;
        if let Err(e) = declined {
            tracing::warn!(error = %ErrorChain(&e), "could not audit a declined sign-in");
        }
        return Ok(fail(code));
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return Ok(fail("missing_code"));
    };
    let Some(integration) = state.catalog.find(&integration_id) else { return Ok(fail("unknown_integration")) };
    let Some(client) = state.oauth.get(integration) else { return Ok(fail("not_configured")) };

    let tokens = match exchange_code(state, client, code, st.verifier.clone(), &st.scopes).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(integration = %integration_id, error = %ErrorChain(&e), "code exchange failed");
            return Ok(fail("token_exchange_failed"));
        }
    };
    // A token that cannot be renewed ends the grant when it expires (the health warns of it).
    let grant_ends = tokens.expires_at.filter(|_| tokens.refresh_token.is_none());
    let credentials = Credentials::OAuth(tokens);
    let account = match account_of(state, integration, client, &credentials).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(integration = %integration_id, error = %e, "could not read the signed-in account");
            return Ok(fail("account_unavailable"));
        }
    };

    if let Some(id) = &st.reconnect {
        let existing = match state.store.get_connection(&st.user_id, id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Ok(fail("connection_gone")),
            Err(e) => return Err(e.into()),
        };
        if existing.status == ConnectionStatus::Disconnecting {
            return Ok(fail("connection_gone"));
        }
        if existing.account.id != account.id {
            return Ok(fail("different_account"));
        }
        state.vault.put(&existing.secret_id, &credentials).await?;
        match state.store.reactivate(&existing).await {
            Ok(restored) => {
                state.store.write_audit(&restored, AuditAction::Reconnected, None).await?;
                state.store.note_grant_expiry(&st.user_id, id, grant_ends).await?;
                crate::hooks::publish_health_change(state, &existing, HealthStatus::Ok, "reconnected").await;
            }
            // Disconnected (or changed) meanwhile: the disconnect removes the secret.
            Err(StoreError::Conflict) => return Ok(fail("connection_gone")),
            Err(e) => return Err(e.into()),
        }
        return Ok(redirect(&st.return_url, &[("connected", id.as_str()), ("integration", &integration_id)]));
    }

    let connection_id = ConnectionId::generate();
    let secret_id = state.vault.create(&st.user_id, &connection_id, &credentials).await?;
    let shared_grant = integration.provider().shared_grant(&account);
    let outcome = state
        .store
        .insert_connection(NewConnection {
            user_id: st.user_id.clone(),
            connection_id: connection_id.clone(),
            integration_id: integration.id.clone(),
            auth_kind: AuthMode::Oauth2,
            secret_id: secret_id.clone(),
            credential_hint: format!("Signed in with {}", integration.name),
            account,
            display_name: integration.name.clone(),
            settings: SyncSettings::default(),
            plan: st.plan,
            connection_limit: st.plan.connection_limit(),
        })
        .await;
    let mut already_connected = false;
    let failure = match outcome {
        Ok(ConnectOutcome::Created(mut connection)) => {
            if grant_ends.is_some() {
                state.store.note_grant_expiry(&st.user_id, &connection_id, grant_ends).await?;
            }
            connection.realtime =
                crate::webhooks::lifecycle::subscribe(state, &connection, crate::store::attrs::now()).await;
            return Ok(redirect(
                &st.return_url,
                &[("connected", connection_id.as_str()), ("integration", &integration_id)],
            ));
        }
        Ok(ConnectOutcome::AlreadyConnected { .. }) => {
            already_connected = true;
            fail("already_connected")
        }
        Ok(ConnectOutcome::LimitReached) => fail("plan_limit_reached"),
        Err(e) => {
            tracing::error!(error = %e, "could not store the connection");
            fail("storage_failed")
        }
    };
    // The connection was not stored: its secret does not stay behind, and neither does the
    // grant, unless a connection holds it (the same account already connected, or a grant the
    // provider shares between integrations or users that another connection holds).
    let held = already_connected
        || match &shared_grant {
            None => false,
            // When it cannot be known, the grant is left alone.
            Some(grant) => state.store.grant_is_held(grant).await.unwrap_or(true),
        };
    if !held && let Err(e) = super::revoke(state, integration, &credentials).await {
        tracing::warn!(error = %ErrorChain(&e), "could not revoke the grant of a connection that was not stored");
    }
    if let Err(e) = state.vault.delete(&secret_id).await {
        tracing::error!(connection = %connection_id, error = %e, "could not remove the secret of a connection that was not stored");
    }
    Ok(failure)
}

async fn exchange_code(
    state: &AppState,
    client: &OAuthClient,
    code: String,
    verifier: String,
    requested: &[String],
) -> Result<TokenSet, ExchangeError> {
    let http = state.oauth.http();
    let oauth_client = client.client()?;
    let response: TokenResponse = oauth_client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http_client(http))
        .await
        .map_err(|e| ExchangeError::Refused(describe_token_error(e)))?;
    Ok(token_set(&response, None, requested))
}

/// A token set from a token response; a response without a refresh token keeps `previous`.
pub(super) fn token_set(response: &TokenResponse, previous: Option<&SecretString>, requested: &[String]) -> TokenSet {
    let granted = response
        .scopes()
        .map(|s| s.iter().map(|scope| scope.to_string()).collect::<Vec<_>>())
        .or_else(|| response.extra_fields().fields.get("scope").and_then(|v| v.as_str()).map(split_scopes))
        .unwrap_or_else(|| requested.to_vec());
    TokenSet {
        access_token: SecretString::from(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|r| SecretString::from(r.secret().clone()))
            .or_else(|| previous.map(|p| SecretString::from(p.expose_secret().to_owned()))),
        expires_at: response.expires_in().and_then(|d| Duration::from_std(d).ok()).map(|d| now() + d),
        scopes: granted,
    }
}

/// A token endpoint failure in words for the log (never the response's tokens).
pub(super) fn describe_token_error<E: std::error::Error>(
    e: RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => format!("the provider answered {}", r.error()),
        RequestTokenError::Request(e) => format!("request failed: {e}"),
        RequestTokenError::Parse(_, body) => {
            // Slack answers errors as 200 {"ok": false, "error": "…"}.
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
            match code {
                Some(code) => format!("the provider answered {code}"),
                None => "the provider's answer could not be read".into(),
            }
        }
        RequestTokenError::Other(e) => e,
    }
}

/// Whose account the grant is for, as its provider reads it (userinfo, Graph `/me`, or the
/// same check a token connect uses).
async fn account_of(
    state: &AppState,
    integration: &Integration,
    client: &OAuthClient,
    credentials: &Credentials,
) -> Result<Account, VerifyError> {
    let base = state.endpoints.api_base(integration);
    integration.provider().oauth_account(&state.http, &base, client, credentials).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_must_stay_on_this_site() {
        assert_eq!(checked_return_url(None).unwrap(), "/integrations");
        assert!(checked_return_url(Some("/integrations?tab=1")).is_ok());
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/integrations\u{0}",
        ] {
            assert!(checked_return_url(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_redirect_carries_the_outcome_in_the_query() {
        assert_eq!(
            redirect("/integrations", &[("connected", "01X"), ("integration", "google-calendar")]),
            CallbackOutcome::Redirect("/integrations?connected=01X&integration=google-calendar".into())
        );
        assert_eq!(
            redirect("/p?a=1", &[("oauthError", "access_denied")]),
            CallbackOutcome::Redirect("/p?a=1&oauthError=access_denied".into())
        );
    }
}
