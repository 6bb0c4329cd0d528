//! How the providers have been answering over the last hour, from the sync worker's health
//! rollups ([`crate::store::ProviderRollup`]): one Query, whatever the number of users.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::AppState;
use crate::metrics::p50_ms;
use crate::store::{ProviderRollup, StoreError};

pub const WINDOW: Duration = Duration::hours(1);
/// Fewer calls than this say too little to call a provider degraded.
pub const MIN_CALLS: u64 = 5;
/// Below this share of useful answers a provider is degraded.
pub const MIN_SUCCESS_RATE: f64 = 0.9;
/// A median answer slower than this is degraded too.
pub const MAX_P50_MS: u64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Degraded,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderHealth {
    pub integration_id: String,
    pub name: String,
    pub status: Status,
    /// The share of provider calls that got a useful answer (not 429, 5xx or none).
    pub success_rate: f64,
    /// The median call's latency, to the histogram's resolution (`null` without calls).
    pub p50_ms: Option<u64>,
    pub calls: u64,
    pub failed_calls: u64,
    pub runs: u64,
    pub failed_runs: u64,
    /// What a user should know, when it is degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub since: DateTime<Utc>,
    /// Providers called in the window, by name.
    pub providers: Vec<ProviderHealth>,
}

pub fn assess(catalog: &Catalog, id: &str, r: &ProviderRollup) -> ProviderHealth {
    let name = catalog.find(id).map_or_else(|| id.to_owned(), |i| i.name.clone());
    let success_rate =
        if r.calls == 0 { 1.0 } else { ((r.calls - r.failures) as f64 / r.calls as f64 * 1000.0).round() / 1000.0 };
    let p50 = p50_ms(&r.latency);
    let message = if r.calls >= MIN_CALLS && success_rate < MIN_SUCCESS_RATE {
        Some(format!(
            "{name} is failing {}% of requests; syncs and automations may be delayed.",
            ((1.0 - success_rate) * 100.0).round()
        ))
    } else if r.calls >= MIN_CALLS && p50.is_some_and(|ms| ms > MAX_P50_MS) {
        Some(format!("{name} is answering slowly; syncs may take longer."))
    } else {
        None
    };
    ProviderHealth {
        integration_id: id.to_owned(),
        status: if message.is_some() { Status::Degraded } else { Status::Ok },
        name,
        success_rate,
        p50_ms: p50,
        calls: r.calls,
        failed_calls: r.failures,
        runs: r.runs,
        failed_runs: r.run_failures,
        message,
    }
}

/// The last hour's report (one Query).
pub async fn report(state: &AppState, now: DateTime<Utc>) -> Result<HealthReport, StoreError> {
    let since = now - WINDOW;
    let rollups = state.store.health_since(since).await?;
    let mut providers: Vec<ProviderHealth> = rollups.iter().map(|(id, r)| assess(state.catalog, id, r)).collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(HealthReport { since, providers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LATENCY_BUCKETS;

    fn rollup(calls: u64, failures: u64, latency_bucket: usize) -> ProviderRollup {
        let mut latency = [0; LATENCY_BUCKETS];
        latency[latency_bucket] = calls;
        ProviderRollup { calls, failures, runs: 2, run_failures: 1, latency }
    }

    #[test]
    fn a_provider_failing_or_slow_is_degraded_with_words_and_a_quiet_one_is_not() {
        let catalog = Catalog::get();
        let failing = assess(catalog, "trello", &rollup(20, 7, 2));
        assert_eq!(failing.status, Status::Degraded);
        assert_eq!(failing.success_rate, 0.65);
        assert_eq!(failing.p50_ms, Some(200));
        assert_eq!(
            failing.message.as_deref(),
            Some("Trello is failing 35% of requests; syncs and automations may be delayed.")
        );
        let slow = assess(catalog, "slack", &rollup(10, 0, LATENCY_BUCKETS - 1));
        assert_eq!(slow.status, Status::Degraded);
        assert!(slow.message.unwrap().contains("slowly"));
        let few = assess(catalog, "asana", &rollup(3, 3, 0));
        assert_eq!(few.status, Status::Ok, "3 calls are too few to judge");
        let fine = assess(catalog, "notion", &rollup(100, 2, 3));
        assert_eq!((fine.status, fine.success_rate), (Status::Ok, 0.98));
    }
}
