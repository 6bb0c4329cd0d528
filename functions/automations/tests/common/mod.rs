//! What the automations tests share: the emulator (each function as its IAM role) with the sync
//! and automations queues, the fake providers, the API as a user calls it, connections stored as
//! connect stores them, syncs run as the worker runs them, and jobs delivered to the runner as
//! Lambda delivers them (again, when a test forces a redelivery).

// Each test file includes this module with `mod common;` and compiles it into its own binary.
#![allow(dead_code)]

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use fake_providers::{FakeProviders, Provider as Fake};
use http_body_util::BodyExt;
use integrations::AppState;
use integrations::auth::Caller;
use integrations::automations::AutomationJob;
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{Account, ConnectionId, IntegrationId, Plan, SyncSettings, SyncStatus, UserId};
use integrations::store::NewConnection;
use integrations::sync::{JobOutcome, SyncMode, run_job, trigger_sync};
use integrations::testing::TestEnv;
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;
use serde_json::Value;
use tower::ServiceExt;

pub const USER: &str = "automations-user";

pub struct App {
    pub env: TestEnv,
    pub fakes: FakeProviders,
}

impl App {
    /// The fakes (empty: a test seeds what it needs) and the emulator with both queues.
    pub async fn start() -> App {
        let fakes = FakeProviders::start().await;
        let mut env = TestEnv::new().await;
        env.add_queues(3).await;
        env.add_automation_queues(3).await;
        env.state.sync.manual_gap = chrono::Duration::zero();
        for (integration, fake) in [
            ("google-calendar", Fake::GoogleCalendar),
            ("google-drive", Fake::GoogleDrive),
            ("trello", Fake::Trello),
            ("slack", Fake::Slack),
            ("asana", Fake::Asana),
            ("notion", Fake::Notion),
        ] {
            env.use_provider(integration, fakes.base_url(fake));
        }
        App { env, fakes }
    }

    pub fn user(&self) -> UserId {
        UserId::parse(USER).unwrap()
    }

