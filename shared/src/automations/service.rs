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
use crate::config::AppState;
use crate::domain::{AutomationId, ConnectionStatus};
use crate::items::Item;
use crate::standard_webhooks::SigningSecret;
use crate::store::{Automation, InsertRefusal, RunRecord, StoreError};

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
    #[error("the webhook signing secret could not be stored")]
    Vault(#[source] crate::vault::VaultError),
    #[error(transparent)]
    Store(StoreError),
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
/// connection: the caller's, active, of the action's integration.
async fn check(state: &AppState, caller: &Caller, spec: &AutomationSpec) -> Result<(), AutomationError> {
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
        connections.push(connection);
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
    check(state, caller, &spec).await?;
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
        Ok(signing_secret) => Ok(Saved { automation, signing_secret }),
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
    check(state, caller, &spec).await?;
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
    Ok(state.store.replace_automation(&current, spec).await?)
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
