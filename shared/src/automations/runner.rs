//! Runs an automation for one trigger event: its steps in order, each action at most once.
//!
//! Each step's action is claimed in DynamoDB before the provider call and its outcome recorded
//! after it. A redelivered event finds the claims: a finished action is not repeated, and one
//! whose outcome was lost (the worker stopped between the call and the record, or the answer
//! never came) is looked up at the provider by its marker first, and left `unknown` where the
//! provider offers no lookup. An action the provider did not perform (429, nothing sent) frees
//! its claim and the event is tried again later.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{OnFailure, find_action};
use super::template;
use crate::catalog::Catalog;
use crate::config::AppState;
use crate::domain::{ConnectionStatus, UserId};
use crate::http::ErrorChain;
use crate::oauth::{TokenError, fresh_credentials};
use crate::providers::{ActionCall, ActionError, Lookup, Performed, ProviderError, Registry};
use crate::store::{ActionKey, ActionRecord, ActionStatus, Automation, Bucket, ClaimSpend, Spend, StoreError};

/// A claim younger than this may belong to a worker still making the call: wait for it.
pub(super) const CLAIM_IN_PROGRESS: chrono::Duration = chrono::Duration::minutes(2);

/// A message on the automations queue: run this automation for this trigger event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomationJob {
    pub user_id: UserId,
    pub automation_id: crate::domain::AutomationId,
    pub event: TriggerEvent,
    /// Asked for by hand (`POST …/run`): it runs even while the automation is switched off.
    #[serde(default)]
    pub manual: bool,
}

