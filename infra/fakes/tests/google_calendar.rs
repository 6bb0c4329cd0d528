//! Google Calendar v3: events paging, syncToken incremental sync (with cancelled events), 410
//! after invalidation, parameter errors, and Google's error shapes.

mod common;

use chrono::{Duration, Utc};
use common::{MAX_PAGES, assert_same_set, client, start};
use fake_providers::{FakeProviders, Fault, Provider};
use serde_json::Value;

const TOKEN: &str = "ya29.calendar-test";

async fn events(fake: &FakeProviders, params: &[(&str, &str)]) -> (u16, Value) {
    let resp = client()
        .get(format!("{}/calendars/primary/events", fake.base_url(Provider::GoogleCalendar)))
        .bearer_auth(TOKEN)
        .query(params)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Follows nextPageToken; returns the items, the page count and the final nextSyncToken.
async fn list_all(fake: &FakeProviders, params: &[(&str, &str)]) -> (Vec<Value>, usize, String) {
    let (mut items, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES, "paging did not terminate");
        let mut p = params.to_vec();
        if let Some(t) = &token {
            p.push(("pageToken", t));
        }
        let (status, body) = events(fake, &p).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["kind"], "calendar#events");
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["nextPageToken"].as_str() {
            Some(t) => {
                assert!(body.get("nextSyncToken").is_none(), "nextSyncToken only on the last page");
                token = Some(t.to_owned());
            }
            None => return (items, pages, body["nextSyncToken"].as_str().unwrap().to_owned()),
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn paging_with_max_results_returns_every_event_once_and_a_sync_token_on_the_last_page() {
    let fake = start().await;
    fake.state().add_google_account(TOKEN, "cal@example.com", "Cal Endar");
    let expected = fake.state().add_calendar_events(TOKEN, 23);
    let (items, pages, _) = list_all(&fake, &[("maxResults", "10")]).await;
    assert_eq!(pages, 3);
    assert_same_set(ids(&items), expected);
    let e = &items[0];
    assert_eq!((e["kind"].as_str(), e["status"].as_str()), (Some("calendar#event"), Some("confirmed")));
    assert!(e["start"]["dateTime"].is_string() && e["end"]["dateTime"].is_string());
    assert_eq!(e["organizer"]["email"], "cal@example.com");
    assert!(e["htmlLink"].as_str().unwrap().starts_with("https://www.google.com/calendar/event?eid="));
    for key in ["created", "updated", "summary"] {
        assert!(e[key].is_string(), "{key}");
    }
}

#[tokio::test]
async fn an_incremental_sync_returns_only_changed_events_including_cancelled_ones() {
    let fake = start().await;
    let state = fake.state();
    state.add_google_account(TOKEN, "cal@example.com", "Cal Endar");
    let ids0 = state.add_calendar_events(TOKEN, 5);
    let (_, _, sync) = list_all(&fake, &[]).await;

    let (_, body) = events(&fake, &[("syncToken", &sync)]).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    let unchanged_sync = body["nextSyncToken"].as_str().unwrap().to_owned();

    state.update_calendar_event(&ids0[1], |e| e.summary = "Moved".into());
    state.cancel_calendar_event(&ids0[2]);
    let start = Utc::now() + Duration::days(3);
    let added = state.add_calendar_event(TOKEN, "New one", start, start + Duration::hours(1));
    let (items, _, next_sync) = list_all(&fake, &[("syncToken", &unchanged_sync), ("maxResults", "2")]).await;
    assert_same_set(ids(&items), vec![ids0[1].clone(), ids0[2].clone(), added]);
    let cancelled = items.iter().find(|e| e["id"] == ids0[2].as_str()).unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(items.iter().find(|e| e["id"] == ids0[1].as_str()).unwrap()["summary"], "Moved");

    let (full, _, _) = list_all(&fake, &[]).await;
    assert_eq!(full.len(), 5, "a full list leaves the cancelled event out");
    let (with_deleted, _, _) = list_all(&fake, &[("showDeleted", "true")]).await;
    assert_eq!(with_deleted.len(), 6);

    let (_, body) = events(&fake, &[("syncToken", &next_sync)]).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_invalidated_sync_token_gets_410_full_sync_required() {
    let fake = start().await;
    fake.state().add_google_account(TOKEN, "cal@example.com", "Cal Endar");
    fake.state().add_calendar_events(TOKEN, 3);
    let (_, _, sync) = list_all(&fake, &[]).await;
    fake.state().invalidate_calendar_sync_tokens();
    let (status, body) = events(&fake, &[("syncToken", &sync)]).await;
    assert_eq!(status, 410);
    assert_eq!(body["error"]["code"], 410);
    assert_eq!(body["error"]["errors"][0]["reason"], "fullSyncRequired");
    assert_eq!(body["error"]["message"], "Sync token is no longer valid, a full sync is required.");
    let (status, _) = events(&fake, &[("syncToken", "garbage")]).await;
    assert_eq!(status, 410);
    let (_, _, fresh) = list_all(&fake, &[]).await;
    assert_eq!(events(&fake, &[("syncToken", &fresh)]).await.0, 200);
}

#[tokio::test]
async fn a_sync_token_cannot_be_combined_with_time_filters_or_ordering() {
    let fake = start().await;
    fake.state().add_google_account(TOKEN, "cal@example.com", "Cal Endar");
    let (_, _, sync) = list_all(&fake, &[]).await;
    let now = Utc::now().to_rfc3339();
    for (name, value) in [("timeMin", now.as_str()), ("updatedMin", now.as_str()), ("orderBy", "updated")] {
        let (status, body) = events(&fake, &[("syncToken", &sync), (name, value)]).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body["error"]["errors"][0]["location"], name);
    }
    let (status, _) = events(&fake, &[("orderBy", "startTime")]).await;
    assert_eq!(status, 400, "orderBy=startTime needs singleEvents=true");
    let (status, _) = events(&fake, &[("maxResults", "2501")]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn time_min_and_order_by_start_time_filter_and_sort_single_events() {
    let fake = start().await;
    let state = fake.state();
    state.add_google_account(TOKEN, "cal@example.com", "Cal Endar");
    let now = Utc::now();
    let later =
        state.add_calendar_event(TOKEN, "Later", now + Duration::days(2), now + Duration::days(2) + Duration::hours(1));
    let sooner = state.add_calendar_event(
        TOKEN,
        "Sooner",
        now + Duration::days(1),
        now + Duration::days(1) + Duration::hours(1),
    );
    state.add_calendar_event(TOKEN, "Past", now - Duration::days(2), now - Duration::days(2) + Duration::hours(1));
    let min = now.to_rfc3339();
    let (items, _, _) = list_all(&fake, &[("timeMin", &min), ("singleEvents", "true"), ("orderBy", "startTime")]).await;
    assert_eq!(ids(&items), vec![sooner, later]);
}

#[tokio::test]
async fn bad_credentials_and_faults_get_googles_error_shapes() {
    let fake = start().await;
    fake.state().add_google_account(TOKEN, "cal@example.com", "Cal Endar");
    let url = format!("{}/calendars/primary/events", fake.base_url(Provider::GoogleCalendar));
    let resp = client().get(&url).bearer_auth("ya29.nope").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Request had invalid authentication credentials"));

    fake.state().fail_next(Provider::GoogleCalendar, "/calendars", Fault::RateLimited { retry_after_secs: 3 }, 1);
    fake.state().fail_next(Provider::GoogleCalendar, "/calendars", Fault::ServerError, 1);
    let (status, body) = events(&fake, &[]).await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (429, Some("rateLimitExceeded")));
    let (status, body) = events(&fake, &[]).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (500, Some(500)));
    assert_eq!(events(&fake, &[]).await.0, 200);
    let other = client().get(url.replace("primary", "someone%40else.com")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(other.status(), 404);
    let mine = client().get(url.replace("primary", "cal%40example.com")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(mine.status(), 200);
}
