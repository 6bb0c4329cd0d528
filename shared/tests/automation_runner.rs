//! The automation runner against the emulator and the fake providers: each action happens once,
//! whatever is redelivered, and a worker that stopped between the provider call and the record
//! leaves nothing doubled.

use std::time::Duration;

use chrono::Utc;
use fake_providers::{FakeProviders, Fault, Provider as Fake, demo};
use integrations::automations::{AutomationSpec, RunResult, TriggerEvent, run_automation};
use integrations::catalog::AuthMode;
use integrations::domain::{Account, ConnectionId, IntegrationId, SyncSettings, UserId};
use integrations::providers::{ActionCall, Registry};
use integrations::store::{ActionKey, ActionStatus, Automation, Claim, ConnectOutcome, NewConnection};
use integrations::testing::TestEnv;
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;

const SUMMARY: &str = "Focus: Q4 report";

/// A Google Calendar connection of `user` on the fake, with its token in the vault.
async fn calendar_connection(env: &TestEnv, user: &UserId) -> ConnectionId {
    let connection = ConnectionId::generate();
    let credentials = Credentials::OAuth(TokenSet {
        access_token: SecretString::from(demo::GOOGLE_TOKEN),
        refresh_token: None,
        expires_at: None,
        scopes: vec!["https://www.googleapis.com/auth/calendar.events".into()],
    });
    let secret_id = env.state.vault.create(user, &connection, &credentials).await.unwrap();
    let outcome = env
        .state
        .store
        .insert_connection(NewConnection {
            user_id: user.clone(),
            connection_id: connection.clone(),
            integration_id: IntegrationId::parse("google-calendar").unwrap(),
            auth_kind: AuthMode::Oauth2,
            secret_id,
            credential_hint: "Google".into(),
            account: Account { id: "demo".into(), name: "Demo".into(), workspace: None },
            display_name: "Calendar".into(),
            settings: SyncSettings { auto_sync: false, ..Default::default() },
            plan: integrations::domain::Plan::Free,
            connection_limit: None,
        })
        .await
        .unwrap();
    assert!(matches!(outcome, ConnectOutcome::Created(_)));
    connection
}

async fn block_focus_time(env: &TestEnv, user: &UserId, connection: &ConnectionId) -> Automation {
    let spec: AutomationSpec = serde_json::from_value(serde_json::json!({
        "name": "Block focus time for cards due this week",
        "enabled": true,
        "trigger": {"type": "item.created", "kind": "task"},
        "steps": [{
            "action": "calendar.insertEvent",
            "connectionId": connection.to_string(),
            "params": {"summary": "Focus: {{ item.title }}", "start": "{{ item.dueAt }}", "end": "{{ item.dueAt }}"}
        }]
    }))
    .unwrap();
    spec.validate().unwrap();
    env.state.store.insert_automation(user, spec, integrations::domain::Plan::Free, None).await.unwrap().unwrap()
}

fn card_event(key: &str) -> TriggerEvent {
    TriggerEvent {
        key: key.into(),
        item: Some(serde_json::json!({"title": "Q4 report", "dueAt": "2026-12-04T17:00:00Z", "kind": "task"})),
    }
}

struct Setup {
    env: TestEnv,
    fakes: FakeProviders,
    user: UserId,
    automation: Automation,
}

async fn setup() -> Setup {
    let fakes = FakeProviders::start().await;
    fakes.state().seed_demo();
    let mut env = TestEnv::new().await;
    env.use_provider("google-calendar", fakes.base_url(Fake::GoogleCalendar));
    let user = UserId::parse("runner-user").unwrap();
    let connection = calendar_connection(&env, &user).await;
    let automation = block_focus_time(&env, &user, &connection).await;
    Setup { env, fakes, user, automation }
}

fn blocks(fakes: &FakeProviders) -> usize {
    fakes.state().calendar_events_named(demo::GOOGLE_TOKEN, SUMMARY).len()
}

#[tokio::test]
async fn a_redelivered_event_creates_nothing_twice() {
    let s = setup().await;
    let event = card_event("card-1@1");
    let RunResult::Finished(first) = run_automation(&s.env.state, &s.automation, &event, Utc::now()).await.unwrap()
    else {
        panic!("the run should finish");
    };
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].status, ActionStatus::Done);
    assert_eq!(first[0].summary, "Created an event in Google Calendar");
    assert_eq!(first[0].minutes_saved, 3);
    assert!(first[0].url.is_some());
    assert_eq!(blocks(&s.fakes), 1);

    let again = run_automation(&s.env.state, &s.automation, &event, Utc::now()).await.unwrap();
    assert_eq!(again, RunResult::Finished(first), "the receipt is the first run's");
    assert_eq!(blocks(&s.fakes), 1, "no second event");
    assert_eq!(s.fakes.state().request_count(Fake::GoogleCalendar, "/calendars/primary/events"), 1);
    s.env.cleanup().await;
}

