//! The Asana connector against the fake Asana API, driven page by page as the engine does.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fake_providers::{FakeProviders, Fault, Provider, demo};
use integrations::providers::ProviderError;
use integrations::providers::asana::AsanaConnector;
use integrations::sync::{Connector, KindFields, Record, SyncMode, TaskFields};
use serde_json::{Value, json};

use common::{Run, config, continue_sync, demo_fakes, faults_served, ids, sync};

fn connector(fakes: &FakeProviders, page_size: u32) -> Connector {
    Connector::new(AsanaConnector::new(config(fakes.base_url(Provider::Asana), page_size), demo::ASANA_TOKEN))
}

fn titles(records: &[Record]) -> HashSet<String> {
    records.iter().map(|r| r.title.clone()).collect()
}

/// The demo tasks assigned to the demo user: "Task 1…120" and "Side task 1…30".
fn my_demo_tasks() -> HashSet<String> {
    (1..=120).map(|i| format!("Task {i}")).chain((1..=30).map(|i| format!("Side task {i}"))).collect()
}

fn modified_since(state: &Value) -> DateTime<Utc> {
    let raw = state["modifiedSince"].as_str().expect("modifiedSince");
    DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn a_full_sync_returns_every_task_assigned_to_the_user_exactly_once() {
    let (fakes, seed) = demo_fakes().await;
    let before = Utc::now();
    let run = sync(&connector(&fakes, 50), None).await.unwrap();

    assert_eq!(run.records.len(), 150);
    ids(&run.records);
    assert_eq!(titles(&run.records), my_demo_tasks());
    // The workspaces, then 50 tasks a page: 120 in one workspace, 30 in the other.
    let state = fakes.state();
    assert_eq!(state.request_count(Provider::Asana, "/users/me"), 1);
    assert_eq!(state.request_count(Provider::Asana, "/tasks"), 3 + 1);
    assert_eq!(run.pages, 5);
    for request in state.requests(Provider::Asana) {
        assert!(request.credential.is_some());
        if request.path == "/tasks" {
            assert_eq!(request.param("assignee").as_deref(), Some("me"));
            assert_eq!(request.param("limit").as_deref(), Some("50"));
            assert_eq!(request.param("modified_since"), None);
        }
    }

    let done = run.records.iter().filter(|r| r.status.as_deref() == Some("done")).count();
    assert_eq!(done, 18 + 5);
    let record = run.records.iter().find(|r| r.title == "Task 1").unwrap();
    let task = state.asana_task(&record.external_id).unwrap();
    assert_eq!(record.status.as_deref(), Some("done"));
    assert_eq!(record.due_at.as_deref(), Some("2030-01-01"));
    assert_eq!(record.container.as_deref(), Some("Fake Demo Workspace"));
    assert_eq!(record.url, Some(format!("https://app.asana.com/0/{}/{}", seed.asana_project_gids[0], task.gid)));
    assert_eq!(record.updated_at.map(|t| t.timestamp_millis()), Some(task.modified_at.timestamp_millis()));
    assert_eq!(record.data["projects"], json!(["Website Relaunch"]));
    assert_eq!(record.data["notes"], "Fake notes for Task 1.");
    let side = run.records.iter().find(|r| r.title == "Side task 2").unwrap();
    assert_eq!(side.container.as_deref(), Some("Side Projects"));
    assert_eq!(side.data["projects"], json!([]));
    // The task fields: the first project as the list, completion, the assignee's name.
    let task = |list: Option<&str>, done: bool| TaskFields {
        list: list.map(str::to_owned),
        labels: Vec::new(),
        done,
        assignees: vec!["Demo User".to_owned()],
    };
    assert_eq!(TaskFields::read(&record.data), task(Some("Website Relaunch"), true));
    assert_eq!(TaskFields::read(&side.data), task(None, false));
    let second = run.records.iter().find(|r| r.title == "Task 2").unwrap();
    assert_eq!(TaskFields::read(&second.data), task(Some("Mobile App"), false));
    for request in state.requests(Provider::Asana).iter().filter(|r| r.path == "/tasks") {
        let fields = request.param("opt_fields").unwrap();
        assert!(fields.split(',').any(|f| f == "assignee.name") && fields.contains("memberships.section.name"));
    }

    // The next run starts from when this one started.
    // The state keeps milliseconds: `before`, in nanoseconds, may be later within the same one.
    let since = modified_since(&run.state);
    assert!(before - chrono::Duration::milliseconds(1) <= since && since <= Utc::now(), "{before} {since}");
}

#[tokio::test]
async fn an_incremental_sync_returns_only_the_tasks_modified_since_the_previous_one() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 50);
    let first = sync(&c, None).await.unwrap();

    tokio::time::sleep(Duration::from_millis(5)).await;
    let touched = first.records.iter().find(|r| r.title == "Task 42").unwrap();
    assert!(fakes.state().touch_asana_task(&touched.external_id));
    let added = fakes.state().add_asana_task(demo::ASANA_TOKEN, &seed.asana_workspace_gids[1], "A new task");
    let asked_before = fakes.state().requests(Provider::Asana).len();
    // (The state is to the millisecond, rounded down: a change in the very millisecond a run
    // starts is read again by the next run.)
    tokio::time::sleep(Duration::from_millis(5)).await;

    let second = sync(&c, Some(&first.state)).await.unwrap();
    assert_eq!(ids(&second.records), HashSet::from([touched.external_id.clone(), added]));
    let since = fakes.state().requests(Provider::Asana)[asked_before..]
        .iter()
        .filter(|r| r.path == "/tasks")
        .map(|r| r.param("modified_since").unwrap())
        .collect::<HashSet<_>>();
    assert_eq!(since, HashSet::from([first.state["modifiedSince"].as_str().unwrap().to_owned()]));
    assert!(modified_since(&second.state) > modified_since(&first.state));

    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert!(third.records.is_empty());
}

