//! Provider subscriptions (webhooks, watch channels) and what an incoming notification touches:
//! the index from the id a notification carries to its connection, the connection's pending
//! sync flag (the debounce), and the ids of Slack events already seen.
//!
//! A subscription item is its own index entry: `HOOK#{integration}#{key}` / `CONN#{connection}`,
//! where `key` is what the provider sends back (our Google channel id, the Graph subscription
//! id, the `s` query parameter of a Trello callback URL, a Slack team id). One Query on the key
//! finds the connection. A subscription that expires carries a sparse GSI1 entry,
//! `SUBDUE#{shard}` / `{renewAt}#{key}`, which the scheduler reads when it is due.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};

use super::attrs::{Item, get_s, n, opt_s, opt_ts, s, ts};
use super::connections::due_shard;
use super::{Store, StoreError, keys, table, unless_condition_failed};
use crate::domain::{ConnectionId, ConnectionStatus, IntegrationId, Realtime, SyncRun, UserId};

/// How long the id of a Slack event is remembered, to drop Slack's retries of it.
pub const SEEN_EVENT_TTL: Duration = Duration::hours(1);

/// One subscription at a provider, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub integration_id: IntegrationId,
    /// The id a notification carries back.
    pub key: String,
    pub user_id: UserId,
    pub connection_id: ConnectionId,
    /// SHA-256 (hex) of the per-subscription secret (Google channel token, Graph clientState).
    pub secret_hash: Option<String>,
    /// The provider's id of it (Trello webhook id, Google resource id), to renew or stop it.
    pub remote_id: Option<String>,
    /// When the provider ends it.
    pub expires_on: Option<DateTime<Utc>>,
    /// When the scheduler renews (or recreates) it.
    pub renew_at: Option<DateTime<Utc>>,
    /// To be made again rather than renewed (notifications stopped while syncs kept finding
    /// changes: the provider may have dropped it silently).
    pub remake: bool,
}

fn hook_pk(integration: &str, key: &str) -> String {
    format!("HOOK#{integration}#{key}")
}

fn renew_sort_key(at: DateTime<Utc>, integration: &str, key: &str) -> String {
    format!("{}#{integration}#{key}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn to_item(sub: &Subscription) -> Item {
    let mut item = Item::from([
        (table::PK.into(), s(hook_pk(sub.integration_id.as_str(), &sub.key))),
        (table::SK.into(), s(keys::connection(&sub.connection_id))),
        ("entity".into(), s("subscription")),
        ("integrationId".into(), s(sub.integration_id.as_str())),
        ("subscriptionKey".into(), s(&sub.key)),
        ("userId".into(), s(sub.user_id.as_str())),
        ("connectionId".into(), s(sub.connection_id.as_str())),
    ]);
    let optional = [
        ("secretHash", sub.secret_hash.clone().map(s)),
        ("remoteId", sub.remote_id.clone().map(s)),
        ("expiresOn", sub.expires_on.map(ts)),
        ("renewAt", sub.renew_at.map(ts)),
        ("remake", sub.remake.then(|| aws_sdk_dynamodb::types::AttributeValue::Bool(true))),
    ];
    item.extend(optional.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))));
    if let Some(at) = sub.renew_at {
        item.insert(table::GSI1PK.into(), s(format!("SUBDUE#{}", due_shard(&sub.connection_id))));
        item.insert(table::GSI1SK.into(), s(renew_sort_key(at, sub.integration_id.as_str(), &sub.key)));
    }
    item
}

fn from_item(item: &Item) -> Result<Subscription, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("subscription: {what}"));
    Ok(Subscription {
        integration_id: IntegrationId::parse(get_s(item, "integrationId")?).map_err(|_| corrupt("integrationId"))?,
        key: get_s(item, "subscriptionKey")?.to_owned(),
        user_id: UserId::parse(get_s(item, "userId")?).map_err(|_| corrupt("userId"))?,
        connection_id: ConnectionId::parse(get_s(item, "connectionId")?).map_err(|_| corrupt("connectionId"))?,
        secret_hash: opt_s(item, "secretHash").map(str::to_owned),
        remote_id: opt_s(item, "remoteId").map(str::to_owned),
        expires_on: opt_ts(item, "expiresOn"),
        renew_at: opt_ts(item, "renewAt"),
        remake: item.get("remake").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
    })
}

