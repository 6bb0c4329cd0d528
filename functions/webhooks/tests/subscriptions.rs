//! Subscriptions that keep themselves, against the fake Microsoft Graph and the emulator, each
//! step as the function that does it in AWS: made on connect (its clientState then verifies a
//! notification), renewed by the scheduler before it expires, the connection falling back to
//! polling when renewal fails and live again when it succeeds, made again after Graph removed
//! it, and stopped on disconnect.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use fake_providers::{FakeProviders, Fault, Provider, demo};
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::domain::{Connection, ConnectionId, Plan, Realtime, SyncSettings};
use integrations::testing::TestEnv;
use integrations::webhooks::lifecycle;
use serde_json::json;
use tower::ServiceExt;

const BASE: &str = "https://hooks.example.test";

use common::{serve, user};

struct Teams {
    env: TestEnv,
    fakes: FakeProviders,
    connection: ConnectionId,
}

impl Teams {
    async fn start() -> Teams {
        Teams::start_with(SyncSettings::default()).await
    }

    async fn start_with(settings: SyncSettings) -> Teams {
        let fakes = FakeProviders::start().await;
        fakes.state().seed_demo();
        let mut env = TestEnv::new().await;
        env.use_provider("microsoft-teams", fakes.base_url(Provider::MicrosoftGraph));
        env.add_queues(3).await;
        env.state.webhooks.base_url = Some(BASE.into());
        let connection_id = common::signed_in(&env, "microsoft-teams", demo::MICROSOFT_TOKEN, settings).await;
        Teams { env, fakes, connection: connection_id }
    }

    async fn connection(&self) -> Connection {
        self.env.state.store.get_connection(&user(), &self.connection).await.unwrap()
    }

    async fn schedule(&self, at: chrono::DateTime<Utc>) -> lifecycle::RenewalReport {
        integrations::sync::run_scheduler(&self.env.state_for(Function::SyncScheduler), at).await.unwrap().subscriptions
    }

    async fn notify(&self, body: serde_json::Value) -> StatusCode {
        let request = Request::post("/api/v1/integrations/webhooks/microsoft-teams")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        webhooks::router(self.env.state_for(Function::Webhooks)).oneshot(request).await.unwrap().status()
    }
}

