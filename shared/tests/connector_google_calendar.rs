//! The Google Calendar connector against the fake Calendar API, driven page by page as the engine does.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use fake_providers::{DemoSeed, EventStatus, EventTime, FakeProviders, Fault, Provider, demo};
use integrations::providers::ProviderError;
use integrations::providers::google::calendar::CalendarConnector;
use integrations::sync::{Connector, EventFields, KindFields, SyncMode};
use serde_json::Value;

use common::{Run, config, continue_sync, demo_fakes, faults_served, ids, sync};

fn connector(fakes: &FakeProviders, page_size: u32) -> Connector {
    let config = config(fakes.base_url(Provider::GoogleCalendar), page_size);
    Connector::new(CalendarConnector::new(config, demo::GOOGLE_TOKEN))
}

/// The demo events that are not cancelled (38 of 40).
fn current_events(fakes: &FakeProviders, seed: &DemoSeed) -> HashSet<String> {
    seed.calendar_event_ids
        .iter()
        .filter(|id| fakes.state().calendar_event(id).is_some_and(|e| e.status != EventStatus::Cancelled))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_full_sync_returns_every_current_event_exactly_once() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(run.records.len(), 38);
    assert_eq!(ids(&run.records), current_events(&fakes, &seed));
    assert!(run.deleted.is_empty(), "a full listing reports no deletions");
    assert!(run.full_listing.iter().all(|f| !f));
    assert!(run.state["syncToken"].is_string());
    // 38 events, 7 a page: one request per page.
    assert_eq!(run.pages, 6);
    let requests = fakes.state().requests(Provider::GoogleCalendar);
    assert_eq!(requests.len(), 6);
    for request in &requests {
        assert_eq!(request.path, "/calendars/primary/events");
        assert_eq!(request.param("maxResults").as_deref(), Some("7"));
        assert_eq!(request.param("singleEvents").as_deref(), Some("true"));
        assert_eq!(request.param("syncToken"), None);
        assert!(request.credential.is_some());
        assert!(!request.query.contains(demo::GOOGLE_TOKEN));
    }

    let first = fakes.state().calendar_event(&seed.calendar_event_ids[0]).unwrap();
    let record = run.records.iter().find(|r| r.external_id == first.id).unwrap();
    assert_eq!(record.title, "Upcoming meeting 1");
    assert_eq!(record.container.as_deref(), Some("Primary calendar"));
    assert_eq!(record.status.as_deref(), Some("confirmed"));
    assert!(record.url.as_deref().is_some_and(|u| u.starts_with("https://www.google.com/calendar/event?eid=")));
    let EventTime::DateTime(start) = first.start else { panic!("a timed event") };
    let EventTime::DateTime(end) = first.end else { panic!("a timed event") };
    assert_eq!(record.due_at.as_deref(), Some(start.to_rfc3339_opts(SecondsFormat::Secs, true).as_str()));
    assert_eq!(record.updated_at.map(|t| t.timestamp_millis()), Some(first.updated.timestamp_millis()));
    assert_eq!(record.data["end"], end.to_rfc3339_opts(SecondsFormat::Secs, true));
    assert_eq!(record.data["location"], "Fake Room 1");
    assert_eq!(record.data["organizer"], "demo.user@example.com");

    // An all-day event is due on its date.
    let all_day = fakes.state().calendar_event(&seed.calendar_event_ids[2]).unwrap();
    let EventTime::Date(date) = all_day.start else { panic!("an all-day event") };
    let record = run.records.iter().find(|r| r.external_id == all_day.id).unwrap();
    assert_eq!(record.due_at, Some(date.format("%Y-%m-%d").to_string()));
}