/// What set a run off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerEvent {
    /// Unique per automation and occurrence: `{itemId}@{version}` for an item event, the
    /// scheduled instant for a schedule, a run id for a manual run.
    pub key: String,
    /// The item, as the item API shows it, for item triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReceipt {
    pub step: usize,
    pub action: String,
    pub status: ActionStatus,
    /// "Created an event in Google Calendar".
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub minutes_saved: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    /// Every step reached an end (done, failed or unknown); later steps after a stopping
    /// failure are left out.
    Finished(Vec<StepReceipt>),
    /// A provider did not perform a step now: deliver the event again after this long. Steps
    /// that were done stay done.
    RetryLater(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a step's action acts through: the provider, its base URL and the credentials.
struct Target {
    connection_id: crate::domain::ConnectionId,
    provider: &'static dyn crate::providers::Provider,
    base: String,
    credentials: crate::vault::Credentials,
    name: String,
}

pub(super) enum StepEnd {
    Receipt(StepReceipt, Option<Performed>),
    Retry(Duration),
}

pub async fn run_automation(
    state: &AppState,
    automation: &Automation,
    event: &TriggerEvent,
    now: DateTime<Utc>,
) -> Result<RunResult, RunnerError> {
    let mut receipts = Vec::new();
    let mut outputs: Vec<Value> = vec![Value::Null];
    for (i, step) in automation.spec.steps.iter().enumerate() {
        let number = i + 1;
        let key = ActionKey { automation_id: automation.automation_id.clone(), event: event.key.clone(), step: number };
        let end = run_step(state, automation, event, &outputs, number, &key, now).await?;
        let (receipt, performed) = match end {
            StepEnd::Receipt(receipt, performed) => (receipt, performed),
            StepEnd::Retry(wait) => return Ok(RunResult::RetryLater(wait)),
        };
        let performed = performed.unwrap_or_default();
        outputs.push(serde_json::json!({"id": performed.id, "url": performed.url, "title": performed.title}));
        let stop = receipt.status != ActionStatus::Done && step.on_failure == OnFailure::Stop;
        receipts.push(receipt);
        if stop {
            break;
        }
    }
    Ok(RunResult::Finished(receipts))
}

async fn run_step(
    state: &AppState,
    automation: &Automation,
    event: &TriggerEvent,
    outputs: &[Value],
    number: usize,
    key: &ActionKey,
    now: DateTime<Utc>,
) -> Result<StepEnd, RunnerError> {
    let step = &automation.spec.steps[number - 1];
    let user = &automation.user_id;
    let Some(action) = find_action(&step.action) else {
        return Ok(failed(number, &step.action, "This action is no longer offered.", 0));
    };
    let receipt = |status: ActionStatus, performed: Option<&Performed>, error: Option<String>| StepReceipt {
        step: number,
        action: step.action.clone(),
        status: status.clone(),
        summary: match status {
            ActionStatus::Done => action.spec.receipt.to_owned(),
            ActionStatus::Unknown => format!("Not sure whether this happened: {}", action.spec.receipt.to_lowercase()),
            _ => format!("Could not do this: {}", action.spec.receipt.to_lowercase()),
        },
        provider_id: performed.and_then(|p| p.id.clone()),
        url: performed.and_then(|p| p.url.clone()),
        error,
        minutes_saved: if status == ActionStatus::Done { action.spec.minutes_saved } else { 0 },
    };
    let from_record = |record: &ActionRecord| {
        let performed = Performed { id: record.provider_id.clone(), url: record.url.clone(), title: None };
        StepEnd::Receipt(receipt(record.status.clone(), Some(&performed), record.error.clone()), Some(performed))
    };

    // Fields first: a template that cannot be filled in is this step's failure, before any claim.
    let context = minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
        "item": event.item,
        "steps": outputs,
        "now": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "automation": {"name": automation.spec.name},
    })));
    let mut params = std::collections::BTreeMap::new();
    for (name, source) in &step.params {
        match template::render(source, &context) {
            Ok(value) => {
                params.insert(name.clone(), value);
            }
            Err(e) => {
                return Ok(StepEnd::Receipt(receipt(ActionStatus::Failed, None, Some(format!("`{name}`: {e}"))), None));
            }
        }
    }
    if action.spec.id.ends_with(".postAgenda") {
        // The digest: the day's agenda, written for a channel.
        match agenda_text(state, automation, now, params.get("intro").map(String::as_str)).await {
            Ok(text) => {
                params.insert("text".into(), text);
            }
            Err(e) => {
                tracing::warn!(error = %ErrorChain(&e), "the agenda could not be read; later");
                return Ok(StepEnd::Retry(Duration::from_secs(60)));
            }
        }
    }
    if action.integration_id.is_none() {
        // `webhook.post`: no connection, a signed POST.
        return super::webhook::post(state, automation, event, key, &params, now, &receipt).await;
    }
    let target = match target(state, user, step.connection_id.as_ref(), action.integration_id).await {
        Ok(target) => target,
        Err(TargetError::Unusable(reason)) => {
            return Ok(StepEnd::Receipt(receipt(ActionStatus::Failed, None, Some(reason)), None));
        }
        Err(TargetError::Later(reason)) => {
            tracing::warn!(%reason, "the step's connection cannot be used now; the event will come again");
            return Ok(StepEnd::Retry(Duration::from_secs(60)));
        }
        Err(TargetError::Store(e)) => return Err(e.into()),
    };
    let marker = key.token();
    let call = ActionCall {
        http: &state.http,
        base: &target.base,
        credentials: &target.credentials,
        params: &params,
        marker: &marker,
        item: event.item.as_ref(),
    };

    // The claim and the provider calls' cost from the connection's budget are one write (a step
    // already done costs nothing). An empty budget is not a failure: nothing is claimed and the
    // event comes again once the budget has refilled.
    let mut bucket = Bucket::new(user, &target.connection_id, target.provider.capabilities().budget);
    match state.store.claim_action_and_spend(user, key, &mut bucket, action.spec.calls, now).await? {
        ClaimSpend::Claimed => {}
        ClaimSpend::Empty { wait } => {
            tracing::info!(wait_ms = wait.as_millis() as u64, "the connection's API budget is spent; later");
            return Ok(StepEnd::Retry(wait));
        }
        ClaimSpend::Taken(record) if record.status != ActionStatus::Sending => return Ok(from_record(&record)),
        ClaimSpend::Taken(record) if now - record.claimed_at < CLAIM_IN_PROGRESS => {
            return Ok(StepEnd::Retry(Duration::from_secs(CLAIM_IN_PROGRESS.num_seconds() as u64)));
        }
        ClaimSpend::Taken(record) => {
            if let Spend::Empty { wait } = state.store.spend(&mut bucket, action.spec.calls, now).await? {
                return Ok(StepEnd::Retry(wait));
            }
            // An earlier attempt claimed it and never said how it went: look before sending again.
            let lookup = target.provider.find_performed(action.spec, &call);
            match crate::metrics::for_provider(target.provider.id(), lookup).await {
                Ok(Lookup::Found(performed)) => {
                    return complete(state, user, key, &record, Outcome::Done(performed), &receipt).await;
                }
                Ok(Lookup::NotFound) => {}
                Ok(Lookup::NotOffered) => {
                    let error = "The earlier attempt's outcome was lost and cannot be checked; it was not sent again.";
                    return complete(state, user, key, &record, Outcome::Unknown(error.into()), &receipt).await;
                }
                Err(e) => {
                    tracing::warn!(error = %ErrorChain(&e), "could not look the earlier attempt up; later");
                    return Ok(StepEnd::Retry(retry_wait(&e)));
                }
            }
        }
    }
    let claimed =
        ActionRecord { status: ActionStatus::Sending, claimed_at: now, provider_id: None, url: None, error: None };
    match crate::metrics::for_provider(target.provider.id(), target.provider.perform(action.spec, &call)).await {
        Ok(performed) => complete(state, user, key, &claimed, Outcome::Done(performed), &receipt).await,
        Err(ActionError::NotDone(e)) => {
            // Nothing happened at the provider: give the claim back and come again.
            state.store.release_action(user, key).await?;
            tracing::info!(error = %ErrorChain(&e), "the provider did not perform the action; later");
            Ok(StepEnd::Retry(retry_wait(&e)))
        }
        Err(ActionError::Uncertain(e)) => {
            // The claim stays: the next delivery looks it up before anything is sent again.
            tracing::warn!(error = %ErrorChain(&e), "the action's outcome is unknown; it will be looked up");
            Ok(StepEnd::Retry(Duration::from_secs(30)))
        }
        Err(e) => {
            let message = e.user_message(&target.name);
            tracing::warn!(error = %ErrorChain(&e), "the action failed");
            complete(state, user, key, &claimed, Outcome::Failed(message), &receipt).await
        }
    }
}

