//! Trigger events against the emulator (with IAM: the worker calls as its role) and a fake Trello:
//! a sync sends `item.created` and `item.updated` jobs to the automations queue for the cards it
//! actually created or changed, to the automations that listen and whose conditions the card
//! meets; cards read again unchanged send nothing, and a page read again sends the same keys.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use fake_providers::{FakeProviders, Provider, TrelloLabel};
use integrations::AppState;
use integrations::auth::Caller;
use integrations::automations::{AutomationJob, AutomationSpec};
use integrations::config::Function;
use integrations::connections::{ConnectRequest, connect};
use integrations::domain::{AutomationId, ConnectionId, Counts, Plan, SyncJob, SyncStatus, UserId};
use integrations::queue::AutomationQueue;
use integrations::sync::{JobOutcome, SyncMode, run_job, trigger_sync};
use integrations::testing::{TestEnv, function_config};
use serde_json::{Value, json};

const KEY: &str = "0123456789abcdef";
const TOKEN: &str = "triggers-test-token-0001";

struct Setup {
    env: TestEnv,
    fakes: FakeProviders,
    board: String,
    connection: ConnectionId,
}

impl Setup {
    /// A Trello account with one board of `cards` cards, connected, with a sync queue and an
    /// automations queue.
    async fn start(cards: usize) -> Setup {
        let fakes = FakeProviders::start().await;
        fakes.state().add_trello_account(KEY, TOKEN, "ada");
        let board = fakes.state().add_trello_board(TOKEN, "Operations");
        fakes.state().add_trello_cards(&board, cards);
        let mut env = TestEnv::new().await;
        env.use_provider("trello", fakes.base_url(Provider::Trello));
        env.add_queues(3).await;
        env.add_automation_queues(3).await;
        env.state.sync.manual_gap = chrono::Duration::zero();
        let request: ConnectRequest = serde_json::from_value(json!({
            "integrationId": "trello",
            "credentials": { "apiKey": KEY, "token": TOKEN },
        }))
        .unwrap();
        let connection = connect(&env.state_for(Function::Connections), &caller(), request)
            .await
            .expect("connect")
            .into_connection()
            .unwrap()
            .connection_id;
        Setup { env, fakes, board, connection }
    }

    /// Stores an automation of the user's.
    async fn automation(&self, trigger: Value, conditions: Value, enabled: bool) -> AutomationId {
        let spec: AutomationSpec = serde_json::from_value(json!({
            "name": "Tell a webhook",
            "enabled": enabled,
            "trigger": trigger,
            "conditions": conditions,
            "steps": [{"action": "webhook.post", "params": {"url": "https://example.com/hook"}}],
        }))
        .unwrap();
        spec.validate().unwrap();
        self.env
            .state
            .store
            .insert_automation(&user(), spec, integrations::domain::Plan::Free, None)
            .await
            .unwrap()
            .unwrap()
            .automation_id
    }

    /// Queues a sync as the API does and returns its job.
    async fn trigger(&self, mode: SyncMode) -> SyncJob {
        trigger_sync(&self.env.state_for(Function::SyncApi), &caller(), &self.connection, mode).await.unwrap();
        let mut jobs = self.env.take_jobs().await;
        assert_eq!(jobs.len(), 1);
        jobs.remove(0)
    }

    /// Runs a job to its end as the worker.
    async fn sync(&self, job: &SyncJob) -> Counts {
        let worker = self.env.state_for(Function::SyncWorker);
        assert_eq!(run_job(&worker, job).await.unwrap(), JobOutcome::Finished(SyncStatus::Succeeded));
        self.env.state.store.get_run(&user(), &self.connection, &job.sync_id).await.unwrap().counts
    }

    fn card_ids(&self) -> Vec<String> {
        self.fakes.state().trello_cards(&self.board).into_iter().map(|c| c.id).collect()
    }