#[tokio::test]
async fn an_incremental_sync_returns_only_the_changes_with_cancelled_events_as_deletions() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let first = sync(&c, None).await.unwrap();

    let start = Utc::now() + chrono::Duration::days(3);
    let added = fakes.state().add_calendar_event(demo::GOOGLE_TOKEN, "", start, start + chrono::Duration::hours(1));
    let renamed = seed.calendar_event_ids[1].clone();
    assert!(fakes.state().update_calendar_event(&renamed, |e| e.summary = "Renamed meeting".into()));
    let cancelled = seed.calendar_event_ids[2].clone();
    assert!(fakes.state().cancel_calendar_event(&cancelled));
    let before = fakes.state().requests(Provider::GoogleCalendar).len();

    let second = sync(&c, Some(&first.state)).await.unwrap();
    assert_eq!(ids(&second.records), HashSet::from([added.clone(), renamed.clone()]));
    assert_eq!(second.deleted, vec![cancelled]);
    assert!(second.full_listing.iter().all(|f| !f));
    assert_ne!(second.state, first.state);
    let new = second.records.iter().find(|r| r.external_id == added).unwrap();
    assert_eq!(new.title, "(no title)");
    assert_eq!(second.records.iter().find(|r| r.external_id == renamed).unwrap().title, "Renamed meeting");
    let requests = fakes.state().requests(Provider::GoogleCalendar);
    assert_eq!(requests.len(), before + 1);
    assert_eq!(requests[before].param("syncToken").as_deref(), first.state["syncToken"].as_str());

    // Nothing changed since: one request, nothing to report.
    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert!(third.records.is_empty() && third.deleted.is_empty());
    assert_eq!(third.pages, 1);
}

#[tokio::test]
async fn an_expired_sync_token_restarts_the_run_as_a_full_listing_of_every_current_event() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let first = sync(&c, None).await.unwrap();

    let cancelled = seed.calendar_event_ids[4].clone();
    assert!(fakes.state().cancel_calendar_event(&cancelled));
    fakes.state().invalidate_calendar_sync_tokens();

    let second = sync(&c, Some(&first.state)).await.unwrap();
    // The 410 page (no records), then the full listing: 37 events, 7 a page.
    assert_eq!(second.pages, 1 + 6);
    assert!(second.full_listing.iter().all(|f| *f), "{:?}", second.full_listing);
    let expected = current_events(&fakes, &seed);
    assert!(!expected.contains(&cancelled));
    assert_eq!(ids(&second.records), expected);
    assert!(second.deleted.is_empty(), "a full listing reports no deletions; the engine sweeps");
    let requests = fakes.state().requests(Provider::GoogleCalendar);
    let gone = &requests[requests.len() - 7];
    assert_eq!(gone.status, 410);
    assert!(requests[requests.len() - 6..].iter().all(|r| r.param("syncToken").is_none() && r.status == 200));

    // The new sync token works: the next run is incremental again.
    let start = Utc::now() + chrono::Duration::days(2);
    let added =
        fakes.state().add_calendar_event(demo::GOOGLE_TOKEN, "After", start, start + chrono::Duration::hours(1));
    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert_eq!(ids(&third.records), HashSet::from([added.clone()]));
    assert_eq!(third.full_listing, vec![false]);
}

#[tokio::test]
async fn a_sync_token_expiring_in_the_middle_of_an_incremental_run_restarts_it_as_a_full_listing() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 2);
    let first = sync(&c, None).await.unwrap();
    for id in &seed.calendar_event_ids[..5] {
        assert!(fakes.state().update_calendar_event(id, |e| e.summary.push_str(" (moved)")));
    }

    let cursor = c.start(Some(&first.state), SyncMode::Incremental);
    let page = c.fetch_page(&cursor).await.unwrap();
    assert_eq!(page.records.len(), 2);
    assert!(!page.full_listing);
    fakes.state().invalidate_calendar_sync_tokens();
    let restarted = c.fetch_page(page.next.as_ref().unwrap()).await.unwrap();
    assert!(restarted.full_listing && restarted.records.is_empty() && restarted.state.is_none());

    let rest =
        Run { records: page.records, deleted: Vec::new(), full_listing: Vec::new(), state: Value::Null, pages: 2 };
    let run = continue_sync(&c, restarted.next.unwrap(), rest).await.unwrap();
    assert!(run.full_listing.iter().all(|f| *f));
    // The records of the first page come again with the full listing: the engine upserts them.
    assert_eq!(ids(&run.records[2..]), current_events(&fakes, &seed));
    assert!(run.state["syncToken"].is_string());
}

