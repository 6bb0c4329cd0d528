//! Per-user caps, each counted in an item of its own with a conditional ADD, so concurrent
//! requests cannot both take the last unit.
//!
//! Full syncs: `USAGE#{connectionId}#FULL#{date}` in the user's partition counts a connection's
//! full syncs of one UTC day. (`USAGE#` sorts after `PROFILE`, outside the range the stats read.)
//! The item expires a day after its day ends.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use chrono::{DateTime, Duration, NaiveTime, Utc};

use super::attrs::{n, s};
use super::{Store, StoreError, keys, table};
use crate::domain::{ConnectionId, UserId};

/// Full syncs one connection may run per UTC day.
pub const FULL_SYNCS_PER_DAY: u32 = 4;

fn full_sync_key(connection: &ConnectionId, now: DateTime<Utc>) -> String {
    format!("USAGE#{connection}#FULL#{}", now.date_naive())
}

/// When the UTC day of `now` ends.
fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + Duration::days(1)).and_time(NaiveTime::MIN).and_utc()
}

impl Store {
    /// Takes one of the connection's full syncs of the day. `Ok(Err(secs))`: none is left,
    /// and the next day starts in `secs` seconds.
    pub async fn take_full_sync(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        now: DateTime<Utc>,
    ) -> Result<Result<(), u64>, StoreError> {
        let next = next_day(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(full_sync_key(connection, now)))
            .update_expression("ADD #count :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#expires", table::TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(FULL_SYNCS_PER_DAY))
            .expression_attribute_values(":expires", n((next + Duration::days(1)).timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if e.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") => {
                Ok(Err(u64::try_from((next - now).num_seconds()).unwrap_or(0).max(1)))
            }
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Gives back a full sync taken for a run that was not queued after all.
    pub async fn return_full_sync(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        taken_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(full_sync_key(connection, taken_at)))
            .update_expression("ADD #count :minus_one")
            .condition_expression("#count > :zero")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(StoreError::aws(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_ends_at_the_next_utc_midnight() {
        let now: DateTime<Utc> = "2026-12-02T23:59:30Z".parse().unwrap();
        assert_eq!(next_day(now), "2026-12-03T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let id = ConnectionId::parse("01HV5Z4K9Q8W2X3Y4Z5A6B7C8D").unwrap();
        assert_eq!(full_sync_key(&id, now), "USAGE#01HV5Z4K9Q8W2X3Y4Z5A6B7C8D#FULL#2026-12-02");
    }
}
