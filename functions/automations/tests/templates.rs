//! The templates end to end, against the emulator (each function as its IAM role, real SQS) and
//! the fake providers: the trigger (a schedule, a sync's new or changed items, an item coming
//! due), the runner's action at the fake, the receipts, and a forced redelivery of the same jobs
//! that makes nothing twice. "Block focus time" has its own test in `automations.rs`.

mod common;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use fake_providers::{Fault, Provider as Fake, SlackMessage};
use integrations::config::Function;
use integrations::domain::{ConnectionId, IntegrationId, Plan, SyncId};
use integrations::sync::{KindFields, Record, RecordKind, SyncMode, TaskFields, run_scheduler};
use serde_json::{Value, json};

use common::App;

const SLACK_TOKEN: &str = "xoxb-templates-test";
const TRELLO_KEY: &str = "templateskey0001";
const TRELLO_TOKEN: &str = "templates-trello-token-0001";
const GOOGLE_TOKEN: &str = "ya29.templates-test";

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every run succeeded with one step whose summary is `receipt`; returns the runs.
async fn receipts(app: &App, id: &str, runs: usize, receipt: &str) -> Vec<Value> {
    let listed = app.runs(id).await;
    assert_eq!(listed.len(), runs, "{listed:#?}");
    for run in &listed {
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["steps"][0]["summary"], receipt, "{run}");
        assert!(run["minutesSaved"].as_u64().unwrap() > 0, "{run}");
    }
    listed
}

/// A Trello account with one board ("To Do", "Doing", "Done"), connected; the board's id.
async fn trello(app: &App) -> (ConnectionId, String) {
    let state = app.fakes.state();
    state.add_trello_account(TRELLO_KEY, TRELLO_TOKEN, "ada");
    let board = state.add_trello_board(TRELLO_TOKEN, "Launch");
    let connection = app.connect_token("trello", &[("apiKey", TRELLO_KEY), ("token", TRELLO_TOKEN)]).await;
    (connection, board)
}

/// A list of the board, by name.
fn list(app: &App, board: &str, name: &str) -> String {
    app.fakes.state().trello_lists(board).into_iter().find(|l| l.name == name).unwrap().id
}

#[tokio::test]
async fn post_my_day_posts_the_days_agenda_to_slack_at_its_time_once() {
    let app = App::start().await;
    app.fakes.state().add_slack_account(SLACK_TOKEN, "Templates");
    let channel = app.fakes.state().add_slack_channel(SLACK_TOKEN, "my-day");
    app.connect_token("slack", &[("token", SLACK_TOKEN)]).await;

    // Today's agenda, as the syncs left it: a meeting and a task due today.
    let today = Utc::now().date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let calendar = app.connect_oauth("google-calendar", GOOGLE_TOKEN).await;
    let meeting = Record {
        kind: RecordKind::Event,
        external_id: "evt-1".into(),
        title: "Quarterly review".into(),
        url: None,
        container: Some("Calendar".into()),
        status: Some("confirmed".into()),
        due_at: Some(rfc3339(today)),
        updated_at: Some(Utc::now()),
        data: Default::default(),
    };
    let store = &app.env.state.store;
    let (user, sync) = (app.user(), SyncId::generate());
    let calendar_id = IntegrationId::parse("google-calendar").unwrap();
    store.upsert_records(&user, &calendar, &calendar_id, &sync, &[meeting], false).await.unwrap();
    let (trello_connection, _) = trello(&app).await;
    let task = card("c-1", "Send the board pack", rfc3339(today + Duration::hours(5)));
    let trello_id = IntegrationId::parse("trello").unwrap();
    store.upsert_records(&user, &trello_connection, &trello_id, &sync, &[task], false).await.unwrap();

    let definition = app
        .template("post-my-day", |d| {
            d["steps"][0]["params"]["channel"] = channel.clone().into();
            // Every day, so that the test does not wait for a weekday.
            d["trigger"]["days"] = json!([]);
        })
        .await;
    let id = app.save(definition, Plan::Free).await;
    let (_, automation) = app.api(Method::GET, &format!("/api/v1/integrations/automations/{id}"), None).await;
    let slot: DateTime<Utc> = automation["nextRunAt"].as_str().expect("a schedule has a next run").parse().unwrap();

    // The scheduler queues it when its time has come, and the runner posts the day once.
    let scheduler = app.env.state_for(Function::SyncScheduler);
    assert_eq!(run_scheduler(&scheduler, slot - Duration::minutes(1)).await.unwrap().automations_queued, 0);
    assert_eq!(run_scheduler(&scheduler, slot + Duration::minutes(1)).await.unwrap().automations_queued, 1);
    let jobs = app.run_queued().await;
    assert_eq!(jobs.len(), 1);
    let posts = |app: &App| -> Vec<SlackMessage> { app.fakes.state().slack_messages(&channel) };
    let sent = posts(&app);
    assert_eq!(sent.len(), 1);
    let text = &sent[0].text;
    assert!(text.starts_with("Good morning! Your day:"), "{text}");
    assert!(text.contains("Quarterly review"), "the meeting: {text}");
    assert!(text.contains("Send the board pack"), "the task: {text}");
    let runs = receipts(&app, &id, 1, "Posted your day's agenda in Slack").await;
    assert!(runs[0]["steps"][0]["providerId"].is_string(), "{runs:?}");

    // Delivered again, and the scheduler's next pass: nothing more is posted.
    app.deliver(&jobs).await;
    assert_eq!(run_scheduler(&scheduler, slot + Duration::minutes(2)).await.unwrap().automations_queued, 0);
    assert_eq!(posts(&app).len(), 1, "posted once");
    receipts(&app, &id, 1, "Posted your day's agenda in Slack").await;
    app.env.cleanup().await;
}

