//! Each connection's API budget: a token bucket in its own small item, `BUDGET#{connectionId}`
//! under the user's partition. Its own item, not attributes of the connection: a spend then
//! writes a few bytes (one write unit, where the connection item is larger) and never races the
//! connection's versioned updates. It holds `tokens` as they were at `refilledAt`; a spend
//! computes the refill since then, takes what it needs, and writes the result on condition that
//! the item's `version` is still the one it read, trying again from the current state when
//! another spend came first. No item means a full bucket; its TTL lets DynamoDB remove it once
//! it would be full again anyway.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::attrs::{Item, get_n, get_ts, n, s, ts};
use super::automations::{claim_item, record_from};
use super::{ActionKey, ActionRecord, Store, StoreError, keys, table};
use crate::domain::{ConnectionId, UserId};
use crate::providers::Budget;

/// How many times a spend tries again when other spends keep coming first; then it waits a
/// little like an empty bucket would.
const ATTEMPTS: u32 = 20;

/// A bucket as last written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub tokens: f64,
    pub refilled_at: DateTime<Utc>,
    /// 0: no item yet (a full bucket).
    version: u64,
    /// Who wrote it (random per write): a write whose answer was lost and whose retry by the
    /// SDK then failed its condition is recognised as having landed, not spent again.
    writer: u64,
}

impl Level {
    fn full(budget: &Budget, now: DateTime<Utc>) -> Self {
        Level { tokens: f64::from(budget.capacity), refilled_at: now, version: 0, writer: 0 }
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Level {
            tokens: get_n(item, "tokens")?,
            refilled_at: get_ts(item, "refilledAt")?,
            version: get_n(item, "version")?,
            writer: super::attrs::opt_n(item, "writer").unwrap_or(0),
        })
    }

    /// What it holds at `now`.
    pub fn available(&self, budget: &Budget, now: DateTime<Utc>) -> f64 {
        budget.refilled(self.tokens, (now - self.refilled_at).to_std().unwrap_or_default())
    }
}

/// The answer to a spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spend {
    /// Taken; this many are left.
    Spent { left: f64 },
    /// Not enough now: nothing was taken. Enough will be there after this long.
    Empty { wait: Duration },
}

/// A bucket's conditional write, alone or in a transaction.
enum LevelWrite {
    Put(Put),
    Update(Update),
}

/// The answer to [`Store::claim_action_and_spend`].
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimSpend {
    /// Claimed and paid for: make the provider call, then [`Store::complete_action`].
    Claimed,
    /// Claimed before (nothing spent): this is where it stands.
    Taken(ActionRecord),
    /// The bucket does not hold enough: nothing claimed, nothing spent. Enough will be there
    /// after this long.
    Empty { wait: Duration },
}

/// One connection's bucket, with the state its holder last saw (a run that spends page after
/// page reads the item once).
#[derive(Debug, Clone)]
pub struct Bucket {
    user: UserId,
    connection: ConnectionId,
    budget: Budget,
    seen: Option<Level>,
}

impl Bucket {
    pub fn new(user: &UserId, connection: &ConnectionId, budget: Budget) -> Self {
        Bucket { user: user.clone(), connection: connection.clone(), budget, seen: None }
    }
}

fn budget_sk(connection: &ConnectionId) -> String {
    format!("BUDGET#{connection}")
}

/// Seconds since the epoch when a bucket left at `level` is full again (plus a day), for TTL.
fn full_again(budget: &Budget, level: &Level) -> i64 {
    let missing = f64::from(budget.capacity) - level.tokens;
    let refill = budget.wait_for(0.0, missing);
    level.refilled_at.timestamp() + refill.as_secs() as i64 + 86_400
}

impl Store {
    /// Spends `calls` requests from a connection's bucket (at most its capacity, so that a
    /// large action can still run once the bucket is full). Concurrent spends never take more
    /// than the bucket holds: each write is conditional on the state it was computed from.
    pub async fn spend(&self, bucket: &mut Bucket, calls: u32, now: DateTime<Utc>) -> Result<Spend, StoreError> {
        for _ in 0..ATTEMPTS {
            let (seen, next) = match self.next_level(bucket, calls, now).await? {
                Ok(levels) => levels,
                Err(wait) => return Ok(Spend::Empty { wait }),
            };
            match self.write_level(bucket, &seen, &next).await? {
                None => {
                    bucket.seen = Some(next);
                    return Ok(Spend::Spent { left: next.tokens });
                }
                // The SDK sent the write again after it had landed: it is this spend's.
                Some(Some(current)) if current.version == next.version && current.writer == next.writer => {
                    bucket.seen = Some(current);
                    return Ok(Spend::Spent { left: current.tokens });
                }
                // Another spend came first: go again from what it left.
                Some(current) => bucket.seen = current,
            }
        }
        tracing::info!(connection = %bucket.connection, "the budget is contended; waiting");
        bucket.seen = None;
        Ok(Spend::Empty { wait: Duration::from_secs(1) })
    }

