//! The Notion connector against the fake Notion API, driven page by page as the engine does.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use fake_providers::{DemoSeed, FakeProviders, Fault, Provider, demo};
use integrations::providers::ProviderError;
use integrations::providers::notion::NotionConnector;
use integrations::sync::{Connector, KindFields, PageFields, SyncMode};
use serde_json::{Value, json};

use common::{Run, config, continue_sync, demo_fakes, faults_served, ids, sync};

fn connector(fakes: &FakeProviders, page_size: u32) -> Connector {
    Connector::new(NotionConnector::new(config(fakes.base_url(Provider::Notion), page_size), demo::NOTION_TOKEN))
}

/// What search finds in the demo: its pages not in the trash, and its databases.
fn searchable(fakes: &FakeProviders, seed: &DemoSeed) -> HashSet<String> {
    seed.notion_page_ids
        .iter()
        .chain(&seed.notion_database_ids)
        .filter(|id| !fakes.state().notion_item(id).unwrap().in_trash)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_full_sync_returns_every_page_and_database_exactly_once() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 50), None).await.unwrap();

    assert_eq!(run.records.len(), 227 + 4);
    assert_eq!(ids(&run.records), searchable(&fakes, &seed));
    // 231 results, 50 a page.
    let state = fakes.state();
    assert_eq!(state.request_count(Provider::Notion, "/v1/search"), 5);
    assert_eq!(run.pages, 5);
    for request in state.requests(Provider::Notion) {
        assert!(request.credential.is_some());
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["page_size"], 50);
        assert_eq!(body["sort"], json!({"timestamp": "last_edited_time", "direction": "descending"}));
    }

    let object = |kind: &str| run.records.iter().filter(|r| r.data["object"] == kind).count();
    assert_eq!((object("page"), object("database")), (227, 4));
    let page_id = &seed.notion_page_ids[0];
    let page = state.notion_item(page_id).unwrap();
    let record = run.records.iter().find(|r| &r.external_id == page_id).unwrap();
    assert_eq!(record.title, "Demo page 1");
    assert_eq!(record.url.as_deref(), Some(page.url.as_str()));
    assert_eq!(record.container.as_deref(), Some("Notion"));
    assert_eq!(record.status.as_deref(), Some("open"));
    assert_eq!(record.updated_at.map(|t| t.timestamp_millis()), Some(page.last_edited_time.timestamp_millis()));
    let database = run.records.iter().find(|r| r.external_id == seed.notion_database_ids[0]).unwrap();
    assert_eq!(database.title, "Tasks DB");

    // The state is the newest edit read: the last demo page's.
    let newest = state.notion_item(&seed.notion_page_ids[229]).unwrap();
    let newest = newest.last_edited_time.to_rfc3339_opts(SecondsFormat::Millis, true);
    assert_eq!(run.state, json!({ "since": newest }));
}

#[tokio::test]
async fn an_incremental_sync_returns_only_what_was_edited_since_the_previous_one() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 50);
    let first = sync(&c, None).await.unwrap();

    tokio::time::sleep(Duration::from_millis(5)).await;
    let touched = seed.notion_page_ids[10].clone();
    assert!(fakes.state().touch_notion_page(&touched));
    let added = fakes.state().add_notion_page(demo::NOTION_TOKEN, "A new page");
    let asked_before = fakes.state().requests(Provider::Notion).len();

    // Newest first, so one search page reaches what the previous run had read.
    let second = sync(&c, Some(&first.state)).await.unwrap();
    assert_eq!(ids(&second.records), HashSet::from([touched, added]));
    assert_eq!(second.pages, 1);
    assert_eq!(fakes.state().requests(Provider::Notion).len(), asked_before + 1);
    assert_ne!(second.state, first.state);

    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert!(third.records.is_empty());
    assert_eq!(third.state, second.state);
}