/// How a claimed action ended.
pub(super) enum Outcome {
    Done(Performed),
    Failed(String),
    Unknown(String),
}

/// Records the step's end on its claim and returns its receipt.
pub(super) async fn complete(
    state: &AppState,
    user: &UserId,
    key: &ActionKey,
    claimed: &ActionRecord,
    outcome: Outcome,
    receipt: &impl Fn(ActionStatus, Option<&Performed>, Option<String>) -> StepReceipt,
) -> Result<StepEnd, RunnerError> {
    let (status, performed, error) = match outcome {
        Outcome::Done(performed) => (ActionStatus::Done, Some(performed), None),
        Outcome::Failed(error) => (ActionStatus::Failed, None, Some(error)),
        Outcome::Unknown(error) => (ActionStatus::Unknown, None, Some(error)),
    };
    let record = ActionRecord {
        status: status.clone(),
        claimed_at: claimed.claimed_at,
        provider_id: performed.as_ref().and_then(|p| p.id.clone()),
        url: performed.as_ref().and_then(|p| p.url.clone()),
        error: error.clone(),
    };
    match state.store.complete_action(user, key, &record).await {
        Ok(()) => {}
        // Another delivery recorded it first: its record stands.
        Err(StoreError::Conflict) => {
            let stored = state.store.action_record(user, key).await?;
            let performed = Performed { id: stored.provider_id.clone(), url: stored.url.clone(), title: None };
            return Ok(StepEnd::Receipt(receipt(stored.status, Some(&performed), stored.error), Some(performed)));
        }
        Err(e) => return Err(e.into()),
    }
    let done = receipt(status, performed.as_ref(), error);
    crate::metrics::Record::new("Action", "Action", done.action.as_str())
        .count("Done", u64::from(done.status == ActionStatus::Done))
        .count("Failed", u64::from(done.status == ActionStatus::Failed))
        .count("Unknown", u64::from(done.status == ActionStatus::Unknown))
        .emit();
    Ok(StepEnd::Receipt(done, performed))
}

