//! Connecting, configuring and disconnecting integrations: the rules, and the order of
//! writes that never leaves an orphan secret or a connection without its secret.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use crate::auth::Caller;
use crate::catalog::{AuthMode, Availability, Integration};
use crate::config::AppState;
use crate::domain::{Connection, ConnectionId, ConnectionStatus, HealthStatus, Plan, SyncSettings, credential_hint};
use crate::providers::VerifyError;
use crate::store::{AuditAction, ConnectOutcome, Level, NewConnection, SettingsChange, StoreError};
use crate::vault::{Credentials, VaultError};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsInput {
    pub display_name: Option<String>,
    pub auto_sync: Option<bool>,
    #[serde(default, deserialize_with = "whole_minutes")]
    pub sync_interval_minutes: Option<u32>,
}

/// A number of minutes as JSON writes it. JSON has one kind of number, so `15.0` is the whole
/// number 15 (clients in Python or Go may write it so); `15.5`, a negative number or one past
/// `u32` is not a number of minutes. `null` is the same as leaving the member out.
fn whole_minutes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_u64().or_else(|| {
        number.as_f64().filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f)).map(|f| f as u64)
    });
    whole.and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("syncIntervalMinutes must be a whole number of minutes, not {number}"))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectRequest {
    pub integration_id: String,
    /// Sign-in flows: the page to come back to (a path on this site).
    #[serde(default)]
    pub return_url: Option<String>,
    /// Restore this connection (after the provider stopped accepting its credentials).
    #[serde(default)]
    pub connection_id: Option<String>,
    #[serde(default)]
    pub credentials: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "crate::http::optional_json_object")]
    pub settings: Option<SettingsInput>,
}

/// A credential field that does not pass the catalog's rules, for the form to show.
#[derive(Debug, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("there is no integration `{0}`")]
    UnknownIntegration(String),
    #[error("{0} is coming soon and cannot be connected yet")]
    ComingSoon(String),
    #[error("{0} is part of the premium plan")]
    PremiumRequired(String),
    #[error("the {plan:?} plan allows {limit} connections; disconnect one or upgrade to premium")]
    LimitReached { plan: Plan, limit: u32 },
    #[error("you have {limit} connections, the most one account may have; disconnect one first")]
    TooManyConnections { limit: u32 },
    #[error("you have {} sign-ins open; finish one, or try again when they expire", crate::oauth::MAX_OPEN_SIGN_INS)]
    TooManySignIns { retry_after_secs: u64 },
    #[error("{0} connects by signing in with the provider, which is not configured on this service yet")]
    OauthNotAvailable(String),
    #[error("{0} cannot be connected with a key or token")]
    ApiKeyNotSupported(String),
    #[error("there is no such connection to reconnect")]
    UnknownConnection,
    #[error("the connection is being disconnected; it cannot be reconnected")]
    Disconnecting,
    #[error("some credential fields are not valid")]
    InvalidFields(Vec<FieldError>),
    #[error("{0}")]
    InvalidSettings(String),
    #[error("{0} connected this way has nothing to sync, so it cannot sync automatically")]
    NothingToSync(String),
    #[error("{integration} rejected the credential: {reason}")]
    Rejected { integration: String, reason: String },
    #[error("this {integration} account is already connected")]
    AlreadyConnected { integration: String, existing: Option<ConnectionId> },
    #[error(transparent)]
    ProviderUnavailable(VerifyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl ConnectError {
    /// The caller has as many connections as their plan allows: the free plan's limit (upgrade),
    /// or the cap every account has.
    fn limit_reached(plan: Plan) -> Self {
        let limit = plan.connection_limit().unwrap_or_default();
        match plan {
            Plan::Free => ConnectError::LimitReached { plan, limit },
            Plan::Premium => ConnectError::TooManyConnections { limit },
        }
    }
}

fn settings_change(input: SettingsInput) -> Result<SettingsChange, ConnectError> {
    if let Some(name) = &input.display_name {
        // As sent, so that what the document's pattern says is what is checked; the name is
        // kept without the white space around it.
        if name.trim().is_empty() || name.chars().count() > 80 {
            return Err(ConnectError::InvalidSettings("displayName must be 1 to 80 characters".into()));
        }
        if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(ConnectError::InvalidSettings(
                "displayName must not contain control or text-direction characters".into(),
            ));
        }
    }
    if let Some(minutes) = input.sync_interval_minutes
        && !SyncSettings::interval_is_valid(minutes)
    {
        return Err(ConnectError::InvalidSettings(format!(
            "syncIntervalMinutes must be between {} and {}",
            SyncSettings::MIN_INTERVAL_MINUTES,
            SyncSettings::MAX_INTERVAL_MINUTES
        )));
    }
    Ok(SettingsChange {
        display_name: input.display_name.map(|n| n.trim().to_owned()),
        auto_sync: input.auto_sync,
        sync_interval_minutes: input.sync_interval_minutes,
        plan: None,
    })
}