#[tokio::test]
async fn an_integration_with_nothing_shared_gives_no_records_and_a_usable_state() {
    let fakes = FakeProviders::start().await;
    fakes.state().add_notion_account(demo::NOTION_TOKEN, "Empty Notion");
    let c = connector(&fakes, 50);

    let run = sync(&c, None).await.unwrap();
    assert!(run.records.is_empty());
    assert_eq!(run.state, json!({"since": null}));
    let again = sync(&c, Some(&run.state)).await.unwrap();
    assert!(again.records.is_empty());
    assert_eq!(fakes.state().requests(Provider::Notion).len(), 2);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::Notion, "/v1/search", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    let run = sync(&connector(&fakes, 50), None).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ids(&run.records), searchable(&fakes, &seed));
    let limited = faults_served(&fakes, Provider::Notion, "rate_limited");
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::Notion, "/v1/search", Fault::ServerError, 2);
    let run = sync(&connector(&fakes, 50), None).await.unwrap();

    assert_eq!(ids(&run.records), searchable(&fakes, &seed));
    assert_eq!(fakes.state().requests(Provider::Notion).len(), 5 + 2);
}

#[tokio::test]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 50);
    let page = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();

    assert!(fakes.state().revoke(Provider::Notion, demo::NOTION_TOKEN));
    let mid_run = c.fetch_page(page.next.as_ref().unwrap()).await;
    assert!(matches!(mid_run, Err(ProviderError::Unauthorized(_))), "{mid_run:?}");
    let from_start = sync(&c, None).await;
    assert!(matches!(from_start, Err(ProviderError::Unauthorized(_))));
    let message = from_start.err().unwrap().to_string();
    assert!(!message.contains(demo::NOTION_TOKEN));
}

#[tokio::test]
async fn a_cursor_saved_as_json_text_resumes_the_run_where_it_stopped() {
    let (fakes, seed) = demo_fakes().await;
    let mut records = Vec::new();
    let saved: String;
    {
        let c = connector(&fakes, 50);
        let mut cursor = c.start(None, SyncMode::Full);
        for _ in 0..2 {
            let page = c.fetch_page(&cursor).await.unwrap();
            records.extend(page.records);
            cursor = page.next.unwrap();
        }
        saved = serde_json::to_string(&cursor).unwrap();
    }
    assert_eq!(records.len(), 100);
    assert!(!saved.contains(demo::NOTION_TOKEN));

    let c = connector(&fakes, 50);
    let cursor: Value = serde_json::from_str(&saved).unwrap();
    let run = continue_sync(&c, cursor, Run { records, pages: 2, ..Run::default() }).await.unwrap();
    assert_eq!(ids(&run.records), searchable(&fakes, &seed));
    assert_eq!(run.pages, 5);
    assert_eq!(fakes.state().requests(Provider::Notion).len(), 5);
    // The newest edit read before the pause still makes the state.
    let newest = fakes
        .state()
        .notion_item(&seed.notion_page_ids[229])
        .unwrap()
        .last_edited_time
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    assert_eq!(run.state, json!({ "since": newest }));
}

#[tokio::test]
async fn pages_name_their_parent_by_title_once_read_else_by_type_and_id_and_who_edited_them() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 50);
    let run = sync(&c, None).await.unwrap();
    let fields = |records: &[integrations::sync::Record], id: &str| {
        PageFields::read(&records.iter().find(|r| r.external_id == id).unwrap().data)
    };
    // Page 2 is in the Meeting Notes database, read in an earlier search page of the run.
    let in_database = fields(&run.records, &seed.notion_page_ids[1]);
    assert_eq!(in_database.parent.as_deref(), Some("Meeting Notes DB"));
    assert_eq!(in_database.last_edited_by.as_deref(), Some(seed.notion_bot_id.as_str()));
    // Page 230, read in the same search page as its database.
    assert_eq!(fields(&run.records, &seed.notion_page_ids[229]).parent.as_deref(), Some("Meeting Notes DB"));
    assert_eq!(fields(&run.records, &seed.notion_page_ids[0]).parent.as_deref(), Some("workspace"));

    // A run that does not read the database (one result a page: only the edited page and the
    // one that reaches the previous run) names it by its type and id.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let touched = seed.notion_page_ids[10].clone();
    assert!(fakes.state().touch_notion_page(&touched));
    let second = sync(&connector(&fakes, 1), Some(&run.state)).await.unwrap();
    assert_eq!(second.pages, 2);
    let database = &seed.notion_database_ids[2];
    assert_eq!(fields(&second.records, &touched).parent, Some(format!("database_id:{database}")));
}
