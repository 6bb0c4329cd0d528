//! REST hooks out (Zapier's subscribe/unsubscribe pattern, or any receiver): what happens here
//! is POSTed, signed per the Standard Webhooks spec, to the targets that subscribed to it.
//!
//! An event is published ([`publish`]) where it happens: the sync engine (items created and
//! changed, a sync's end, a connection that needs the user), the automation runner (a run's
//! end). Publishing reads the user's hooks with one Query and queues one delivery per hook
//! listening, ten to a SendMessageBatch. The delivery worker ([`delivery`]) signs and sends
//! each, retrying with backoff for about a day.

pub mod delivery;
pub mod service;
pub mod target;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::AppState;
use crate::domain::{Connection, DeliveryId, HealthStatus, HookId, UserId};
use crate::store::{Hook, StoreError};

/// The event types a hook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A sync brought in an item it had not seen (`data`: the item, as the item API shows it).
    #[serde(rename = "item.created")]
    ItemCreated,
    /// A sync found an item changed (`data`: the item).
    #[serde(rename = "item.updated")]
    ItemUpdated,
    /// A sync run ended, succeeded or failed (`data`: the run's connection, status and counts).
    #[serde(rename = "sync.completed")]
    SyncCompleted,
    /// An automation finished a run (`data`: the automation, the trigger and the receipts).
    #[serde(rename = "automation.run.completed")]
    AutomationRunCompleted,
    /// A connection's credential was refused: the user must connect it again.
    #[serde(rename = "connection.needs_reauth")]
    ConnectionNeedsReauth,
    /// A connection's health changed (`data`: the connection, the old and new status and why).
    #[serde(rename = "connection.health_changed")]
    ConnectionHealthChanged,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::ItemCreated,
        EventType::ItemUpdated,
        EventType::SyncCompleted,
        EventType::AutomationRunCompleted,
        EventType::ConnectionNeedsReauth,
        EventType::ConnectionHealthChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ItemCreated => "item.created",
            EventType::ItemUpdated => "item.updated",
            EventType::SyncCompleted => "sync.completed",
            EventType::AutomationRunCompleted => "automation.run.completed",
            EventType::ConnectionNeedsReauth => "connection.needs_reauth",
            EventType::ConnectionHealthChanged => "connection.health_changed",
        }
    }
}

/// Something that happened, to be delivered to the hooks listening.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    pub kind: EventType,
    /// Unique per occurrence (an item's version, a sync run, an automation run): the same
    /// occurrence published twice is sent with the same `webhook-id`.
    pub key: String,
    pub occurred_at: DateTime<Utc>,
    pub data: Value,
}