    /// Claims an action and spends its `calls` from the connection's bucket in one transaction:
    /// the claim's conditional Put and the bucket's conditional write, both or neither. A claim
    /// made before is answered with where it stands and spends nothing; a bucket that does not
    /// hold enough claims nothing and says how long to wait. One write request when it is
    /// claimed (the SDK's client request token makes a resent transaction land once).
    pub async fn claim_action_and_spend(
        &self,
        user: &UserId,
        key: &ActionKey,
        bucket: &mut Bucket,
        calls: u32,
        now: DateTime<Utc>,
    ) -> Result<ClaimSpend, StoreError> {
        for _ in 0..ATTEMPTS {
            let (seen, next) = match self.next_level(bucket, calls, now).await? {
                Ok(levels) => levels,
                // Nothing is claimed, but a claim made before stands (a redelivery of a done step).
                Err(wait) => {
                    return match self.action_record(user, key).await {
                        Ok(record) => Ok(ClaimSpend::Taken(record)),
                        Err(StoreError::NotFound) => Ok(ClaimSpend::Empty { wait }),
                        Err(e) => Err(e),
                    };
                }
            };
            let claim = Put::builder()
                .table_name(&self.table)
                .set_item(Some(claim_item(user, key)))
                .condition_expression("attribute_not_exists(PK)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .expect("put");
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(claim).build())
                .transact_items(match self.level_write(bucket, &seen, &next) {
                    LevelWrite::Put(put) => TransactWriteItem::builder().put(put).build(),
                    LevelWrite::Update(update) => TransactWriteItem::builder().update(update).build(),
                })
                .send()
                .await;
            let reasons = match result {
                Ok(_) => {
                    bucket.seen = Some(next);
                    return Ok(ClaimSpend::Claimed);
                }
                Err(SdkError::ServiceError(e)) => match e.err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => c.cancellation_reasons().to_vec(),
                    _ => return Err(StoreError::aws(SdkError::ServiceError(e))),
                },
                Err(e) => return Err(StoreError::aws(e)),
            };
            let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
            if failed(0) {
                return match reasons[0].item() {
                    Some(old) => Ok(ClaimSpend::Taken(record_from(old)?)),
                    // An emulator that does not return the old item: read it.
                    None => self.action_record(user, key).await.map(ClaimSpend::Taken),
                };
            }
            if !failed(1) {
                return Err(StoreError::Corrupt(format!("claim transaction cancelled: {reasons:?}")));
            }
            // Another spend came first: go again from what it left.
            bucket.seen = None;
        }
        tracing::info!(connection = %bucket.connection, "the budget is contended; waiting");
        bucket.seen = None;
        Ok(ClaimSpend::Empty { wait: Duration::from_secs(1) })
    }

    /// The bucket as last seen (read when not known) and as it would be after spending `calls`
    /// (at most its capacity) at `now`; `Err(wait)` when it does not hold that much yet.
    async fn next_level(
        &self,
        bucket: &mut Bucket,
        calls: u32,
        now: DateTime<Utc>,
    ) -> Result<Result<(Level, Level), Duration>, StoreError> {
        let wanted = f64::from(calls.min(bucket.budget.capacity));
        let seen = match bucket.seen {
            Some(level) => level,
            None => {
                self.bucket_level(&bucket.user, &bucket.connection).await?.unwrap_or(Level::full(&bucket.budget, now))
            }
        };
        let available = seen.available(&bucket.budget, now);
        if available < wanted {
            bucket.seen = Some(seen);
            // A bucket last written by a clock ahead of this one refills only from then.
            let ahead = (seen.refilled_at - now).to_std().unwrap_or_default();
            return Ok(Err(ahead + bucket.budget.wait_for(available, wanted)));
        }
        let next = Level {
            tokens: ((available - wanted) * 1000.0).floor() / 1000.0,
            refilled_at: now.max(seen.refilled_at),
            version: seen.version + 1,
            writer: rand::random(),
        };
        Ok(Ok((seen, next)))
    }

    /// The write that takes the bucket from `seen` to `next`, on condition that it is still at
    /// `seen`: a conditional Put of the first item, a conditional Update of a later state.
    fn level_write(&self, bucket: &Bucket, seen: &Level, next: &Level) -> LevelWrite {
        let ttl = full_again(&bucket.budget, next);
        let pk = s(keys::user(&bucket.user));
        let sk = s(budget_sk(&bucket.connection));
        if seen.version == 0 {
            let put = Put::builder()
                .table_name(&self.table)
                .item(table::PK, pk)
                .item(table::SK, sk)
                .item("tokens", n(next.tokens))
                .item("refilledAt", ts(next.refilled_at))
                .item("version", n(next.version))
                .item("writer", n(next.writer))
                .item(table::TTL_ATTRIBUTE, n(ttl))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .expect("put");
            return LevelWrite::Put(put);
        }
        let update = Update::builder()
            .table_name(&self.table)
            .key(table::PK, pk)
            .key(table::SK, sk)
            .update_expression("SET tokens = :tokens, refilledAt = :at, version = :next, writer = :writer, #ttl = :ttl")
            .condition_expression("version = :seen")
            .expression_attribute_names("#ttl", table::TTL_ATTRIBUTE)
            .expression_attribute_values(":tokens", n(next.tokens))
            .expression_attribute_values(":at", ts(next.refilled_at))
            .expression_attribute_values(":next", n(next.version))
            .expression_attribute_values(":writer", n(next.writer))
            .expression_attribute_values(":ttl", n(ttl))
            .expression_attribute_values(":seen", n(seen.version))
            .build()
            .expect("update");
        LevelWrite::Update(update)
    }

    /// Writes `next` if the item is still at `seen`; otherwise returns what it is now (`Some(None)`:
    /// gone, a full bucket).
    async fn write_level(
        &self,
        bucket: &Bucket,
        seen: &Level,
        next: &Level,
    ) -> Result<Option<Option<Level>>, StoreError> {
        let old = match self.level_write(bucket, seen, next) {
            LevelWrite::Put(put) => {
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(put.item))
                    .set_condition_expression(put.condition_expression)
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .send()
                    .await;
                match result {
                    Ok(_) => return Ok(None),
                    Err(SdkError::ServiceError(e))
                        if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
                    {
                        let PutItemError::ConditionalCheckFailedException(failed) = e.err() else { unreachable!() };
                        failed.item().cloned()
                    }
                    Err(e) => return Err(StoreError::aws(e)),
                }
            }
            LevelWrite::Update(update) => {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(update.key))
                    .update_expression(update.update_expression)
                    .set_condition_expression(update.condition_expression)
                    .set_expression_attribute_names(update.expression_attribute_names)
                    .set_expression_attribute_values(update.expression_attribute_values)
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .send()
                    .await;
                match result {
                    Ok(_) => return Ok(None),
                    Err(SdkError::ServiceError(e))
                        if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
                    {
                        let UpdateItemError::ConditionalCheckFailedException(failed) = e.err() else { unreachable!() };
                        failed.item().cloned()
                    }
                    Err(e) => return Err(StoreError::aws(e)),
                }
            }
        };
        match old {
            Some(item) => Ok(Some(Some(Level::from_item(&item)?))),
            // An emulator that does not return the old item, or an item that is gone: read it.
            None => Ok(Some(self.bucket_level(&bucket.user, &bucket.connection).await?)),
        }
    }

    /// A connection's bucket as last written (`None`: never spent from, or full long enough to
    /// be removed).
    pub async fn bucket_level(&self, user: &UserId, connection: &ConnectionId) -> Result<Option<Level>, StoreError> {
        let item = self.user_item(user, &budget_sk(connection), None).await?;
        item.as_ref().map(Level::from_item).transpose()
    }

    /// Every bucket of a user's connections, by connection (one Query).
    pub async fn bucket_levels(&self, user: &UserId) -> Result<Vec<(ConnectionId, Level)>, StoreError> {
        let items = self.items_with_prefix(user, "BUDGET#", None, super::records::Read::Eventual).await?;
        let mut levels = Vec::new();
        for item in &items {
            let sk = super::attrs::get_s(item, table::SK)?;
            let Some(id) = sk.strip_prefix("BUDGET#").and_then(|id| ConnectionId::parse(id).ok()) else {
                continue;
            };
            levels.push((id, Level::from_item(item)?));
        }
        Ok(levels)
    }
}
