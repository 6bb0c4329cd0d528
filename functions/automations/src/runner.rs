//! `automations-runner`: runs the automation of each job on the automations queue, and keeps
//! its receipts. An event a provider asked to wait for is queued again with that delay (the
//! message itself is acknowledged); a dead letter is kept as a failed run.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use integrations::AppState;
use integrations::automations::{AutomationJob, RunResult, StepReceipt, run_automation};
use integrations::hooks::{EventType, HookEvent};
use integrations::store::{ActionStatus, RunRecord, StoreError};
use serde_json::json;

/// Handles a batch; only failed messages are reported, so SQS delivers just those again.
pub async fn handle_sqs_event(state: &AppState, dlq_arn: Option<&str>, event: SqsEvent) -> SqsBatchResponse {
    let results = futures::future::join_all(event.records.iter().map(|m| handle(state, dlq_arn, m))).await;
    let mut response = SqsBatchResponse::default();
    for (message, ok) in event.records.iter().zip(results) {
        if !ok {
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    response
}

/// `true` when the message is done with.
async fn handle(state: &AppState, dlq_arn: Option<&str>, message: &SqsMessage) -> bool {
    let from_dlq = dlq_arn.is_some() && message.event_source_arn.as_deref() == dlq_arn;
    let job: AutomationJob = match serde_json::from_str(message.body.as_deref().unwrap_or_default()) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(message_id = ?message.message_id, error = %e, "unreadable automation job");
            // A dead letter that names nothing is let go; on the queue it goes to the DLQ.
            return from_dlq;
        }
    };
    let automation = match state.store.get_automation(&job.user_id, &job.automation_id).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => {
            tracing::info!(automation = %job.automation_id, "the automation was removed; job dropped");
            return true;
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read the automation; it will be delivered again");
            return false;
        }
    };
    if !automation.spec.enabled && !job.manual {
        tracing::info!(automation = %job.automation_id, "the automation is off; job dropped");
        return true;
    }
    let now = integrations::store::attrs::now();
    let receipts = if from_dlq {
        let receives = message.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
        vec![StepReceipt {
            step: 1,
            action: automation.spec.steps[0].action.clone(),
            status: ActionStatus::Failed,
            summary: "The run was given up".into(),
            provider_id: None,
            url: None,
            error: Some(format!("It failed {receives} times in a row; nothing more will be tried.")),
            minutes_saved: 0,
        }]
    } else {
        match run_automation(state, &automation, &job.event, now).await {
            Ok(RunResult::Finished(receipts)) => receipts,
            Ok(RunResult::RetryLater(wait)) => {
                let Some(queue) = &state.automations else { return false };
                return match queue.send(&job, wait).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "could not queue the event again; it will be delivered again");
                        false
                    }
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "the run failed on the store; it will be delivered again");
                return false;
            }
        }
    };
    let minutes_saved = receipts.iter().map(|r| r.minutes_saved).sum();
    let run = RunRecord { trigger: job.event.key.clone(), finished_at: now, steps: receipts, minutes_saved };
    // Kept as long as the owner's plan keeps history; a failed run is audited with it.
    match state.store.record_run(&job.user_id, &automation, &run).await {
        Ok(first) => {
            if first {
                let event = HookEvent {
                    kind: EventType::AutomationRunCompleted,
                    key: format!("run:{}:{}", job.automation_id, run.trigger),
                    occurred_at: now,
                    data: json!({
                        "automationId": job.automation_id,
                        "name": automation.spec.name,
                        "trigger": run.trigger,
                        "status": run.status(),
                        "steps": run.steps,
                        "minutesSaved": run.minutes_saved,
                    }),
                };
                integrations::hooks::publish_or_log(state, &job.user_id, &[event]).await;
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "could not keep the run's receipts; it will be delivered again");
            false
        }
    }
}
