//! The automations' use cases behind the API: save (checked whole, counted against the plan in
//! the write's transaction), read, switch on and off, remove, dry-run, run now, and list runs.
//! Another user's automations answer as missing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::dry_run::{DryRun, dry_run};
use super::model::{AutomationLimits, AutomationSpec, Invalid, WEBHOOK_ACTION, find_action};
use super::runner::{AutomationJob, TriggerEvent};
use super::webhook;
use crate::auth::Caller;
use crate::catalog::AuthMode;
use crate::config::AppState;
use crate::domain::Connection;
use crate::domain::{AutomationId, ConnectionStatus};
use crate::items::Item;
use crate::oauth::start_consent;
use crate::providers::{ActionSpec, Registry};
use crate::standard_webhooks::SigningSecret;
use crate::store::{AuditAction, Automation, InsertRefusal, RunRecord, StoreError, Subject};
use crate::vault::Credentials;

/// A manual run queues at most this many item events (the first matching items).
pub const MAX_MANUAL_EVENTS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum AutomationError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// Valid, but more than the caller's plan gives (steps, premium actions, how many).
    #[error("{0}")]
    Plan(String),
    #[error("the automation was not found")]
    NotFound,
    #[error("the automation was changed by another request; read it again")]
    Conflict,
    #[error("runs cannot be queued here (AUTOMATIONS_QUEUE_URL is not set)")]
    NoQueue,
    #[error("the run could not be queued")]
    Queue(#[source] crate::queue::QueueError),
    /// A step's connection was not granted a scope its action needs: the user consents to it
    /// at the provider first.
    #[error("{0}: the connection was not granted `{scope}` yet", scope = .0.scope)]
    ScopeMissing(Box<ScopeMissing>),
    /// A connection's permissions could not be read, or a webhook signing secret stored.
    #[error("the secret store could not be reached")]
    Vault(#[source] crate::vault::VaultError),
    #[error("the permission could not be asked for")]
    Consent(#[source] crate::connections::ConnectError),
    #[error(transparent)]
    Store(StoreError),
}

/// What a step's connection lacks, and where the user grants it.
#[derive(Debug)]
pub struct ScopeMissing {
    pub connection_id: crate::domain::ConnectionId,
    pub scope: String,
    /// "Allow Director of One to create events in Google Calendar".
    pub consent: String,
    /// The provider's authorization URL, from a new OAuth state for the same connection.
    pub reconsent_url: String,
    /// The `Set-Cookie` that binds that sign-in to the caller's browser.
    pub cookie: String,
}

impl std::fmt::Display for ScopeMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.consent)
    }
}

impl From<StoreError> for AutomationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AutomationError::NotFound,
            StoreError::Conflict => AutomationError::Conflict,
            other => AutomationError::Store(other),
        }
    }
}

