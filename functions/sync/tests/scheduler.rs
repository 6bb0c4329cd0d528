//! The scheduler against the emulator: it reads only what is due, queues it, and ends runs
//! that outlived their deadline.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, SecondsFormat, Utc};
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{
    Account, ConnectionId, IntegrationId, SyncId, SyncJob, SyncRun, SyncSettings, SyncStatus, Trigger, UserId,
};
use integrations::queue::{SendJobs, SyncQueue};
use integrations::secret_sweep::{ORPHAN_AGE, sweep_orphan_secrets};
use integrations::store::{ConnectOutcome, NewConnection};
use integrations::sync::{SyncMode, run_scheduler, schedule};
use integrations::testing::TestEnv;
use integrations::vault::{Credentials, Vault};
use secrecy::SecretString;

async fn add_connection(env: &TestEnv, user: &str, n: usize, auto_sync: bool) -> ConnectionId {
    add_connection_of(env, "trello", user, n, auto_sync).await
}

/// A connection as the store takes it, whatever the API would allow (as older data may be).
async fn add_connection_of(env: &TestEnv, integration: &str, user: &str, n: usize, auto_sync: bool) -> ConnectionId {
    let outcome = env
        .state
        .store
        .insert_connection(NewConnection {
            user_id: UserId::parse(user).unwrap(),
            connection_id: ConnectionId::generate(),
            integration_id: IntegrationId::parse(integration).unwrap(),
            auth_kind: AuthMode::ApiKey,
            secret_id: "unused".into(),
            credential_hint: "••••".into(),
            account: Account { id: format!("member-{n}"), name: "Member".into(), workspace: None },
            display_name: "Trello".into(),
            settings: SyncSettings { auto_sync, sync_interval_minutes: 60 },
            plan: integrations::domain::Plan::Free,
            connection_limit: None,
        })
        .await
        .unwrap();
    match outcome {
        ConnectOutcome::Created(c) => c.connection_id,
        other => panic!("{other:?}"),
    }
}

/// Makes a connection due `minutes_ago` minutes ago, as if its interval had passed.
async fn make_due(env: &TestEnv, user: &str, id: &ConnectionId, minutes_ago: i64) {
    let at = Utc::now() - Duration::minutes(minutes_ago);
    env.dynamo()
        .update_item()
        .table_name(&env.table)
        .key("PK", AttributeValue::S(format!("USER#{user}")))
        .key("SK", AttributeValue::S(format!("CONN#{id}")))
        .update_expression("SET nextSyncAt = :at, GSI1SK = :gsk")
        .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339_opts(SecondsFormat::Millis, true)))
        .expression_attribute_values(
            ":gsk",
            AttributeValue::S(format!("{}#{id}", at.to_rfc3339_opts(SecondsFormat::Secs, true))),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_scheduler_reads_only_the_due_connections_among_many() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    let mut ids = Vec::new();
    for n in 0..240 {
        // Every fourth connection has auto-sync off: it is not in the index at all.
        ids.push(add_connection(&env, &format!("user-{}", n % 40), n, n % 4 != 0).await);
    }
    let due: Vec<(String, ConnectionId)> =
        [1usize, 2, 3, 5, 6].iter().map(|&n| (format!("user-{}", n % 40), ids[n].clone())).collect();
    for (user, id) in &due {
        make_due(&env, user, id, 3).await;
    }

    let report = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now()).await.unwrap();
    assert_eq!(report.due_read, 5, "{report:?}");
    assert_eq!(report.queued, 5);
    let mut queued: Vec<String> = env.take_jobs().await.iter().map(|j| j.connection_id.to_string()).collect();
    queued.sort();
    let mut expected: Vec<String> = due.iter().map(|(_, id)| id.to_string()).collect();
    expected.sort();
    assert_eq!(queued, expected);

    // Each was moved one interval on and holds its run; nothing is due any more.
    for (user, id) in &due {
        let c = env.state.store.get_connection(&UserId::parse(user).unwrap(), id).await.unwrap();
        assert!(c.sync_in_flight.is_some());
        assert!(c.next_sync_at.unwrap() > Utc::now() + Duration::minutes(55));
    }
    let again = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now()).await.unwrap();
    assert_eq!((again.due_read, again.queued), (0, 0));
    env.cleanup().await;
}

