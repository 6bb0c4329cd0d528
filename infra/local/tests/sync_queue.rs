//! The worker's SQS round trip on the emulator, as the dev server runs it: a job whose
//! provider keeps failing is delivered again until the queue's max receives, reaches the
//! dead-letter queue, and its run is ended as failed with the reason.

use std::time::Duration;

use fake_providers::{FakeProviders, Fault, Provider};
use integrations::auth::Caller;
use integrations::config::Function;
use integrations::connections::{ConnectRequest, connect};
use integrations::domain::{Plan, SyncStatus, UserId};
use integrations::providers::RetryPolicy;
use integrations::sync::{SyncMode, trigger_sync};
use integrations::testing::TestEnv;
use local_stack::loops::poll_queue_once;
use serde_json::json;

#[tokio::test]
async fn a_job_that_keeps_failing_reaches_the_dead_letter_queue_and_its_run_is_marked_failed() {
    let fakes = FakeProviders::start().await;
    fakes.state().add_trello_account("0123456789abcdef", "queue-test-token-0001", "ada");
    let mut env = TestEnv::new().await;
    env.use_provider("trello", fakes.base_url(Provider::Trello));
    let queues = env.add_queues(2).await;
    env.state.sync.retry = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        max_retry_after: Duration::from_secs(1),
    };
    let caller = Caller { user_id: UserId::parse("ada").unwrap(), plan: Plan::Free };
    let request: ConnectRequest = serde_json::from_value(json!({
        "integrationId": "trello",
        "credentials": { "apiKey": "0123456789abcdef", "token": "queue-test-token-0001" },
    }))
    .unwrap();
    let connection =
        connect(&env.state_for(Function::Connections), &caller, request).await.unwrap().into_connection().unwrap();
    fakes.state().fail_next(Provider::Trello, "/", Fault::ServerError, 1000);
    let run =
        trigger_sync(&env.state_for(Function::SyncApi), &caller, &connection.connection_id, SyncMode::Incremental)
            .await
            .unwrap();

    // The local poller stands in for Lambda's (the admin); the worker's code calls as its role.
    let sqs = aws_sdk_sqs::Client::new(&env.aws);
    let worker = env.state_for(Function::SyncWorker);
    let visibility = Duration::from_secs(1);
    let mut receives = 0;
    let mut dead_letters = 0;
    for _ in 0..20 {
        receives += poll_queue_once(
            &worker,
            &sqs,
            &queues.queue_url,
            &queues.queue_arn,
            &queues.dlq_arn,
            Duration::from_secs(1),
            visibility,
        )
        .await
        .unwrap();
        dead_letters += poll_queue_once(
            &worker,
            &sqs,
            &queues.dlq_url,
            &queues.dlq_arn,
            &queues.dlq_arn,
            Duration::from_secs(0),
            visibility,
        )
        .await
        .unwrap();
        if dead_letters > 0 {
            break;
        }
    }
    assert_eq!(receives, 2, "delivered up to the queue's max receives");
    assert_eq!(dead_letters, 1);
    let ended = env.state.store.get_run(&caller.user_id, &connection.connection_id, &run.sync_id).await.unwrap();
    assert_eq!(ended.status, SyncStatus::Failed);
    assert!(
        ended.error.as_deref().unwrap().contains("Trello had a problem on its side (it answered 500)"),
        "{:?}",
        ended.error
    );
    let c = env.state.store.get_connection(&caller.user_id, &connection.connection_id).await.unwrap();
    assert!(c.sync_in_flight.is_none());
    assert_eq!(c.last_sync.unwrap().status, SyncStatus::Failed);
    env.cleanup().await;
}