/// Checks a definition for this caller: on its own, against the plan, and each step's
/// connection: the caller's, active, of the action's integration. Returns each step's
/// connection, with the step's action.
async fn check(
    state: &AppState,
    caller: &Caller,
    spec: &AutomationSpec,
) -> Result<Vec<(Connection, &'static ActionSpec)>, AutomationError> {
    spec.validate()?;
    spec.check_plan(&AutomationLimits::for_plan(caller.plan)).map_err(|e| AutomationError::Plan(e.0))?;
    let mut connections = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let (Some(id), Some(action)) = (&step.connection_id, find_action(&step.action)) else { continue };
        let at = format!("steps[{}].connectionId", i + 1);
        let connection = match state.store.get_connection(&caller.user_id, id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => {
                return Err(Invalid { at, reason: "there is no such connection".into() }.into());
            }
            Err(e) => return Err(e.into()),
        };
        if Some(connection.integration_id.as_str()) != action.integration_id {
            let needs = action.integration_id.unwrap_or_default();
            return Err(Invalid { at, reason: format!("`{}` needs a {needs} connection", step.action) }.into());
        }
        if connection.status != ConnectionStatus::Active {
            return Err(Invalid { at, reason: "the connection needs you to connect it again".into() }.into());
        }
        connections.push((connection, action.spec));
    }
    if let Some(filter) = spec.trigger.item_filter()
        && let Some(id) = &filter.connection_id
    {
        match state.store.get_connection(&caller.user_id, id).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                let at = "trigger.connectionId".to_owned();
                return Err(Invalid { at, reason: "there is no such connection".into() }.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(connections)
}

/// Whether a granted scope is `wanted` (Microsoft may answer with the resource's URI in front:
/// `https://graph.microsoft.com/ChannelMessage.Send`).
fn grants(granted: &str, wanted: &str) -> bool {
    granted == wanted || granted.strip_suffix(wanted).is_some_and(|prefix| prefix.ends_with('/'))
}

/// An automation that is switched on needs, on each step's connection signed in with OAuth, the
/// write scope of the step's action. The token set keeps the scopes the provider granted; the
/// first one missing is asked for by incremental consent on the same connection. Token
/// connections (API keys) carry no scopes and are not checked.
async fn check_scopes(
    state: &AppState,
    caller: &Caller,
    steps: &[(Connection, &'static ActionSpec)],
) -> Result<(), AutomationError> {
    for (connection, action) in steps {
        let Some(scope) = action.scope else { continue };
        if connection.auth_kind != AuthMode::Oauth2 {
            continue;
        }
        let (Some(integration), Some(provider)) = (
            state.catalog.find(connection.integration_id.as_str()),
            Registry::get().find(connection.integration_id.as_str()),
        ) else {
            continue;
        };
        let granted = match state.vault.read(&connection.secret_id).await.map_err(AutomationError::Vault)? {
            Credentials::OAuth(tokens) => tokens.scopes,
            Credentials::ApiKey(_) => continue,
        };
        if granted.iter().any(|g| grants(g, scope)) {
            continue;
        }
        let allows = provider.capabilities().allows(scope).unwrap_or("act for you there");
        // Back to the page afterwards, with `connected={connectionId}` as any sign-in.
        let start = start_consent(state, caller, integration, &connection.connection_id, scope, None)
            .await
            .map_err(AutomationError::Consent)?;
        return Err(AutomationError::ScopeMissing(Box::new(ScopeMissing {
            connection_id: connection.connection_id.clone(),
            scope: scope.to_owned(),
            consent: format!("Allow Director of One to {allows}"),
            cookie: start.set_cookie(),
            reconsent_url: start.authorization_url,
        })));
    }
    Ok(())
}

/// An automation as saved, with the signing secret of its `webhook.post` steps when this save
/// made it (it is shown this once).
#[derive(Debug)]
pub struct Saved {
    pub automation: Automation,
    pub signing_secret: Option<SigningSecret>,
}

fn has_webhook_step(spec: &AutomationSpec) -> bool {
    spec.steps.iter().any(|s| s.action == WEBHOOK_ACTION.id)
}

/// Makes the automation's signing secret if it has a `webhook.post` step and no secret yet
/// (one CreateSecret; an existing secret is kept and not shown again).
async fn ensure_signing_secret(
    state: &AppState,
    automation: &Automation,
) -> Result<Option<SigningSecret>, AutomationError> {
    if !has_webhook_step(&automation.spec) {
        return Ok(None);
    }
    let name = state.vault.signing_secret_name(&automation.user_id, &webhook::secret_owner(&automation.automation_id));
    let secret = SigningSecret::generate();
    match state.vault.create_signing_secret(&name, &secret).await.map_err(AutomationError::Vault)? {
        true => Ok(Some(secret)),
        false => Ok(None),
    }
}

pub async fn create(state: &AppState, caller: &Caller, spec: AutomationSpec) -> Result<Saved, AutomationError> {
    let steps = check(state, caller, &spec).await?;
    if spec.enabled {
        check_scopes(state, caller, &steps).await?;
    }
    let limit = AutomationLimits::for_plan(caller.plan).automations;
    let automation = match state.store.insert_automation(&caller.user_id, spec, caller.plan, limit).await? {
        Ok(automation) => automation,
        Err(InsertRefusal::LimitReached(n)) => {
            return Err(AutomationError::Plan(format!(
                "Your plan allows {n} automations; remove one or move to premium for more."
            )));
        }
    };
    match ensure_signing_secret(state, &automation).await {
        Ok(signing_secret) => {
            audit(state, caller, AuditAction::AutomationCreated, &automation).await;
            Ok(Saved { automation, signing_secret })
        }
        Err(e) => {
            // Without its secret the automation could not sign: it is not kept.
            if let Err(cleanup) = state.store.delete_automation(&caller.user_id, &automation.automation_id).await {
                tracing::error!(error = %crate::http::ErrorChain(&cleanup), "could not remove an automation left without its secret");
            }
            Err(e)
        }
    }
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<Automation>, AutomationError> {
    Ok(state.store.list_automations(&caller.user_id).await?)
}

pub async fn get(state: &AppState, caller: &Caller, id: &AutomationId) -> Result<Automation, AutomationError> {
    Ok(state.store.get_automation(&caller.user_id, id).await?)
}

pub async fn replace(
    state: &AppState,
    caller: &Caller,
    id: &AutomationId,
    spec: AutomationSpec,
) -> Result<Saved, AutomationError> {
    let current = state.store.get_automation(&caller.user_id, id).await?;
    let steps = check(state, caller, &spec).await?;
    if spec.enabled {
        check_scopes(state, caller, &steps).await?;
    }
    let automation = state.store.replace_automation(&current, spec).await?;
    // A webhook step added now gets its secret now (the automation is saved; saving it again
    // makes the secret if this fails).
    let signing_secret = ensure_signing_secret(state, &automation).await?;
    Ok(Saved { automation, signing_secret })
}

/// What PATCH may change: the name and the switch.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutomationPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &AutomationId,
    patch: AutomationPatch,
) -> Result<Automation, AutomationError> {
    let current = state.store.get_automation(&caller.user_id, id).await?;
    let mut spec = current.spec.clone();
    if let Some(name) = patch.name {
        spec.name = name;
    }
    if let Some(enabled) = patch.enabled {
        spec.enabled = enabled;
    }
    spec.validate()?;
    if spec.enabled && !current.spec.enabled {
        // Switched on: its steps' connections must hold the scopes their actions need.
        let steps = check(state, caller, &spec).await?;
        check_scopes(state, caller, &steps).await?;
    }
    let switched = (spec.enabled != current.spec.enabled).then_some(spec.enabled);
    let updated = state.store.replace_automation(&current, spec).await?;
    match switched {
        Some(true) => audit(state, caller, AuditAction::AutomationEnabled, &updated).await,
        Some(false) => audit(state, caller, AuditAction::AutomationDisabled, &updated).await,
        None => {}
    }
    Ok(updated)
}

/// The audit entry of a change already made: a failure to write it is logged, not answered.
async fn audit(state: &AppState, caller: &Caller, action: AuditAction, automation: &Automation) {
    let id = automation.automation_id.to_string();
    let written = state
        .store
        .write_audit_about(&caller.user_id, caller.plan, action, Subject::Other(&id), Some(&automation.spec.name))
        .await;
    if let Err(e) = written {
        tracing::warn!(automation = %id, error = %crate::http::ErrorChain(&e), "could not audit an automation change");
    }
}

pub async fn delete(state: &AppState, caller: &Caller, id: &AutomationId) -> Result<(), AutomationError> {
    let current = state.store.get_automation(&caller.user_id, id).await?;
    state.store.delete_automation(&caller.user_id, id).await?;
    if has_webhook_step(&current.spec) {
        let name = state.vault.signing_secret_name(&caller.user_id, &webhook::secret_owner(id));
        if let Err(e) = state.vault.delete(&name).await {
            tracing::error!(error = %crate::http::ErrorChain(&e), "could not delete a removed automation's signing secret");
        }
    }
    Ok(())
}

/// The caller's items, as the item API shows them (one Query of the user's records).
async fn items(state: &AppState, caller: &Caller) -> Result<Vec<Item>, AutomationError> {
    let records = state.store.user_records(&caller.user_id, "").await?;
    Ok(records.iter().map(Item::from).collect())
}

/// What a definition would do now, with no provider call and no write.
pub async fn preview(
    state: &AppState,
    caller: &Caller,
    spec: &AutomationSpec,
    now: DateTime<Utc>,
) -> Result<DryRun, AutomationError> {
    check(state, caller, spec).await?;
    Ok(dry_run(spec, &items(state, caller).await?, now))
}

/// What a manual run queued.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualRun {
    pub run_id: String,
    /// Runs queued: one per matching item (at most [`MAX_MANUAL_EVENTS`]), or one.
    pub queued: usize,
}

/// Runs an automation now: its matching items (or, on a schedule, once), through the queue, as
/// any run. An item's event is keyed by its version, as a sync's is, so a version already acted
/// on (by a sync's event or an earlier manual run) is not acted on again (an `item.due_soon`
/// event by when the item is due, as the scheduler keys it); a schedule's manual run is an event
/// of its own each time.
pub async fn run_now(
    state: &AppState,
    caller: &Caller,
    id: &AutomationId,
    now: DateTime<Utc>,
) -> Result<ManualRun, AutomationError> {
    let queue = state.automations.as_ref().ok_or(AutomationError::NoQueue)?;
    let automation = state.store.get_automation(&caller.user_id, id).await?;
    let run_id = ulid::Ulid::new().to_string();
    let records = state.store.user_records(&caller.user_id, "").await?;
    let all: Vec<Item> = records.iter().map(Item::from).collect();
    let preview = dry_run(&automation.spec, &all, now);
    let job = |key: String, item: Option<serde_json::Value>| AutomationJob {
        user_id: caller.user_id.clone(),
        automation_id: automation.automation_id.clone(),
        event: TriggerEvent { key, item },
        manual: true,
    };
    let jobs: Vec<AutomationJob> = if automation.spec.trigger.item_filter().is_none() {
        vec![job(format!("manual:{run_id}"), None)]
    } else {
        // Keyed as the sync's events are: a version of an item is acted on once, whether a
        // sync or a manual run set the automation off.
        all.iter()
            .zip(&records)
            .filter(|(i, _)| preview.matching_items.contains(&i.item_id))
            .take(MAX_MANUAL_EVENTS)
            .map(|(i, r)| {
                let key = match (&automation.spec.trigger, super::due_instant(i)) {
                    // As the scheduler keys it: once for each time the item is due.
                    (super::Trigger::DueSoon { .. }, Some(due)) => super::due_soon_key(&i.item_id, due),
                    _ => crate::sync::item_version_key(&i.item_id, &crate::store::content_hash(&r.record)),
                };
                job(key, serde_json::to_value(i).ok())
            })
            .collect()
    };
    let failed = queue.send_batch(&jobs).await;
    if let Some((_, reason)) = failed.first() {
        tracing::error!(%reason, failed = failed.len(), "could not queue a manual automation run");
    }
    Ok(ManualRun { run_id, queued: jobs.len() - failed.len() })
}

pub async fn runs(state: &AppState, caller: &Caller, id: &AutomationId) -> Result<Vec<RunRecord>, AutomationError> {
    state.store.get_automation(&caller.user_id, id).await?;
    Ok(state.store.automation_runs(&caller.user_id, id).await?)
}

/// The templates, filled in with the caller's connections.
pub async fn templates(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<super::templates::TemplateView>, AutomationError> {
    let connections = state.store.list_connections(&caller.user_id).await?;
    Ok(super::templates::templates(&connections))
}

#[cfg(test)]
mod tests {
    use super::grants;

    #[test]
    fn a_scope_is_granted_as_named_or_behind_its_resource_uri() {
        assert!(grants("chat:write", "chat:write"));
        assert!(grants("https://graph.microsoft.com/ChannelMessage.Send", "ChannelMessage.Send"));
        assert!(!grants(
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/calendar.events"
        ));
        assert!(!grants("chat:write.public", "chat:write"));
        assert!(!grants("XChannelMessage.Send", "ChannelMessage.Send"));
    }
}
