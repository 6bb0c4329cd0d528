//! Metrics in CloudWatch's Embedded Metric Format: one JSON log line per measurement that
//! CloudWatch Logs turns into metrics, with no API call and no agent. Lambda sends a
//! function's stdout to its log group, so writing the line is all there is to it.
//!
//! Lines are written when `METRICS_FORMAT=emf` (template.yaml sets it for every function);
//! elsewhere they are rendered only in tests, which check their shape.
//!
//! What is measured, all in the [`NAMESPACE`]:
//! - `Api`: `Latency` (ms), `Requests`, `ClientErrors`, `ServerErrors` per `Route`;
//! - `Sync`: `Duration` (ms), `Items`, `Succeeded`, `Failed` per `Provider`;
//! - `ProviderCall`: `Latency` (ms), `Calls`, `Failures` per `Provider`;
//! - `Action`: `Done`, `Failed`, `Unknown` per `Action`;
//! - `Webhook`: `VerificationFailures` per `Provider`.
//!
//! DLQ depth and throttles come from SQS's and Lambda's own metrics (template.yaml's alarms).

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "DirectorOfOne/Integrations";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Count,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "Milliseconds",
            Unit::Count => "Count",
        }
    }
}

/// One EMF record: a metric set with its dimensions, values and searchable properties.
#[derive(Debug, Clone)]
pub struct Record {
    /// The metric set: `Api`, `Sync`, `ProviderCall`, `Action`, `Webhook`.
    set: &'static str,
    dimension: (&'static str, String),
    values: Vec<(&'static str, f64, Unit)>,
    properties: Vec<(&'static str, Value)>,
}

impl Record {
    /// A record of `set`, measured per one dimension (a route, a provider, an action).
    pub fn new(set: &'static str, dimension: &'static str, value: impl Into<String>) -> Self {
        Record { set, dimension: (dimension, value.into()), values: Vec::new(), properties: Vec::new() }
    }

    pub fn count(mut self, name: &'static str, n: u64) -> Self {
        self.values.push((name, n as f64, Unit::Count));
        self
    }

    pub fn millis(mut self, name: &'static str, elapsed: Duration) -> Self {
        self.values.push((name, elapsed.as_secs_f64() * 1000.0, Unit::Milliseconds));
        self
    }

    /// A value kept in the log line for searching, not made a metric (a status code, an id).
    pub fn property(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.properties.push((name, value.into()));
        self
    }

    /// The log line, at `timestamp_ms` (epoch milliseconds).
    pub fn render(&self, timestamp_ms: i64) -> String {
        let mut line = Map::new();
        let metrics: Vec<Value> =
            self.values.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["MetricSet", self.dimension.0]],
                    "Metrics": metrics,
                }],
            }),
        );
        line.insert("MetricSet".into(), Value::from(self.set));
        line.insert(self.dimension.0.into(), Value::from(self.dimension.1.as_str()));
        for (name, value, _) in &self.values {
            line.insert((*name).into(), json!(value));
        }
        for (name, value) in &self.properties {
            line.entry(*name).or_insert_with(|| value.clone());
        }
        Value::Object(line).to_string()
    }

    /// Writes the line where CloudWatch reads it, when metrics are on.
    pub fn emit(self) {
        if enabled() {
            println!("{}", self.render(chrono::Utc::now().timestamp_millis()));
        }
    }
}

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("METRICS_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("emf")))
}

/// The `Api` record of one request: its route template (not its path: ids would make a metric
/// per resource), status and latency.
pub fn api_request(route: &str, method: &str, status: u16, elapsed: Duration) -> Record {
    Record::new("Api", "Route", format!("{method} {route}"))
        .millis("Latency", elapsed)
        .count("Requests", 1)
        .count("ClientErrors", u64::from((400..500).contains(&status)))
        .count("ServerErrors", u64::from(status >= 500))
        .property("status", status)
}

/// An axum middleware that emits [`api_request`] for every request, and logs it.
pub async fn api_layer(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    tracing::info!(route = %route, method = %method, status, ms = elapsed.as_millis() as u64, "request");
    api_request(&route, &method, status, elapsed).emit();
    response
}

/// Upper bounds (ms) of the provider-call latency histogram's buckets; the last is open.
pub const LATENCY_BOUNDS_MS: [u64; 12] = [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000];
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The provider calls made within one [`measure_calls`] scope: counted, and their latencies
/// in a histogram (for the health rollups' p50 without keeping every value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// The provider the scope works with, once it is known.
    pub provider: Option<String>,
    pub calls: u64,
    /// Calls the provider did not answer usefully: no answer, 429 or 5xx.
    pub failures: u64,
    pub latency: [u64; LATENCY_BUCKETS],
}

impl CallStats {
    pub fn record(&mut self, failed: bool, elapsed: Duration) {
        self.calls += 1;
        self.failures += u64::from(failed);
        let ms = elapsed.as_millis() as u64;
        let bucket = LATENCY_BOUNDS_MS.iter().position(|&bound| ms <= bound).unwrap_or(LATENCY_BOUNDS_MS.len());
        self.latency[bucket] += 1;
    }
}