#[tokio::test]
async fn an_account_without_tasks_gives_no_records_and_a_usable_state() {
    let fakes = FakeProviders::start().await;
    let state = fakes.state();
    state.add_asana_account(demo::ASANA_TOKEN, "Nobody", "nobody@example.com");
    let c = connector(&fakes, 50);

    // Without a workspace: the user is all there is to read.
    let run = sync(&c, None).await.unwrap();
    assert!(run.records.is_empty());
    modified_since(&run.state);
    assert_eq!(state.requests(Provider::Asana).len(), 1);

    // With an empty workspace.
    state.add_asana_workspace(demo::ASANA_TOKEN, "Empty");
    let again = sync(&c, Some(&run.state)).await.unwrap();
    assert!(again.records.is_empty());
    modified_since(&again.state);
    assert_eq!(state.requests(Provider::Asana).len(), 3);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_sync_completes() {
    let (fakes, _) = demo_fakes().await;
    fakes.state().fail_next(Provider::Asana, "/tasks", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    let run = sync(&connector(&fakes, 50), None).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    ids(&run.records);
    assert_eq!(titles(&run.records), my_demo_tasks());
    let limited = faults_served(&fakes, Provider::Asana, "rate_limited");
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_sync_completes() {
    let (fakes, _) = demo_fakes().await;
    fakes.state().fail_next(Provider::Asana, "/users/me", Fault::ServerError, 1);
    fakes.state().fail_next(Provider::Asana, "/tasks", Fault::ServerError, 2);
    let run = sync(&connector(&fakes, 50), None).await.unwrap();

    ids(&run.records);
    assert_eq!(titles(&run.records), my_demo_tasks());
    assert_eq!(fakes.state().requests(Provider::Asana).len(), 5 + 3);
}

#[tokio::test]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 50);
    let page = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();

    assert!(fakes.state().revoke(Provider::Asana, demo::ASANA_TOKEN));
    let mid_run = c.fetch_page(page.next.as_ref().unwrap()).await;
    assert!(matches!(mid_run, Err(ProviderError::Unauthorized(_))), "{mid_run:?}");
    let from_start = sync(&c, None).await;
    assert!(matches!(from_start, Err(ProviderError::Unauthorized(_))));
    let message = from_start.err().unwrap().to_string();
    assert!(!message.contains(demo::ASANA_TOKEN));
}

#[tokio::test]
async fn a_cursor_saved_as_json_text_resumes_the_run_where_it_stopped() {
    let (fakes, _) = demo_fakes().await;
    let mut records = Vec::new();
    let saved: String;
    let started_state: Value;
    {
        let c = connector(&fakes, 50);
        let mut cursor = c.start(None, SyncMode::Full);
        started_state = cursor.clone();
        for _ in 0..3 {
            let page = c.fetch_page(&cursor).await.unwrap();
            records.extend(page.records);
            cursor = page.next.unwrap();
        }
        saved = serde_json::to_string(&cursor).unwrap();
    }
    assert_eq!(records.len(), 100);
    assert!(!saved.contains(demo::ASANA_TOKEN));

    tokio::time::sleep(Duration::from_millis(5)).await;
    let c = connector(&fakes, 50);
    let cursor: Value = serde_json::from_str(&saved).unwrap();
    let run = continue_sync(&c, cursor, Run { records, pages: 3, ..Run::default() }).await.unwrap();
    ids(&run.records);
    assert_eq!(titles(&run.records), my_demo_tasks());
    assert_eq!(run.pages, 5);
    assert_eq!(fakes.state().requests(Provider::Asana).len(), 5);
    // The state is the start of the run, not of its resumption.
    let started = started_state["startedAt"].as_str().unwrap();
    let started = DateTime::parse_from_rfc3339(started).unwrap();
    assert_eq!(modified_since(&run.state).timestamp_millis(), started.timestamp_millis());
}
