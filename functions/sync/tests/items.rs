//! The items API and the agenda against the emulator: records as the sync worker writes them
//! (`upsert_records`), read back through the router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, SecondsFormat, Utc};
use http_body_util::BodyExt;
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::domain::{ConnectionId, IntegrationId, Plan, SyncId, UserId};
use integrations::items;
use integrations::sync::{EventFields, FileFields, KindFields, MessageFields, Record, RecordKind, TaskFields};
use integrations::testing::TestEnv;
use serde_json::{Map, Value};
use tower::ServiceExt;

fn at(days: i64, hours: i64) -> String {
    (Utc::now() + Duration::days(days) + Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn record(
    kind: RecordKind,
    id: &str,
    title: &str,
    due: Option<String>,
    fields: &dyn Fn(&mut Map<String, Value>),
) -> Record {
    let mut data = Map::new();
    fields(&mut data);
    Record {
        kind,
        external_id: id.into(),
        title: title.into(),
        url: Some(format!("https://example.test/{id}")),
        container: Some("Operations".into()),
        status: Some("open".into()),
        due_at: due,
        updated_at: Some(Utc::now() - Duration::hours(2)),
        data,
    }
}

fn none(_: &mut Map<String, Value>) {}

async fn store(env: &TestEnv, user: &str, integration: &str, records: &[Record]) -> ConnectionId {
    let connection = ConnectionId::generate();
    env.state
        .store
        .upsert_records(
            &UserId::parse(user).unwrap(),
            &connection,
            &IntegrationId::parse(integration).unwrap(),
            &SyncId::generate(),
            records,
            false,
        )
        .await
        .unwrap();
    connection
}

async fn get(env: &TestEnv, user: &str, path: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", env.token(user, Plan::Free)))
        .body(Body::empty())
        .unwrap();
    let response = sync::router(env.state_for(Function::SyncApi)).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn titles(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect()
}

/// A week of work: Trello cards (one overdue, two this week, one done, one undated) and
/// calendar, Slack and Drive records.
async fn seed(env: &TestEnv, user: &str) -> (ConnectionId, ConnectionId) {
    let list = |name: &'static str| {
        move |d: &mut Map<String, Value>| TaskFields { list: Some(name.into()), ..Default::default() }.write(d)
    };
    let done = |d: &mut Map<String, Value>| TaskFields { done: true, ..Default::default() }.write(d);
    let trello = store(
        env,
        user,
        "trello",
        &[
            record(RecordKind::Task, "c1", "Quarterly budget review", Some(at(-3, 0)), &list("Doing")),
            record(RecordKind::Task, "c2", "Hire a contractor", Some(at(1, 0)), &list("To do")),
            record(RecordKind::Task, "c3", "Plan the offsite", Some(at(3, 0)), &list("To do")),
            record(RecordKind::Task, "c4", "Old budget draft", Some(at(1, 0)), &done),
            record(RecordKind::Task, "c5", "Someday: budget tooling", None, &none),
        ],
    )
    .await;
    let meeting = |d: &mut Map<String, Value>| {
        EventFields { attendee_count: 4, my_response: Some("accepted".into()), ..Default::default() }.write(d)
    };
    let calendar = store(
        env,
        user,
        "google-calendar",
        &[
            record(RecordKind::Event, "e1", "Budget meeting", Some(at(2, 0)), &meeting),
            record(RecordKind::Event, "e2", "Board meeting next month", Some(at(40, 0)), &meeting),
        ],
    )
    .await;
    let mention = |d: &mut Map<String, Value>| MessageFields { mentions_me: true, ..Default::default() }.write(d);
    let answered = |d: &mut Map<String, Value>| {
        MessageFields { mentions_me: true, replied_by_me: true, ..Default::default() }.write(d)
    };
    store(
        env,
        user,
        "slack",
        &[
            record(RecordKind::Message, "m1", "<@U1> can you approve the budget?", None, &mention),
            record(RecordKind::Message, "m2", "<@U1> thanks!", None, &answered),
            record(RecordKind::Message, "m3", "lunch?", None, &none),
        ],
    )
    .await;
    let theirs = |d: &mut Map<String, Value>| {
        FileFields { last_modified_by: Some("Grace".into()), ..Default::default() }.write(d)
    };
    store(env, user, "google-drive", &[record(RecordKind::File, "f1", "Budget 2027.xlsx", None, &theirs)]).await;
    (trello, calendar)
}

#[tokio::test]
async fn items_filter_by_kind_tool_and_words_and_page_with_a_cursor() {
    let env = TestEnv::new().await;
    let (trello, _) = seed(&env, "ada").await;

    let (status, all) = get(&env, "ada", "/api/v1/integrations/items").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["items"].as_array().unwrap().len(), 11);

    let (_, budget) = get(&env, "ada", "/api/v1/integrations/items?q=BUDGET&kind=task&sort=due").await;
    assert_eq!(
        titles(&budget["items"]),
        ["Quarterly budget review", "Old budget draft", "Someday: budget tooling"],
        "case-insensitive title search, soonest due first, undated last"
    );
    let card = &budget["items"][0];
    assert_eq!(card["integrationId"], "trello");
    assert_eq!(card["connectionId"], trello.as_str());
    assert_eq!(card["task"]["list"], "Doing");
    assert_eq!(card["url"], "https://example.test/c1");

    let (_, mentions) = get(&env, "ada", "/api/v1/integrations/items?mentionsMe=true").await;
    assert_eq!(titles(&mentions["items"]).len(), 2);
    let (_, events) = get(&env, "ada", "/api/v1/integrations/items?integrationId=google-calendar").await;
    assert_eq!(events["items"][0]["event"]["attendeeCount"], 4);
    assert!(events["items"][0]["startAt"].is_string() && events["items"][0].get("dueAt").is_none());

    let (_, due_soon) =
        get(&env, "ada", &format!("/api/v1/integrations/items?dueFrom={}&dueTo={}", &at(0, 0)[..10], &at(4, 0)[..10]))
            .await;
    assert_eq!(
        titles(&due_soon["items"]).iter().copied().collect::<std::collections::BTreeSet<_>>(),
        ["Budget meeting", "Hire a contractor", "Plan the offsite"].into_iter().collect(),
        "open tasks and events in the range; the done card is not"
    );

    // Pages of 4, then the rest; the cursor is bound to the caller and the query.
    let (_, first) = get(&env, "ada", "/api/v1/integrations/items?limit=4").await;
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let (_, second) = get(&env, "ada", &format!("/api/v1/integrations/items?limit=4&cursor={cursor}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 4);
    let (status, problem) = get(&env, "ada", &format!("/api/v1/integrations/items?limit=5&cursor={cursor}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, _) = get(&env, "bob", &format!("/api/v1/integrations/items?limit=4&cursor={cursor}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for bad in
        ["limit=0", "limit=101", "kind=tweet", "integrationId=myspace", "dueFrom=soon", "colour=red", "connectionId=x"]
    {
        let (status, problem) = get(&env, "ada", &format!("/api/v1/integrations/items?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert!(problem["type"].as_str().unwrap().starts_with("/problems/"), "{problem}");
    }
    env.cleanup().await;
}

#[tokio::test]
async fn one_item_by_its_id_and_another_users_item_is_not_found() {
    let env = TestEnv::new().await;
    seed(&env, "ada").await;
    let (_, all) = get(&env, "ada", "/api/v1/integrations/items?kind=file").await;
    let id = all["items"][0]["itemId"].as_str().unwrap().to_owned();
    let (status, file) = get(&env, "ada", &format!("/api/v1/integrations/items/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(file["file"]["lastModifiedBy"], "Grace");
    let (status, problem) = get(&env, "bob", &format!("/api/v1/integrations/items/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, _) = get(&env, "ada", "/api/v1/integrations/items/not-an-item").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    env.cleanup().await;
}

#[tokio::test]
async fn the_week_has_overdue_tasks_first_meetings_on_their_days_and_what_waits_for_you_today() {
    let env = TestEnv::new().await;
    seed(&env, "ada").await;
    let (status, week) = get(&env, "ada", "/api/v1/integrations/agenda?days=7&tz=UTC").await;
    assert_eq!(status, StatusCode::OK, "{week}");
    assert_eq!(week["timeZone"], "UTC");
    assert_eq!(titles(&week["overdue"]), ["Quarterly budget review"]);
    let days = week["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let day_of = |title: &str, list: &str| {
        days.iter().position(|d| titles(&d[list]).contains(&title)).unwrap_or_else(|| panic!("{title} in {list}"))
    };
    let expected = |offset: i64| (Utc::now() + Duration::days(offset)).date_naive().to_string();
    assert_eq!(days[day_of("Hire a contractor", "tasks")]["date"], expected(1));
    assert_eq!(days[day_of("Plan the offsite", "tasks")]["date"], expected(3));
    assert_eq!(days[day_of("Budget meeting", "meetings")]["date"], expected(2));
    assert_eq!(titles(&days[0]["mentions"]), ["<@U1> can you approve the budget?"], "unanswered only");
    assert_eq!(titles(&days[0]["files"]), ["Budget 2027.xlsx"]);
    let everything: Vec<&str> = days.iter().flat_map(|d| titles(&d["tasks"])).collect();
    assert!(!everything.contains(&"Old budget draft"), "done tasks are not on the agenda");

    let (status, problem) = get(&env, "ada", "/api/v1/integrations/agenda?tz=Mars/Olympus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, _) = get(&env, "ada", "/api/v1/integrations/agenda?days=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, empty) = get(&env, "bob", "/api/v1/integrations/agenda").await;
    assert!(empty["overdue"].as_array().unwrap().is_empty());
    env.cleanup().await;
}

#[tokio::test]
async fn the_agenda_of_a_user_with_thousands_of_items_is_two_queries_of_what_it_shows() {
    let env = TestEnv::new().await;
    let user = "busy";
    // 2,000 cards: most are done or undated; 20 open ones are due within the week.
    let cards: Vec<Record> = (0..2000)
        .map(|i| {
            let due = (i % 100 == 0).then(|| at(i64::from(i / 100 % 6), 1));
            let done = |d: &mut Map<String, Value>| TaskFields { done: true, ..Default::default() }.write(d);
            if i % 2 == 1 && due.is_none() {
                record(RecordKind::Task, &format!("c{i}"), &format!("Done card {i}"), Some(at(-30, 0)), &done)
            } else {
                record(RecordKind::Task, &format!("c{i}"), &format!("Card {i}"), due, &none)
            }
        })
        .collect();
    for page in cards.chunks(500) {
        store(&env, user, "trello", page).await;
    }
    let caller = Caller { user_id: UserId::parse(user).unwrap(), plan: Plan::Free };
    let agenda = items::agenda(&env.state_for(Function::SyncApi), &caller, 7, "UTC".parse().unwrap()).await.unwrap();
    let shown: usize = agenda.days.iter().map(|d| d.tasks.len()).sum::<usize>() + agenda.overdue.len();
    assert_eq!(shown, 20);
    assert_eq!(agenda.cost.requests, 2, "{:?}", agenda.cost);
    assert_eq!(agenda.cost.items_read, 20, "only what it shows is read: {:?}", agenda.cost);
    env.cleanup().await;
}
