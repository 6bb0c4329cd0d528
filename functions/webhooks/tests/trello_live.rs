//! A change in the fake Trello reaching the items with no schedule involved: a Trello webhook
//! whose callback is the webhooks function (served on a loopback port) is made once the fake's
//! `HEAD` check of that callback passes, the fake sends its signed notification when a card is
//! added, and the sync worker's run stores it.

use std::time::{Duration, Instant};

mod common;

use fake_providers::{Provider, demo};
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::connections::{ConnectRequest, connect};
use integrations::domain::{Plan, Realtime, UserId};
use integrations::queue::SyncMessage;
use integrations::webhooks::lifecycle;
use serde_json::json;

#[tokio::test]
async fn a_card_added_in_trello_reaches_the_items_through_its_webhook() {
    let (listener, base) = common::listener().await;
    let (fakes, mut env, board) = common::trello(base.clone()).await;
    let app = webhooks::router(env.state_for(Function::Webhooks));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // Trello checks a callback with a HEAD before it makes the webhook. At connect, the callback
    // is a server that answers 404: no webhook, the connection is polled.
    fakes.state().check_callbacks(true);
    env.state.webhooks.base_url = Some(common::serve(axum::Router::new()).await);

    let user = UserId::parse("ada").unwrap();
    let request: ConnectRequest = serde_json::from_value(json!({
        "integrationId": "trello",
        "credentials": { "apiKey": demo::TRELLO_KEY, "token": demo::TRELLO_TOKEN },
    }))
    .unwrap();
    let caller = Caller { user_id: user.clone(), plan: Plan::Free };
    let connection =
        connect(&env.state_for(Function::Connections), &caller, request).await.unwrap().into_connection().unwrap();
    assert_eq!(connection.realtime, Realtime::Polling);
    assert!(fakes.state().trello_webhooks().is_empty());
    let refused = fakes.state().requests(Provider::Trello);
    assert!(refused.iter().any(|r| r.path == "/1/webhooks" && r.status == 400), "{refused:?}");

    // The scheduler tries again 10 minutes later, the callback now the webhooks function, whose
    // answer to the HEAD passes: the webhook is made and the connection is live.
    env.state.webhooks.base_url = Some(base.clone());
    let at = chrono::Utc::now() + lifecycle::RETRY_AFTER + chrono::Duration::seconds(1);
    let report = integrations::sync::run_scheduler(&env.state_for(Function::SyncScheduler), at).await.unwrap();
    assert_eq!(report.subscriptions.recreated, 1, "{report:?}");
    let shown = env.state.store.get_connection(&user, &connection.connection_id).await.unwrap();
    assert_eq!(shown.realtime, Realtime::Live);
    let hooks = fakes.state().trello_webhooks();
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].callback_url.starts_with(&format!("{base}/api/v1/integrations/webhooks/trello?s=")));

    fakes.state().add_trello_card(&board, "Call the printer");
    let started = Instant::now();
    let worker = env.state_for(Function::SyncWorker);
    loop {
        assert!(started.elapsed() < Duration::from_secs(20), "the notification never became a stored item");
        for message in env.take_sync_messages().await {
            match message {
                SyncMessage::Notified { notified } => {
                    integrations::sync::queue_notified(&worker, &notified).await.unwrap();
                }
                SyncMessage::Job(job) => {
                    integrations::sync::run_job(&worker, &job).await.unwrap();
                }
            }
        }
        let records = env.state.store.list_records(&user, &connection.connection_id).await.unwrap();
        if records.iter().any(|r| r.title == "Call the printer") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let runs = env.state.store.list_runs(&user, &connection.connection_id, 10, None).await.unwrap().0;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, integrations::domain::Trigger::Webhook);

    // Disconnect deletes the webhook at Trello.
    integrations::connections::disconnect(&env.state_for(Function::Connections), &caller, &connection.connection_id)
        .await
        .unwrap();
    assert!(fakes.state().trello_webhooks().is_empty());
    env.cleanup().await;
}
