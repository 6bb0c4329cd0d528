//! The automations API and runner against the emulator (each function as its IAM role) and the
//! fake Google Calendar: the "block focus time" template from its gallery entry to the events
//! and their receipts, and nothing made twice when a run is asked for again.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, SecondsFormat, Utc};
use fake_providers::{FakeProviders, Provider as Fake, demo};
use http_body_util::BodyExt;
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{Account, ConnectionId, IntegrationId, Plan, SyncId, SyncSettings, UserId};
use integrations::store::NewConnection;
use integrations::sync::{KindFields, Record, RecordKind, TaskFields};
use integrations::testing::TestEnv;
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

const USER: &str = "automations-user";

struct App {
    env: TestEnv,
    fakes: FakeProviders,
}

impl App {
    async fn start() -> App {
        let fakes = FakeProviders::start().await;
        fakes.state().seed_demo();
        let mut env = TestEnv::new().await;
        env.add_automation_queues(3).await;
        env.use_provider("google-calendar", fakes.base_url(Fake::GoogleCalendar));
        App { env, fakes }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        user: &str,
        plan: Plan,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.env.token(user, plan)));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
        let response = automations::router(self.env.state_for(Function::AutomationsApi))
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, USER, Plan::Free, body).await
    }

    /// A connection of `USER`, stored as connect stores one, with its credential in the vault.
    async fn connect(&self, integration: &str, auth: AuthMode, credentials: Credentials) -> ConnectionId {
        let user = UserId::parse(USER).unwrap();
        let id = ConnectionId::generate();
        let secret_id = self.env.state.vault.create(&user, &id, &credentials).await.unwrap();
        self.env
            .state
            .store
            .insert_connection(NewConnection {
                user_id: user,
                connection_id: id.clone(),
                integration_id: IntegrationId::parse(integration).unwrap(),
                auth_kind: auth,
                secret_id,
                credential_hint: "••••demo".into(),
                account: Account { id: format!("{integration}-account"), name: "Demo".into(), workspace: None },
                display_name: integration.into(),
                settings: SyncSettings { auto_sync: false, ..Default::default() },
                plan: integrations::domain::Plan::Free,
                connection_limit: None,
            })
            .await
            .unwrap();
        id
    }

    /// Runs every job waiting on the automations queue through the runner, as Lambda would.
    async fn run_queued(&self) -> usize {
        let jobs = self.env.take_automation_jobs().await;
        let records = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| {
                let mut m = SqsMessage::default();
                m.message_id = Some(i.to_string());
                m.body = Some(serde_json::to_string(job).unwrap());
                m
            })
            .collect();
        let mut event = SqsEvent::default();
        event.records = records;
        let response =
            automations::handle_sqs_event(&self.env.state_for(Function::AutomationsRunner), None, event).await;
        assert!(response.batch_item_failures.is_empty(), "every job handled");
        jobs.len()
    }

    fn focus_blocks(&self) -> Vec<String> {
        let mut names: Vec<String> = ["Focus: Q4 report", "Focus: Hiring plan", "Focus: Budget 2027"]
            .iter()
            .flat_map(|n| self.fakes.state().calendar_events_named(demo::GOOGLE_TOKEN, n))
            .map(|e| e.summary)
            .collect();
        names.sort();
        names
    }
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
    assert!(app.focus_blocks().is_empty(), "a dry run makes nothing");

    let (status, created) = app.api(Method::POST, "/api/v1/integrations/automations", Some(definition)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["automationId"].as_str().unwrap().to_owned();

    let (status, queued) = app.api(Method::POST, &format!("/api/v1/integrations/automations/{id}/run"), None).await;
    assert_eq!((status, queued["queued"].as_u64()), (StatusCode::ACCEPTED, Some(2)), "{queued}");
    assert_eq!(app.run_queued().await, 2);
    assert_eq!(app.focus_blocks(), ["Focus: Hiring plan", "Focus: Q4 report"]);

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
    assert_eq!(app.run_queued().await, 2);
    assert_eq!(app.focus_blocks(), ["Focus: Hiring plan", "Focus: Q4 report"]);
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
