//! The Trello connector against the fake Trello API, driven page by page as the engine does.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fake_providers::{DemoSeed, FakeProviders, Fault, Provider, demo};
use integrations::providers::ProviderError;
use integrations::providers::trello::TrelloConnector;
use integrations::sync::{Connector, KindFields, SyncMode, TaskFields};
use serde_json::{Value, json};

use common::{Run, config, continue_sync, demo_fakes, faults_served, ids, sync};

fn connector(fakes: &FakeProviders, page_size: u32) -> Connector {
    let config = config(fakes.base_url(Provider::Trello), page_size);
    Connector::new(TrelloConnector::new(config, demo::TRELLO_KEY, demo::TRELLO_TOKEN))
}

/// The cards of the open boards (Product Roadmap and Sprint Board), open and archived.
fn open_board_cards(fakes: &FakeProviders, seed: &DemoSeed) -> HashSet<String> {
    seed.trello_board_ids[..2].iter().flat_map(|b| fakes.state().trello_cards(b)).map(|c| c.id).collect()
}

#[tokio::test]
async fn a_full_sync_returns_every_card_of_the_open_boards_exactly_once() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(run.records.len(), 70);
    assert_eq!(ids(&run.records), open_board_cards(&fakes, &seed));
    // One request per page: the boards, each board's lists, and its cards 7 at a time
    // (40 cards: 5 full pages and a short one; 30 cards: 4 full pages and a short one).
    let state = fakes.state();
    assert_eq!(state.request_count(Provider::Trello, "/1/members/me/boards"), 1);
    assert_eq!(state.request_count(Provider::Trello, "/1/boards/"), 2 + 6 + 5);
    assert_eq!(run.pages, 14);
    assert_eq!(state.requests(Provider::Trello).len(), 14);

    let count = |status: &str| run.records.iter().filter(|r| r.status.as_deref() == Some(status)).count();
    assert_eq!((count("archived"), count("done"), count("open")), (3, 7, 60));

    let first = fakes.state().trello_cards(&seed.trello_board_ids[0])[0].clone();
    let record = run.records.iter().find(|r| r.external_id == first.id).unwrap();
    assert_eq!(record.title, "Product Roadmap card 1");
    assert_eq!(record.container.as_deref(), Some("Product Roadmap"));
    assert_eq!(record.url.as_deref(), Some(first.url.as_str()));
    assert_eq!(record.status.as_deref(), Some("done"));
    assert!(record.due_at.is_some());
    // Trello gives times to the millisecond.
    assert_eq!(record.updated_at.map(|t| t.timestamp_millis()), Some(first.date_last_activity.timestamp_millis()));
    assert_eq!(record.data["list"], "To Do");
    assert_eq!(record.data["labels"], json!(["Bug"]));
    assert_eq!(record.data["description"], "Fake description of card 1.");

    // The key and token travel in the Authorization header, never in a URL.
    for request in state.requests(Provider::Trello) {
        assert!(request.credential.is_some());
        assert!(!request.query.contains("token") && !request.query.contains("key="));
    }
}

#[tokio::test]
async fn an_incremental_sync_returns_only_the_cards_changed_since_the_previous_one() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let first = sync(&c, None).await.unwrap();
    assert!(first.state["since"].is_string());

    tokio::time::sleep(Duration::from_millis(5)).await;
    let touched = fakes.state().trello_cards(&seed.trello_board_ids[1])[3].id.clone();
    assert!(fakes.state().touch_trello_card(&touched));
    let added = fakes.state().add_trello_card(&seed.trello_board_ids[0], "A new card");

    let second = sync(&c, Some(&first.state)).await.unwrap();
    assert_eq!(ids(&second.records), HashSet::from([touched, added.clone()]));
    let new = second.records.iter().find(|r| r.external_id == added).unwrap();
    assert_eq!(new.title, "A new card");
    assert_eq!(new.status.as_deref(), Some("open"));

    // Nothing changed since: only the boards are asked for.
    let before = fakes.state().requests(Provider::Trello).len();
    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert!(third.records.is_empty());
    assert_eq!(third.state, second.state);
    assert_eq!(fakes.state().requests(Provider::Trello).len(), before + 1);
}

#[tokio::test]
async fn an_account_without_boards_gives_no_records_and_a_usable_state() {
    let fakes = FakeProviders::start().await;
    fakes.state().add_trello_account(demo::TRELLO_KEY, demo::TRELLO_TOKEN, "nobody");
    let c = connector(&fakes, 7);

    let run = sync(&c, None).await.unwrap();
    assert!(run.records.is_empty());
    assert_eq!(run.state, json!({"since": null}));
    let again = sync(&c, Some(&run.state)).await.unwrap();
    assert!(again.records.is_empty());
    assert_eq!(fakes.state().requests(Provider::Trello).len(), 2);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::Trello, "/1/boards/", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ids(&run.records), open_board_cards(&fakes, &seed));
    let limited = faults_served(&fakes, Provider::Trello, "rate_limited");
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::Trello, "/1/members", Fault::ServerError, 1);
    fakes.state().fail_next(Provider::Trello, "/1/boards/", Fault::ServerError, 2);
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(ids(&run.records), open_board_cards(&fakes, &seed));
    assert_eq!(fakes.state().requests(Provider::Trello).len(), 14 + 3);
}

