//! `hooks-worker`: one attempt of each hook delivery on the hooks queue. A message that could
//! not be handled (the table, the secret or the queue failed) is reported as failed, so SQS
//! delivers it again, and after the queue's max receives moves it to the dead-letter queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use integrations::AppState;
use integrations::hooks::HookDelivery;
use integrations::hooks::delivery::{Secrets, deliver};
use integrations::http::ErrorChain;

/// Handles a batch; only failed messages are reported, so SQS delivers just those again.
pub async fn handle_sqs_event(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let mut secrets = Secrets::default();
    let mut response = SqsBatchResponse::default();
    // One at a time: the batch's secrets are read once per hook.
    for message in &event.records {
        if !handle(state, &mut secrets, message).await {
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    response
}

/// `true` when the message is done with.
async fn handle(state: &AppState, secrets: &mut Secrets, message: &SqsMessage) -> bool {
    let delivery: HookDelivery = match serde_json::from_str(message.body.as_deref().unwrap_or_default()) {
        Ok(delivery) => delivery,
        Err(e) => {
            // Left to go to the dead-letter queue, where it can be looked at.
            tracing::error!(message_id = ?message.message_id, error = %e, "unreadable hook delivery");
            return false;
        }
    };
    match deliver(state, &delivery, secrets, integrations::store::attrs::now()).await {
        Ok(outcome) => {
            tracing::info!(?outcome, "hook delivery handled");
            true
        }
        Err(e) => {
            tracing::error!(error = %ErrorChain(&e), "hook delivery failed; it will be delivered again");
            false
        }
    }
}
