//! The `webhook.post` step: a POST to any HTTPS URL, signed per the Standard Webhooks spec
//! with the automation's own secret (made when the automation is saved, kept in Secrets
//! Manager, shown once).
//!
//! Its `webhook-id` is `msg_` and the action's idempotency key (automation, trigger event,
//! step), so a receiver that deduplicates by it acts once: the step is claimed like any action,
//! and where an attempt's answer was lost (a timeout, a 5xx, a worker stopped before recording
//! it) sending again is safe, so it is sent again rather than marked unknown.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::runner::{CLAIM_IN_PROGRESS, Outcome, RunnerError, StepEnd, StepReceipt, TriggerEvent, complete};
use crate::config::AppState;
use crate::domain::AutomationId;
use crate::hooks::target::{SendError, check_url, post_signed};
use crate::http::ErrorChain;
use crate::providers::Performed;
use crate::store::{ActionKey, ActionRecord, ActionStatus, Automation, Claim};
use crate::vault::VaultError;

/// The event type of the body a `webhook.post` step sends.
pub const EVENT_TYPE: &str = "automation.webhook";

/// The owner part of an automation's signing secret's name.
pub fn secret_owner(automation: &AutomationId) -> String {
    format!("automation-{automation}")
}

/// The `webhook-id` of a step's POST: the action's idempotency key.
pub fn message_id(key: &ActionKey) -> String {
    format!("msg_{}", key.token())
}

pub(super) async fn post(
    state: &AppState,
    automation: &Automation,
    event: &TriggerEvent,
    key: &ActionKey,
    params: &BTreeMap<String, String>,
    now: DateTime<Utc>,
    receipt: &impl Fn(ActionStatus, Option<&Performed>, Option<String>) -> StepReceipt,
) -> Result<StepEnd, RunnerError> {
    let user = &automation.user_id;
    let failed = |error: String| Ok(StepEnd::Receipt(receipt(ActionStatus::Failed, None, Some(error)), None));
    let url = match check_url(params.get("url").map(String::as_str).unwrap_or_default(), state.hook_targets) {
        Ok(url) => url,
        Err(e) => return failed(format!("`url`: {e}")),
    };
    let name = state.vault.signing_secret_name(user, &secret_owner(&automation.automation_id));
    let secret = match state.vault.read_signing_secret(&name).await {
        Ok(secret) => secret,
        Err(VaultError::NotFound) => {
            return failed("The automation has no signing secret; save it again to make one.".into());
        }
        Err(e) => {
            tracing::warn!(error = %ErrorChain(&e), "the signing secret could not be read; later");
            return Ok(StepEnd::Retry(Duration::from_secs(60)));
        }
    };
    match state.store.claim_action(user, key).await? {
        Claim::Claimed => {}
        Claim::Taken(record) if record.status != ActionStatus::Sending => {
            let performed = Performed { id: record.provider_id.clone(), url: record.url.clone(), title: None };
            return Ok(StepEnd::Receipt(receipt(record.status, Some(&performed), record.error), Some(performed)));
        }
        Claim::Taken(record) if now - record.claimed_at < CLAIM_IN_PROGRESS => {
            return Ok(StepEnd::Retry(Duration::from_secs(CLAIM_IN_PROGRESS.num_seconds() as u64)));
        }
        // An attempt whose outcome was lost: the receiver deduplicates by `webhook-id`.
        Claim::Taken(_) => {}
    }
    let id = message_id(key);
    let body = serde_json::json!({
        "type": EVENT_TYPE,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "automation": {"id": automation.automation_id, "name": automation.spec.name},
            "step": key.step,
            "trigger": event.key,
            "item": event.item,
        },
    })
    .to_string();
    let claimed =
        ActionRecord { status: ActionStatus::Sending, claimed_at: now, provider_id: None, url: None, error: None };
    let again = |wait: Duration| async move {
        // Nothing is known to have been acted on: give the claim back and send it again later.
        state.store.release_action(user, key).await?;
        Ok::<_, RunnerError>(StepEnd::Retry(wait))
    };
    match post_signed(&url, state.hook_targets, &secret, &id, &body).await {
        Ok(answer) if (200..300).contains(&answer.status) => {
            let performed = Performed { id: Some(id), url: None, title: None };
            complete(state, user, key, &claimed, Outcome::Done(performed), receipt).await
        }
        Ok(answer) if answer.status == 408 || answer.status == 429 || answer.status >= 500 => {
            tracing::info!(status = answer.status, "the webhook's receiver asked for a retry; later");
            again(answer.retry_after.unwrap_or(Duration::from_secs(60)).max(Duration::from_secs(1))).await
        }
        Ok(answer) => {
            let error = format!("The receiver answered {}.", answer.status);
            complete(state, user, key, &claimed, Outcome::Failed(error), receipt).await
        }
        Err(SendError::Refused(e)) => {
            complete(state, user, key, &claimed, Outcome::Failed(format!("`url`: {e}")), receipt).await
        }
        Err(e @ SendError::Network { .. }) => {
            tracing::info!(error = %ErrorChain(&e), "the webhook's receiver could not be reached; later");
            again(Duration::from_secs(60)).await
        }
    }
}
