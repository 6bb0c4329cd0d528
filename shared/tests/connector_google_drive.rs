//! The Google Drive connector against the fake Drive API, driven page by page as the engine does.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fake_providers::{DemoSeed, DriveUser, FakeProviders, Fault, Provider, demo};
use integrations::providers::ProviderError;
use integrations::providers::google::drive::DriveConnector;
use integrations::sync::{Connector, FileFields, KindFields, SyncMode};
use serde_json::Value;

use common::{Run, config, continue_sync, demo_fakes, faults_served, ids, sync};

fn connector(fakes: &FakeProviders, page_size: u32) -> Connector {
    let config = config(fakes.base_url(Provider::GoogleDrive), page_size);
    Connector::new(DriveConnector::new(config, demo::GOOGLE_TOKEN))
}

/// The demo files (folders included) not in the trash: 28 of 30.
fn current_files(fakes: &FakeProviders, seed: &DemoSeed) -> HashSet<String> {
    seed.drive_file_ids.iter().filter(|id| fakes.state().drive_file(id).is_some_and(|f| !f.trashed)).cloned().collect()
}

#[tokio::test]
async fn a_first_sync_takes_the_change_token_first_then_returns_every_file_exactly_once() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(run.records.len(), 28);
    assert_eq!(ids(&run.records), current_files(&fakes, &seed));
    assert!(run.deleted.is_empty());
    assert!(run.state["pageToken"].is_string());
    // The start page token, then 28 files 7 a page: one request per page.
    assert_eq!(run.pages, 5);
    let requests = fakes.state().requests(Provider::GoogleDrive);
    assert_eq!(requests.len(), 5);
    assert_eq!(requests[0].path, "/changes/startPageToken");
    for request in &requests[1..] {
        assert_eq!(request.path, "/files");
        assert_eq!(request.param("pageSize").as_deref(), Some("7"));
        assert_eq!(request.param("q").as_deref(), Some("trashed=false"));
        assert!(request.param("fields").is_some_and(|f| f.contains("webViewLink")));
    }
    for request in &requests {
        assert!(request.credential.is_some());
        assert!(!request.query.contains(demo::GOOGLE_TOKEN));
    }

    let doc = fakes.state().drive_file(&seed.drive_file_ids[3]).unwrap();
    let record = run.records.iter().find(|r| r.external_id == doc.id).unwrap();
    assert_eq!(record.title, "Demo Doc 1");
    assert_eq!(record.url.as_deref(), Some(doc.web_view_link.as_str()));
    assert_eq!(record.container.as_deref(), Some("My Drive"));
    assert_eq!(record.status.as_deref(), Some("active"));
    assert_eq!(record.updated_at.map(|t| t.timestamp_millis()), Some(doc.modified_time.timestamp_millis()));
    assert_eq!(record.data["mimeType"], "application/vnd.google-apps.document");
}

#[tokio::test]
async fn an_incremental_sync_returns_only_the_changes_with_removed_and_trashed_files_as_deletions() {
    let (fakes, seed) = demo_fakes().await;
    let first = sync(&connector(&fakes, 7), None).await.unwrap();

    let added = fakes.state().add_drive_file(demo::GOOGLE_TOKEN, "Budget 2025", "application/pdf");
    let renamed = seed.drive_file_ids[4].clone();
    assert!(fakes.state().modify_drive_file(&renamed, |f| f.name = "Renamed sheet".into()));
    let trashed = seed.drive_file_ids[5].clone();
    assert!(fakes.state().trash_drive_file(&trashed));
    let removed = seed.drive_file_ids[6].clone();
    assert!(fakes.state().delete_drive_file(&removed));
    let before = fakes.state().requests(Provider::GoogleDrive).len();

    // Two changes a page: the four changes take two pages.
    let c = connector(&fakes, 2);
    let second = sync(&c, Some(&first.state)).await.unwrap();
    assert_eq!(ids(&second.records), HashSet::from([added.clone(), renamed.clone()]));
    assert_eq!(second.deleted.iter().cloned().collect::<HashSet<_>>(), HashSet::from([trashed, removed]));
    assert_eq!(second.deleted.len(), 2);
    assert_eq!(second.records.iter().find(|r| r.external_id == renamed).unwrap().title, "Renamed sheet");
    assert_eq!(second.records.iter().find(|r| r.external_id == added).unwrap().data["mimeType"], "application/pdf");
    assert_ne!(second.state, first.state);
    let requests = &fakes.state().requests(Provider::GoogleDrive)[before..];
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.path == "/changes" && r.param("includeRemoved").as_deref() == Some("true")));
    assert_eq!(requests[0].param("pageToken").as_deref(), first.state["pageToken"].as_str());

    // Nothing changed since: one request, nothing to report, the same state.
    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert!(third.records.is_empty() && third.deleted.is_empty());
    assert_eq!(third.pages, 1);
    assert_eq!(third.state, second.state);
}

#[tokio::test]
async fn a_file_changed_while_the_first_sync_lists_the_files_is_seen_by_the_next_sync() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let mut cursor = c.start(None, SyncMode::Full);
    let mut run = Run::default();
    for _ in 0..3 {
        let page = c.fetch_page(&cursor).await.unwrap();
        run.records.extend(page.records);
        run.pages += 1;
        cursor = page.next.unwrap();
    }
    // Listed already, then changed; and a new file.
    let listed = run.records[0].external_id.clone();
    assert!(fakes.state().modify_drive_file(&listed, |f| f.name = "Changed during the listing".into()));
    let added = fakes.state().add_drive_file(demo::GOOGLE_TOKEN, "Added during the listing", "text/plain");
    let first = continue_sync(&c, cursor, run).await.unwrap();

    let second = sync(&c, Some(&first.state)).await.unwrap();
    assert_eq!(ids(&second.records), HashSet::from([listed, added]));
}

