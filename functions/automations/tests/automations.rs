//! The automations API and runner against the emulator (each function as its IAM role) and the
//! fakes: the "block focus time" template from its gallery entry to the events and their
//! receipts, and nothing made twice when a run is asked for again; Asana and Notion steps, and a
//! lost answer that Notion cannot be asked about, shown `unknown` and never sent again.

mod common;

use axum::http::{Method, StatusCode};
use chrono::{Duration, SecondsFormat, Utc};
use fake_providers::{Fault, Provider as Fake, demo};
use integrations::catalog::AuthMode;
use integrations::domain::{ConnectionId, IntegrationId, Plan, SyncId, UserId};
use integrations::sync::{KindFields, Record, RecordKind, TaskFields};
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;
use serde_json::json;

use common::{App, USER};

fn focus_blocks(app: &App) -> Vec<String> {
    let mut names: Vec<String> = ["Focus: Q4 report", "Focus: Hiring plan", "Focus: Budget 2027"]
        .iter()
        .flat_map(|n| app.fakes.state().calendar_events_named(demo::GOOGLE_TOKEN, n))
        .map(|e| e.summary)
        .collect();
    names.sort();
    names
}

fn card(id: &str, title: &str, due_in_days: i64) -> Record {
    let mut data = serde_json::Map::new();
    TaskFields { list: Some("Doing".into()), ..Default::default() }.write(&mut data);
    let due = (Utc::now() + Duration::days(due_in_days)).to_rfc3339_opts(SecondsFormat::Secs, true);
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
async fn block_focus_time_from_its_template_makes_each_event_once_with_receipts() {
    let app = App::start().await;
    app.fakes.state().seed_demo();
    let oauth = Credentials::OAuth(TokenSet {
        access_token: SecretString::from(demo::GOOGLE_TOKEN),
        refresh_token: None,
        expires_at: None,
        scopes: vec![],
    });
    app.connect("google-calendar", AuthMode::Oauth2, oauth).await;
    let trello_key = Credentials::ApiKey(
        [("apiKey", demo::TRELLO_KEY), ("token", demo::TRELLO_TOKEN)]
            .map(|(k, v)| (k.to_string(), SecretString::from(v)))
            .into(),
    );
    let trello = app.connect("trello", AuthMode::ApiKey, trello_key).await;
    let cards = [card("c1", "Q4 report", 2), card("c2", "Hiring plan", 4), card("c3", "Budget 2027", 40)];
    let user = UserId::parse(USER).unwrap();
    let trello_id = IntegrationId::parse("trello").unwrap();
    app.env.state.store.upsert_records(&user, &trello, &trello_id, &SyncId::generate(), &cards, false).await.unwrap();

    // The gallery offers it ready, with the caller's connections filled in.
    let (status, gallery) = app.api(Method::GET, "/api/v1/integrations/automation-templates", None).await;
    assert_eq!(status, StatusCode::OK, "{gallery}");
    let template = gallery["templates"].as_array().unwrap().iter().find(|t| t["id"] == "block-focus-time").unwrap();
    assert_eq!(template["ready"], true, "{template}");
    let mut definition = template["definition"].clone();
    definition["enabled"] = true.into();

    // The dry run, before switching it on: the two cards due this week, the event filled in.
    let (status, preview) =
        app.api(Method::POST, "/api/v1/integrations/automations/dry-run", Some(definition.clone())).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["matchingItems"].as_array().unwrap().len(), 2, "{preview}");
    assert_eq!(preview["calls"]["google-calendar"], 4);
    assert!(preview["previews"][0][0]["params"]["summary"].as_str().unwrap().starts_with("Focus: "));
    assert!(focus_blocks(&app).is_empty(), "a dry run makes nothing");

    let (status, created) = app.api(Method::POST, "/api/v1/integrations/automations", Some(definition)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["automationId"].as_str().unwrap().to_owned();

    let (status, queued) = app.api(Method::POST, &format!("/api/v1/integrations/automations/{id}/run"), None).await;
    assert_eq!((status, queued["queued"].as_u64()), (StatusCode::ACCEPTED, Some(2)), "{queued}");
    assert_eq!(app.run_queued().await.len(), 2);
    assert_eq!(focus_blocks(&app), ["Focus: Hiring plan", "Focus: Q4 report"]);

    let (status, runs) = app.api(Method::GET, &format!("/api/v1/integrations/automations/{id}/runs"), None).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["status"], "succeeded");
        assert_eq!(run["steps"][0]["summary"], "Created an event in Google Calendar");
        assert!(run["steps"][0]["url"].is_string());
        assert_eq!(run["minutesSaved"], 3);
    }
    assert_eq!(app.env.state.store.automation_savings(&user).await.unwrap(), (6, 2));

    // Asked again, and the jobs delivered twice: nothing is made twice.
    app.api(Method::POST, &format!("/api/v1/integrations/automations/{id}/run"), None).await;
    assert_eq!(app.run_queued().await.len(), 2);
    assert_eq!(focus_blocks(&app), ["Focus: Hiring plan", "Focus: Q4 report"]);
    assert_eq!(app.env.state.store.automation_savings(&user).await.unwrap(), (6, 2), "counted once");

    // Switched off, then another user's view of it.
    let (status, off) = app
        .api(Method::PATCH, &format!("/api/v1/integrations/automations/{id}"), Some(json!({"enabled": false})))
        .await;
    assert_eq!((status, off["enabled"].as_bool()), (StatusCode::OK, Some(false)), "{off}");
    // The audit trail has its creation and its switching off, about it.
    let audit = app.env.state.store.audit_entries(&user, 20).await.unwrap();
    let about: Vec<_> =
        audit.iter().filter(|a| a.subject_id.as_deref() == Some(id.as_str())).map(|a| a.action.as_str()).collect();
    assert_eq!(about, ["automation_disabled", "automation_created"]);
    let (status, _) = app
        .call(Method::GET, &format!("/api/v1/integrations/automations/{id}"), "someone-else", Plan::Free, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.env.cleanup().await;
}