/// Unicode's explicit text-direction marks and overrides (they can make a name read as another).
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The longest credential value accepted (webhook URLs are the longest real ones, a few hundred).
const CREDENTIAL_MAX_CHARS: usize = 2048;

/// Checks the submitted fields against the catalog: each declared field present and matching
/// its pattern, nothing else. Values never appear in the errors.
fn parse_credentials(integration: &Integration, raw: BTreeMap<String, String>) -> Result<Credentials, ConnectError> {
    let mut errors = Vec::new();
    for name in raw.keys() {
        if !integration.credential_fields.iter().any(|f| &f.name == name) {
            errors.push(FieldError {
                field: name.clone(),
                message: format!("{} does not take a field named `{name}`", integration.name),
            });
        }
    }
    for field in &integration.credential_fields {
        match raw.get(&field.name).map(|v| v.trim()) {
            None | Some("") => {
                errors.push(FieldError { field: field.name.clone(), message: format!("{} is required", field.label) })
            }
            Some(value) if value.chars().count() > CREDENTIAL_MAX_CHARS => errors.push(FieldError {
                field: field.name.clone(),
                message: format!("{} is longer than {CREDENTIAL_MAX_CHARS} characters", field.label),
            }),
            Some(value) => {
                let pattern = regex_lite::Regex::new(&field.pattern).expect("catalog patterns are checked at start");
                if !pattern.is_match(value) {
                    errors.push(FieldError {
                        field: field.name.clone(),
                        message: format!("{} does not look right. {}", field.label, field.help),
                    });
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConnectError::InvalidFields(errors));
    }
    Ok(Credentials::ApiKey(raw.into_iter().map(|(k, v)| (k, SecretString::from(v.trim().to_owned()))).collect()))
}

/// The field whose tail identifies the credential in the hint: the first secret one.
fn hint_for(integration: &Integration, credentials: &Credentials) -> String {
    integration
        .credential_fields
        .iter()
        .find(|f| f.secret)
        .and_then(|f| credentials.field(&f.name))
        .map(credential_hint)
        .unwrap_or_else(|| "••••".into())
}

/// What a connect request leads to.
pub enum ConnectResult {
    /// Connected with a key or token.
    Connected(Box<Connection>),
    /// An existing connection restored with new credentials.
    Reconnected(Box<Connection>),
    /// Sign in with the provider: send the browser there (and set the flow's cookie).
    Authorize(crate::oauth::OAuthStart),
}

impl ConnectResult {
    /// The connection, when the request connected one.
    pub fn into_connection(self) -> Option<Connection> {
        match self {
            ConnectResult::Connected(c) | ConnectResult::Reconnected(c) => Some(*c),
            ConnectResult::Authorize(_) => None,
        }
    }
}

/// Connects an integration: with a key or token (checked with the provider first, then the
/// secret, then the connection — and if that fails, the secret is removed again), or by
/// starting the provider's sign-in. With `connectionId`, an existing connection is restored.
#[tracing::instrument(skip_all, fields(user = %caller.user_id, integration = %request.integration_id))]
pub async fn connect(
    state: &AppState,
    caller: &Caller,
    request: ConnectRequest,
) -> Result<ConnectResult, ConnectError> {
    let integration = state
        .catalog
        .find(&request.integration_id)
        .ok_or_else(|| ConnectError::UnknownIntegration(request.integration_id.clone()))?;
    match integration.status {
        Availability::ComingSoon => return Err(ConnectError::ComingSoon(integration.name.clone())),
        Availability::Premium if caller.plan != Plan::Premium => {
            return Err(ConnectError::PremiumRequired(integration.name.clone()));
        }
        _ => {}
    }
    let reconnect = request
        .connection_id
        .as_deref()
        .map(ConnectionId::parse)
        .transpose()
        .map_err(|e| ConnectError::InvalidSettings(e.to_string()))?;
    // The whole request is checked whichever way it connects: a return path or settings that
    // this way does not use are still refused when they are not valid.
    if request.return_url.is_some() {
        crate::oauth::checked_return_url(request.return_url.as_deref())?;
    }
    let settings_sent = request.settings.is_some();
    let change = settings_change(request.settings.unwrap_or_default())?;
    let limit = caller.plan.connection_limit();
    if reconnect.is_none()
        && let Some(limit) = limit
        && state.store.connection_count(&caller.user_id).await? >= limit
    {
        // Cheap early answer before calling the provider; the transaction enforces it for real.
        return Err(ConnectError::limit_reached(caller.plan));
    }
    let Some(raw_credentials) = request.credentials else {
        if integration.supports(AuthMode::Oauth2) {
            let start =
                crate::oauth::start_oauth(state, caller, integration, request.return_url.as_deref(), reconnect).await?;
            return Ok(ConnectResult::Authorize(start));
        }
        return Err(ConnectError::InvalidFields(vec![FieldError {
            field: "credentials".into(),
            message: format!("{} needs its credential fields", integration.name),
        }]));
    };
    if !integration.supports(AuthMode::ApiKey) {
        return Err(ConnectError::ApiKeyNotSupported(integration.name.clone()));
    }
    if reconnect.is_some() && settings_sent {
        return Err(ConnectError::InvalidSettings(
            "a reconnect keeps the connection's settings; change them with PATCH".into(),
        ));
    }
    if change.auto_sync == Some(true) && !integration.syncs_with(AuthMode::ApiKey) {
        return Err(ConnectError::NothingToSync(integration.name.clone()));
    }
    let credentials = parse_credentials(integration, raw_credentials)?;
    let base = state.endpoints.api_base(integration);
    let account = integration.provider().verify(&state.http, &base, &credentials).await.map_err(|e| match e {
        VerifyError::Rejected(reason) => ConnectError::Rejected { integration: integration.name.clone(), reason },
        VerifyError::Unsupported(_) => ConnectError::ApiKeyNotSupported(integration.name.clone()),
        unavailable => ConnectError::ProviderUnavailable(unavailable),
    })?;
    if let Some(id) = reconnect {
        return reconnect_with_key(state, caller, integration, &id, credentials, account).await;
    }

    let connection_id = ConnectionId::generate();
    let secret_id = state.vault.create(&caller.user_id, &connection_id, &credentials).await?;
    let mut settings = SyncSettings::default();
    settings.auto_sync = change.auto_sync.unwrap_or(settings.auto_sync);
    settings.sync_interval_minutes = change.sync_interval_minutes.unwrap_or(settings.sync_interval_minutes);
    let new = NewConnection {
        user_id: caller.user_id.clone(),
        connection_id: connection_id.clone(),
        integration_id: integration.id.clone(),
        auth_kind: AuthMode::ApiKey,
        secret_id: secret_id.clone(),
        credential_hint: hint_for(integration, &credentials),
        display_name: change.display_name.unwrap_or_else(|| integration.name.clone()),
        account,
        settings,
        plan: caller.plan,
        connection_limit: limit,
    };
    let outcome = state.store.insert_connection(new).await;
    let outcome = match outcome {
        Ok(ConnectOutcome::Created(mut connection)) => {
            connection.realtime =
                crate::webhooks::lifecycle::subscribe(state, &connection, crate::store::attrs::now()).await;
            return Ok(ConnectResult::Connected(connection));
        }
        Ok(ConnectOutcome::AlreadyConnected { existing }) => {
            ConnectError::AlreadyConnected { integration: integration.name.clone(), existing }
        }
        Ok(ConnectOutcome::LimitReached) => ConnectError::limit_reached(caller.plan),
        Err(e) => ConnectError::Store(e),
    };
    // The connection was not stored: its secret must not stay behind.
    if let Err(e) = state.vault.delete(&secret_id).await {
        tracing::error!(connection = %connection_id, error = %e, "could not remove the secret of a connection that was not stored");
    }
    Err(outcome)
}

/// New credentials for an existing connection (after the provider refused the old ones): the
/// same account only; the connection keeps its id, settings and history.
async fn reconnect_with_key(
    state: &AppState,
    caller: &Caller,
    integration: &Integration,
    id: &ConnectionId,
    credentials: Credentials,
    account: crate::domain::Account,
) -> Result<ConnectResult, ConnectError> {
    let current = match state.store.get_connection(&caller.user_id, id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ConnectError::UnknownConnection),
        Err(e) => return Err(e.into()),
    };
    if current.status == ConnectionStatus::Disconnecting {
        return Err(ConnectError::Disconnecting);
    }
    if current.integration_id != integration.id || current.account.id != account.id {
        return Err(ConnectError::Rejected {
            integration: integration.name.clone(),
            reason: format!("these credentials belong to another account than {}", current.account.name),
        });
    }
    state.vault.put(&current.secret_id, &credentials).await?;
    let restored = state.store.reactivate(&current).await?;
    state.store.write_audit(&restored, AuditAction::Reconnected, None).await?;
    crate::hooks::publish_health_change(state, &current, HealthStatus::Ok, "reconnected").await;
    Ok(ConnectResult::Reconnected(Box::new(restored)))
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("there is no such connection")]
    NotFound,
    #[error("the connection was changed at the same time; reload it and try again")]
    Conflict,
    #[error("the connection is being disconnected")]
    Disconnecting,
    #[error(transparent)]
    Invalid(ConnectError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<StoreError> for ConnectionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ConnectionError::NotFound,
            StoreError::Conflict => ConnectionError::Conflict,
            other => ConnectionError::Store(other),
        }
    }
}