#[tokio::test]
async fn a_webhook_connection_with_auto_sync_on_is_never_queued_and_leaves_the_schedule() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    // An incoming-webhook connection stored with auto-sync on, as the API allowed before it
    // asked the provider registry, next to a Trello connection that does sync.
    let teams = add_connection_of(&env, "microsoft-teams", "ada", 1, true).await;
    let zapier = add_connection_of(&env, "zapier", "ada", 2, true).await;
    let trello = add_connection(&env, "ada", 3, true).await;
    for id in [&teams, &zapier, &trello] {
        make_due(&env, "ada", id, 2).await;
    }

    let report = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now()).await.unwrap();
    assert_eq!((report.due_read, report.queued, report.cannot_sync), (3, 1, 2), "{report:?}");
    let jobs = env.take_jobs().await;
    assert_eq!(jobs.iter().map(|j| j.connection_id.clone()).collect::<Vec<_>>(), [trello]);

    let user = UserId::parse("ada").unwrap();
    for id in [&teams, &zapier] {
        let c = env.state.store.get_connection(&user, id).await.unwrap();
        assert!(!c.can_sync);
        assert!(!c.settings.auto_sync, "auto-sync is turned off");
        assert!(c.next_sync_at.is_none() && c.sync_in_flight.is_none());
        assert!(env.state.store.list_runs(&user, id, 10, None).await.unwrap().0.is_empty(), "no run was written");
    }
    // Later passes do not even read them.
    let later = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now() + Duration::days(1)).await.unwrap();
    assert_eq!((later.cannot_sync, later.queued), (0, 0), "{later:?}");
    env.cleanup().await;
}

#[tokio::test]
async fn a_due_connection_with_a_run_in_flight_is_postponed_not_queued_twice() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    let id = add_connection(&env, "ada", 1, true).await;
    make_due(&env, "ada", &id, 1).await;
    let first = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now()).await.unwrap();
    assert_eq!(first.queued, 1);
    make_due(&env, "ada", &id, 1).await;
    let second = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now()).await.unwrap();
    assert_eq!((second.queued, second.postponed), (0, 1), "{second:?}");
    assert_eq!(env.take_jobs().await.len(), 1);
    env.cleanup().await;
}

#[tokio::test]
async fn a_run_stuck_past_its_deadline_is_ended_as_failed() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    let user = UserId::parse("ada").unwrap();
    let id = add_connection(&env, "ada", 1, false).await;
    let run = SyncRun::queued(
        user.clone(),
        id.clone(),
        IntegrationId::parse("trello").unwrap(),
        Trigger::Manual,
        SyncMode::Incremental,
        integrations::store::attrs::now(),
    );
    env.state.store.queue_run(&run, None, None).await.unwrap().unwrap();

    let on_time =
        run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now() + Duration::minutes(30)).await.unwrap();
    assert_eq!(on_time.overdue_failed, 0);
    let late = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now() + Duration::hours(3)).await.unwrap();
    assert_eq!(late.overdue_failed, 1);
    let ended = env.state.store.get_run(&user, &id, &run.sync_id).await.unwrap();
    assert_eq!(ended.status, SyncStatus::Failed);
    assert!(ended.error.unwrap().contains("did not finish"));
    assert!(env.state.store.get_connection(&user, &id).await.unwrap().sync_in_flight.is_none());
    env.cleanup().await;
}

/// Whether the connection is free to sync: no run in flight, and no run left queued.
async fn assert_not_stranded(env: &TestEnv, user: &str, id: &ConnectionId) {
    let user = UserId::parse(user).unwrap();
    let c = env.state.store.get_connection(&user, id).await.unwrap();
    assert!(c.sync_in_flight.is_none(), "{id} still holds a run in flight");
    let (runs, _) = env.state.store.list_runs(&user, id, 10, None).await.unwrap();
    assert!(runs.iter().all(|r| r.status != SyncStatus::Queued), "{id} has a queued run with no message: {runs:?}");
}

#[tokio::test]
async fn a_store_error_on_one_connection_strands_no_other_and_the_rest_are_still_queued() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    // Due connections across the shards, and among them one whose item can no longer be read
    // (whichever shard it falls in, connections are read before it or after it).
    let mut good = Vec::new();
    for n in 0..8 {
        good.push(add_connection(&env, "ada", n, true).await);
    }
    let broken = add_connection(&env, "ada", 9, true).await;
    for id in &good {
        make_due(&env, "ada", id, 10).await;
    }
    make_due(&env, "ada", &broken, 5).await;
    env.dynamo()
        .update_item()
        .table_name(&env.table)
        .key("PK", AttributeValue::S("USER#ada".into()))
        .key("SK", AttributeValue::S(format!("CONN#{broken}")))
        .update_expression("SET #status = :bad")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":bad", AttributeValue::S("frozen".into()))
        .send()
        .await
        .unwrap();

    let report = run_scheduler(&env.state_for(Function::SyncScheduler), Utc::now()).await;
    let mut queued: Vec<String> = env.take_jobs().await.iter().map(|j| j.connection_id.to_string()).collect();
    queued.sort();
    let mut expected: Vec<String> = good.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(queued, expected, "every readable due connection is queued ({report:?})");
    let report = report.expect("one connection's error does not fail the pass");
    assert_eq!((report.queued, report.errors), (good.len(), 1), "{report:?}");
    env.cleanup().await;
}

