//! The sync worker and scheduler, in-process: the dev server polls the emulated SQS queues and
//! hands each batch to the same handler Lambda runs, deleting only the acknowledged messages.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use integrations::AppState;

/// How long the in-process worker gives a batch, as the worker function's timeout in
/// template.yaml does (a run still going then continues in a new message).
pub const INVOCATION_TIME: Duration = Duration::from_secs(120);

/// One receive → handle → delete round on the sync queue (or its dead-letter queue); returns
/// how many messages it received. `source_arn` is what Lambda would put in `eventSourceArn`.
pub async fn poll_queue_once(
    state: &AppState,
    sqs: &Client,
    queue_url: &str,
    source_arn: &str,
    dlq_arn: &str,
    wait: Duration,
    visibility: Duration,
) -> anyhow::Result<usize> {
    let handle =
        async |event| sync::handle_sqs_event(state, Some(dlq_arn), event, Instant::now() + INVOCATION_TIME).await;
    poll_with(sqs, queue_url, source_arn, wait, visibility, handle).await
}

/// One receive → handle → delete round on a queue, with the handler Lambda would run.
async fn poll_with(
    sqs: &Client,
    queue_url: &str,
    source_arn: &str,
    wait: Duration,
    visibility: Duration,
    handle: impl AsyncFnOnce(SqsEvent) -> SqsBatchResponse,
) -> anyhow::Result<usize> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(1))
        .visibility_timeout(i32::try_from(visibility.as_secs()).unwrap_or(30))
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await?;
    let messages = out.messages();
    if messages.is_empty() {
        return Ok(0);
    }
    let records: Vec<SqsMessage> = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(str::to_owned);
            record.receipt_handle = m.receipt_handle().map(str::to_owned);
            record.body = m.body().map(str::to_owned);
            record.event_source_arn = Some(source_arn.to_owned());
            record.event_source = Some("aws:sqs".into());
            if let Some(attrs) = m.attributes() {
                for (k, v) in attrs {
                    record.attributes.insert(k.as_str().to_owned(), v.clone());
                }
            }
            record
        })
        .collect();
    let mut event = SqsEvent::default();
    event.records = records.clone();
    let response = handle(event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    for record in &records {
        if failed.contains(&record.message_id.as_deref().unwrap_or_default()) {
            continue; // left for redelivery after the visibility timeout, as Lambda would
        }
        if let Some(handle) = &record.receipt_handle {
            sqs.delete_message().queue_url(queue_url).receipt_handle(handle).send().await?;
        }
    }
    Ok(records.len())
}

/// The worker: polls the sync queue and its dead-letter queue until the process ends.
pub async fn run_worker(state: AppState, sqs: Client, resources: crate::LocalResources, visibility: Duration) {
    loop {
        let rounds = [
            (&resources.queue_url, resources.queue_arn.as_str(), Duration::from_secs(1)),
            (&resources.dlq_url, resources.dlq_arn.as_str(), Duration::from_secs(0)),
        ];
        for (url, arn, wait) in rounds {
            if let Err(e) = poll_queue_once(&state, &sqs, url, arn, &resources.dlq_arn, wait, visibility).await {
                tracing::warn!(error = %e, "polling the sync queue failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The automations runner: polls the automations queue and its dead-letter queue until the
/// process ends.
pub async fn run_automations(state: AppState, sqs: Client, resources: crate::LocalResources, visibility: Duration) {
    loop {
        let rounds = [
            (&resources.automations_queue_url, resources.automations_queue_arn.as_str(), Duration::from_secs(1)),
            (&resources.automations_dlq_url, resources.automations_dlq_arn.as_str(), Duration::from_secs(0)),
        ];
        for (url, arn, wait) in rounds {
            let dlq = resources.automations_dlq_arn.as_str();
            let handle = async |event| automations::handle_sqs_event(&state, Some(dlq), event).await;
            if let Err(e) = poll_with(&sqs, url, arn, wait, visibility, handle).await {
                tracing::warn!(error = %e, "polling the automations queue failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The hooks worker: polls the hooks queue until the process ends (its dead-letter queue keeps
/// what could not be handled, as in AWS, where nothing consumes it).
pub async fn run_hooks(state: AppState, sqs: Client, resources: crate::LocalResources, visibility: Duration) {
    loop {
        let handle = async |event| hooks::handle_sqs_event(&state, event).await;
        let (url, arn) = (&resources.hooks_queue_url, resources.hooks_queue_arn.as_str());
        if let Err(e) = poll_with(&sqs, url, arn, Duration::from_secs(1), visibility, handle).await {
            tracing::warn!(error = %e, "polling the hooks queue failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The scheduler: one pass every `every`, as the EventBridge schedule would.
pub async fn run_scheduler(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = sync::handle_schedule(&state).await {
            tracing::warn!(error = %e, "scheduler pass failed");
        }
    }
}
