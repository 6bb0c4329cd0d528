//! Google push channels, against the fake Google Calendar and Drive and the emulator, each step
//! as the function that does it in AWS: a channel made on connect (`events.watch`,
//! `changes.watch`) to the webhooks function (served on a loopback port) with its own token, a
//! change in the fake reaching a pending sync through the fake's real notification, a forged
//! token refused, the channel replaced by the scheduler before it expires (the old one stopped),
//! and stopped with `channels.stop` on disconnect.

mod common;

use std::time::{Duration as StdDuration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use fake_providers::{FakeProviders, GoogleWatched, Provider, demo};
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::domain::{ConnectionId, Plan, Realtime, SyncSettings};
use integrations::queue::SyncMessage;
use integrations::testing::TestEnv;
use integrations::webhooks::lifecycle;
use tower::ServiceExt;

use common::user;

async fn connect(env: &TestEnv, integration: &str) -> ConnectionId {
    common::signed_in(env, integration, demo::GOOGLE_TOKEN, SyncSettings::default()).await
}

/// Waits for the sync queue to carry a notified sync of `connection`.
async fn notified(env: &TestEnv, connection: &ConnectionId) {
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < StdDuration::from_secs(20), "the change never became a pending sync");
        let messages = env.take_sync_messages().await;
        if messages
            .iter()
            .any(|m| matches!(m, SyncMessage::Notified { notified } if notified.connection_id == *connection))
        {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

async fn channel_of_both(integration: &str, watched: GoogleWatched) {
    let fakes = FakeProviders::start().await;
    fakes.state().add_google_account(demo::GOOGLE_TOKEN, "ada@example.com", "Ada Lovelace");
    let mut env = TestEnv::new().await;
    env.use_provider("google-calendar", fakes.base_url(Provider::GoogleCalendar));
    env.use_provider("google-drive", fakes.base_url(Provider::GoogleDrive));
    env.add_queues(3).await;
    let (listener, base) = common::listener().await;
    env.state.webhooks.base_url = Some(base.clone());
    let app = webhooks::router(env.state_for(Function::Webhooks));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let connection_id = connect(&env, integration).await;
    let connection = env.state.store.get_connection(&user(), &connection_id).await.unwrap();
    let now = Utc::now();

    // Made on connect, to our callback, with a token of its own that is stored only hashed.
    assert_eq!(lifecycle::subscribe(&env.state_for(Function::Connections), &connection, now).await, Realtime::Live);
    let channels = fakes.state().google_channels();
    assert_eq!(channels.len(), 1);
    let channel = channels[0].clone();
    assert_eq!(channel.watched, watched);
    assert_eq!(channel.address, format!("{base}/api/v1/integrations/webhooks/{integration}"));
    let token = channel.token.clone().expect("a channel token");
    let stored = env.state.store.find_subscriptions(integration, &channel.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].remote_id.as_deref(), Some(channel.resource_id.as_str()));
    assert_ne!(stored[0].secret_hash.as_deref(), Some(token.as_str()));
    assert!(stored[0].expires_on.unwrap() > now + Duration::days(6), "{:?}", stored[0].expires_on);

    // A change in the fake: its notification reaches a pending sync.
    match watched {
        GoogleWatched::CalendarEvents => {
            fakes.state().add_calendar_event(demo::GOOGLE_TOKEN, "Board meeting", now, now + Duration::hours(1));
        }
        GoogleWatched::DriveChanges => {
            fakes.state().add_drive_file(demo::GOOGLE_TOKEN, "Plan.txt", "text/plain");
        }
    }
    notified(&env, &connection_id).await;

    // The channel id with another token is refused.
    let forged = Request::post(format!("/api/v1/integrations/webhooks/{integration}"))
        .header("x-goog-channel-id", &channel.id)
        .header("x-goog-channel-token", "guess")
        .header("x-goog-resource-state", "exists")
        .body(Body::empty())
        .unwrap();
    let answer = webhooks::router(env.state_for(Function::Webhooks)).oneshot(forged).await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    // Before it expires the scheduler replaces it (a channel cannot be extended), stopping the old.
    let scheduler = env.state_for(Function::SyncScheduler);
    let report = integrations::sync::run_scheduler(&scheduler, channel.expiration - Duration::minutes(10))
        .await
        .unwrap()
        .subscriptions;
    assert_eq!(report.recreated, 1, "{report:?}");
    let replaced = fakes.state().google_channels();
    assert_eq!(replaced.len(), 1, "the old channel is stopped");
    assert_ne!(replaced[0].id, channel.id);
    assert!(env.state.store.find_subscriptions(integration, &channel.id).await.unwrap().is_empty());
    assert_eq!(env.state.store.get_connection(&user(), &connection_id).await.unwrap().realtime, Realtime::Live);

    // Disconnect stops it.
    let caller = Caller { user_id: user(), plan: Plan::Free };
    integrations::connections::disconnect(&env.state_for(Function::Connections), &caller, &connection_id)
        .await
        .unwrap();
    assert!(fakes.state().google_channels().is_empty(), "channels.stop on disconnect");
    assert!(env.state.store.find_subscriptions(integration, &replaced[0].id).await.unwrap().is_empty());
    env.cleanup().await;
}

#[tokio::test]
async fn a_calendar_channel_is_made_notifies_is_replaced_and_stopped() {
    channel_of_both("google-calendar", GoogleWatched::CalendarEvents).await;
}

#[tokio::test]
async fn a_drive_changes_channel_is_made_notifies_is_replaced_and_stopped() {
    channel_of_both("google-drive", GoogleWatched::DriveChanges).await;
}