    pub async fn call(
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

    /// The API's answer with its headers (a `Set-Cookie`).
    pub async fn call_with_headers(
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

    /// The API as `USER` on the free plan.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, USER, Plan::Free, body).await
    }

    /// A connection of `USER`, stored as connect stores one, with its credential in the vault.
    pub async fn connect(&self, integration: &str, auth: AuthMode, credentials: Credentials) -> ConnectionId {
        let user = self.user();
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

    /// A token connection (`fields` are the catalog's credential fields).
    pub async fn connect_token(&self, integration: &str, fields: &[(&str, &str)]) -> ConnectionId {
        let credentials = Credentials::ApiKey(
            fields.iter().map(|(k, v)| (k.to_string(), SecretString::from(v.to_string()))).collect(),
        );
        self.connect(integration, AuthMode::ApiKey, credentials).await
    }

    /// An OAuth connection holding `access_token`, granted what the provider grants once its
    /// user allowed every action's write scope: the catalog's read scopes and those.
    pub async fn connect_oauth(&self, integration: &str, access_token: &str) -> ConnectionId {
        let tokens = Credentials::OAuth(TokenSet {
            access_token: SecretString::from(access_token.to_owned()),
            refresh_token: None,
            expires_at: None,
            scopes: granted_after_consent(integration),
        });
        self.connect(integration, AuthMode::Oauth2, tokens).await
    }

    /// Syncs a connection to its end as the API queues it and the worker runs it; the trigger
    /// events it sends wait on the automations queue.
    pub async fn sync(&self, connection: &ConnectionId, mode: SyncMode) {
        let caller = Caller { user_id: self.user(), plan: Plan::Premium };
        trigger_sync(&self.env.state_for(Function::SyncApi), &caller, connection, mode).await.unwrap();
        for job in self.env.take_jobs().await {
            let outcome = run_job(&self.env.state_for(Function::SyncWorker), &job).await.unwrap();
            assert_eq!(outcome, JobOutcome::Finished(SyncStatus::Succeeded));
        }
    }

    /// Delivers jobs to the runner in one batch, as Lambda would; every one must be handled.
    pub async fn deliver(&self, jobs: &[AutomationJob]) {
        self.deliver_to(&self.env.state_for(Function::AutomationsRunner), jobs).await;
    }

    /// The runner's state, with an HTTP client that stops waiting for an answer after 200 ms.
    pub fn impatient_runner(&self) -> AppState {
        let mut runner = self.env.state_for(Function::AutomationsRunner);
        runner.http = reqwest::Client::builder().timeout(std::time::Duration::from_millis(200)).build().unwrap();
        runner
    }

    /// Makes the claim of an action look as if its worker stopped five minutes ago (between the
    /// provider call and the record), so that the next delivery takes it over.
    pub async fn age_claim(&self, automation: &str, event: &str, step: usize) {
        let then =
            (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.env
            .dynamo()
            .update_item()
            .table_name(&self.env.table)
            .key("PK", AttributeValue::S(format!("USER#{USER}")))
            .key("SK", AttributeValue::S(format!("ACTION#{automation}#{event}#{step}")))
            .update_expression("SET claimedAt = :then")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":then", AttributeValue::S(then))
            .send()
            .await
            .expect("the step was claimed");
    }

    /// Delivers jobs to a runner with `state`.
    pub async fn deliver_to(&self, state: &AppState, jobs: &[AutomationJob]) {
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
        let response = automations::handle_sqs_event(state, None, event).await;
        assert!(response.batch_item_failures.is_empty(), "every job handled");
    }

    /// Runs every job waiting on the automations queue through the runner; returns them, so a
    /// test can deliver them again.
    pub async fn run_queued(&self) -> Vec<AutomationJob> {
        let jobs = self.env.take_automation_jobs().await;
        self.deliver(&jobs).await;
        jobs
    }

    /// An automation's runs, as `GET …/runs` lists them.
    pub async fn runs(&self, id: &str) -> Vec<Value> {
        let (status, runs) = self.api(Method::GET, &format!("/api/v1/integrations/automations/{id}/runs"), None).await;
        assert_eq!(status, StatusCode::OK, "{runs}");
        runs["runs"].as_array().unwrap().clone()
    }

    /// A template from the gallery, switched on, with `fill` applied to its definition.
    pub async fn template(&self, id: &str, fill: impl FnOnce(&mut Value)) -> Value {
        let (status, gallery) = self.api(Method::GET, "/api/v1/integrations/automation-templates", None).await;
        assert_eq!(status, StatusCode::OK, "{gallery}");
        let template = gallery["templates"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
        assert_eq!(template["ready"], true, "{template}");
        let mut definition = template["definition"].clone();
        definition["enabled"] = true.into();
        fill(&mut definition);
        definition
    }

    /// Saves a definition as `USER` on `plan`; returns its id.
    pub async fn save(&self, definition: Value, plan: Plan) -> String {
        let (status, created) =
            self.call(Method::POST, "/api/v1/integrations/automations", USER, plan, Some(definition)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["automationId"].as_str().unwrap().to_owned()
    }
}

/// The scopes an OAuth connection of `integration` holds once its user allowed its actions'
/// write scopes: the catalog's read scopes and those (as the providers' token answers list them).
pub fn granted_after_consent(integration: &str) -> Vec<String> {
    let catalog = integrations::catalog::Catalog::get();
    let entry = catalog.find(integration).expect("a catalog integration");
    let mut scopes = entry.oauth.as_ref().map(|o| o.scopes.clone()).unwrap_or_default();
    let provider = integrations::providers::Registry::get().find(integration).expect("a provider");
    scopes.extend(provider.capabilities().actions.iter().filter_map(|a| a.scope).map(str::to_owned));
    scopes
}