#[tokio::test]
async fn an_empty_drive_gives_no_records_and_a_usable_state() {
    let fakes = FakeProviders::start().await;
    fakes.state().add_google_account(demo::GOOGLE_TOKEN, "nobody@example.com", "Nobody");
    let c = connector(&fakes, 7);

    let run = sync(&c, None).await.unwrap();
    assert!(run.records.is_empty() && run.deleted.is_empty());
    assert!(run.state["pageToken"].is_string());
    assert_eq!(run.pages, 2);
    let again = sync(&c, Some(&run.state)).await.unwrap();
    assert!(again.records.is_empty() && again.deleted.is_empty());
    assert_eq!(again.state, run.state);
    assert_eq!(fakes.state().requests(Provider::GoogleDrive).len(), 3);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::GoogleDrive, "/files", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ids(&run.records), current_files(&fakes, &seed));
    let limited = faults_served(&fakes, Provider::GoogleDrive, "rate_limited");
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::GoogleDrive, "/changes", Fault::ServerError, 1);
    fakes.state().fail_next(Provider::GoogleDrive, "/files", Fault::ServerError, 1);
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(ids(&run.records), current_files(&fakes, &seed));
    assert_eq!(fakes.state().requests(Provider::GoogleDrive).len(), 5 + 2);
}

#[tokio::test]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let page = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();

    assert!(fakes.state().revoke(Provider::GoogleDrive, demo::GOOGLE_TOKEN));
    let mid_run = c.fetch_page(page.next.as_ref().unwrap()).await;
    assert!(matches!(mid_run, Err(ProviderError::Unauthorized(_))), "{mid_run:?}");
    let from_start = sync(&c, None).await;
    assert!(matches!(from_start, Err(ProviderError::Unauthorized(_))));
    assert!(!from_start.err().unwrap().to_string().contains(demo::GOOGLE_TOKEN));
}

#[tokio::test]
async fn a_cursor_saved_as_json_text_resumes_the_run_where_it_stopped() {
    let (fakes, seed) = demo_fakes().await;
    let mut cursor;
    let mut records = Vec::new();
    let saved: String;
    {
        let c = connector(&fakes, 7);
        cursor = c.start(None, SyncMode::Full);
        for _ in 0..3 {
            let page = c.fetch_page(&cursor).await.unwrap();
            records.extend(page.records);
            cursor = page.next.unwrap();
        }
        saved = serde_json::to_string(&cursor).unwrap();
    }
    assert_eq!(records.len(), 14);
    assert!(!saved.contains(demo::GOOGLE_TOKEN));

    // A new process picks the run up from the stored text.
    let c = connector(&fakes, 7);
    let cursor: Value = serde_json::from_str(&saved).unwrap();
    let run = continue_sync(&c, cursor, Run { records, pages: 3, ..Run::default() }).await.unwrap();
    assert_eq!(ids(&run.records), current_files(&fakes, &seed));
    assert_eq!(run.pages, 5);
    assert_eq!(fakes.state().requests(Provider::GoogleDrive).len(), 5);
}

#[tokio::test]
async fn files_carry_their_type_owner_and_who_changed_them_last() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 50), None).await.unwrap();
    let fields = |i: usize| {
        let record = run.records.iter().find(|r| r.external_id == seed.drive_file_ids[i]).unwrap();
        FileFields::read(&record.data)
    };
    // The first sheet was last changed by Alice, the first doc by the user.
    let by_alice = FileFields {
        mime_type: Some("application/vnd.google-apps.spreadsheet".into()),
        owner: Some("Demo User".into()),
        last_modified_by: Some("Alice Example".into()),
        modified_by_me: false,
    };
    assert_eq!(fields(4), by_alice);
    let by_me = fields(3);
    assert_eq!((by_me.last_modified_by.as_deref(), by_me.modified_by_me), (Some("Demo User"), true));
    assert_eq!(fields(0).mime_type.as_deref(), Some("application/vnd.google-apps.folder"));

    // A change by someone else, read from the change log.
    let doc = seed.drive_file_ids[3].clone();
    let bob = DriveUser::new("Bob Example", "bob@example.com");
    assert!(fakes.state().modify_drive_file(&doc, |f| f.last_modifying_user = Some(bob)));
    let second = sync(&connector(&fakes, 50), Some(&run.state)).await.unwrap();
    let changed = FileFields::read(&second.records.iter().find(|r| r.external_id == doc).unwrap().data);
    assert_eq!((changed.last_modified_by.as_deref(), changed.modified_by_me), (Some("Bob Example"), false));
    assert_eq!(changed.owner.as_deref(), Some("Demo User"));

    for request in fakes.state().requests(Provider::GoogleDrive).iter().filter(|r| r.path != "/changes/startPageToken")
    {
        let asked = request.param("fields").unwrap();
        assert!(asked.contains("owners(displayName,me)") && asked.contains("lastModifyingUser(displayName,me)"));
    }
}