#[tokio::test]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let cursor = c.start(None, SyncMode::Full);
    let page = c.fetch_page(&cursor).await.unwrap();

    assert!(fakes.state().revoke(Provider::Trello, demo::TRELLO_TOKEN));
    let mid_run = c.fetch_page(page.next.as_ref().unwrap()).await;
    assert!(matches!(mid_run, Err(ProviderError::Unauthorized(_))), "{mid_run:?}");
    let from_start = sync(&c, None).await;
    assert!(matches!(from_start, Err(ProviderError::Unauthorized(_))));
    // The error says nothing of the credential.
    let message = from_start.err().unwrap().to_string();
    assert!(!message.contains(demo::TRELLO_TOKEN) && !message.contains(demo::TRELLO_KEY));
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
        for _ in 0..5 {
            let page = c.fetch_page(&cursor).await.unwrap();
            records.extend(page.records);
            cursor = page.next.unwrap();
        }
        saved = serde_json::to_string(&cursor).unwrap();
    }
    assert!(!records.is_empty());
    assert!(!saved.contains(demo::TRELLO_TOKEN) && !saved.contains(demo::TRELLO_KEY));

    // A new process picks the run up from the stored text.
    let c = connector(&fakes, 7);
    let cursor: Value = serde_json::from_str(&saved).unwrap();
    let run = continue_sync(&c, cursor, Run { records, pages: 5, ..Run::default() }).await.unwrap();
    assert_eq!(ids(&run.records), open_board_cards(&fakes, &seed));
    assert_eq!(run.pages, 14);
    assert_eq!(fakes.state().requests(Provider::Trello).len(), 14);
}

#[tokio::test]
async fn cards_carry_their_list_labels_completion_and_named_assignees_without_a_request_per_card() {
    let (fakes, seed) = demo_fakes().await;
    let sprint = &seed.trello_board_ids[1];
    let cards = fakes.state().trello_cards(sprint);
    // A member the board no longer lists is named by its id.
    let gone = "5f0000000000000000000042".to_owned();
    assert!(fakes.state().update_trello_card(&cards[4].id, |c| c.id_members.push(gone.clone())));
    let run = sync(&connector(&fakes, 50), None).await.unwrap();
    let fields = |i: usize| {
        let record = run.records.iter().find(|r| r.external_id == cards[i].id).unwrap();
        TaskFields::read(&record.data)
    };
    let task = |list: &str, labels: &[&str], done: bool, assignees: &[&str]| TaskFields {
        list: Some(list.to_owned()),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        done,
        assignees: assignees.iter().map(|a| (*a).to_owned()).collect(),
    };
    // Card 1: in To Do, a bug, its due date complete, assigned to the demo member.
    assert_eq!(fields(0), task("To Do", &["Bug"], true, &["Fake demo-user"]));
    // Card 2: in Doing, due tomorrow, not complete, assigned to Alice.
    assert_eq!(fields(1), task("Doing", &[], false, &["Alice (fake)"]));
    assert_eq!(fields(3), task("To Do", &[], false, &["Fake demo-user"]));
    assert_eq!(fields(4), task("Doing", &["Bug"], false, &[gone.as_str()]));
    assert_eq!(fields(2), task("Done", &[], false, &[]));
    // `Record::due_at` stays the card's `due`: card 4 is overdue.
    let overdue = run.records.iter().find(|r| r.external_id == cards[3].id).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(overdue.due_at.as_deref().unwrap()).unwrap();
    assert!(due < chrono::Utc::now());

    // The lists and members come with the board, one request per board; the cards ask for their members.
    let requests = fakes.state().requests(Provider::Trello);
    let boards: Vec<_> = requests.iter().filter(|r| r.path == format!("/1/boards/{sprint}")).collect();
    assert_eq!(boards.len(), 1);
    assert_eq!(boards[0].param("lists").as_deref(), Some("all"));
    assert_eq!(boards[0].param("members").as_deref(), Some("all"));
    let card_pages: Vec<_> = requests.iter().filter(|r| r.path.ends_with("/cards")).collect();
    assert!(card_pages.iter().all(|r| r.param("fields").is_some_and(|f| f.split(',').any(|f| f == "idMembers"))));
    assert_eq!(requests.len(), 1 + 2 + 2);
}
