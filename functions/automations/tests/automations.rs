//! The automations API and runner against the emulator (each function as its IAM role) and the
//! fake Google Calendar: the "block focus time" template from its gallery entry to the events
//! and their receipts, and nothing made twice when a run is asked for again.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, SecondsFormat, Utc};
use fake_providers::{FakeProviders, OAuthProvider, Provider as Fake, demo};
use http_body_util::BodyExt;
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{Account, ConnectionId, IntegrationId, Plan, SyncId, SyncSettings, UserId};
use integrations::oauth::{CallbackOutcome, CallbackQuery, OAuthClient, OAuthClients, complete_oauth, start_oauth};
use integrations::store::NewConnection;
use integrations::sync::{KindFields, Record, RecordKind, TaskFields};
use integrations::testing::TestEnv;
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

const USER: &str = "automations-user";
const CALENDAR_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";
const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";

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
        let (status, _, body) = self.call_with_headers(method, path, user, plan, body).await;
        (status, body)
    }

    async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        user: &str,
        plan: Plan,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
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
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
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

    async fn connections_of(&self, user: &UserId) -> usize {
        self.env.state.store.list_connections(user).await.unwrap().len()
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
        // As Google grants it once the user allowed the events scope.
        scopes: ["openid", "email", CALENDAR_READONLY, CALENDAR_EVENTS].map(String::from).to_vec(),
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

/// The Google OAuth client of this deployment, on the fake's endpoints.
fn google_client(fakes: &FakeProviders) -> OAuthClient {
    let base = fakes.oauth_url(OAuthProvider::Google);
    OAuthClient {
        client_id: OAuthProvider::Google.client_id().to_owned(),
        client_secret: SecretString::from(OAuthProvider::Google.client_secret().to_owned()),
        authorize_url: format!("{base}/authorize"),
        token_url: format!("{base}/token"),
        revoke_url: None,
        userinfo_url: Some(format!("{}/userinfo", fakes.base_url(Fake::GoogleUserinfo))),
        redirect_url: "http://127.0.0.1:3000/api/v1/integrations/oauth/callback".into(),
        basic_auth: false,
    }
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
    assert_eq!(app.connections_of(&user).await, 1, "re-consent keeps the one connection");
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
    let oauth = Credentials::OAuth(TokenSet {
        access_token: SecretString::from(demo::GOOGLE_TOKEN),
        refresh_token: None,
        expires_at: None,
        scopes: ["openid", "email", CALENDAR_READONLY, CALENDAR_EVENTS].map(String::from).to_vec(),
    });
    let calendar = app.connect("google-calendar", AuthMode::Oauth2, oauth).await;
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
    assert_eq!(app.run_queued().await, 1);
    assert!(app.focus_blocks().is_empty());
    assert!(app.env.take_automation_jobs().await.is_empty(), "not visible before its delay");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_eq!(app.run_queued().await, 1, "delivered again after the delay");
    assert_eq!(app.focus_blocks(), ["Focus: Q4 report"]);
    let (_, runs) =
        app.api(Method::GET, &format!("/api/v1/integrations/automations/{}/runs", job.automation_id), None).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "one run, done once: {runs}");
    assert_eq!(runs["runs"][0]["status"], "succeeded");
    app.env.cleanup().await;
}