    async fn cleanup(self) {
        let sqs = aws_sdk_sqs::Client::new(&self.env.aws);
        if let Some(q) = &self.env.automation_queues {
            for url in [&q.queue_url, &q.dlq_url] {
                let _ = sqs.delete_queue().queue_url(url).send().await;
            }
        }
        self.env.cleanup().await;
    }
}

fn user() -> UserId {
    UserId::parse("ada").unwrap()
}

fn caller() -> Caller {
    Caller { user_id: user(), plan: Plan::Premium }
}

/// Which automation each job is for, and the card (its provider id) it is about.
fn fired(jobs: &[AutomationJob]) -> BTreeSet<(AutomationId, String)> {
    jobs.iter().map(|j| (j.automation_id.clone(), external_id(j))).collect()
}

fn external_id(job: &AutomationJob) -> String {
    let item = job.event.item.as_ref().expect("an item event carries its item");
    let id = integrations::items::ItemId::parse(item["itemId"].as_str().unwrap()).unwrap();
    id.external_id
}

fn pairs(automation: &AutomationId, cards: &[String]) -> BTreeSet<(AutomationId, String)> {
    cards.iter().map(|c| (automation.clone(), c.clone())).collect()
}

#[tokio::test]
async fn a_sync_triggers_the_automations_of_the_cards_it_created_or_changed_and_nothing_for_unchanged_ones() {
    let s = Setup::start(5).await;
    let cards = s.card_ids();
    for card in &cards[..2] {
        s.fakes.state().update_trello_card(card, |c| {
            c.labels.push(TrelloLabel {
                id: "5f00000000000000000000a1".into(),
                name: "Urgent".into(),
                color: "red".into(),
            })
        });
    }
    let every_card = s.automation(json!({"type": "item.created", "kind": "task"}), json!({}), true).await;
    let urgent_here = s
        .automation(
            json!({"type": "item.created", "kind": "task", "connectionId": s.connection}),
            json!({"rules": [{"field": "task.labels", "op": "labelHas", "value": "urgent"}]}),
            true,
        )
        .await;
    let updated = s.automation(json!({"type": "item.updated", "kind": "task"}), json!({}), true).await;
    // None of these fires: another kind, another connection, switched off, not an item event.
    s.automation(json!({"type": "item.created", "kind": "event"}), json!({}), true).await;
    s.automation(
        json!({"type": "item.created", "kind": "task", "connectionId": ConnectionId::generate()}),
        json!({}),
        true,
    )
    .await;
    s.automation(json!({"type": "item.created", "kind": "task"}), json!({}), false).await;
    s.automation(json!({"type": "item.due_soon", "kind": "task", "hours": 24}), json!({}), true).await;

    let first = s.trigger(SyncMode::Full).await;
    assert_eq!(s.sync(&first).await.created, 5);
    let jobs = s.env.take_automation_jobs().await;
    assert_eq!(jobs.len(), 7, "{jobs:#?}");
    let expected: BTreeSet<_> =
        pairs(&every_card, &cards).into_iter().chain(pairs(&urgent_here, &cards[..2])).collect();
    assert_eq!(fired(&jobs), expected);
    for job in &jobs {
        assert_eq!(job.user_id, user());
        let item = job.event.item.as_ref().unwrap();
        assert_eq!(item["connectionId"], json!(s.connection), "{item}");
        assert_eq!(item["kind"], "task");
        assert!(item["title"].as_str().unwrap().starts_with("Card "), "{item}");
        assert!(job.event.key.starts_with(&format!("{}@", item["itemId"].as_str().unwrap())), "{}", job.event.key);
    }

    // Read again, all unchanged: nothing.
    let second = s.trigger(SyncMode::Full).await;
    assert_eq!(s.sync(&second).await, Counts { unchanged: 5, ..Default::default() });
    assert_eq!(s.env.take_automation_jobs().await, []);

    // One card changes: one item.updated, for the automation that listens to updates.
    s.fakes.state().update_trello_card(&cards[3], |c| c.name.push_str(" (edited)"));
    s.fakes.state().touch_trello_card(&cards[3]);
    let third = s.trigger(SyncMode::Incremental).await;
    assert_eq!(s.sync(&third).await.updated, 1);
    let jobs = s.env.take_automation_jobs().await;
    assert_eq!(fired(&jobs), pairs(&updated, &cards[3..4]));
    assert!(jobs[0].event.item.as_ref().unwrap()["title"].as_str().unwrap().ends_with("(edited)"));
    s.cleanup().await;
}