#[tokio::test]
async fn a_worker_killed_between_the_call_and_the_record_leaves_one_event() {
    let s = setup().await;
    let event = card_event("card-2@1");
    // The killed worker: it claimed the action and made the event, then stopped.
    let key = ActionKey { automation_id: s.automation.automation_id.clone(), event: event.key.clone(), step: 1 };
    assert_eq!(s.env.state.store.claim_action(&s.user, &key).await.unwrap(), Claim::Claimed);
    let params = [
        ("summary".to_string(), SUMMARY.to_string()),
        ("start".to_string(), "2026-12-04T17:00:00Z".to_string()),
        ("end".to_string(), "2026-12-04T17:00:00Z".to_string()),
    ]
    .into();
    let credentials =
        Credentials::ApiKey([("access_token".to_string(), SecretString::from(demo::GOOGLE_TOKEN))].into());
    let (http, base, marker) =
        (integrations::providers::http_client(), s.fakes.base_url(Fake::GoogleCalendar), key.token());
    let call = ActionCall {
        http: &http,
        base: &base,
        credentials: &credentials,
        params: &params,
        marker: &marker,
        item: None,
    };
    let action = integrations::automations::find_action("calendar.insertEvent").unwrap();
    Registry::get().find("google-calendar").unwrap().perform(action.spec, &call).await.unwrap();
    assert_eq!(blocks(&s.fakes), 1);

    // Redelivered at once: the claim may still be another worker's call in progress.
    let soon = run_automation(&s.env.state, &s.automation, &event, Utc::now()).await.unwrap();
    assert!(matches!(soon, RunResult::RetryLater(_)));
    // Redelivered later: the event is looked up by its marker and recorded, not made again.
    let later = Utc::now() + chrono::Duration::minutes(5);
    let RunResult::Finished(receipts) = run_automation(&s.env.state, &s.automation, &event, later).await.unwrap()
    else {
        panic!("the run should finish");
    };
    assert_eq!(receipts[0].status, ActionStatus::Done);
    assert_eq!(blocks(&s.fakes), 1, "exactly one event");
    s.env.cleanup().await;
}

#[tokio::test]
async fn a_rate_limited_action_is_tried_again_and_happens_once() {
    let s = setup().await;
    let event = card_event("card-3@1");
    let path = "/calendars/primary/events";
    s.fakes.state().fail_next(Fake::GoogleCalendar, path, Fault::RateLimited { retry_after_secs: 9 }, 1);
    let first = run_automation(&s.env.state, &s.automation, &event, Utc::now()).await.unwrap();
    assert_eq!(first, RunResult::RetryLater(Duration::from_secs(9)));
    assert_eq!(blocks(&s.fakes), 0);
    let RunResult::Finished(receipts) = run_automation(&s.env.state, &s.automation, &event, Utc::now()).await.unwrap()
    else {
        panic!("the run should finish");
    };
    assert_eq!(receipts[0].status, ActionStatus::Done);
    assert_eq!(blocks(&s.fakes), 1);

    // A 500 to the write may have landed: the step waits to be looked up, and the lookup
    // finds nothing made, so the next delivery makes it once.
    let event = card_event("card-4@1");
    s.fakes.state().fail_next(Fake::GoogleCalendar, path, Fault::ServerError, 1);
    assert!(matches!(
        run_automation(&s.env.state, &s.automation, &event, Utc::now()).await.unwrap(),
        RunResult::RetryLater(_)
    ));
    let later = Utc::now() + chrono::Duration::minutes(5);
    assert!(matches!(
        run_automation(&s.env.state, &s.automation, &event, later).await.unwrap(),
        RunResult::Finished(_)
    ));
    assert_eq!(blocks(&s.fakes), 2);
    s.env.cleanup().await;
}

