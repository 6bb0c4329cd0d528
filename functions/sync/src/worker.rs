//! `sync-worker` and `sync-scheduler`: event handlers over the sync engine.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use integrations::AppState;
use integrations::domain::SyncJob;
use integrations::http::ErrorChain;
use integrations::queue::SyncMessage;
use integrations::sync::{JobOutcome, SchedulerReport, fail_dead_letter, queue_notified, run_job_until, run_scheduler};

/// Time kept before the invocation's deadline to answer the batch.
const ANSWER_TIME: Duration = Duration::from_millis(500);

/// Handles a batch from the sync queue (or, for messages whose source is `dlq_arn`, from its
/// dead-letter queue) in an invocation that ends at `deadline`. Only failed messages are
/// reported, so SQS redelivers just those. Each run stops before the deadline and continues in
/// a new message; a message still being handled just before it (a run that overran) is reported
/// failed on its own, so one slow run never fails the others.
pub async fn handle_sqs_event(
    state: &AppState,
    dlq_arn: Option<&str>,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    let results =
        futures::future::join_all(event.records.iter().map(|m| handle_in_time(state, dlq_arn, m, deadline))).await;
    let mut response = SqsBatchResponse::default();
    for (message, ok) in event.records.iter().zip(results) {
        if !ok {
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    response
}

/// [`handle_message`], given up just before the deadline (the message is delivered again).
async fn handle_in_time(state: &AppState, dlq_arn: Option<&str>, message: &SqsMessage, deadline: Instant) -> bool {
    let stop = tokio::time::Instant::from_std(deadline.checked_sub(ANSWER_TIME).unwrap_or(deadline));
    match tokio::time::timeout_at(stop, handle_message(state, dlq_arn, message, deadline)).await {
        Ok(done) => done,
        Err(_) => {
            tracing::error!(message_id = ?message.message_id, "the job overran the invocation; it will be delivered again");
            false
        }
    }
}

/// `true` when the message is done with (acknowledge it), `false` to have it delivered again.
async fn handle_message(state: &AppState, dlq_arn: Option<&str>, message: &SqsMessage, deadline: Instant) -> bool {
    let from_dlq = dlq_arn.is_some() && message.event_source_arn.as_deref() == dlq_arn;
    let body = message.body.as_deref().unwrap_or_default();
    let job: SyncJob = match serde_json::from_str(body) {
        Ok(SyncMessage::Job(job)) => job,
        Ok(SyncMessage::Notified { notified }) if !from_dlq => {
            return match queue_notified(state, &notified).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::error!(connection = %notified.connection_id, error = %ErrorChain(&e), "a notified sync could not be queued");
                    false
                }
            };
        }
        Ok(SyncMessage::Notified { notified }) => {
            // A pending sync that kept failing to queue: the next notification sets it again.
            tracing::error!(connection = %notified.connection_id, "a notified sync went to the dead-letter queue");
            if let Err(e) = state.store.clear_sync_pending(&notified.user_id, &notified.connection_id).await {
                tracing::error!(error = %ErrorChain(&e), "could not clear the pending sync");
                return false;
            }
            return true;
        }
        Err(e) if from_dlq => {
            // Nothing identifies a run: keep the evidence in the log and let it go.
            tracing::error!(message_id = ?message.message_id, error = %e, body, "unreadable dead letter removed");
            return true;
        }
        Err(e) => {
            // Not acknowledged: after the queue's max receives it moves to the DLQ.
            tracing::error!(message_id = ?message.message_id, error = %e, "unreadable sync job");
            return false;
        }
    };
    let outcome = if from_dlq {
        let receives = message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok());
        fail_dead_letter(state, &job, receives).await
    } else {
        run_job_until(state, &job, deadline).await
    };
    match outcome {
        Ok(JobOutcome::Finished(_) | JobOutcome::AlreadyFinished | JobOutcome::Continued) => true,
        Ok(JobOutcome::Retry(_)) => false,
        Err(e) => {
            tracing::error!(sync = %job.sync_id, error = %e, "sync job failed; it will be delivered again");
            false
        }
    }
}

/// One scheduler pass (an EventBridge schedule event; its content does not matter).
pub async fn handle_schedule(state: &AppState) -> Result<SchedulerReport, integrations::sync::SchedulerError> {
    let report = run_scheduler(state, integrations::store::attrs::now()).await?;
    tracing::info!(?report, "scheduler pass");
    Ok(report)
}