/// Sends every job but those of the chosen connections, which fail as SQS would report them.
struct FailingFor {
    inner: SyncQueue,
    connections: Vec<ConnectionId>,
}

#[async_trait::async_trait]
impl SendJobs for FailingFor {
    async fn send_batch(&self, jobs: &[SyncJob]) -> Vec<(SyncId, String)> {
        let (fail, send): (Vec<SyncJob>, Vec<SyncJob>) =
            jobs.iter().cloned().partition(|j| self.connections.contains(&j.connection_id));
        let mut failed = self.inner.send_batch(&send).await;
        failed.extend(fail.into_iter().map(|j| (j.sync_id, "InternalError".to_owned())));
        failed
    }
}

#[tokio::test]
async fn a_job_that_could_not_be_sent_releases_its_connection_and_the_others_are_queued() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(add_connection(&env, "ada", n, true).await);
    }
    for id in &ids {
        make_due(&env, "ada", id, 5).await;
    }
    let unsent = vec![ids[1].clone(), ids[4].clone()];
    let scheduler = env.state_for(Function::SyncScheduler);
    let queue = FailingFor { inner: scheduler.queue.clone().unwrap(), connections: unsent.clone() };

    let report = schedule(&scheduler, &queue, Utc::now()).await;
    assert_eq!((report.queued, report.send_failed), (4, 2), "{report:?}");
    let mut queued: Vec<String> = env.take_jobs().await.iter().map(|j| j.connection_id.to_string()).collect();
    queued.sort();
    let mut expected: Vec<String> = ids.iter().filter(|id| !unsent.contains(id)).map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(queued, expected);
    for id in &unsent {
        assert_not_stranded(&env, "ada", id).await;
        let user = UserId::parse("ada").unwrap();
        let (runs, _) = env.state.store.list_runs(&user, id, 10, None).await.unwrap();
        assert_eq!(runs[0].status, SyncStatus::Failed);
        assert!(runs[0].error.as_deref().unwrap().contains("could not be queued"));
        // Free to sync again: the next pass queues it.
        make_due(&env, "ada", id, 1).await;
    }
    let again = run_scheduler(&scheduler, Utc::now()).await.unwrap();
    assert_eq!(again.queued, unsent.len(), "{again:?}");
    env.cleanup().await;
}

#[tokio::test]
async fn when_the_queue_cannot_be_reached_no_connection_is_left_holding_a_run() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(add_connection(&env, "ada", n, true).await);
    }
    for id in &ids {
        make_due(&env, "ada", id, 5).await;
    }
    // A queue that does not exist: every send fails.
    let mut scheduler = env.state_for(Function::SyncScheduler);
    let missing = format!("{}-missing", env.queues.as_ref().unwrap().queue_url);
    scheduler.queue = Some(SyncQueue::new(aws_sdk_sqs::Client::new(&env.aws), missing));

    let report = run_scheduler(&scheduler, Utc::now()).await.unwrap();
    assert_eq!((report.queued, report.send_failed), (0, 3), "{report:?}");
    for id in &ids {
        assert_not_stranded(&env, "ada", id).await;
    }
    env.cleanup().await;
}

/// Credentials for a secret made directly in the vault.
fn credentials() -> Credentials {
    Credentials::ApiKey(BTreeMap::from([("token".to_owned(), SecretString::from("t-0123456789".to_owned()))]))
}