/// Fails one SendMessageBatch request, the `fail`-th (from 1), as a network error would.
#[derive(Debug, Clone)]
struct FailBatch {
    fail: usize,
    seen: Arc<AtomicUsize>,
}

impl Intercept for FailBatch {
    fn name(&self) -> &'static str {
        "FailBatch"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        if target.ends_with(".SendMessageBatch") && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.fail {
            return Err("the connection was reset".into());
        }
        Ok(())
    }
}

/// The worker's state, whose automations queue loses its `fail`-th SendMessageBatch.
fn worker_losing_batch(env: &TestEnv, fail: usize) -> AppState {
    let mut state = env.state_for(Function::SyncWorker);
    let config = aws_sdk_sqs::config::Builder::from(&function_config(&env.aws, Function::SyncWorker))
        .interceptor(FailBatch { fail, seen: Arc::default() })
        .build();
    let url = env.state.automations.as_ref().unwrap().url().to_owned();
    state.automations = Some(AutomationQueue::new(aws_sdk_sqs::Client::from_conf(config), url));
    state
}

#[tokio::test]
async fn events_that_could_not_be_sent_leave_the_page_to_be_read_again_with_the_same_keys() {
    let s = Setup::start(12).await;
    let automation = s.automation(json!({"type": "item.created", "kind": "task"}), json!({}), true).await;
    let job = s.trigger(SyncMode::Incremental).await;

    // The first ten jobs are sent; the request with the last two fails: the page is not done.
    let outcome = run_job(&worker_losing_batch(&s.env, 2), &job).await.unwrap();
    assert!(matches!(&outcome, JobOutcome::Retry(why) if why.contains("2 automation events")), "{outcome:?}");
    let sent_first = s.env.take_automation_jobs().await;
    assert_eq!(sent_first.len(), 10);
    let run = s.env.state.store.get_run(&user(), &s.connection, &job.sync_id).await.unwrap();
    assert_eq!(run.status, integrations::domain::SyncStatus::Running, "left for redelivery");

    // Delivered again, the same page (its cards now stored) gives every event, with the same keys.
    assert_eq!(s.sync(&job).await.created, 12, "the run counts what it created on the first delivery");
    let sent_again = s.env.take_automation_jobs().await;
    assert_eq!(fired(&sent_again), pairs(&automation, &s.card_ids()));
    let keys = |jobs: &[AutomationJob]| -> BTreeMap<String, (String, Value)> {
        jobs.iter().map(|j| (external_id(j), (j.event.key.clone(), j.event.item.clone().unwrap()))).collect()
    };
    let (first, again) = (keys(&sent_first), keys(&sent_again));
    for (card, event) in &first {
        assert_eq!(again.get(card), Some(event), "card {card}: the same key and item");
    }

    // A redelivery of the finished run's message sends nothing more.
    assert_eq!(run_job(&s.env.state_for(Function::SyncWorker), &job).await.unwrap(), JobOutcome::AlreadyFinished);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.env.take_automation_jobs().await, []);
    s.cleanup().await;
}

#[tokio::test]
async fn a_worker_without_an_automations_queue_syncs_and_sends_nothing() {
    let s = Setup::start(3).await;
    s.automation(json!({"type": "item.created", "kind": "task"}), json!({}), true).await;
    let job = s.trigger(SyncMode::Incremental).await;
    let mut worker = s.env.state_for(Function::SyncWorker);
    worker.automations = None;
    assert_eq!(run_job(&worker, &job).await.unwrap(), JobOutcome::Finished(SyncStatus::Succeeded));
    assert_eq!(s.env.take_automation_jobs().await, []);
    s.cleanup().await;
}

