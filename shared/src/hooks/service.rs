//! The hooks API's use cases: subscribe (premium; the signing secret is returned once),
//! list, unsubscribe, a hook's deliveries, and redeliver. Another user's hooks answer as missing.

use serde::Deserialize;

use super::delivery::{DeliveryError, owner, remove_hook};
use super::target::{TargetError, check_url, resolve};
use super::{EventType, HookDelivery};
use crate::auth::Caller;
use crate::config::AppState;
use crate::domain::{DeliveryId, HookId, Plan};
use crate::standard_webhooks::SigningSecret;
use crate::store::{Delivery, Hook, StoreError};
use crate::vault::VaultError;

/// Hooks a user may have at once.
pub const MAX_HOOKS: usize = 25;

/// `POST /hooks`: where to send, and which events.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewHook {
    pub target_url: String,
    pub events: Vec<EventType>,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("REST hooks are part of the premium plan.")]
    Premium,
    #[error("`targetUrl`: {0}")]
    Target(#[source] TargetError),
    #[error("`events`: name at least one event type")]
    NoEvents,
    #[error("You have {MAX_HOOKS} hooks, the most there can be; remove one first.")]
    Limit,
    #[error("There is no such hook.")]
    NotFound,
    #[error("There is no such delivery.")]
    DeliveryNotFound,
    #[error("deliveries cannot be queued here (HOOKS_QUEUE_URL is not set)")]
    NoQueue,
    #[error("the delivery could not be queued")]
    Queue(#[source] crate::queue::QueueError),
    #[error("the signing secret could not be stored")]
    Vault(#[source] VaultError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for HookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => HookError::NotFound,
            other => HookError::Store(other),
        }
    }
}

impl From<DeliveryError> for HookError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::Store(e) => e.into(),
            DeliveryError::Vault(e) => HookError::Vault(e),
            DeliveryError::Queue(e) => HookError::Queue(e),
            DeliveryError::NoQueue => HookError::NoQueue,
        }
    }
}

/// Subscribes a target to events. The target is checked as written and resolved (the SSRF
/// guard); the secret is stored in Secrets Manager and returned this once.
pub async fn subscribe(state: &AppState, caller: &Caller, new: NewHook) -> Result<(Hook, SigningSecret), HookError> {
    if caller.plan != Plan::Premium {
        return Err(HookError::Premium);
    }
    let mut events: Vec<EventType> = Vec::new();
    for event in new.events {
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err(HookError::NoEvents);
    }
    let policy = state.hook_targets;
    let url = check_url(&new.target_url, policy).map_err(HookError::Target)?;
    resolve(&url, policy).await.map_err(HookError::Target)?;
    if state.store.list_hooks(&caller.user_id).await?.len() >= MAX_HOOKS {
        return Err(HookError::Limit);
    }
    let hook = Hook {
        hook_id: HookId::generate(),
        user_id: Some(caller.user_id.clone()),
        target_url: url.to_string(),
        events,
        created_at: crate::store::attrs::now(),
    };
    let secret = SigningSecret::generate();
    let name = state.vault.signing_secret_name(&caller.user_id, &owner(&hook.hook_id));
    state.vault.create_signing_secret(&name, &secret).await.map_err(HookError::Vault)?;
    if let Err(e) = state.store.insert_hook(&caller.user_id, &hook).await {
        if let Err(cleanup) = state.vault.delete(&name).await {
            tracing::error!(error = %crate::http::ErrorChain(&cleanup), "could not delete an unused signing secret");
        }
        return Err(e.into());
    }
    tracing::info!(hook = %hook.hook_id, "hook subscribed");
    Ok((hook, secret))
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<Hook>, HookError> {
    Ok(state.store.list_hooks(&caller.user_id).await?)
}

/// Unsubscribes: the hook and its secret are removed; deliveries already queued are dropped.
pub async fn unsubscribe(state: &AppState, caller: &Caller, id: &HookId) -> Result<(), HookError> {
    match remove_hook(state, &caller.user_id, id).await? {
        true => Ok(()),
        false => Err(HookError::NotFound),
    }
}

pub async fn deliveries(state: &AppState, caller: &Caller, id: &HookId) -> Result<Vec<Delivery>, HookError> {
    state.store.get_hook(&caller.user_id, id).await?;
    Ok(state.store.hook_deliveries(&caller.user_id, id).await?)
}

/// Sends a delivery again as a new delivery of the same message (same `webhook-id` and body),
/// from its first attempt.
pub async fn redeliver(
    state: &AppState,
    caller: &Caller,
    id: &HookId,
    delivery: &DeliveryId,
) -> Result<DeliveryId, HookError> {
    if caller.plan != Plan::Premium {
        return Err(HookError::Premium);
    }
    let queue = state.hooks.as_ref().ok_or(HookError::NoQueue)?;
    state.store.get_hook(&caller.user_id, id).await?;
    let earlier = match state.store.get_hook_delivery(&caller.user_id, id, delivery).await {
        Ok(d) => d,
        Err(StoreError::NotFound) => return Err(HookError::DeliveryNotFound),
        Err(e) => return Err(e.into()),
    };
    let again = HookDelivery {
        user_id: caller.user_id.clone(),
        hook_id: id.clone(),
        delivery_id: DeliveryId::generate(),
        message_id: earlier.message_id,
        event: earlier.event,
        body: earlier.body,
        attempt: 1,
        not_before: None,
    };
    queue.send(&again, std::time::Duration::ZERO).await.map_err(HookError::Queue)?;
    Ok(again.delivery_id)
}
