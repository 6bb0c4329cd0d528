//! The automations API and runner against the emulator (each function as its IAM role) and the
//! fakes: the "block focus time" template from its gallery entry to the events and their
//! receipts, and nothing made twice when a run is asked for again; Asana and Notion steps, and a
//! lost answer that Notion cannot be asked about, shown `unknown` and never sent again.

mod common;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::http::{Method, StatusCode};
use chrono::{Duration, SecondsFormat, Utc};
use fake_providers::{FakeProviders, Fault, OAuthProvider, Provider as Fake, demo};
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{ConnectionId, IntegrationId, Plan, SyncId, UserId};
use integrations::oauth::{CallbackOutcome, CallbackQuery, OAuthClient, OAuthClients, complete_oauth, start_oauth};
use integrations::sync::{KindFields, Record, RecordKind, TaskFields};
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;
use serde_json::{Value, json};

use common::{App, USER};

const CALENDAR_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";
const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";

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
        scopes: common::granted_after_consent("google-calendar"),
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

#[tokio::test]
async fn a_finished_run_publishes_automation_run_completed_once_however_often_it_is_delivered() {
    use integrations::automations::{AutomationJob, AutomationSpec, TriggerEvent};
    use integrations::domain::HookId;
    use integrations::hooks::EventType;
    use integrations::store::Hook;
    let mut app = App::start().await;
    app.env.add_hook_queues(3).await;
    let user = UserId::parse(USER).unwrap();
    let hook = Hook {
        hook_id: HookId::generate(),
        user_id: None,
        target_url: "https://example.com/hook".into(),
        events: vec![EventType::AutomationRunCompleted],
        created_at: Utc::now(),
    };
    app.env.state.store.insert_hook(&user, &hook).await.unwrap();
    let spec: AutomationSpec = serde_json::from_value(json!({
        "name": "Tell my server",
        "enabled": true,
        "trigger": {"type": "item.created", "kind": "task"},
        "steps": [{"action": "webhook.post", "params": {"url": "https://example.com/in"}}]
    }))
    .unwrap();
    let automation = app.env.state.store.insert_automation(&user, spec, Plan::Premium, None).await.unwrap().unwrap();
    let job = AutomationJob {
        user_id: user.clone(),
        automation_id: automation.automation_id.clone(),
        event: TriggerEvent { key: "card-9@1".into(), item: Some(json!({"title": "Q4 report"})) },
        manual: false,
    };
    for _ in 0..2 {
        let mut message = SqsMessage::default();
        message.message_id = Some("1".into());
        message.body = Some(serde_json::to_string(&job).unwrap());
        let mut event = SqsEvent::default();
        event.records = vec![message];
        let response =
            automations::handle_sqs_event(&app.env.state_for(Function::AutomationsRunner), None, event).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let deliveries = app.env.take_hook_deliveries().await;
    assert_eq!(deliveries.len(), 1, "one run, published once");
    let body: Value = serde_json::from_str(&deliveries[0].body).unwrap();
    assert_eq!(body["type"], "automation.run.completed");
    assert_eq!(body["data"]["automationId"], automation.automation_id.to_string());
    assert_eq!(body["data"]["trigger"], "card-9@1");
    app.env.cleanup().await;
}

/// A provider's OAuth client of this deployment, on the fake's endpoints.
fn oauth_client(fakes: &FakeProviders, provider: OAuthProvider) -> OAuthClient {
    let base = fakes.oauth_url(provider);
    OAuthClient {
        client_id: provider.client_id().to_owned(),
        client_secret: SecretString::from(provider.client_secret().to_owned()),
        authorize_url: format!("{base}/authorize"),
        token_url: format!("{base}/token"),
        revoke_url: None,
        userinfo_url: None,
        redirect_url: "http://127.0.0.1:3000/api/v1/integrations/oauth/callback".into(),
        basic_auth: false,
    }
}

/// The Google OAuth client of this deployment, on the fake's endpoints.
fn google_client(fakes: &FakeProviders) -> OAuthClient {
    OAuthClient {
        userinfo_url: Some(format!("{}/userinfo", fakes.base_url(Fake::GoogleUserinfo))),
        ..oauth_client(fakes, OAuthProvider::Google)
    }
}

/// Saves, switched on, an automation whose one step is `step` on a signed-in `integration`
/// connection granted only the catalog's read scopes: it must answer 409 `scope-missing` for
/// `scope`. Returns the re-consent URL and the read scopes.
async fn scope_missing(
    integration: &str,
    provider: OAuthProvider,
    scope: &str,
    step: impl Fn(&ConnectionId) -> Value,
) -> (url::Url, Vec<String>) {
    let mut app = App::start().await;
    app.env.state.oauth = OAuthClients::default().with_client(integration, oauth_client(&app.fakes, provider));
    let read = app.env.state.catalog.find(integration).unwrap().oauth.as_ref().unwrap().scopes.clone();
    let tokens = Credentials::OAuth(TokenSet {
        access_token: SecretString::from("read-only-token".to_owned()),
        refresh_token: None,
        expires_at: None,
        scopes: read.clone(),
    });
    let connection = app.connect(integration, AuthMode::Oauth2, tokens).await;
    let definition = json!({
        "name": "Tell the team",
        "enabled": true,
        "trigger": {"type": "item.created", "kind": "task"},
        "steps": [step(&connection)]
    });
    let path = "/api/v1/integrations/automations";
    let (status, headers, problem) =
        app.call_with_headers(Method::POST, path, USER, Plan::Free, Some(definition)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/scope-missing");
    assert_eq!(problem["connectionId"], connection.to_string());
    assert_eq!(problem["scope"], scope);
    assert!(problem["consent"].as_str().unwrap().starts_with("Allow Director of One to "), "{problem}");
    assert!(headers["set-cookie"].to_str().unwrap().starts_with("doo_oauth_"));
    let url = url::Url::parse(problem["reconsentUrl"].as_str().unwrap()).unwrap();
    assert_eq!(url.as_str().split('?').next().unwrap(), format!("{}/authorize", app.fakes.oauth_url(provider)));
    assert!(url.query_pairs().any(|(k, v)| k == "client_id" && v == provider.client_id()), "{url}");
    let (status, listed) = app.api(Method::GET, path, None).await;
    assert_eq!((status, listed["automations"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "nothing saved");
    app.env.cleanup().await;
    (url, read)
}

fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_slack_post_on_a_sign_in_without_chat_write_asks_for_it_with_the_read_scopes() {
    let step = |c: &ConnectionId| {
        json!({"action": "slack.postMessage", "connectionId": c.to_string(),
               "params": {"channel": "#general", "text": "New: {{ item.title }}"}})
    };
    let (url, read) = scope_missing("slack", OAuthProvider::Slack, "chat:write", step).await;
    // Slack's `scope`, comma-separated: the read scopes and the one added.
    let expected = [read.join(","), "chat:write".into()].join(",");
    assert_eq!(query_param(&url, "scope").as_deref(), Some(expected.as_str()), "{url}");
}

#[tokio::test]
async fn a_teams_channel_message_on_a_sign_in_without_channel_message_send_asks_for_it() {
    let step = |c: &ConnectionId| {
        json!({"action": "teams.postChannelMessage", "connectionId": c.to_string(),
               "params": {"teamId": "team-1", "channelId": "channel-1", "text": "New: {{ item.title }}"}})
    };
    let (url, read) = scope_missing("microsoft-teams", OAuthProvider::Microsoft, "ChannelMessage.Send", step).await;
    // Microsoft's space-separated `scope`: the read scopes and the one added.
    let asked: Vec<String> = query_param(&url, "scope").unwrap().split(' ').map(str::to_owned).collect();
    assert_eq!(asked, [read, vec!["ChannelMessage.Send".to_owned()]].concat(), "{url}");
    assert_eq!(query_param(&url, "response_mode").as_deref(), Some("query"));
}

/// The user's browser at the provider's consent screen and back at the callback with the
/// flow's cookie; returns where the callback sends it.
async fn consent_and_return(state: &integrations::AppState, authorize_url: &str, cookie: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = http.get(authorize_url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let param = |name: &str| location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let query = CallbackQuery { code: param("code"), state: param("state"), ..Default::default() };
    let binding = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    match complete_oauth(state, query, Some(binding)).await.unwrap() {
        CallbackOutcome::Redirect(to) => to,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn switching_on_block_focus_time_with_a_read_only_calendar_asks_for_the_events_scope_then_saves() {
    let mut app = App::start().await;
    app.fakes.state().seed_demo();
    app.env.state.oauth = OAuthClients::default().with_client("google-calendar", google_client(&app.fakes));
    let caller = integrations::auth::Caller { user_id: UserId::parse(USER).unwrap(), plan: Plan::Free };
    let connections = app.env.state_for(Function::Connections);
    let calendar = app.env.state.catalog.find("google-calendar").unwrap();

    // Connected with the catalog's read scopes only.
    let start = start_oauth(&connections, &caller, calendar, None, None).await.unwrap();
    let back = consent_and_return(&connections, &start.authorization_url, &start.set_cookie()).await;
    let connection = back.split("connected=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let definition = |enabled: bool| {
        json!({
            "name": "Block focus time",
            "enabled": enabled,
            "trigger": {"type": "item.created", "kind": "task"},
            "steps": [{
                "action": "calendar.insertEvent",
                "connectionId": connection,
                "params": {"summary": "Focus: {{ item.title }}", "start": "{{ item.dueAt }}", "end": "{{ item.dueAt }}"}
            }]
        })
    };

    // Switched on: 409, with where to grant the scope, for this same connection.
    let path = "/api/v1/integrations/automations";
    let (status, headers, problem) =
        app.call_with_headers(Method::POST, path, USER, Plan::Free, Some(definition(true))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(problem["type"], "/problems/scope-missing");
    assert_eq!(problem["connectionId"], connection.as_str());
    assert_eq!(problem["scope"], CALENDAR_EVENTS);
    assert_eq!(problem["consent"], "Allow Director of One to create events in Google Calendar");
    let url = url::Url::parse(problem["reconsentUrl"].as_str().unwrap()).unwrap();
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("include_granted_scopes").as_deref(), Some("true"), "{url}");
    let asked = param("scope").unwrap();
    assert!(asked.contains(CALENDAR_EVENTS) && asked.contains(CALENDAR_READONLY), "{asked}");
    let cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("doo_oauth_"), "{cookie}");

    // Saved switched off it needs nothing yet; switching it on asks the same.
    let (status, off) = app.api(Method::POST, path, Some(definition(false))).await;
    assert_eq!(status, StatusCode::CREATED, "{off}");
    let id = off["automationId"].as_str().unwrap().to_owned();
    let (status, problem) = app.api(Method::PATCH, &format!("{path}/{id}"), Some(json!({"enabled": true}))).await;
    assert_eq!((status, problem["type"].as_str()), (StatusCode::CONFLICT, Some("/problems/scope-missing")));

    // The user allows it: the same connection now holds the events scope, and saving works.
    let back = consent_and_return(&connections, url.as_str(), &cookie).await;
    assert!(back.contains(&format!("connected={connection}")), "{back}");
    let user = UserId::parse(USER).unwrap();
    let stored = app.env.state.store.get_connection(&user, &ConnectionId::parse(&connection).unwrap()).await.unwrap();
    let Credentials::OAuth(tokens) = app.env.state.vault.read(&stored.secret_id).await.unwrap() else { panic!() };
    assert!(tokens.scopes.iter().any(|s| s == CALENDAR_EVENTS), "{:?}", tokens.scopes);
    assert_eq!(
        app.env.state.store.list_connections(&user).await.unwrap().len(),
        1,
        "re-consent keeps the one connection"
    );
    let (status, on) = app.api(Method::PATCH, &format!("{path}/{id}"), Some(json!({"enabled": true}))).await;
    assert_eq!((status, on["enabled"].as_bool()), (StatusCode::OK, Some(true)), "{on}");
    let (status, created) = app.api(Method::POST, path, Some(definition(true))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    app.env.cleanup().await;
}

#[tokio::test]
async fn an_event_whose_calendar_has_spent_its_api_budget_is_queued_again_with_a_delay_and_then_done_once() {
    use integrations::providers::Registry;
    use integrations::store::{Bucket, Spend};
    let app = App::start().await;
    app.fakes.state().seed_demo();
    let calendar = app.connect_oauth("google-calendar", demo::GOOGLE_TOKEN).await;
    let definition = json!({
        "name": "Block focus time",
        "enabled": true,
        "trigger": {"type": "item.created", "kind": "task"},
        "steps": [{
            "action": "calendar.insertEvent",
            "connectionId": calendar.to_string(),
            "params": {"summary": "Focus: {{ item.title }}", "start": "{{ item.dueAt }}", "end": "{{ item.dueAt }}"}
        }]
    });
    let (status, created) = app.api(Method::POST, "/api/v1/integrations/automations", Some(definition)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let automation = integrations::domain::AutomationId::parse(created["automationId"].as_str().unwrap()).unwrap();
    // The calendar's 600 requests a minute all spent, by a worker whose clock is 2 s ahead.
    let user = UserId::parse(USER).unwrap();
    let budget = Registry::get().find("google-calendar").unwrap().capabilities().budget;
    let ahead = integrations::store::attrs::now() + Duration::seconds(2);
    let mut bucket = Bucket::new(&user, &calendar, budget);
    assert!(matches!(
        app.env.state.store.spend(&mut bucket, budget.capacity, ahead).await.unwrap(),
        Spend::Spent { .. }
    ));

    let job = integrations::automations::AutomationJob {
        user_id: user.clone(),
        automation_id: automation,
        event: integrations::automations::TriggerEvent {
            key: "card-q4@1".into(),
            item: Some(json!({"title": "Q4 report", "dueAt": "2026-12-04T17:00:00Z", "kind": "task"})),
        },
        manual: false,
    };
    app.env.state.automations.as_ref().unwrap().send(&job, std::time::Duration::ZERO).await.unwrap();
    // Handled (acknowledged, not failed), nothing made: the event is queued again, delayed.
    assert_eq!(app.run_queued().await.len(), 1);
    assert!(focus_blocks(&app).is_empty());
    assert!(app.env.take_automation_jobs().await.is_empty(), "not visible before its delay");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_eq!(app.run_queued().await.len(), 1, "delivered again after the delay");
    assert_eq!(focus_blocks(&app), ["Focus: Q4 report"]);
    let (_, runs) =
        app.api(Method::GET, &format!("/api/v1/integrations/automations/{}/runs", job.automation_id), None).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "one run, done once: {runs}");
    assert_eq!(runs["runs"][0]["status"], "succeeded");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_failed_run_is_audited_once_and_runs_are_kept_as_long_as_the_plan_keeps_history() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use integrations::automations::{AutomationJob, TriggerEvent};
    use integrations::domain::AutomationId;
    let app = App::start().await;
    let user = UserId::parse(USER).unwrap();
    let receiver = |name: &str| format!("{}/receivers/{name}", app.fakes.url());
    let save = async |name: &str, steps: Value, plan: Plan| {
        let definition =
            json!({"name": name, "enabled": true, "trigger": {"type": "item.created", "kind": "task"}, "steps": steps});
        let id = AutomationId::parse(&app.save(definition, plan).await).unwrap();
        app.env.state.store.get_automation(&user, &id).await.unwrap()
    };
    let job = |automation: &integrations::store::Automation, key: &str| AutomationJob {
        user_id: user.clone(),
        automation_id: automation.automation_id.clone(),
        event: TriggerEvent { key: key.into(), item: Some(json!({"title": "Q4 report"})) },
        manual: false,
    };
    let failed_about = async |automation: &integrations::store::Automation| -> Vec<String> {
        let audit = app.env.state.store.audit_entries(&user, 50).await.unwrap();
        audit
            .into_iter()
            .filter(|a| {
                a.action == "automation_failed" && a.subject_id.as_deref() == Some(automation.automation_id.as_str())
            })
            .map(|a| a.detail.unwrap_or_default())
            .collect()
    };
    let post = |name: &str, on_failure: &str| json!({"action": "webhook.post", "params": {"url": receiver(name)}, "onFailure": on_failure});

    // Every step failed: audited once, however often the job is delivered.
    let refused = save("Tell my server", json!([post("refuses", "continue")]), Plan::Premium).await;
    app.fakes.state().answer_next("refuses", &[400, 400]);
    app.deliver(&[job(&refused, "card-1@1")]).await;
    app.deliver(&[job(&refused, "card-1@1")]).await;
    assert_eq!(
        failed_about(&refused).await,
        ["Tell my server: step 1 (webhook.post) failed: The receiver answered 400."]
    );

    // A step that stops the run on failure failed after one that was done: failed too.
    let stopped = save(
        "Two steps",
        json!([post("fine", "continue"), post("stops", "stop"), post("fine", "continue")]),
        Plan::Premium,
    )
    .await;
    app.fakes.state().answer_next("stops", &[400]);
    app.deliver(&[job(&stopped, "card-2@1")]).await;
    assert_eq!(failed_about(&stopped).await.len(), 1);
    assert!(failed_about(&stopped).await[0].starts_with("Two steps: step 2 (webhook.post) failed"));

    // A failure that does not stop the run, after a step done: partial, not failed.
    let partial = save("Partial", json!([post("fine", "continue"), post("refuses", "continue")]), Plan::Premium).await;
    app.fakes.state().answer_next("refuses", &[400]);
    app.deliver(&[job(&partial, "card-3@1")]).await;
    assert_eq!(failed_about(&partial).await, Vec::<String>::new());
    // And a run that succeeded is not audited.
    let fine = save("Fine", json!([post("fine", "stop")]), Plan::Premium).await;
    app.deliver(&[job(&fine, "card-4@1")]).await;
    assert_eq!(failed_about(&fine).await, Vec::<String>::new());

    // Runs and their receipts expire after the owner's plan's history: 30 days free, a year premium.
    let expiry = async |automation: &integrations::store::Automation| -> (i64, i64) {
        let out = app
            .env
            .state
            .store
            .client()
            .query()
            .table_name(app.env.state.store.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :runs)")
            .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{USER}")))
            .expression_attribute_values(":runs", AttributeValue::S(format!("AUTORUN#{}#", automation.automation_id)))
            .send()
            .await
            .unwrap();
        let item = &out.items()[0];
        let n = |name: &str| item[name].as_n().unwrap().parse::<i64>().unwrap();
        let finished: chrono::DateTime<Utc> = item["finishedAt"].as_s().unwrap().parse().unwrap();
        (n("expiresAt"), finished.timestamp())
    };
    let (expires, finished) = expiry(&refused).await;
    assert_eq!(expires - finished, Duration::days(365).num_seconds());
    // A free user's automation (kept from before a downgrade, say; its step fails for want of a
    // signing secret).
    let spec = serde_json::from_value(json!({
        "name": "Kept", "enabled": true, "trigger": {"type": "item.created", "kind": "task"}, "steps": [post("fine", "stop")],
    }))
    .unwrap();
    let free = app.env.state.store.insert_automation(&user, spec, Plan::Free, None).await.unwrap().unwrap();
    app.deliver(&[job(&free, "card-5@1")]).await;
    assert_eq!(failed_about(&free).await.len(), 1);
    let (expires, finished) = expiry(&free).await;
    assert_eq!(expires - finished, Duration::days(30).num_seconds());
    app.env.cleanup().await;
}