fn card(id: &str, title: &str, due: String) -> Record {
    let mut data = serde_json::Map::new();
    TaskFields { list: Some("Doing".into()), ..Default::default() }.write(&mut data);
    Record {
        kind: RecordKind::Task,
        external_id: id.into(),
        title: title.into(),
        url: Some(format!("https://trello.com/c/{id}")),
        container: Some("Launch".into()),
        status: Some("open".into()),
        due_at: Some(due),
        updated_at: Some(Utc::now()),
        data,
    }
}

#[tokio::test]
async fn done_to_teams_tells_the_channel_once_when_a_card_is_moved_to_done() {
    let app = App::start().await;
    let (connection, board) = trello(&app).await;
    let cards = app.fakes.state().add_trello_cards(&board, 3);
    let todo = list(&app, &board, "To Do");
    for card in &cards {
        app.fakes.state().update_trello_card(card, |c| c.id_list = todo.clone());
    }
    let hook = format!("{}/hooks/teams-launch", app.fakes.url());
    app.connect_token("microsoft-teams", &[("webhookUrl", &hook)]).await;
    let id = app.save(app.template("done-to-teams", |_| {}).await, Plan::Free).await;

    // The first sync creates the cards: an update it is not.
    app.sync(&connection, SyncMode::Full).await;
    assert!(app.run_queued().await.is_empty(), "no card was updated");

    // One card moves to Done, another is renamed: only the first is told.
    let done = list(&app, &board, "Done");
    app.fakes.state().update_trello_card(&cards[1], |c| c.id_list = done.clone());
    app.fakes.state().touch_trello_card(&cards[1]);
    app.fakes.state().update_trello_card(&cards[2], |c| c.name.push_str(" (renamed)"));
    app.fakes.state().touch_trello_card(&cards[2]);
    app.sync(&connection, SyncMode::Incremental).await;
    let jobs = app.run_queued().await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    let title = app.fakes.state().trello_cards(&board).into_iter().find(|c| c.id == cards[1]).unwrap().name;
    let posted = app.fakes.state().hook_posts("teams-launch");
    assert_eq!(posted.len(), 1);
    let card = &posted[0]["attachments"][0];
    assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(card["content"]["body"][0]["text"], format!("Done: {title}"));
    receipts(&app, &id, 1, "Posted a card in Teams").await;

    // Delivered again: no second card in the channel.
    app.deliver(&jobs).await;
    assert_eq!(app.fakes.state().hook_posts("teams-launch").len(), 1);
    receipts(&app, &id, 1, "Posted a card in Teams").await;
    app.env.cleanup().await;
}

