//! The SQS queues: sync jobs, automation jobs (trigger events for the runner), and hook
//! deliveries.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::automations::AutomationJob;
use crate::domain::{ConnectionId, IntegrationId, SyncId, SyncJob, UserId};
use crate::hooks::HookDelivery;

/// A provider notified a change of a connection whose sync is now pending: the worker turns the
/// pending sync into a run (functions/webhooks sends it; see `Store::mark_sync_pending`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notified {
    pub user_id: UserId,
    pub connection_id: ConnectionId,
    pub integration_id: IntegrationId,
}

/// What the sync queue carries: a run's job, or a notified connection's pending sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SyncMessage {
    Notified { notified: Notified },
    Job(SyncJob),
}

#[derive(Debug, thiserror::Error)]
#[error("SQS request failed")]
pub struct QueueError(#[source] Box<dyn std::error::Error + Send + Sync>);

#[derive(Clone)]
pub struct SyncQueue {
    client: Client,
    url: String,
}

impl SyncQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends a notified connection's pending sync, delivered after `delay` (at most 15 minutes).
    pub async fn send_notified(&self, notified: &Notified, delay: std::time::Duration) -> Result<(), QueueError> {
        let message = SyncMessage::Notified { notified: notified.clone() };
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(&message).expect("messages serialise"))
            .delay_seconds(i32::try_from(delay.as_secs().min(900)).unwrap_or(900))
            .send()
            .await
            .map_err(|e| QueueError(Box::new(e)))?;
        Ok(())
    }

    pub async fn send(&self, job: &SyncJob) -> Result<(), QueueError> {
        self.send_after(job, std::time::Duration::ZERO).await
    }

    /// Sends one job, delivered after `delay` (SQS allows up to 15 minutes; a part of a second
    /// counts as a second).
    pub async fn send_after(&self, job: &SyncJob, delay: std::time::Duration) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(job).expect("jobs serialise"))
            .delay_seconds(delay_seconds(delay))
            .send()
            .await
            .map_err(|e| QueueError(Box::new(e)))?;
        Ok(())
    }
}

/// SQS's DelaySeconds for a delay: whole seconds, rounded up, at most 15 minutes.
fn delay_seconds(delay: std::time::Duration) -> i32 {
    let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    i32::try_from(seconds.min(900)).unwrap_or(900)
}

/// Sends sync jobs in batches. The scheduler sends through it, so that a test can make chosen
/// sends fail as SQS reports them.
#[async_trait]
pub trait SendJobs: Send + Sync {
    /// Sends the jobs; returns the runs whose job was not sent, with the reason.
    async fn send_batch(&self, jobs: &[SyncJob]) -> Vec<(SyncId, String)>;
}

#[async_trait]
impl SendJobs for SyncQueue {
    /// Sends jobs with SendMessageBatch, ten at a time; returns the runs whose job was not sent.
    async fn send_batch(&self, jobs: &[SyncJob]) -> Vec<(SyncId, String)> {
        let failed = send_in_batches(&self.client, &self.url, jobs).await;
        failed.into_iter().map(|(i, reason)| (jobs[i].sync_id.clone(), reason)).collect()
    }
}

/// Sends each message as JSON with SendMessageBatch, ten at a time; returns the indexes of the
/// messages that were not sent, with the reason.
async fn send_in_batches<T: serde::Serialize>(client: &Client, url: &str, messages: &[T]) -> Vec<(usize, String)> {
    let mut failed = Vec::new();
    for (n, chunk) in messages.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, message)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(message).expect("jobs serialise"))
                    .build()
                    .expect("entry")
            })
            .collect();
        match client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await {
            Ok(out) => failed.extend(out.failed().iter().filter_map(|f| {
                let i = f.id().parse::<usize>().ok().filter(|i| *i < chunk.len())?;
                Some((n * 10 + i, f.message().unwrap_or("not sent").to_owned()))
            })),
            Err(e) => failed.extend((0..chunk.len()).map(|i| (n * 10 + i, e.to_string()))),
        }
    }
    failed
}

/// The queue of automation jobs: one trigger event of one automation each.
#[derive(Clone)]
pub struct AutomationQueue {
    client: Client,
    url: String,
}

impl AutomationQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one job, delivered after `delay` (SQS allows up to 15 minutes).
    pub async fn send(&self, job: &AutomationJob, delay: std::time::Duration) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(job).expect("jobs serialise"))
            .delay_seconds(delay_seconds(delay))
            .send()
            .await
            .map_err(|e| QueueError(Box::new(e)))?;
        Ok(())
    }

    /// Sends jobs with SendMessageBatch, ten at a time; returns the indexes of the jobs that
    /// were not sent, with the reason.
    pub async fn send_batch(&self, jobs: &[AutomationJob]) -> Vec<(usize, String)> {
        send_in_batches(&self.client, &self.url, jobs).await
    }
}

/// The queue of hook deliveries: one event to one hook, at one attempt.
#[derive(Clone)]
pub struct HookQueue {
    client: Client,
    url: String,
}

impl HookQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one delivery, received after `delay` (at most SQS's 15 minutes).
    pub async fn send(&self, delivery: &HookDelivery, delay: std::time::Duration) -> Result<(), QueueError> {
        let seconds = i32::try_from(delay.as_secs().min(900)).unwrap_or(900);
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(delivery).expect("deliveries serialise"))
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|e| QueueError(Box::new(e)))?;
        Ok(())
    }

    /// Sends deliveries with SendMessageBatch, ten at a time; returns the indexes of those that
    /// were not sent, with the reason.
    pub async fn send_batch(&self, deliveries: &[HookDelivery]) -> Vec<(usize, String)> {
        send_in_batches(&self.client, &self.url, deliveries).await
    }
}
