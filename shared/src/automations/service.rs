//! The automations' use cases behind the API: save (checked whole, counted against the plan in
//! the write's transaction), read, switch on and off, remove, dry-run, run now, and list runs.
//! Another user's automations answer as missing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::dry_run::{DryRun, dry_run};
use super::model::{AutomationLimits, AutomationSpec, Invalid, find_action};
use super::runner::{AutomationJob, TriggerEvent};
use crate::auth::Caller;
use crate::config::AppState;
use crate::domain::{AutomationId, ConnectionStatus};
use crate::items::Item;
use crate::store::{AuditAction, Automation, InsertRefusal, RunRecord, StoreError, Subject};

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

pub async fn create(state: &AppState, caller: &Caller, spec: AutomationSpec) -> Result<Automation, AutomationError> {
    check(state, caller, &spec).await?;
    let limit = AutomationLimits::for_plan(caller.plan).automations;
    match state.store.insert_automation(&caller.user_id, spec, caller.plan, limit).await? {
        Ok(automation) => {
            audit(state, caller, AuditAction::AutomationCreated, &automation).await;
            Ok(automation)
        }
        Err(InsertRefusal::LimitReached(n)) => Err(AutomationError::Plan(format!(
            "Your plan allows {n} automations; remove one or move to premium for more."
        ))),
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
) -> Result<Automation, AutomationError> {
    let current = state.store.get_automation(&caller.user_id, id).await?;
    check(state, caller, &spec).await?;
    Ok(state.store.replace_automation(&current, spec).await?)
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
    Ok(state.store.delete_automation(&caller.user_id, id).await?)
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
