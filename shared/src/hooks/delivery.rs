//! One attempt of one hook delivery, as the delivery worker makes it.
//!
//! The body is signed (Standard Webhooks) and POSTed to the hook's target, after the SSRF guard
//! has resolved and checked it again. Every attempt is recorded on the delivery with its status
//! and duration. A 2xx delivers it; a 410 Gone removes the hook; anything else (an error
//! status, no answer) is tried again after a growing wait ([`RETRY_WAITS`], about a day in
//! all), by queueing the delivery again. Waits longer than SQS's 15-minute delay are made of
//! hops: the message carries `notBefore`, and a hop that arrives early is queued on.
//!
//! Every attempt of a delivery carries the same `webhook-id`: a receiver that got an attempt
//! whose answer was lost deduplicates the next.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::HookDelivery;
use super::target::{SendError, post_signed};
use crate::config::AppState;
use crate::domain::{HookId, UserId};
use crate::http::ErrorChain;
use crate::queue::QueueError;
use crate::standard_webhooks::SigningSecret;
use crate::store::{Attempt, AttemptRecord, DeliveryStatus, StoreError};
use crate::vault::VaultError;

/// The wait before attempt n + 1 after attempt n failed: the spec's example schedule, ending
/// about 24 hours after the first attempt (8 attempts).
pub const RETRY_WAITS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(8 * 3600),
    Duration::from_secs(8 * 3600),
];
/// SQS's longest delay.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// What became of a delivery message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// This attempt failed; the next is queued.
    Retrying {
        next_attempt: u32,
        wait: Duration,
    },
    /// Every attempt failed.
    Failed,
    /// The target answered 410 Gone: the hook was removed.
    Gone,
    /// The target is not allowed (it resolves to a private address): nothing was sent.
    Refused,
    /// The hook no longer exists: nothing was sent.
    HookRemoved,
    /// Not due yet: queued on towards its time.
    NotDue,
}