#[tokio::test]
async fn definitions_are_checked_counted_against_the_plan_and_answered_in_problems() {
    let app = App::start().await;
    let url = |id: &str| format!("/api/v1/integrations/automations/{id}");
    let webhook = |name: &str| {
        json!({
            "name": name,
            "trigger": {"type": "schedule", "timeZone": "Europe/Paris", "every": "daily", "at": "08:30"},
            "steps": [{"action": "webhook.post", "params": {"url": "https://example.com/hook"}}]
        })
    };
    // A premium action on the free plan.
    let (status, problem) = app.api(Method::POST, "/api/v1/integrations/automations", Some(webhook("w"))).await;
    assert_eq!((status, problem["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/automation-plan-limit")));

    // Where a definition is wrong, in words.
    let mut bad = webhook("bad");
    bad["steps"][0]["params"]["url"] = "{{ item.title }}".into();
    let (status, problem) =
        app.call(Method::POST, "/api/v1/integrations/automations", USER, Plan::Premium, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["at"], "steps[1].params.url");
    let mut stray = webhook("stray");
    stray["trigger"]["hours"] = 3.into();
    let (status, problem) =
        app.call(Method::POST, "/api/v1/integrations/automations", USER, Plan::Premium, Some(stray)).await;
    assert_eq!((status, problem["type"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/problems/invalid-body")));

    // Premium saves them; the free plan's limit of two is kept in the write.
    for name in ["one", "two"] {
        let (status, body) =
            app.call(Method::POST, "/api/v1/integrations/automations", USER, Plan::Premium, Some(webhook(name))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, listed) = app.api(Method::GET, "/api/v1/integrations/automations", None).await;
    assert_eq!((status, listed["automations"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    let (status, _) = app.api(Method::GET, &url("not-a-ulid"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.api(Method::DELETE, &url(&ConnectionId::generate().to_string()), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.env.cleanup().await;
}

#[tokio::test]
async fn asana_and_notion_steps_act_once_and_a_lost_notion_answer_is_shown_unknown_not_sent_again() {
    let app = App::start().await;
    let state = app.fakes.state();
    let (asana_token, notion_token) = ("asana-runner-token", "secret_runner_notion");
    state.add_asana_account(asana_token, "Ada", "ada@example.com");
    let workspace = state.add_asana_workspace(asana_token, "Ops");
    let project = state.add_asana_project(&workspace, "Follow-ups");
    state.add_notion_account(notion_token, "Ops");
    let database = state.add_notion_database(notion_token, "Reviews");
    let asana = app.connect_token("asana", &[("token", asana_token)]).await;
    let notion = app.connect_token("notion", &[("token", notion_token)]).await;
    let definition = json!({
        "name": "Weekly review",
        "enabled": true,
        "trigger": {"type": "schedule", "timeZone": "UTC", "every": "weekly", "day": "fri", "at": "16:00"},
        "steps": [
            {"action": "asana.createTask", "connectionId": asana,
             "params": {"projectId": project, "name": "Weekly review", "notes": "Prepared for {{ automation.name }}"}},
            {"action": "notion.createPage", "connectionId": notion,
             "params": {"databaseId": database, "title": "Review notes", "content": "Task: {{ steps.1.url }}"}}
        ]
    });
    let (status, created) =
        app.call(Method::POST, "/api/v1/integrations/automations", USER, Plan::Premium, Some(definition)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["automationId"].as_str().unwrap().to_owned();

    // The task is made; the page is made too, but its answer comes after the runner stopped waiting.
    app.fakes.state().fail_next(Fake::Notion, "/v1/pages", Fault::LateAnswer { millis: 800 }, 1);
    let (status, _) =
        app.call(Method::POST, &format!("/api/v1/integrations/automations/{id}/run"), USER, Plan::Premium, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let jobs = app.env.take_automation_jobs().await;
    assert_eq!(jobs.len(), 1);
    app.deliver_to(&app.impatient_runner(), &jobs).await;
    let tasks = app.fakes.state().asana_project_tasks(&project);
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].notes.starts_with("Prepared for Weekly review"), "{}", tasks[0].notes);
    assert_eq!(app.fakes.state().notion_pages_in(&database).len(), 1, "made by the lost answer");
    assert!(app.runs(&id).await.is_empty(), "not finished while the page's outcome is unknown");

    // Its worker stopped: Notion cannot be asked whether the page exists, so it is not sent again
    // and the receipt says so; the task, done, is not made again.
    app.age_claim(&id, &jobs[0].event.key, 2).await;
    app.deliver(&jobs).await;
    app.deliver(&jobs).await;
    assert_eq!(app.fakes.state().asana_project_tasks(&project).len(), 1);
    assert_eq!(app.fakes.state().notion_pages_in(&database).len(), 1, "never sent twice");
    let runs = app.runs(&id).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["status"], "partial");
    let steps = runs[0]["steps"].as_array().unwrap();
    assert_eq!(
        (steps[0]["status"].as_str(), steps[0]["summary"].as_str()),
        (Some("done"), Some("Created a task in Asana"))
    );
    assert_eq!(steps[0]["providerId"], tasks[0].gid);
    assert_eq!(steps[1]["status"], "unknown");
    assert!(steps[1]["error"].as_str().unwrap().contains("not sent again"), "{}", steps[1]);
    app.env.cleanup().await;
}