#[tokio::test]
async fn an_empty_calendar_gives_no_records_and_a_usable_state() {
    let fakes = FakeProviders::start().await;
    fakes.state().add_google_account(demo::GOOGLE_TOKEN, "nobody@example.com", "Nobody");
    let c = connector(&fakes, 7);

    let run = sync(&c, None).await.unwrap();
    assert!(run.records.is_empty() && run.deleted.is_empty());
    assert!(run.state["syncToken"].is_string());
    let again = sync(&c, Some(&run.state)).await.unwrap();
    assert!(again.records.is_empty() && again.deleted.is_empty());
    assert_eq!(fakes.state().requests(Provider::GoogleCalendar).len(), 2);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::GoogleCalendar, "/calendars", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ids(&run.records), current_events(&fakes, &seed));
    let limited = faults_served(&fakes, Provider::GoogleCalendar, "rate_limited");
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::GoogleCalendar, "/calendars", Fault::ServerError, 2);
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(ids(&run.records), current_events(&fakes, &seed));
    assert_eq!(fakes.state().requests(Provider::GoogleCalendar).len(), 6 + 2);
}

#[tokio::test]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let page = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();

    assert!(fakes.state().revoke(Provider::GoogleCalendar, demo::GOOGLE_TOKEN));
    let mid_run = c.fetch_page(page.next.as_ref().unwrap()).await;
    assert!(matches!(mid_run, Err(ProviderError::Unauthorized(_))), "{mid_run:?}");
    let from_start = sync(&c, None).await;
    assert!(matches!(from_start, Err(ProviderError::Unauthorized(_))));
    // The error says nothing of the credential.
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
    assert_eq!(records.len(), 21);
    assert!(!saved.contains(demo::GOOGLE_TOKEN));

    // A new process picks the run up from the stored text.
    let c = connector(&fakes, 7);
    let cursor: Value = serde_json::from_str(&saved).unwrap();
    let resumed = Run { records, deleted: Vec::new(), full_listing: Vec::new(), state: Value::Null, pages: 3 };
    let run = continue_sync(&c, cursor, resumed).await.unwrap();
    assert_eq!(ids(&run.records), current_events(&fakes, &seed));
    assert_eq!(run.pages, 6);
    assert_eq!(fakes.state().requests(Provider::GoogleCalendar).len(), 6);
}

#[tokio::test]
async fn events_carry_their_end_all_day_location_attendees_and_the_users_own_answer() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 50), None).await.unwrap();
    let fields = |i: usize| {
        let record = run.records.iter().find(|r| r.external_id == seed.calendar_event_ids[i]).unwrap();
        EventFields::read(&record.data)
    };
    let end = |i: usize| match fakes.state().calendar_event(&seed.calendar_event_ids[i]).unwrap().end {
        EventTime::DateTime(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        EventTime::Date(d) => d.format("%Y-%m-%d").to_string(),
    };

    // Event 1: the user organises it and accepted; three attendees.
    let organised = EventFields {
        end: Some(end(0)),
        all_day: false,
        location: Some("Fake Room 1".into()),
        attendee_count: 3,
        my_response: Some("accepted".into()),
    };
    assert_eq!(fields(0), organised);
    // Alice's invitations: the answer is the one of the attendee marked `self`, not the organizer's.
    assert_eq!(fields(4).my_response.as_deref(), Some("needsAction"));
    assert_eq!(fields(12).my_response.as_deref(), Some("tentative"));
    assert_eq!(fields(4).attendee_count, 3);
    // Event 3 is all-day: its end is a date; no attendees, no answer.
    let all_day = EventFields { end: Some(end(2)), all_day: true, ..EventFields::default() };
    assert_eq!(fields(2), all_day);
    assert!(!fields(1).all_day && fields(1).my_response.is_none());

    // The listing asks only for the fields it reads, attendees' answers among them.
    for request in fakes.state().requests(Provider::GoogleCalendar) {
        let asked = request.param("fields").unwrap();
        assert!(asked.contains("nextSyncToken") && asked.contains("attendees(self,responseStatus)"), "{asked}");
    }
}
