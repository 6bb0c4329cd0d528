//! What the connector tests share: a connector configuration that retries quickly, and the
//! engine's loop over a connector's pages.

// Each test file includes this module with `mod common;` and so compiles it into its own test
// binary: a helper that one file does not use would be reported as dead code in that binary.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::Duration;

use fake_providers::{DemoSeed, FakeProviders, Provider};
use integrations::providers::{ProviderError, RetryPolicy};
use integrations::sync::{Connector, ConnectorConfig, Record, RecordKind, SyncMode};
use serde_json::Value;

/// A connector's configuration for the API at `base_url`, with retries that wait little.
pub fn config(base_url: String, page_size: u32) -> ConnectorConfig {
    ConnectorConfig {
        http: integrations::providers::http_client(),
        base_url,
        page_size,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        },
    }
}

/// What a run read, page after page.
#[derive(Debug, Default)]
pub struct Run {
    pub records: Vec<Record>,
    /// The ids of the records reported as deleted.
    pub deleted: Vec<String>,
    /// `full_listing` of each page, in order.
    pub full_listing: Vec<bool>,
    /// The last page's state; `Null` until the run ends.
    pub state: Value,
    pub pages: usize,
}

/// What the engine does: `start`, then `fetch_page` until there is no next cursor.
pub async fn sync(c: &Connector, state: Option<&Value>) -> Result<Run, ProviderError> {
    continue_sync(c, c.start(state, SyncMode::Incremental), Run::default()).await
}

/// The rest of a run, from `cursor` on, added to what `run` has read so far.
pub async fn continue_sync(c: &Connector, mut cursor: Value, mut run: Run) -> Result<Run, ProviderError> {
    loop {
        let page = c.fetch_page(&cursor).await?;
        run.pages += 1;
        assert!(run.pages < 500, "the sync does not end");
        run.full_listing.push(page.full_listing);
        run.records.extend(page.records);
        let kinds: HashSet<RecordKind> =
            run.records.iter().map(|r| r.kind).chain(page.deleted.iter().map(|k| k.kind)).collect();
        assert!(kinds.len() <= 1, "a connector syncs one kind of record: {kinds:?}");
        run.deleted.extend(page.deleted.into_iter().map(|k| k.external_id));
        match page.next {
            Some(next) => {
                assert!(page.state.is_none(), "only the last page carries the state");
                cursor = next;
            }
            None => {
                run.state = page.state.expect("the last page carries the state");
                return Ok(run);
            }
        }
    }
}

/// The ids of the records, each of which must come once.
pub fn ids(records: &[Record]) -> HashSet<String> {
    let set: HashSet<String> = records.iter().map(|r| r.external_id.clone()).collect();
    assert_eq!(set.len(), records.len(), "a record came twice");
    set
}

/// Fakes of every provider, seeded with the demo data set.
pub async fn demo_fakes() -> (FakeProviders, DemoSeed) {
    let fakes = FakeProviders::start().await;
    let seed = fakes.state().seed_demo();
    (fakes, seed)
}

/// How many of a provider's answers were the injected fault `fault` (`rate_limited`, …).
pub fn faults_served(fakes: &FakeProviders, provider: Provider, fault: &str) -> usize {
    fakes.state().requests(provider).into_iter().filter(|r| r.fault.as_deref() == Some(fault)).count()
}