impl HookEvent {
    /// The body sent: `{"type", "timestamp", "data"}`, as the spec suggests.
    fn body(&self) -> String {
        serde_json::json!({
            "type": self.kind.as_str(),
            "timestamp": self.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }
}

/// A message on the hooks queue: one delivery of one event to one hook, at its `attempt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookDelivery {
    pub user_id: UserId,
    pub hook_id: HookId,
    pub delivery_id: DeliveryId,
    /// The `webhook-id`: derived from the hook and the event's key, so receivers can
    /// deduplicate an event published or delivered twice.
    pub message_id: String,
    pub event: String,
    /// The body, exactly as signed.
    pub body: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Not to be attempted before this (a wait longer than SQS's 15-minute delay is made of
    /// several hops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
}

/// The `webhook-id` of an event's delivery to a hook: `msg_` and a digest of both.
pub fn message_id(hook: &HookId, event_key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{hook}.{event_key}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// Queues the events' deliveries to the user's hooks that listen to them: one Query, then one
/// SendMessageBatch per ten deliveries. Returns how many deliveries could not be queued (each
/// is logged). Without a hooks queue (a process configured without one) nothing is sent.
pub async fn publish(state: &AppState, user: &UserId, events: &[HookEvent]) -> Result<usize, StoreError> {
    if state.hooks.is_none() || events.is_empty() {
        return Ok(0);
    }
    let hooks = state.store.list_hooks(user).await?;
    Ok(publish_to(state, &hooks, user, events).await)
}

/// [`publish`] to hooks already read (a sync reads them once per run).
pub async fn publish_to(state: &AppState, hooks: &[Hook], user: &UserId, events: &[HookEvent]) -> usize {
    let Some(queue) = &state.hooks else { return 0 };
    let mut deliveries = Vec::new();
    for event in events {
        let mut body = None;
        for hook in hooks.iter().filter(|h| h.events.contains(&event.kind)) {
            let body = body.get_or_insert_with(|| event.body());
            deliveries.push(HookDelivery {
                user_id: user.clone(),
                hook_id: hook.hook_id.clone(),
                delivery_id: DeliveryId::generate(),
                message_id: message_id(&hook.hook_id, &event.key),
                event: event.kind.as_str().to_owned(),
                body: body.clone(),
                attempt: 1,
                not_before: None,
            });
        }
    }
    if deliveries.is_empty() {
        return 0;
    }
    let failed = queue.send_batch(&deliveries).await;
    for (i, reason) in &failed {
        if let Some(d) = deliveries.get(*i) {
            tracing::warn!(hook = %d.hook_id, event = %d.event, %reason, "hook delivery not queued");
        }
    }
    tracing::info!(sent = deliveries.len() - failed.len(), failed = failed.len(), "hook deliveries queued");
    failed.len()
}

/// The `connection.health_changed` event of `connection` moving from `from` to `to`, `why` in
/// words; `key` names the occurrence (the sync run, or the connection's version, that made it).
pub fn health_changed(
    connection: &Connection,
    from: HealthStatus,
    to: HealthStatus,
    why: &str,
    key: String,
) -> HookEvent {
    HookEvent {
        kind: EventType::ConnectionHealthChanged,
        key: format!("health:{key}"),
        occurred_at: crate::store::attrs::now(),
        data: serde_json::json!({
            "connectionId": connection.connection_id,
            "integrationId": connection.integration_id,
            "from": from.as_str(),
            "to": to.as_str(),
            "reasons": [why],
        }),
    }
}

/// Publishes `connection.health_changed` when `connection`, as it was before a change the
/// store has just made (keyed by its version), moved to `to`.
pub async fn publish_health_change(state: &AppState, connection: &Connection, to: HealthStatus, why: &str) {
    let from = connection.health_status();
    if from != to {
        let key = format!("{}:{}", connection.connection_id, connection.version);
        publish_or_log(state, &connection.user_id, &[health_changed(connection, from, to, why, key)]).await;
    }
}

/// [`publish`] where a failure must not stop what published: it is logged.
pub async fn publish_or_log(state: &AppState, user: &UserId, events: &[HookEvent]) {
    match publish(state, user, events).await {
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %crate::http::ErrorChain(&e), "hook events were not published"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_serialise_as_their_names() {
        for kind in EventType::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn a_message_id_is_stable_per_hook_and_event_and_differs_otherwise() {
        let (a, b) = (HookId::generate(), HookId::generate());
        assert_eq!(message_id(&a, "item@1"), message_id(&a, "item@1"));
        assert_ne!(message_id(&a, "item@1"), message_id(&a, "item@2"));
        assert_ne!(message_id(&a, "item@1"), message_id(&b, "item@1"));
        assert!(message_id(&a, "x").starts_with("msg_"));
    }

    #[test]
    fn the_body_has_type_timestamp_and_data() {
        let event = HookEvent {
            kind: EventType::ItemCreated,
            key: "k".into(),
            occurred_at: "2026-12-02T10:00:00Z".parse().unwrap(),
            data: serde_json::json!({"title": "Plan"}),
        };
        let body: Value = serde_json::from_str(&event.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "item.created", "timestamp": "2026-12-02T10:00:00.000Z", "data": {"title": "Plan"}})
        );
    }
}
