//! Provider health rollups: what each sync invocation saw of its provider, added into one item
//! per provider and five minutes, so that the last hour of every provider is one Query.
//!
//! `PK = HEALTH`, `SK = {bucket start, RFC 3339}#{provider}`: sorted by time, so the hour is a
//! `SK >=` range. Counters are ADDed (`calls`, `failures`, `runs`, `runFailures`, and the
//! latency histogram `l0…l12` of [`crate::metrics::LATENCY_BOUNDS_MS`]); the item expires after
//! two days. One write per worker invocation, never per call.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};

use super::attrs::{n, opt_n, opt_s, s};
use super::{Store, StoreError, table};
use crate::metrics::{CallStats, LATENCY_BUCKETS};

const PARTITION: &str = "HEALTH";
const BUCKET: Duration = Duration::minutes(5);
const KEEP: Duration = Duration::days(2);

/// One provider's rollup over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderRollup {
    pub calls: u64,
    pub failures: u64,
    pub runs: u64,
    pub run_failures: u64,
    pub latency: [u64; LATENCY_BUCKETS],
}

fn bucket_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(BUCKET).unwrap_or(at)
}

fn sort_key_from(at: DateTime<Utc>) -> String {
    bucket_start(at).to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Store {
    /// Adds one invocation's provider calls, and whether its run ended well (`None`: it has
    /// not ended), to the provider's rollup of the current five minutes.
    pub async fn record_health(
        &self,
        provider: &str,
        calls: &CallStats,
        run_succeeded: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut adds = vec!["calls :calls".to_owned(), "failures :failures".to_owned()];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(PARTITION))
            .key(table::SK, s(format!("{}#{provider}", sort_key_from(now))))
            .expression_attribute_values(":calls", n(calls.calls))
            .expression_attribute_values(":failures", n(calls.failures))
            .expression_attribute_values(":provider", s(provider))
            .expression_attribute_values(":expires", n((now + KEEP).timestamp()))
            .expression_attribute_names("#expires", table::TTL_ATTRIBUTE);
        if let Some(ok) = run_succeeded {
            adds.push("runs :one".into());
            adds.push("runFailures :run_failed".into());
            request = request
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":run_failed", n(u8::from(!ok)));
        }
        for (i, count) in calls.latency.iter().enumerate().filter(|(_, c)| **c > 0) {
            adds.push(format!("l{i} :l{i}"));
            request = request.expression_attribute_values(format!(":l{i}"), n(*count));
        }
        request
            .update_expression(format!("ADD {} SET provider = :provider, #expires = :expires", adds.join(", ")))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    /// Every provider's rollup since `since` (one Query).
    pub async fn health_since(&self, since: DateTime<Utc>) -> Result<BTreeMap<String, ProviderRollup>, StoreError> {
        let mut rollups: BTreeMap<String, ProviderRollup> = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk >= :from")
                .expression_attribute_names("#pk", table::PK)
                .expression_attribute_names("#sk", table::SK)
                .expression_attribute_values(":pk", s(PARTITION))
                .expression_attribute_values(":from", s(sort_key_from(since)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::aws)?;
            for item in page.items() {
                let Some(provider) = opt_s(item, "provider") else { continue };
                let r = rollups.entry(provider.to_owned()).or_default();
                let count = |name: &str| opt_n::<u64>(item, name).unwrap_or(0);
                r.calls += count("calls");
                r.failures += count("failures");
                r.runs += count("runs");
                r.run_failures += count("runFailures");
                for (i, bucket) in r.latency.iter_mut().enumerate() {
                    *bucket += count(&format!("l{i}"));
                }
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(rollups),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_five_minutes_and_sort_by_time() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T10:42:31Z").unwrap().with_timezone(&Utc);
        assert_eq!(sort_key_from(at), "2026-12-02T10:40:00Z");
        let later = at + Duration::minutes(30);
        assert!(sort_key_from(later) > sort_key_from(at));
    }
}