#[tokio::test]
async fn a_graph_subscription_is_made_renewed_falls_back_to_polling_comes_back_and_is_stopped() {
    let teams = Teams::start().await;
    let now = Utc::now();
    assert_eq!(teams.connection().await.realtime, Realtime::Polling, "before it subscribes");

    // Made on connect (as the connections function), to our callback with its own clientState.
    let connection = teams.connection().await;
    assert_eq!(
        lifecycle::subscribe(&teams.env.state_for(Function::Connections), &connection, now).await,
        Realtime::Live
    );
    assert_eq!(teams.connection().await.realtime, Realtime::Live);
    let subs = teams.fakes.state().graph_subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].notification_url, format!("{BASE}/api/v1/integrations/webhooks/microsoft-teams"));
    let client_state = subs[0].client_state.clone().expect("a clientState");
    let first_expiry = subs[0].expiration;
    // That clientState, and no other, verifies a notification.
    let notification = |state: &str, lifecycle: Option<&str>| {
        let mut n = json!({ "subscriptionId": subs[0].id, "clientState": state, "changeType": "created",
                            "resource": "teams('t')/channels('c')/messages('m')" });
        if let Some(event) = lifecycle {
            n["lifecycleEvent"] = event.into();
        }
        json!({ "value": [n] })
    };
    assert_eq!(teams.notify(notification("forged", None)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(teams.notify(notification(&client_state, None)).await, StatusCode::ACCEPTED);
    assert_eq!(teams.env.take_sync_messages().await.len(), 1);

    // Not due yet: nothing renewed.
    assert_eq!(teams.schedule(now + Duration::minutes(5)).await, lifecycle::RenewalReport::default());
    // Due before it expires: renewed in place.
    let report = teams.schedule(now + Duration::minutes(50)).await;
    assert_eq!(report.renewed, 1, "{report:?}");
    let renewed = teams.fakes.state().graph_subscriptions();
    assert_eq!(renewed.len(), 1);
    assert_eq!(renewed[0].id, subs[0].id);
    assert!(renewed[0].expiration > first_expiry + Duration::minutes(40), "{:?}", renewed[0].expiration);

    // Graph refuses: neither renewed nor made again, the connection is polled.
    teams.fakes.state().fail_next(Provider::MicrosoftGraph, "/subscriptions", Fault::ServerError, 100);
    let report = teams.schedule(now + Duration::minutes(100)).await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(teams.connection().await.realtime, Realtime::Polling);
    // Tried again later, Graph answering again: live.
    teams.fakes.state().clear_faults();
    let report = teams.schedule(now + Duration::minutes(111)).await;
    assert_eq!(report.renewed, 1, "{report:?}");
    assert_eq!(teams.connection().await.realtime, Realtime::Live);

    // Graph drops it and says so: polling, then made again by the next pass, live.
    teams.fakes.state().remove_graph_subscription(&subs[0].id);
    assert_eq!(teams.notify(notification(&client_state, Some("subscriptionRemoved"))).await, StatusCode::ACCEPTED);
    assert_eq!(teams.connection().await.realtime, Realtime::Polling);
    let report = teams.schedule(Utc::now()).await;
    assert_eq!(report.recreated, 1, "{report:?}");
    assert_eq!(teams.connection().await.realtime, Realtime::Live);
    let remade = teams.fakes.state().graph_subscriptions();
    assert_eq!(remade.len(), 1);
    assert_ne!(remade[0].id, subs[0].id);
    // The old subscription's notifications are now unknown: Graph is told to stop.
    assert_eq!(teams.notify(notification(&client_state, None)).await, StatusCode::GONE);

    // Disconnect stops it at Graph.
    let caller = Caller { user_id: user(), plan: Plan::Free };
    integrations::connections::disconnect(&teams.env.state_for(Function::Connections), &caller, &teams.connection)
        .await
        .unwrap();
    assert!(teams.fakes.state().graph_subscriptions().is_empty());
    assert!(teams.env.state.store.find_subscriptions("microsoft-teams", &remade[0].id).await.unwrap().is_empty());
    teams.env.cleanup().await;
}

/// A connection whose subscription failed at connect is synced at the polling fallback (15
/// minutes) instead of its own four hours, brought forward at once; the scheduler tries the
/// subscription again every 10 minutes, and once it is made the connection is live and back to
/// its own interval.
#[tokio::test]
async fn a_polling_connection_is_synced_at_the_fallback_interval_until_it_is_live_again() {
    let teams = Teams::start_with(SyncSettings { auto_sync: true, sync_interval_minutes: 240 }).await;
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
    let own = teams.connection().await.next_sync_at.expect("it auto-syncs");
    assert!(own > now + Duration::minutes(200), "{own:?}");

    // Graph refuses the subscription: polling, and the next sync comes within 15 minutes.
    teams.fakes.state().fail_next(Provider::MicrosoftGraph, "/subscriptions", Fault::ServerError, 100);
    let connection = teams.connection().await;
    assert_eq!(
        lifecycle::subscribe(&teams.env.state_for(Function::Connections), &connection, now).await,
        Realtime::Polling
    );
    let polled = teams.connection().await;
    assert_eq!(polled.realtime, Realtime::Polling);
    let soon = polled.next_sync_at.expect("still auto-syncs");
    assert!(soon <= now + Duration::minutes(15), "brought forward: {soon:?}");

    // Recorded to be made by the scheduler, with nothing at Graph to renew or stop.
    let pending = teams.env.state.store.connection_subscriptions(&user(), &teams.connection).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!((pending[0].remote_id.as_deref(), pending[0].remake), (None, true));
    assert_eq!(pending[0].renew_at, Some(now + lifecycle::RETRY_AFTER));

    // Due: synced, and the next one is 15 minutes on, not 4 hours. Graph still refuses the
    // subscription, which is tried again 10 minutes later.
    let at = soon + Duration::seconds(1);
    let report = integrations::sync::run_scheduler(&teams.env.state_for(Function::SyncScheduler), at).await.unwrap();
    assert_eq!(report.queued, 1, "{report:?}");
    assert_eq!(report.subscriptions.failed, 1, "{report:?}");
    assert_eq!(teams.connection().await.next_sync_at, Some(at + Duration::minutes(15)));
    assert_eq!(teams.connection().await.realtime, Realtime::Polling);
    assert!(teams.fakes.state().graph_subscriptions().is_empty());

    // Graph answers again: the scheduler's next try makes it, and the connection is live.
    teams.fakes.state().clear_faults();
    let report = teams.schedule(at + lifecycle::RETRY_AFTER + Duration::seconds(1)).await;
    assert_eq!(report.recreated, 1, "{report:?}");
    assert_eq!(teams.connection().await.realtime, Realtime::Live);
    let made = teams.fakes.state().graph_subscriptions();
    assert_eq!(made.len(), 1);
    // Only the made one is left, on the connection too (the placeholder's key went with it).
    let subs = teams.env.state.store.connection_subscriptions(&user(), &teams.connection).await.unwrap();
    assert_eq!(subs.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), [made[0].id.as_str()]);
    assert!(subs[0].remote_id.is_some() && !subs[0].remake);

    // Live again: the next scheduled sync is at its own interval.
    let later = at + Duration::minutes(15) + Duration::seconds(1);
    integrations::sync::run_scheduler(&teams.env.state_for(Function::SyncScheduler), later).await.unwrap();
    assert_eq!(teams.connection().await.next_sync_at, Some(later + Duration::minutes(240)));
    teams.env.cleanup().await;
}

/// Graph makes a subscription only after its validation request is answered: a `validationToken`
/// posted to the notification URL, to be echoed as text/plain within 10 s. A URL that answers
/// 200 with anything else gets none (the connection is polled); the webhooks function, served on
/// a port, answers it, and the scheduler's next try makes the subscription.
#[tokio::test]
async fn graph_makes_a_subscription_only_once_the_webhooks_function_answers_its_validation() {
    let mut teams = Teams::start().await;
    teams.fakes.state().check_callbacks(true);
    let now = Utc::now();
    let ours = serve(webhooks::router(teams.env.state_for(Function::Webhooks))).await;
    let wrong = serve(axum::Router::new().fallback(|| async { "ok" })).await;

    teams.env.state.webhooks.base_url = Some(wrong);
    let connection = teams.connection().await;
    assert_eq!(
        lifecycle::subscribe(&teams.env.state_for(Function::Connections), &connection, now).await,
        Realtime::Polling
    );
    assert!(teams.fakes.state().graph_subscriptions().is_empty());
    let refused = teams.fakes.state().requests(Provider::MicrosoftGraph);
    assert!(refused.iter().any(|r| r.path.ends_with("/subscriptions") && r.status == 400), "{refused:?}");

    teams.env.state.webhooks.base_url = Some(ours.clone());
    let report = teams.schedule(now + lifecycle::RETRY_AFTER + Duration::seconds(1)).await;
    assert_eq!(report.recreated, 1, "{report:?}");
    assert_eq!(teams.connection().await.realtime, Realtime::Live);
    let subs = teams.fakes.state().graph_subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].notification_url, format!("{ours}/api/v1/integrations/webhooks/microsoft-teams"));
    teams.env.cleanup().await;
}