pub async fn get(state: &AppState, caller: &Caller, id: &ConnectionId) -> Result<Connection, ConnectionError> {
    let connection = state.store.get_connection(&caller.user_id, id).await?;
    let level = state.store.bucket_level(&caller.user_id, id).await?;
    Ok(with_budget(connection, level))
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<Connection>, ConnectionError> {
    let connections = state.store.list_connections(&caller.user_id).await?;
    let levels = state.store.bucket_levels(&caller.user_id).await?;
    Ok(connections
        .into_iter()
        .map(|c| {
            let level = levels.iter().find(|(id, _)| id == &c.connection_id).map(|(_, level)| *level);
            with_budget(c, level)
        })
        .collect())
}

/// The connection with its API budget as it stands now (`level`: its bucket as last written;
/// none is a full bucket).
fn with_budget(mut connection: Connection, level: Option<Level>) -> Connection {
    if let Some(provider) = crate::providers::Registry::get().find(connection.integration_id.as_str()) {
        let budget = provider.capabilities().budget;
        let available =
            level.map_or(f64::from(budget.capacity), |level| level.available(&budget, crate::store::attrs::now()));
        connection.budget = Some(budget.view(available));
    }
    connection
}

#[tracing::instrument(skip_all, fields(user = %caller.user_id, connection = %id))]
pub async fn configure(
    state: &AppState,
    caller: &Caller,
    id: &ConnectionId,
    input: SettingsInput,
) -> Result<Connection, ConnectionError> {
    let mut change = settings_change(input).map_err(ConnectionError::Invalid)?;
    change.plan = Some(caller.plan);
    let current = state.store.get_connection(&caller.user_id, id).await?;
    if current.status == ConnectionStatus::Disconnecting {
        return Err(ConnectionError::Disconnecting);
    }
    if change.auto_sync == Some(true) && !current.can_sync {
        let name = state.catalog.find(current.integration_id.as_str()).map_or("This connection", |i| i.name.as_str());
        return Err(ConnectionError::Invalid(ConnectError::NothingToSync(name.to_owned())));
    }
    let updated = state.store.update_settings(&current, &change).await?;
    let level = state.store.bucket_level(&caller.user_id, id).await?;
    Ok(with_budget(updated, level))
}

/// Disconnects: out of the schedule first, then the secret, then the items. A failure at any
/// step leaves a `disconnecting` connection that a repeated DELETE finishes.
#[tracing::instrument(skip_all, fields(user = %caller.user_id, connection = %id))]
pub async fn disconnect(state: &AppState, caller: &Caller, id: &ConnectionId) -> Result<(), ConnectionError> {
    let mut current = state.store.get_connection(&caller.user_id, id).await?;
    if current.status != ConnectionStatus::Disconnecting {
        state.store.mark_disconnecting(&current).await?;
        current.status = ConnectionStatus::Disconnecting;
    }
    // A run in flight ends now; its worker stops at its next page (see the sync engine).
    if let Some(sync_id) = &current.sync_in_flight {
        state.store.cancel_run(&caller.user_id, id, sync_id, "The connection was removed.").await?;
    }
    // Revoke the grant where the provider offers it and no other connection holds it; a failure
    // does not block the disconnect but is kept in the audit entry.
    let mut audit_detail = None;
    if let Some(integration) = state.catalog.find(current.integration_id.as_str()) {
        let credentials = match state.vault.read(&current.secret_id).await {
            Ok(credentials) => Some(credentials),
            Err(VaultError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Its subscriptions stop while its credentials are still there to stop them with.
        if credentials.is_some() {
            crate::webhooks::lifecycle::unsubscribe_all(state, &current, crate::store::attrs::now()).await?;
        }
        audit_detail = crate::oauth::revoke_unless_shared(state, integration, &current, credentials.as_ref()).await?;
    }
    state.vault.delete(&current.secret_id).await?;
    // What it synced goes with it (before the connection item, so a retry can finish it).
    state.store.delete_connection_data(&caller.user_id, id).await?;
    state.store.delete_connection(&current, audit_detail.as_deref()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn trello() -> &'static Integration {
        Catalog::get().find("trello").unwrap()
    }

    #[test]
    fn missing_unknown_and_malformed_fields_are_each_reported_by_name() {
        let raw =
            BTreeMap::from([("apiKey".to_owned(), "bad key!".to_owned()), ("password".to_owned(), "x".to_owned())]);
        let Err(ConnectError::InvalidFields(errors)) = parse_credentials(trello(), raw) else {
            panic!("expected field errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["password", "apiKey", "token"]);
        assert!(errors.iter().all(|e| !e.message.contains("bad key!")));
    }

    #[test]
    fn well_formed_fields_become_credentials() {
        let raw = BTreeMap::from([
            ("apiKey".to_owned(), "0123456789abcdef".to_owned()),
            ("token".to_owned(), " abcdef0123456789 ".to_owned()),
        ]);
        let creds = parse_credentials(trello(), raw).unwrap();
        assert_eq!(creds.field("token"), Some("abcdef0123456789"));
        assert_eq!(hint_for(trello(), &creds), "••••6789");
    }

    #[test]
    fn a_credential_value_past_the_length_cap_is_refused_by_name() {
        let raw = BTreeMap::from([
            ("apiKey".to_owned(), "0123456789abcdef".to_owned()),
            ("token".to_owned(), "a".repeat(CREDENTIAL_MAX_CHARS + 1)),
        ]);
        let Err(ConnectError::InvalidFields(errors)) = parse_credentials(trello(), raw) else {
            panic!("expected field errors");
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "token");
        assert!(errors[0].message.contains("longer than"));
    }

    #[test]
    fn display_names_with_control_or_direction_characters_are_refused() {
        for bad in ["Ops\u{0007}", "Ops\nchannel", "\u{202E}lanigiro", "Ops\u{2066}x"] {
            let input = SettingsInput { display_name: Some(bad.into()), ..Default::default() };
            assert!(matches!(settings_change(input), Err(ConnectError::InvalidSettings(_))), "{bad:?}");
        }
        let fine = SettingsInput { display_name: Some("Équipe opérations".into()), ..Default::default() };
        assert!(settings_change(fine).is_ok());
    }

    #[test]
    fn display_names_are_judged_as_sent_not_after_trimming() {
        // A tab or newline around the name is a control character too, and the 80 characters
        // count what was sent: the document's pattern and maxLength say the same.
        for bad in ["\tOps", "Ops\n", &format!(" {} ", "a".repeat(79))] {
            let input = SettingsInput { display_name: Some(bad.to_owned()), ..Default::default() };
            assert!(matches!(settings_change(input), Err(ConnectError::InvalidSettings(_))), "{bad:?}");
        }
        let spaced = SettingsInput { display_name: Some("  Ops  ".into()), ..Default::default() };
        assert_eq!(settings_change(spaced).unwrap().display_name.as_deref(), Some("Ops"));
    }

    #[test]
    fn an_interval_written_as_an_integral_json_number_is_read_as_whole_minutes() {
        let read = |json: &str| serde_json::from_str::<SettingsInput>(json).map(|s| s.sync_interval_minutes);
        assert_eq!(read(r#"{"syncIntervalMinutes":15}"#).unwrap(), Some(15));
        assert_eq!(read(r#"{"syncIntervalMinutes":15.0}"#).unwrap(), Some(15));
        assert_eq!(read(r#"{"syncIntervalMinutes":1.44e3}"#).unwrap(), Some(1440));
        assert_eq!(read(r#"{"syncIntervalMinutes":null}"#).unwrap(), None);
        assert_eq!(read(r#"{}"#).unwrap(), None);
        // ApiJson reads bodies through a serde_json::Value: the same there.
        let from_value = serde_json::from_value::<SettingsInput>(serde_json::json!({ "syncIntervalMinutes": 15.0 }));
        assert_eq!(from_value.unwrap().sync_interval_minutes, Some(15));
        for bad in ["15.5", "-15", "-15.0", "1e100", "4294967296", "\"15\"", "true"] {
            assert!(read(&format!(r#"{{"syncIntervalMinutes":{bad}}}"#)).is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals_outside_the_allowed_range_are_refused() {
        let input = SettingsInput { sync_interval_minutes: Some(5), ..Default::default() };
        assert!(matches!(settings_change(input), Err(ConnectError::InvalidSettings(_))));
    }
}