#[tokio::test]
async fn mention_to_trello_makes_one_card_per_mention_even_when_the_answer_was_lost() {
    let app = App::start().await;
    let state = app.fakes.state();
    state.add_slack_account(SLACK_TOKEN, "Templates");
    let me = state.slack_user_id(SLACK_TOKEN).unwrap();
    let general = state.add_slack_channel(SLACK_TOKEN, "general");
    state.add_slack_message(&general, "U0FAKEALICE", "lunch at noon?");
    state.add_slack_message(&general, "U0FAKEALICE", &format!("<@{me}> can you review the launch checklist?"));
    let slack = app.connect_token("slack", &[("token", SLACK_TOKEN)]).await;
    let (_, board) = trello(&app).await;
    let todo = list(&app, &board, "To Do");
    let definition =
        app.template("mention-to-trello", |d| d["steps"][0]["params"]["listId"] = todo.clone().into()).await;
    let id = app.save(definition, Plan::Free).await;

    // The card is made, but its answer comes after the runner stopped waiting.
    app.fakes.state().fail_next(Fake::Trello, "/1/cards", Fault::LateAnswer { millis: 800 }, 1);
    app.sync(&slack, SyncMode::Full).await;
    let jobs = app.env.take_automation_jobs().await;
    assert_eq!(jobs.len(), 1, "one message mentions me: {jobs:#?}");
    app.deliver_to(&app.impatient_runner(), &jobs).await;
    let cards_named = |app: &App| {
        app.fakes.state().trello_cards(&board).into_iter().filter(|c| c.name.contains("launch checklist")).count()
    };
    assert_eq!(cards_named(&app), 1, "made by the lost answer");
    assert!(app.runs(&id).await.is_empty(), "not finished: it is looked up before anything is sent again");

    // That worker stopped five minutes ago: the next delivery finds the card by its marker.
    app.age_claim(&id, &jobs[0].event.key, 1).await;
    app.deliver(&jobs).await;
    assert_eq!(cards_named(&app), 1, "found, not made again");
    let runs = receipts(&app, &id, 1, "Created a card in Trello").await;
    let made =
        app.fakes.state().trello_cards(&board).into_iter().find(|c| c.name.contains("launch checklist")).unwrap();
    assert_eq!(runs[0]["steps"][0]["providerId"], made.id);
    assert_eq!(made.id_list, todo);

    // Delivered once more, and the channel read again: still one card.
    app.deliver(&jobs).await;
    app.sync(&slack, SyncMode::Incremental).await;
    assert!(app.run_queued().await.is_empty(), "no new mention");
    assert_eq!(cards_named(&app), 1);
    receipts(&app, &id, 1, "Created a card in Trello").await;
    app.env.cleanup().await;
}

