//! The scheduler: queues the auto-syncs that are due and ends runs stuck past their deadline.
//! It reads only due entries of the sparse index, so its cost follows what is due.

use chrono::{DateTime, Duration, Utc};

use crate::config::AppState;
use crate::domain::{SyncJob, SyncRun, Trigger};
use crate::store::{DUE_SHARDS, QueueRefusal, RunOutcome, StoreError};
use crate::sync::SyncMode;

/// What one scheduler pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerReport {
    /// Index entries read (due connections, across shards).
    pub due_read: usize,
    pub queued: usize,
    /// Due, but a run was still in flight: moved to the next interval.
    pub postponed: usize,
    /// Runs past their deadline, ended as failed.
    pub overdue_failed: usize,
    /// Runs written but whose message could not be sent, ended as failed.
    pub send_failed: usize,
    /// Due, but connected in a way that has nothing to sync: auto-sync turned off, nothing queued.
    pub cannot_sync: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the scheduler has no sync queue: set SYNC_QUEUE_URL")]
    NoQueue,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Most due connections queued per shard per pass; the rest wait for the next pass.
const PER_SHARD: i32 = 250;

#[tracing::instrument(skip_all)]
pub async fn run_scheduler(state: &AppState, now: DateTime<Utc>) -> Result<SchedulerReport, SchedulerError> {
    let mut report = SchedulerReport::default();
    let Some(queue) = &state.queue else { return Err(SchedulerError::NoQueue) };
    let mut runs: Vec<SyncRun> = Vec::new();
    for shard in 0..DUE_SHARDS {
        let (due, read) = state.store.due_connections(shard, now, PER_SHARD).await?;
        report.due_read += read;
        for d in due {
            let syncs = state.catalog.find(d.integration_id.as_str()).is_some_and(|i| i.syncs_with(d.auth_kind));
            if !syncs {
                match state.store.stop_auto_sync(&d).await {
                    Ok(()) | Err(StoreError::Conflict) => report.cannot_sync += 1,
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(connection = %d.connection_id, "auto-sync turned off: nothing to sync");
                continue;
            }
            let interval = Duration::minutes(i64::from(d.interval_minutes));
            let next = now + interval;
            let run = SyncRun::queued(
                d.user_id.clone(),
                d.connection_id.clone(),
                d.integration_id.clone(),
                Trigger::Schedule,
                SyncMode::Incremental,
                now,
            );
            match state.store.queue_run(&run, None, Some(next)).await? {
                Ok(()) => runs.push(run),
                Err(QueueRefusal::InFlight(_)) => match state.store.postpone_due(&d, next).await {
                    Ok(()) | Err(StoreError::Conflict) => report.postponed += 1,
                    Err(e) => return Err(e.into()),
                },
                Err(refusal) => tracing::info!(connection = %d.connection_id, ?refusal, "due connection skipped"),
            }
        }
        for run in state.store.overdue_runs(shard, now).await? {
            let error = format!(
                "The sync did not finish within {} minutes and was stopped.",
                crate::store::RUN_DEADLINE.num_minutes()
            );
            let outcome = RunOutcome::failed(error, run.counts, false);
            if state.store.finish_run(&run, &outcome).await? {
                report.overdue_failed += 1;
            }
        }
    }
    let jobs: Vec<SyncJob> = runs.iter().map(SyncRun::job).collect();
    let failed = queue.send_batch(&jobs).await;
    for (sync_id, reason) in &failed {
        if let Some(run) = runs.iter().find(|r| &r.sync_id == sync_id) {
            tracing::error!(sync = %sync_id, %reason, "could not queue a scheduled sync");
            let outcome = RunOutcome::failed("The sync could not be queued.", Default::default(), false);
            state.store.finish_run(run, &outcome).await?;
        }
    }
    report.queued = runs.len() - failed.len();
    report.send_failed = failed.len();
    Ok(report)
}
