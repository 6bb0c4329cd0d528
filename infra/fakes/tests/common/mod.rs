//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fake_providers::FakeProviders;

/// Upper bound on pages fetched by any pagination loop, so a bug cannot loop forever.
pub const MAX_PAGES: usize = 200;

pub async fn start() -> FakeProviders {
    FakeProviders::start().await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("reqwest client")
}

/// Asserts that `ids` has no duplicates and equals `expected` as a set.
pub fn assert_same_set(mut ids: Vec<String>, mut expected: Vec<String>) {
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "an item was returned more than once");
    expected.sort();
    assert_eq!(ids, expected);
}