impl Store {
    /// Stores (or replaces) a subscription.
    pub async fn put_subscription(&self, sub: &Subscription) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(sub)))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    /// The subscriptions a notification's id names (one Query; usually one item).
    pub async fn find_subscriptions(&self, integration: &str, key: &str) -> Result<Vec<Subscription>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(hook_pk(integration, key)))
            .limit(25)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.items().iter().map(from_item).collect()
    }

    /// Deletes a subscription and then its key from its connection (whose list would otherwise
    /// grow by one with every replaced Google channel); a connection that is gone is left so.
    pub async fn delete_subscription(&self, sub: &Subscription) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(table::PK, s(hook_pk(sub.integration_id.as_str(), &sub.key)))
            .key(table::SK, s(keys::connection(&sub.connection_id)))
            .send()
            .await
            .map_err(StoreError::aws)?;
        let result = self
            .update_connection(&sub.user_id, &sub.connection_id)
            .update_expression("DELETE subscriptionKeys :key")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":key", aws_sdk_dynamodb::types::AttributeValue::Ss(vec![sub.key.clone()]))
            .send()
            .await;
        unless_condition_failed(result)?;
        Ok(())
    }

    /// A connection's subscriptions (disconnect stops them): a Query of the index by connection
    /// would need another index; the connection keeps their keys instead (`subscriptionKeys`).
    pub async fn connection_subscriptions(
        &self,
        user: &UserId,
        connection: &ConnectionId,
    ) -> Result<Vec<Subscription>, StoreError> {
        let Some(ref item) = self.connection_fields(user, connection, "integrationId, subscriptionKeys").await? else {
            return Ok(Vec::new());
        };
        let integration = get_s(item, "integrationId")?.to_owned();
        let keys: Vec<String> = item.get("subscriptionKeys").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        let mut subs = Vec::new();
        for key in keys {
            subs.extend(
                self.find_subscriptions(&integration, &key)
                    .await?
                    .into_iter()
                    .filter(|s| &s.connection_id == connection),
            );
        }
        Ok(subs)
    }

    /// Records a new subscription and its key on the connection, and says how the connection
    /// hears of changes (`live` once a subscription is made, `polling` for one still to be made),
    /// in one transaction; fails with `NotFound` when the connection is gone.
    pub async fn add_subscription(&self, sub: &Subscription, realtime: Realtime) -> Result<(), StoreError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(to_item(sub))).build().expect("put");
        let update = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&sub.user_id)))
            .key(table::SK, s(keys::connection(&sub.connection_id)))
            .update_expression("ADD subscriptionKeys :key SET realtime = :realtime REMOVE unheardChanges")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":key", aws_sdk_dynamodb::types::AttributeValue::Ss(vec![sub.key.clone()]))
            .expression_attribute_values(":realtime", s(realtime.as_str()))
            .build()
            .expect("update");
        let items =
            vec![TransactWriteItem::builder().put(put).build(), TransactWriteItem::builder().update(update).build()];
        self.transact(items).await?.map_err(|_| StoreError::NotFound)
    }

    /// Subscriptions of one shard whose renewal is due at `now`: reads only due entries.
    pub async fn due_subscriptions(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<Subscription>, StoreError> {
        let items = self.due_entries(&format!("SUBDUE#{shard}"), now, limit).await?;
        items.iter().map(from_item).collect()
    }

    /// Says how a connection hears of changes (`live` after a subscription is in place,
    /// `polling` when one could not be made or was lost). A connection that is gone is left so.
    pub async fn set_realtime(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        realtime: Realtime,
    ) -> Result<(), StoreError> {
        let result = self
            .update_connection(user, connection)
            .update_expression("SET realtime = :realtime")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":realtime", s(realtime.as_str()))
            .send()
            .await;
        unless_condition_failed(result)?;
        Ok(())
    }

    /// A connection falls back to `polling` (its subscription could not be made or renewed, or
    /// was removed): `realtime` says so, and if it auto-syncs later than `soon`, its next sync
    /// is brought forward to `soon` (the scheduler then keeps the fallback interval).
    pub async fn fall_back_to_polling(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        soon: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .update_connection(user, connection)
            .update_expression("SET realtime = :polling, nextSyncAt = :soon, GSI1SK = :gsk")
            .condition_expression("attribute_exists(nextSyncAt) AND nextSyncAt > :soon")
            .expression_attribute_values(":polling", s(Realtime::Polling.as_str()))
            .expression_attribute_values(":soon", ts(soon))
            .expression_attribute_values(":gsk", s(super::connections::due_sort_key(soon, connection)))
            .send()
            .await;
        match unless_condition_failed(result)? {
            Some(_) => Ok(()),
            // Not auto-syncing, due sooner already, or gone: only what it shows changes.
            None => self.set_realtime(user, connection, Realtime::Polling).await,
        }
    }

    /// Counts a sync of a `live` connection that found changes no notification told of; the
    /// count since its last notification or new subscription (`None`: it is not `live`).
    pub async fn count_unheard_changes(
        &self,
        user: &UserId,
        connection: &ConnectionId,
    ) -> Result<Option<u64>, StoreError> {
        let result = self
            .update_connection(user, connection)
            .update_expression("ADD unheardChanges :one")
            .condition_expression("realtime = :live")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":live", s(Realtime::Live.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        let counted = unless_condition_failed(result)?;
        Ok(counted.and_then(|out| out.attributes().and_then(|a| super::attrs::opt_n(a, "unheardChanges"))))
    }

    /// A notification's one write: marks the connection as having a sync pending. `false` when
    /// one is pending already (the notification coalesces into it) or the connection is not
    /// active: nothing is to be queued then.
    pub async fn mark_sync_pending(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .update_connection(user, connection)
            .update_expression("SET pendingSync = :now, lastNotifiedAt = :now REMOVE unheardChanges")
            .condition_expression("#status = :active AND attribute_not_exists(pendingSync)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":active", s(ConnectionStatus::Active.as_str()))
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }

    /// Drops a pending sync that will not run (its message could not be sent, or its connection
    /// is no longer active), so the next notification sets it again.
    pub async fn clear_sync_pending(&self, user: &UserId, connection: &ConnectionId) -> Result<(), StoreError> {
        let result = self
            .update_connection(user, connection)
            .update_expression("REMOVE pendingSync")
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        unless_condition_failed(result)?;
        Ok(())
    }

    /// Turns a connection's pending sync into its run in flight, at most once per `gap` (a burst
    /// of notifications makes one run, then at most one more per gap). Written in one
    /// transaction with the queued run, as [`Store::queue_run`] does.
    pub async fn queue_pending_run(&self, run: &SyncRun, gap: Duration) -> Result<PendingRun, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&run.user_id)))
            .key(table::SK, s(keys::connection(&run.connection_id)))
            .update_expression("SET syncInFlight = :sid, lastNotifiedSyncAt = :now REMOVE pendingSync")
            .condition_expression(
                "#status = :active AND attribute_exists(pendingSync) AND attribute_not_exists(syncInFlight) AND \
                 (attribute_not_exists(lastNotifiedSyncAt) OR lastNotifiedSyncAt <= :cutoff)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sid", s(run.sync_id.as_str()))
            .expression_attribute_values(":active", s(ConnectionStatus::Active.as_str()))
            .expression_attribute_values(":now", ts(run.queued_at))
            .expression_attribute_values(":cutoff", ts(run.queued_at - gap))
            .build()
            .expect("update");
        let put = super::syncs::queued_run_put(&self.table, run);
        let items =
            vec![TransactWriteItem::builder().update(update).build(), TransactWriteItem::builder().put(put).build()];
        match self.transact(items).await? {
            Ok(()) => Ok(PendingRun::Queued),
            Err(_) => {
                let c = match self.get_connection(&run.user_id, &run.connection_id).await {
                    Err(StoreError::NotFound) => return Ok(PendingRun::Dropped),
                    other => other?,
                };
                let pending = self.pending_since(&run.user_id, &run.connection_id).await?;
                Ok(match (c.status, pending) {
                    (_, None) => PendingRun::Dropped,
                    (ConnectionStatus::Active, Some(_)) if c.sync_in_flight.is_some() => PendingRun::Later(10),
                    (ConnectionStatus::Active, Some(last)) => {
                        let wait = last.map_or(1, |last| (last + gap - run.queued_at).num_seconds().max(1));
                        PendingRun::Later(u64::try_from(wait).unwrap_or(1))
                    }
                    _ => {
                        self.clear_sync_pending(&run.user_id, &run.connection_id).await?;
                        PendingRun::Dropped
                    }
                })
            }
        }
    }

    /// `None`: no sync is pending. `Some(last)`: one is, and the last notified run was queued
    /// at `last`.
    async fn pending_since(
        &self,
        user: &UserId,
        connection: &ConnectionId,
    ) -> Result<Option<Option<DateTime<Utc>>>, StoreError> {
        let Some(ref item) = self.connection_fields(user, connection, "pendingSync, lastNotifiedSyncAt").await? else {
            return Ok(None);
        };
        if !item.contains_key("pendingSync") {
            return Ok(None);
        }
        Ok(Some(opt_ts(item, "lastNotifiedSyncAt")))
    }

    /// Remembers an event id for [`SEEN_EVENT_TTL`]; `false` when it was seen already (a retry).
    pub async fn first_sight_of_event(
        &self,
        integration: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(table::PK, s(format!("HOOKEVENT#{integration}#{event_id}")))
            .item(table::SK, s("EVENT"))
            .item(table::TTL_ATTRIBUTE, n((now + SEEN_EVENT_TTL).timestamp()))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        Ok(unless_condition_failed(result)?.is_some())
    }
}

/// What became of a pending sync the worker was asked to queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingRun {
    Queued,
    /// A run is in flight, or one ran less than the gap ago: ask again in this many seconds.
    Later(u64),
    /// Nothing is pending any more (another message queued it), or the connection is gone.
    Dropped,
}