#[tokio::test]
async fn an_action_whose_connection_has_spent_its_api_budget_waits_and_then_happens_once() {
    use integrations::store::{Bucket, Spend};
    let s = setup().await;
    let event = card_event("card-5@1");
    let connection = s.automation.spec.steps[0].connection_id.clone().unwrap();
    // Google Calendar's 600 requests a minute, all spent by a sync a moment ago.
    let budget = Registry::get().find("google-calendar").unwrap().capabilities().budget;
    let now = integrations::store::attrs::now();
    let mut bucket = Bucket::new(&s.user, &connection, budget);
    assert!(matches!(s.env.state.store.spend(&mut bucket, budget.capacity, now).await.unwrap(), Spend::Spent { .. }));

    // Delayed, not failed: nothing sent, the claim given back, a wait until two calls are back.
    let RunResult::RetryLater(wait) = run_automation(&s.env.state, &s.automation, &event, now).await.unwrap() else {
        panic!("the run should wait for the budget");
    };
    assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200), "{wait:?}");
    assert_eq!(blocks(&s.fakes), 0);
    let key = ActionKey { automation_id: s.automation.automation_id.clone(), event: event.key.clone(), step: 1 };
    assert!(s.env.state.store.action_record(&s.user, &key).await.is_err(), "the claim was given back");

    // Delivered again once the budget has refilled: done, once.
    let later = now + chrono::Duration::seconds(1);
    let RunResult::Finished(receipts) = run_automation(&s.env.state, &s.automation, &event, later).await.unwrap()
    else {
        panic!("the run should finish");
    };
    assert_eq!(receipts[0].status, ActionStatus::Done);
    assert_eq!(blocks(&s.fakes), 1);
    let level = s.env.state.store.bucket_level(&s.user, &connection).await.unwrap().unwrap();
    assert_eq!(level.available(&budget, later), 8.0, "ten came back in a second; the event took two");
    let again = run_automation(&s.env.state, &s.automation, &event, later).await.unwrap();
    assert!(matches!(again, RunResult::Finished(_)));
    assert_eq!(blocks(&s.fakes), 1, "exactly one event");
    s.env.cleanup().await;
}

/// Records the DynamoDB operations a client sends (`PutItem`, `TransactWriteItems`, …).
#[derive(Debug, Clone, Default)]
struct Operations(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for Operations {
    fn name(&self) -> &'static str {
        "Operations"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

impl Operations {
    fn writes(&self) -> Vec<String> {
        const WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];
        self.0.lock().unwrap().iter().filter(|o| WRITES.contains(&o.as_str())).cloned().collect()
    }
}

#[tokio::test]
async fn an_action_costs_two_writes_besides_its_provider_call() {
    use integrations::config::Function;
    use integrations::testing::function_config;
    let s = setup().await;
    let operations = Operations::default();
    let mut state = s.env.state_for(Function::AutomationsRunner);
    let config = aws_sdk_dynamodb::config::Builder::from(&function_config(&s.env.aws, Function::AutomationsRunner))
        .interceptor(operations.clone())
        .build();
    state.store = integrations::store::Store::new(aws_sdk_dynamodb::Client::from_conf(config), state.store.table());

    let event = card_event("card-6@1");
    let RunResult::Finished(receipts) = run_automation(&state, &s.automation, &event, Utc::now()).await.unwrap() else {
        panic!("the run should finish");
    };
    assert_eq!(receipts[0].status, ActionStatus::Done);
    assert_eq!(blocks(&s.fakes), 1);
    // The claim with the budget's spend (one transaction), then the outcome.
    assert_eq!(operations.writes(), ["TransactWriteItems", "UpdateItem"], "{:?}", operations.0.lock().unwrap());

    // The budget was spent in the claim's transaction: the action's two calls.
    let connection = s.automation.spec.steps[0].connection_id.clone().unwrap();
    let budget = Registry::get().find("google-calendar").unwrap().capabilities().budget;
    let level = s.env.state.store.bucket_level(&s.user, &connection).await.unwrap().unwrap();
    assert_eq!(level.tokens, f64::from(budget.capacity) - 2.0);

    // Delivered again: the claim answers with the receipt, nothing spent, nothing else written.
    operations.0.lock().unwrap().clear();
    run_automation(&state, &s.automation, &event, Utc::now()).await.unwrap();
    assert_eq!(operations.writes(), ["TransactWriteItems"], "the cancelled claim only");
    let again = s.env.state.store.bucket_level(&s.user, &connection).await.unwrap().unwrap();
    assert_eq!(again.tokens, level.tokens, "a done step costs nothing");
    assert_eq!(blocks(&s.fakes), 1);
    s.env.cleanup().await;
}
