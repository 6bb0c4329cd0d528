//! The scheduler against the emulator: it reads only what is due, queues it, and ends runs
//! that outlived their deadline.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, SecondsFormat, Utc};
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{Account, ConnectionId, IntegrationId, SyncRun, SyncSettings, SyncStatus, Trigger, UserId};
use integrations::store::{ConnectOutcome, NewConnection};
use integrations::sync::{SyncMode, run_scheduler};
use integrations::testing::TestEnv;

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
