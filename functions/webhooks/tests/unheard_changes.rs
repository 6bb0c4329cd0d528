//! Notifications that stop while syncs keep finding changes: a Trello connection whose webhook's
//! notifications no longer arrive (its callback does not answer) is `live`, yet three scheduled
//! syncs in a row find new cards. After the third it falls back to polling, and the scheduler's
//! next pass makes its webhook again (not renewing the silent one), live again. A notification
//! in between starts the count over.

mod common;

use chrono::{Duration, Utc};
use fake_providers::{FakeProviders, demo};
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::connections::{ConnectRequest, connect};
use integrations::domain::{ConnectionId, Plan, Realtime};
use integrations::queue::SyncMessage;
use integrations::testing::TestEnv;
use integrations::webhooks::lifecycle;
use serde_json::json;

use common::user;

async fn realtime(env: &TestEnv, connection: &ConnectionId) -> Realtime {
    env.state.store.get_connection(&user(), connection).await.unwrap().realtime
}

/// One scheduled sync, when the connection is next due, after a card was added.
async fn scheduled_sync(
    env: &TestEnv,
    fakes: &FakeProviders,
    board: &str,
    connection: &ConnectionId,
    n: usize,
) -> chrono::DateTime<Utc> {
    fakes.state().add_trello_card(board, &format!("Card {n}"));
    let due = env.state.store.get_connection(&user(), connection).await.unwrap().next_sync_at.unwrap();
    let at = due + Duration::seconds(1);
    let report =
        Box::pin(integrations::sync::run_scheduler(&env.state_for(Function::SyncScheduler), at)).await.unwrap();
    assert_eq!(report.queued, 1, "{report:?}");
    let worker = env.state_for(Function::SyncWorker);
    for message in env.take_sync_messages().await {
        if let SyncMessage::Job(job) = message {
            Box::pin(integrations::sync::run_job(&worker, &job)).await.unwrap();
        }
    }
    at
}

#[tokio::test]
async fn syncs_finding_changes_no_notification_told_of_remake_the_subscription() {
    // A callback that does not answer: the fake's notifications are lost.
    let (silent, base) = common::listener().await;
    drop(silent);
    let (fakes, env, board) = common::trello(base).await;
    let request: ConnectRequest = serde_json::from_value(json!({
        "integrationId": "trello",
        "credentials": { "apiKey": demo::TRELLO_KEY, "token": demo::TRELLO_TOKEN },
        "settings": { "autoSync": true, "syncIntervalMinutes": 60 },
    }))
    .unwrap();
    let caller = Caller { user_id: user(), plan: Plan::Free };
    let connection = Box::pin(connect(&env.state_for(Function::Connections), &caller, request))
        .await
        .unwrap()
        .into_connection()
        .unwrap();
    let id = connection.connection_id.clone();
    assert_eq!(connection.realtime, Realtime::Live);
    let first_hook = fakes.state().trello_webhooks()[0].id.clone();

    // Two syncs find changes unheard of, then a notification arrives: the count starts over.
    scheduled_sync(&env, &fakes, &board, &id, 1).await;
    scheduled_sync(&env, &fakes, &board, &id, 2).await;
    assert_eq!(realtime(&env, &id).await, Realtime::Live);
    assert!(env.state.store.mark_sync_pending(&user(), &id, Utc::now()).await.unwrap());
    env.state.store.clear_sync_pending(&user(), &id).await.unwrap();
    scheduled_sync(&env, &fakes, &board, &id, 3).await;
    scheduled_sync(&env, &fakes, &board, &id, 4).await;
    assert_eq!(realtime(&env, &id).await, Realtime::Live, "two since the notification");

    // The third in a row: polling, and due to be made again.
    let at = scheduled_sync(&env, &fakes, &board, &id, 5).await;
    assert_eq!(realtime(&env, &id).await, Realtime::Polling);
    let subs = env.state.store.connection_subscriptions(&user(), &id).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert!(subs[0].remake, "{subs:?}");

    // The scheduler's next pass makes it again: a new webhook, the silent one deleted, live.
    let report =
        Box::pin(integrations::sync::run_scheduler(&env.state_for(Function::SyncScheduler), at + Duration::minutes(1)))
            .await
            .unwrap()
            .subscriptions;
    assert_eq!(report.recreated, 1, "{report:?}");
    let hooks = fakes.state().trello_webhooks();
    assert_eq!(hooks.len(), 1);
    assert_ne!(hooks[0].id, first_hook);
    assert_eq!(realtime(&env, &id).await, Realtime::Live);
    assert_eq!(lifecycle::UNHEARD_CHANGES_LIMIT, 3);
    env.cleanup().await;
}