/// Today's agenda as a message: meetings, tasks due, overdue tasks, unanswered mentions and
/// files changed by others, in the schedule's time zone.
async fn agenda_text(
    state: &AppState,
    automation: &Automation,
    now: DateTime<Utc>,
    intro: Option<&str>,
) -> Result<String, crate::items::ItemsError> {
    let tz = match &automation.spec.trigger {
        super::model::Trigger::Schedule(s) => s.time_zone.parse().unwrap_or(chrono_tz::UTC),
        _ => chrono_tz::UTC,
    };
    let caller = crate::auth::Caller { user_id: automation.user_id.clone(), plan: crate::domain::Plan::Free };
    let agenda = crate::items::agenda(state, &caller, 1, tz).await?;
    let today = now.with_timezone(&tz).format("%A %-d %B");
    let mut lines =
        vec![intro.filter(|i| !i.trim().is_empty()).unwrap_or("Your day:").to_owned(), format!("*{today}*")];
    let time = |item: &crate::items::Item| {
        item.start_at
            .as_deref()
            .and_then(crate::items::When::parse)
            .map(|w| match w {
                crate::items::When::At(at) => at.with_timezone(&tz).format("%H:%M").to_string(),
                crate::items::When::Day(_) => "all day".into(),
            })
            .unwrap_or_default()
    };
    if let Some(day) = agenda.days.first() {
        lines.extend(day.meetings.iter().map(|m| format!("• {} {}", time(m), m.title)));
        lines.extend(day.tasks.iter().map(|t| format!("• Due: {}", t.title)));
        lines.extend(day.mentions.iter().map(|m| format!("• Mentioned you: {}", m.title)));
        lines.extend(day.files.iter().map(|f| format!("• Changed by someone else: {}", f.title)));
    }
    if !agenda.overdue.is_empty() {
        lines.push(format!("• Overdue: {} task(s), the oldest {}", agenda.overdue.len(), agenda.overdue[0].title));
    }
    if lines.len() == 2 {
        lines.push("Nothing scheduled. A clear day!".into());
    }
    Ok(lines.join("\n"))
}

fn failed(step: usize, action: &str, error: &str, minutes_saved: u32) -> StepEnd {
    StepEnd::Receipt(
        StepReceipt {
            step,
            action: action.to_owned(),
            status: ActionStatus::Failed,
            summary: format!("Could not do `{action}`"),
            provider_id: None,
            url: None,
            error: Some(error.to_owned()),
            minutes_saved,
        },
        None,
    )
}

fn retry_wait(e: &ProviderError) -> Duration {
    match e {
        ProviderError::RateLimited(wait) => (*wait).max(Duration::from_secs(1)),
        _ => Duration::from_secs(60),
    }
}

enum TargetError {
    /// The step cannot run with this connection (removed, needs the user, another provider).
    Unusable(String),
    /// Not now (a token refresh that failed for a while).
    Later(String),
    Store(StoreError),
}

async fn target(
    state: &AppState,
    user: &UserId,
    connection: Option<&crate::domain::ConnectionId>,
    integration: Option<&'static str>,
) -> Result<Target, TargetError> {
    let (Some(connection), Some(integration_id)) = (connection, integration) else {
        return Err(TargetError::Unusable("The step names no connection.".into()));
    };
    let connection = match state.store.get_connection(user, connection).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(TargetError::Unusable("The step's connection was removed.".into())),
        Err(e) => return Err(TargetError::Store(e)),
    };
    let integration = Catalog::get().find(connection.integration_id.as_str());
    let provider = Registry::get().find(connection.integration_id.as_str());
    let (Some(integration), Some(provider)) = (integration, provider) else {
        return Err(TargetError::Unusable("The step's integration is no longer offered.".into()));
    };
    if integration.id.as_str() != integration_id {
        return Err(TargetError::Unusable(format!("The step needs a {integration_id} connection.")));
    }
    if connection.status != ConnectionStatus::Active {
        let reason = connection
            .status_reason
            .clone()
            .unwrap_or_else(|| format!("{} needs you to connect it again.", integration.name));
        return Err(TargetError::Unusable(reason));
    }
    let credentials = match fresh_credentials(state, &connection, None).await {
        Ok(c) => c,
        Err(TokenError::Revoked(reason)) => return Err(TargetError::Unusable(reason)),
        Err(e) => return Err(TargetError::Later(e.to_string())),
    };
    Ok(Target {
        connection_id: connection.connection_id.clone(),
        provider,
        base: state.endpoints.api_base(integration),
        credentials,
        name: integration.name.clone(),
    })
}