#[tokio::test]
async fn a_sync_publishes_item_created_and_sync_completed_to_the_hooks_listening() {
    use integrations::domain::HookId;
    use integrations::hooks::EventType;
    use integrations::store::Hook;
    let mut s = Setup::start(3).await;
    s.env.add_hook_queues(3).await;
    let hook = |events: Vec<EventType>| Hook {
        hook_id: HookId::generate(),
        user_id: None,
        target_url: "https://example.com/hook".into(),
        events,
        created_at: chrono::Utc::now(),
    };
    let listening = hook(vec![EventType::ItemCreated, EventType::SyncCompleted]);
    let other = hook(vec![EventType::ItemUpdated]);
    for h in [&listening, &other] {
        s.env.state.store.insert_hook(&user(), h).await.unwrap();
    }
    let job = s.trigger(SyncMode::Full).await;
    s.sync(&job).await;
    let deliveries = s.env.take_hook_deliveries().await;
    assert!(deliveries.iter().all(|d| d.hook_id == listening.hook_id), "only the hook listening gets them");
    let created: BTreeSet<String> = deliveries
        .iter()
        .filter(|d| d.event == "item.created")
        .map(|d| {
            let body: Value = serde_json::from_str(&d.body).unwrap();
            assert_eq!(body["type"], "item.created");
            integrations::items::ItemId::parse(body["data"]["itemId"].as_str().unwrap()).unwrap().external_id
        })
        .collect();
    assert_eq!(created, s.card_ids().into_iter().collect::<BTreeSet<_>>());
    let completed: Vec<Value> = deliveries
        .iter()
        .filter(|d| d.event == "sync.completed")
        .map(|d| serde_json::from_str(&d.body).unwrap())
        .collect();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["data"]["status"], "succeeded");
    assert_eq!(completed[0]["data"]["counts"]["created"], 3);
    assert_eq!(deliveries.len(), 4);

    // Read again unchanged: no item event, the run's end only.
    let job = s.trigger(SyncMode::Full).await;
    s.sync(&job).await;
    let again = s.env.take_hook_deliveries().await;
    assert_eq!(again.iter().map(|d| d.event.as_str()).collect::<Vec<_>>(), ["sync.completed"]);
    s.cleanup().await;
}

#[tokio::test]
async fn a_credential_the_provider_refuses_publishes_connection_needs_reauth() {
    use integrations::domain::HookId;
    use integrations::hooks::EventType;
    use integrations::store::Hook;
    let mut s = Setup::start(1).await;
    s.env.add_hook_queues(3).await;
    let hook = Hook {
        hook_id: HookId::generate(),
        user_id: None,
        target_url: "https://example.com/hook".into(),
        events: vec![EventType::ConnectionNeedsReauth, EventType::SyncCompleted],
        created_at: chrono::Utc::now(),
    };
    s.env.state.store.insert_hook(&user(), &hook).await.unwrap();
    s.fakes.state().revoke(Provider::Trello, TOKEN);
    let job = s.trigger(SyncMode::Incremental).await;
    let outcome = run_job(&s.env.state_for(Function::SyncWorker), &job).await.unwrap();
    assert_eq!(outcome, JobOutcome::Finished(SyncStatus::Failed));
    let mut deliveries = s.env.take_hook_deliveries().await;
    deliveries.sort_by(|a, b| a.event.cmp(&b.event));
    assert_eq!(
        deliveries.iter().map(|d| d.event.as_str()).collect::<Vec<_>>(),
        ["connection.needs_reauth", "sync.completed"]
    );
    let reauth: Value = serde_json::from_str(&deliveries[0].body).unwrap();
    assert_eq!(reauth["data"]["connectionId"], s.connection.to_string());
    let completed: Value = serde_json::from_str(&deliveries[1].body).unwrap();
    assert_eq!(completed["data"]["status"], "failed");
    s.cleanup().await;
}
