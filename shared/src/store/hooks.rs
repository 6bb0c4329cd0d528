//! REST hooks (`HOOK#{hookId}`) and their deliveries (`HOOKD#{hookId}#{deliveryId}`, one item
//! per delivery with each attempt appended; kept for [`DELIVERY_RETENTION`]).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::attrs::{Item, get_s, n, opt_n, s, ts};
use super::{Store, StoreError, keys, table};
use crate::domain::{DeliveryId, HookId, UserId};
use crate::hooks::EventType;

/// How long a delivery and its attempts are kept.
pub const DELIVERY_RETENTION: Duration = Duration::days(30);
/// A hook's deliveries listed at most.
pub const MAX_DELIVERIES_LISTED: i32 = 50;

/// A subscription: events of these types are POSTed, signed, to the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    pub hook_id: HookId,
    #[serde(skip)]
    pub user_id: Option<UserId>,
    pub target_url: String,
    pub events: Vec<EventType>,
    pub created_at: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet; another attempt is scheduled.
    Retrying,
    /// The target answered 2xx.
    Delivered,
    /// Every attempt failed, or the target refused it for good (a 4xx).
    Failed,
    /// The target answered 410 Gone: the hook was removed.
    Gone,
    /// The target resolved to an address that is not allowed; nothing was sent.
    Refused,
}

/// One attempt: when, the answer's status (none when there was no answer), how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A delivery as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub delivery_id: DeliveryId,
    /// The `webhook-id` it is sent with (the same on every attempt and redelivery).
    pub message_id: String,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    /// The body sent, exactly as signed.
    #[serde(skip)]
    pub body: String,
}

fn hook_sk(id: &HookId) -> String {
    format!("HOOK#{id}")
}

fn delivery_sk(hook: &HookId, delivery: &DeliveryId) -> String {
    format!("HOOKD#{hook}#{delivery}")
}

fn hook_from(item: &Item) -> Result<Hook, StoreError> {
    serde_json::from_str(get_s(item, "hook")?).map_err(|e| StoreError::Corrupt(format!("hook: {e}")))
}

fn delivery_from(item: &Item) -> Result<Delivery, StoreError> {
    let sk = get_s(item, table::SK)?;
    let id = sk.rsplit('#').next().and_then(|id| DeliveryId::parse(id).ok());
    let status = serde_json::from_value(serde_json::Value::String(get_s(item, "status")?.to_owned()));
    let attempts = match item.get("attempts") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|a| a.as_s().ok())
            .map(|a| serde_json::from_str(a))
            .collect::<Result<Vec<Attempt>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("attempt: {e}")))?,
        _ => Vec::new(),
    };
    Ok(Delivery {
        delivery_id: id.ok_or_else(|| StoreError::Corrupt(format!("delivery key {sk}")))?,
        message_id: get_s(item, "messageId")?.to_owned(),
        event: get_s(item, "eventType")?.to_owned(),
        status: status.map_err(|e| StoreError::Corrupt(format!("delivery status: {e}")))?,
        attempts,
        body: get_s(item, "payload")?.to_owned(),
    })
}

/// Whether an item's TTL has passed (the emulator never removes expired items).
fn expired(item: &Item, now: DateTime<Utc>) -> bool {
    opt_n::<i64>(item, table::TTL_ATTRIBUTE).is_some_and(|at| at <= now.timestamp())
}

/// What the worker records of one attempt.
pub struct AttemptRecord<'a> {
    pub message_id: &'a str,
    pub event: &'a str,
    pub body: &'a str,
    pub status: DeliveryStatus,
    pub attempt: Attempt,
}

impl Store {
    /// Saves a new hook.
    pub async fn insert_hook(&self, user: &UserId, hook: &Hook) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(table::PK, s(keys::user(user)))
            .item(table::SK, s(hook_sk(&hook.hook_id)))
            .item("hook", s(serde_json::to_string(hook).expect("hooks serialise")))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    /// The user's hooks: one Query.
    pub async fn list_hooks(&self, user: &UserId) -> Result<Vec<Hook>, StoreError> {
        let items = self.items_with_prefix(user, "HOOK#", None, super::records::Read::Eventual).await?;
        items.iter().map(|i| hook_from(i).map(|h| Hook { user_id: Some(user.clone()), ..h })).collect()
    }

    pub async fn get_hook(&self, user: &UserId, id: &HookId) -> Result<Hook, StoreError> {
        let item = self.user_item(user, &hook_sk(id), None).await?;
        let hook = item.as_ref().map(hook_from).transpose()?.ok_or(StoreError::NotFound)?;
        Ok(Hook { user_id: Some(user.clone()), ..hook })
    }

    /// Removes a hook; [`StoreError::NotFound`] if there was none.
    pub async fn delete_hook(&self, user: &UserId, id: &HookId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(hook_sk(id)))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        super::unless_condition_failed(result)?.ok_or(StoreError::NotFound)?;
        Ok(())
    }

    /// Records an attempt of a delivery (creating the delivery on its first attempt) in one write.
    pub async fn record_hook_attempt(
        &self,
        user: &UserId,
        hook: &HookId,
        delivery: &DeliveryId,
        record: &AttemptRecord<'_>,
    ) -> Result<(), StoreError> {
        let attempt = s(serde_json::to_string(&record.attempt).expect("attempts serialise"));
        let status = serde_json::to_value(record.status).expect("statuses serialise");
        self.client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(delivery_sk(hook, delivery)))
            .update_expression(
                "SET #status = :status, attempts = list_append(if_not_exists(attempts, :none), :attempt), \
                 messageId = :id, eventType = :event, payload = if_not_exists(payload, :body), \
                 createdAt = if_not_exists(createdAt, :at), #ttl = :ttl",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", table::TTL_ATTRIBUTE)
            .expression_attribute_values(":status", s(status.as_str().unwrap_or_default()))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":attempt", AttributeValue::L(vec![attempt]))
            .expression_attribute_values(":id", s(record.message_id))
            .expression_attribute_values(":event", s(record.event))
            .expression_attribute_values(":body", s(record.body))
            .expression_attribute_values(":at", ts(record.attempt.at))
            .expression_attribute_values(":ttl", n((record.attempt.at + DELIVERY_RETENTION).timestamp()))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    /// A hook's latest deliveries, newest first: one Query.
    pub async fn hook_deliveries(&self, user: &UserId, hook: &HookId) -> Result<Vec<Delivery>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :deliveries)")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .expression_attribute_values(":deliveries", s(format!("HOOKD#{hook}#")))
            .scan_index_forward(false)
            .limit(MAX_DELIVERIES_LISTED)
            .send()
            .await
            .map_err(StoreError::aws)?;
        let now = Utc::now();
        out.items().iter().filter(|i| !expired(i, now)).map(delivery_from).collect()
    }

    pub async fn get_hook_delivery(
        &self,
        user: &UserId,
        hook: &HookId,
        delivery: &DeliveryId,
    ) -> Result<Delivery, StoreError> {
        let item = self.user_item(user, &delivery_sk(hook, delivery), None).await?;
        match item.as_ref() {
            Some(item) if !expired(item, Utc::now()) => delivery_from(item),
            _ => Err(StoreError::NotFound),
        }
    }
}