#[tokio::test]
async fn drive_to_zapier_is_premium_and_sends_each_new_file_to_the_hook_once() {
    let app = App::start().await;
    app.fakes.state().add_google_account(GOOGLE_TOKEN, "ada@example.com", "Ada");
    app.fakes.state().add_drive_file(GOOGLE_TOKEN, "Board pack.pdf", "application/pdf");
    let drive = app.connect_oauth("google-drive", GOOGLE_TOKEN).await;
    let hook = format!("{}/hooks/zap-drive", app.fakes.url());
    app.connect_token("zapier", &[("webhookUrl", &hook)]).await;
    let definition = app.template("drive-to-zapier", |_| {}).await;

    // The free plan is refused at save; premium saves it.
    let (status, problem) = app.api(Method::POST, "/api/v1/integrations/automations", Some(definition.clone())).await;
    assert_eq!((status, problem["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/automation-plan-limit")));
    let id = app.save(definition, Plan::Premium).await;

    app.sync(&drive, SyncMode::Full).await;
    let first = app.run_queued().await;
    assert_eq!(first.len(), 1);
    app.fakes.state().add_drive_file(GOOGLE_TOKEN, "Hiring plan", "application/vnd.google-apps.document");
    app.sync(&drive, SyncMode::Incremental).await;
    let second = app.run_queued().await;
    assert_eq!(second.len(), 1, "only the new file");

    let posted = app.fakes.state().hook_posts("zap-drive");
    let notes: Vec<&str> = posted.iter().map(|p| p["note"].as_str().unwrap()).collect();
    assert_eq!(notes, ["New file: Board pack.pdf", "New file: Hiring plan"]);
    assert_eq!(posted[1]["item"]["title"], "Hiring plan");
    assert_ne!(posted[0]["idempotencyKey"], posted[1]["idempotencyKey"]);
    receipts(&app, &id, 2, "Sent to your Zapier hook").await;

    // Delivered again, all of them: no second POST.
    app.deliver(&[first, second].concat()).await;
    assert_eq!(app.fakes.state().hook_posts("zap-drive").len(), 2);
    receipts(&app, &id, 2, "Sent to your Zapier hook").await;
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_due_soon_automation_fires_once_for_each_item_that_comes_into_its_window() {
    let app = App::start().await;
    app.fakes.state().add_slack_account(SLACK_TOKEN, "Templates");
    let channel = app.fakes.state().add_slack_channel(SLACK_TOKEN, "due-soon");
    let slack = app.connect_token("slack", &[("token", SLACK_TOKEN)]).await;
    let (trello_connection, _) = trello(&app).await;
    let now = Utc::now();
    let (soon, later) = (now + Duration::hours(3), now + Duration::hours(30));
    let cards =
        [card("c-soon", "Sign the contract", rfc3339(soon)), card("c-later", "Plan the offsite", rfc3339(later))];
    let store = &app.env.state.store;
    let trello_id = IntegrationId::parse("trello").unwrap();
    store
        .upsert_records(&app.user(), &trello_connection, &trello_id, &SyncId::generate(), &cards, false)
        .await
        .unwrap();

    let id = app
        .save(
            json!({
                "name": "Due within a day",
                "enabled": true,
                "trigger": {"type": "item.due_soon", "kind": "task", "hours": 24},
                "steps": [{"action": "slack.postMessage", "connectionId": slack,
                           "params": {"channel": channel, "text": "Due soon: {{ item.title }}"}}]
            }),
            Plan::Free,
        )
        .await;
    let (_, automation) = app.api(Method::GET, &format!("/api/v1/integrations/automations/{id}"), None).await;
    let slot: DateTime<Utc> = automation["nextRunAt"].as_str().expect("a window check").parse().unwrap();
    assert!(slot > now && slot <= now + Duration::minutes(15), "the next quarter hour: {slot}");

    // Its first check reads the whole window: the card due in 3 hours, not the one in 30.
    let scheduler = app.env.state_for(Function::SyncScheduler);
    let at = |t: DateTime<Utc>| run_scheduler(&scheduler, t);
    assert_eq!(at(slot - Duration::minutes(1)).await.unwrap().automations_queued, 0, "not before its time");
    assert_eq!(at(slot + Duration::minutes(1)).await.unwrap().automations_queued, 1);
    let jobs = app.run_queued().await;
    let posts =
        |app: &App| -> Vec<String> { app.fakes.state().slack_messages(&channel).into_iter().map(|m| m.text).collect() };
    assert_eq!(posts(&app), ["Due soon: Sign the contract"]);
    receipts(&app, &id, 1, "Posted a message in Slack").await;

    // The next checks find nothing new, and a redelivery posts nothing.
    let (_, automation) = app.api(Method::GET, &format!("/api/v1/integrations/automations/{id}"), None).await;
    let next: DateTime<Utc> = automation["nextRunAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, slot + Duration::minutes(15), "checked every quarter hour");
    assert_eq!(at(next + Duration::minutes(1)).await.unwrap().automations_queued, 0);
    app.deliver(&jobs).await;
    assert_eq!(posts(&app).len(), 1);

    // Seven hours on, the other card is due within a day: it fires, once.
    let (_, automation) = app.api(Method::GET, &format!("/api/v1/integrations/automations/{id}"), None).await;
    let next: DateTime<Utc> = automation["nextRunAt"].as_str().unwrap().parse().unwrap();
    let report = at(next + Duration::hours(7)).await.unwrap();
    assert_eq!(report.automations_queued, 1, "{report:?}");
    let jobs = app.run_queued().await;
    assert_eq!(posts(&app), ["Due soon: Sign the contract", "Due soon: Plan the offsite"]);
    app.deliver(&jobs).await;
    assert_eq!(posts(&app).len(), 2);
    receipts(&app, &id, 2, "Posted a message in Slack").await;

    // Switched off, it is checked no more.
    app.api(Method::PATCH, &format!("/api/v1/integrations/automations/{id}"), Some(json!({"enabled": false}))).await;
    let (_, automation) = app.api(Method::GET, &format!("/api/v1/integrations/automations/{id}"), None).await;
    assert!(automation.get("nextRunAt").is_none(), "{automation}");
    app.env.cleanup().await;
}