#[tokio::test]
async fn the_sweep_deletes_secrets_older_than_an_hour_whose_connection_is_gone_and_keeps_the_rest() {
    let env = TestEnv::new().await;
    let user = UserId::parse("ada").unwrap();
    // A live connection and its secret.
    let live = ConnectionId::generate();
    let live_secret = env.state.vault.create(&user, &live, &credentials()).await.unwrap();
    let outcome = env
        .state
        .store
        .insert_connection(NewConnection {
            user_id: user.clone(),
            connection_id: live.clone(),
            integration_id: IntegrationId::parse("trello").unwrap(),
            auth_kind: AuthMode::ApiKey,
            secret_id: live_secret.clone(),
            credential_hint: "••••".into(),
            account: Account { id: "member-1".into(), name: "Member".into(), workspace: None },
            display_name: "Trello".into(),
            settings: SyncSettings { auto_sync: false, sync_interval_minutes: 60 },
            plan: integrations::domain::Plan::Free,
            connection_limit: None,
        })
        .await
        .unwrap();
    assert!(matches!(outcome, ConnectOutcome::Created(_)));
    // Secrets whose connection was never stored (a connect that died halfway), more than one
    // page of the listing.
    for _ in 0..101 {
        env.state.vault.create(&user, &ConnectionId::generate(), &credentials()).await.unwrap();
    }
    // Another deployment's orphan, under another prefix: not ours to touch.
    let other = Vault::new(env.secrets(), format!("{}-other", env.secrets_prefix));
    let foreign = other.create(&user, &ConnectionId::generate(), &credentials()).await.unwrap();

    // Within the hour, a secret may belong to a connect still in progress: all stay.
    let scheduler = env.state_for(Function::SyncScheduler);
    let early = sweep_orphan_secrets(&scheduler, Utc::now()).await.unwrap();
    assert_eq!((early.listed, early.deleted, early.errors), (102, 0, 0), "{early:?}");

    let later = sweep_orphan_secrets(&scheduler, Utc::now() + ORPHAN_AGE + Duration::minutes(5)).await.unwrap();
    assert_eq!((later.listed, later.deleted, later.errors), (102, 101, 0), "{later:?}");
    assert_eq!(env.secret_names().await, vec![live_secret.clone()]);
    assert!(env.state.vault.read(&live_secret).await.is_ok(), "the live connection keeps its credential");
    assert!(other.read(&foreign).await.is_ok(), "another prefix is left alone");
    other.delete(&foreign).await.unwrap();
    env.cleanup().await;
}

#[tokio::test]
async fn the_scheduler_function_sweeps_when_the_sweep_schedule_calls_it() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    let user = UserId::parse("ada").unwrap();
    env.state.vault.create(&user, &ConnectionId::generate(), &credentials()).await.unwrap();
    let sweep = serde_json::json!({ "task": sync::SWEEP_ORPHAN_SECRETS });
    let scheduler = env.state_for(Function::SyncScheduler);
    let report = sync::handle_scheduler_event(&scheduler, &sweep).await.unwrap();
    assert_eq!(report["listed"], 1, "{report}");
    let pass = sync::handle_scheduler_event(&scheduler, &serde_json::json!({ "source": "aws.events" })).await.unwrap();
    assert_eq!(pass["dueRead"], 0, "{pass}");
    // The sweep's schedule in template.yaml sends that task.
    let template = include_str!("../../../template.yaml");
    assert!(template.contains(&format!(r#"Input: '{{"task": "{}"}}'"#, sync::SWEEP_ORPHAN_SECRETS)));
    env.cleanup().await;
}

#[tokio::test]
async fn a_scheduled_automation_is_queued_once_for_its_slot_and_moves_on_to_the_next() {
    let mut env = TestEnv::new().await;
    env.add_queues(5).await;
    env.add_automation_queues(5).await;
    let user = UserId::parse("digest-user").unwrap();
    let spec: integrations::automations::AutomationSpec = serde_json::from_value(serde_json::json!({
        "name": "My day at 8:30",
        "enabled": true,
        "trigger": {"type": "schedule", "timeZone": "UTC", "every": "daily", "at": "08:30"},
        "steps": [{"action": "slack.postAgenda", "connectionId": ConnectionId::generate().to_string(),
                   "params": {"channel": "C1"}}]
    }))
    .unwrap();
    let off = integrations::automations::AutomationSpec { enabled: false, ..spec.clone() };
    let store = &env.state.store;
    let on = store.insert_automation(&user, spec, integrations::domain::Plan::Free, None).await.unwrap().unwrap();
    store.insert_automation(&user, off, integrations::domain::Plan::Free, None).await.unwrap().unwrap();
    let slot = on.next_run_at.expect("a switched-on schedule has a next run");

    let scheduler = env.state_for(Function::SyncScheduler);
    let early = run_scheduler(&scheduler, slot - Duration::minutes(1)).await.unwrap();
    assert_eq!(early.automations_queued, 0, "not before its time");
    let report = run_scheduler(&scheduler, slot + Duration::minutes(1)).await.unwrap();
    assert_eq!(report.automations_queued, 1, "{report:?}");
    let jobs = env.take_automation_jobs().await;
    assert_eq!(jobs.len(), 1, "the switched-off one is not queued");
    assert_eq!(jobs[0].automation_id, on.automation_id);
    assert_eq!(jobs[0].event.key, format!("schedule:{}", slot.to_rfc3339_opts(SecondsFormat::Secs, true)));
    assert!(!jobs[0].manual);

    let moved = store.get_automation(&user, &on.automation_id).await.unwrap();
    assert_eq!(moved.next_run_at, Some(slot + Duration::days(1)), "the next morning");
    let again = run_scheduler(&scheduler, slot + Duration::minutes(2)).await.unwrap();
    assert_eq!(again.automations_queued, 0, "a slot is queued once");
    assert!(env.take_automation_jobs().await.is_empty());
    env.cleanup().await;
}