/// The message could not be handled now: SQS delivers it again (and, in the end, to the DLQ).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the hook's signing secret could not be read")]
    Vault(#[from] VaultError),
    #[error("the next attempt could not be queued")]
    Queue(#[from] QueueError),
    #[error("no hooks queue is configured (HOOKS_QUEUE_URL)")]
    NoQueue,
}

/// The signing secrets read during one batch, by hook.
#[derive(Default)]
pub struct Secrets(HashMap<HookId, SigningSecret>);

impl Secrets {
    async fn get(&mut self, state: &AppState, user: &UserId, hook: &HookId) -> Result<&SigningSecret, VaultError> {
        if !self.0.contains_key(hook) {
            let name = state.vault.signing_secret_name(user, &owner(hook));
            let secret = state.vault.read_signing_secret(&name).await?;
            self.0.insert(hook.clone(), secret);
        }
        Ok(&self.0[hook])
    }
}

/// The owner part of a hook's signing secret's name.
pub fn owner(hook: &HookId) -> String {
    format!("hook-{hook}")
}

/// Makes the message's attempt (or queues it on, if it is not due yet).
#[tracing::instrument(skip_all, fields(user = %message.user_id, hook = %message.hook_id, delivery = %message.delivery_id, attempt = message.attempt))]
pub async fn deliver(
    state: &AppState,
    message: &HookDelivery,
    secrets: &mut Secrets,
    now: DateTime<Utc>,
) -> Result<Outcome, DeliveryError> {
    let queue = state.hooks.as_ref().ok_or(DeliveryError::NoQueue)?;
    if let Some(due) = message.not_before
        && due > now + chrono::Duration::seconds(1)
    {
        let left = (due - now).to_std().unwrap_or_default();
        queue.send(message, left.min(MAX_DELAY)).await?;
        return Ok(Outcome::NotDue);
    }
    let hook = match state.store.get_hook(&message.user_id, &message.hook_id).await {
        Ok(hook) => hook,
        Err(StoreError::NotFound) => {
            tracing::info!("the hook was removed; delivery dropped");
            return Ok(Outcome::HookRemoved);
        }
        Err(e) => return Err(e.into()),
    };
    let secret = match secrets.get(state, &message.user_id, &hook.hook_id).await {
        Ok(secret) => secret,
        Err(VaultError::NotFound) => {
            // The hook is being removed (its secret goes first... or it was lost): nothing to sign with.
            tracing::warn!("the hook has no signing secret; delivery dropped");
            return Ok(Outcome::HookRemoved);
        }
        Err(e) => return Err(e.into()),
    };
    let sent = match Url::parse(&hook.target_url) {
        Ok(url) => post_signed(&url, state.hook_targets, secret, &message.message_id, &message.body).await,
        Err(_) => Err(SendError::Refused(super::target::TargetError::Malformed)),
    };
    let (status, code, duration, error) = match &sent {
        Ok(answer) if (200..300).contains(&answer.status) => {
            (DeliveryStatus::Delivered, Some(answer.status), answer.duration, None)
        }
        Ok(answer) if answer.status == 410 => (DeliveryStatus::Gone, Some(410), answer.duration, None),
        Ok(answer) => (DeliveryStatus::Retrying, Some(answer.status), answer.duration, None),
        Err(SendError::Refused(e)) => (DeliveryStatus::Refused, None, Duration::ZERO, Some(e.to_string())),
        Err(SendError::Network { duration, source }) => {
            let error = match source.is_timeout() {
                true => "the target did not answer in time".to_owned(),
                false => "the target could not be reached".to_owned(),
            };
            (DeliveryStatus::Retrying, None, *duration, Some(error))
        }
    };
    let next = match status {
        DeliveryStatus::Retrying => RETRY_WAITS.get(message.attempt as usize - 1).copied(),
        _ => None,
    };
    let retry_after = sent.as_ref().ok().and_then(|a| a.retry_after);
    let status = match (status, next) {
        (DeliveryStatus::Retrying, None) => DeliveryStatus::Failed,
        (status, _) => status,
    };
    let attempt = Attempt {
        attempt: message.attempt,
        at: now,
        status_code: code,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        error,
    };
    let record =
        AttemptRecord { message_id: &message.message_id, event: &message.event, body: &message.body, status, attempt };
    state.store.record_hook_attempt(&message.user_id, &message.hook_id, &message.delivery_id, &record).await?;
    match status {
        DeliveryStatus::Delivered => Ok(Outcome::Delivered),
        DeliveryStatus::Gone => {
            tracing::info!("the target answered 410 Gone; the hook is removed");
            remove_hook(state, &message.user_id, &hook.hook_id).await?;
            Ok(Outcome::Gone)
        }
        DeliveryStatus::Refused => {
            tracing::warn!("the hook's target is not allowed; nothing was sent");
            Ok(Outcome::Refused)
        }
        DeliveryStatus::Failed => {
            tracing::warn!("the delivery failed on its last attempt");
            Ok(Outcome::Failed)
        }
        DeliveryStatus::Retrying => {
            let wait = next.unwrap_or_default().max(retry_after.unwrap_or_default());
            let again = HookDelivery {
                attempt: message.attempt + 1,
                not_before: (wait > MAX_DELAY).then(|| now + chrono::Duration::from_std(wait).unwrap_or_default()),
                ..message.clone()
            };
            queue.send(&again, wait.min(MAX_DELAY)).await?;
            Ok(Outcome::Retrying { next_attempt: again.attempt, wait })
        }
    }
}

/// Removes a hook and its signing secret (unsubscribe, or a 410 Gone). A hook already gone
/// counts as removed.
pub async fn remove_hook(state: &AppState, user: &UserId, hook: &HookId) -> Result<bool, DeliveryError> {
    let removed = match state.store.delete_hook(user, hook).await {
        Ok(()) => true,
        Err(StoreError::NotFound) => false,
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = state.vault.delete(&state.vault.signing_secret_name(user, &owner(hook))).await {
        // The hook is gone, so nothing signs with it any more; the secret is left behind.
        tracing::error!(error = %ErrorChain(&e), "could not delete a removed hook's signing secret");
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retries_span_about_a_day() {
        let total: Duration = RETRY_WAITS.iter().sum();
        assert!(total > Duration::from_secs(22 * 3600) && total < Duration::from_secs(26 * 3600), "{total:?}");
        assert!(RETRY_WAITS.windows(2).all(|w| w[0] <= w[1]), "the waits grow");
    }
}