/// The median of a latency histogram, as its bucket's upper bound (the open bucket's lower
/// one): an estimate never below the true median. `None` without calls.
pub fn p50_ms(histogram: &[u64; LATENCY_BUCKETS]) -> Option<u64> {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let mut seen = 0;
    for (i, n) in histogram.iter().enumerate() {
        seen += n;
        if seen * 2 >= total {
            return Some(LATENCY_BOUNDS_MS[i.min(LATENCY_BOUNDS_MS.len() - 1)]);
        }
    }
    None
}

tokio::task_local! {
    static CALLS: std::sync::Mutex<CallStats>;
}

/// Runs `work`, counting the provider calls made in it ([`provider_call`]).
pub async fn measure_calls<F: std::future::Future>(work: F) -> (F::Output, CallStats) {
    let (output, calls) = CALLS
        .scope(std::sync::Mutex::new(CallStats::default()), async {
            let output = work.await;
            let calls = CALLS.with(|c| std::mem::take(&mut *c.lock().unwrap_or_else(|e| e.into_inner())));
            (output, calls)
        })
        .await;
    (output, calls)
}

/// Runs `work` with its provider calls counted as `provider`'s (their records only: the scope's
/// counts are dropped).
pub async fn for_provider<F: std::future::Future>(provider: &str, work: F) -> F::Output {
    measure_calls(async {
        set_provider(provider);
        work.await
    })
    .await
    .0
}

/// Names the provider the current [`measure_calls`] scope works with (no-op outside one).
pub fn set_provider(provider: &str) {
    let _ = CALLS.try_with(|c| c.lock().unwrap_or_else(|e| e.into_inner()).provider = Some(provider.to_owned()));
}

/// Counts one provider call in the current scope and emits its `ProviderCall` record. `status`
/// is the answer's, `None` when none came.
pub fn provider_call(status: Option<u16>, elapsed: Duration) {
    let failed = status.is_none_or(|s| s == 429 || s >= 500);
    let provider = CALLS
        .try_with(|c| {
            let mut stats = c.lock().unwrap_or_else(|e| e.into_inner());
            stats.record(failed, elapsed);
            stats.provider.clone()
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".to_owned());
    Record::new("ProviderCall", "Provider", provider)
        .millis("Latency", elapsed)
        .count("Calls", 1)
        .count("Failures", u64::from(failed))
        .property("status", status.map_or(Value::Null, Value::from))
        .emit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_renders_as_an_emf_line_cloudwatch_accepts() {
        let line = api_request("/api/v1/integrations/{connectionId}", "GET", 404, Duration::from_millis(12));
        let v: Value = serde_json::from_str(&line.render(1_764_670_000_000)).unwrap();
        // The EMF specification: `_aws` with a Timestamp and one metric directive whose
        // dimension sets and metric names are members of the line itself.
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_764_670_000_000i64);
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["MetricSet", "Route"]]));
        for dimension in directive["Dimensions"][0].as_array().unwrap() {
            assert!(v[dimension.as_str().unwrap()].is_string(), "dimension {dimension} is a string member");
        }
        let metrics = directive["Metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 4);
        for metric in metrics {
            let name = metric["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "metric {name} is a number member");
            assert!(["Milliseconds", "Count"].contains(&metric["Unit"].as_str().unwrap()));
        }
        assert_eq!(v["Route"], "GET /api/v1/integrations/{connectionId}");
        assert_eq!(v["Latency"], 12.0);
        assert_eq!(v["ClientErrors"], 1.0);
        assert_eq!(v["ServerErrors"], 0.0);
        assert_eq!(v["status"], 404);
    }

    #[tokio::test]
    async fn calls_are_counted_per_scope_with_their_provider() {
        let ((), stats) = measure_calls(async {
            provider_call(Some(200), Duration::from_millis(40));
            set_provider("trello");
            provider_call(Some(503), Duration::from_millis(800));
            provider_call(None, Duration::from_secs(20));
        })
        .await;
        assert_eq!(stats.provider.as_deref(), Some("trello"));
        assert_eq!((stats.calls, stats.failures), (3, 2));
        assert_eq!(stats.latency[0], 1);
        assert_eq!(stats.latency[LATENCY_BUCKETS - 1], 1);
        // Outside a scope a call is only emitted.
        provider_call(Some(200), Duration::from_millis(1));
    }

    #[test]
    fn the_median_is_the_bucket_holding_the_middle_call() {
        let mut h = [0; LATENCY_BUCKETS];
        assert_eq!(p50_ms(&h), None);
        h[1] = 3; // ≤ 100 ms
        h[4] = 2; // ≤ 500 ms
        assert_eq!(p50_ms(&h), Some(100));
        h[4] = 4;
        assert_eq!(p50_ms(&h), Some(500));
        h[LATENCY_BUCKETS - 1] = 100;
        assert_eq!(p50_ms(&h), Some(10_000));
    }

    #[test]
    fn a_property_never_overwrites_a_metric_or_dimension() {
        let line =
            Record::new("Sync", "Provider", "trello").count("Items", 3).property("Items", "x").property("Provider", 1);
        let v: Value = serde_json::from_str(&line.render(0)).unwrap();
        assert_eq!(v["Items"], 3.0);
        assert_eq!(v["Provider"], "trello");
    }
}
