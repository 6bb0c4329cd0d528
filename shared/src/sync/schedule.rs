//! The scheduler: queues the auto-syncs that are due and ends runs stuck past their deadline.
//! It reads only due entries of the sparse index, so its cost follows what is due.
//!
//! It never leaves a connection holding a run that has no message behind it: runs are sent in
//! batches as soon as they are queued, a run whose message could not be sent is ended at once
//! (which frees its connection), and an error on one connection or shard is logged and counted
//! without stopping the pass.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::automations::{
    AutomationJob, Trigger as AutomationTrigger, TriggerEvent, due_instant, due_soon_key, matching,
};
use crate::config::AppState;
use crate::domain::{SyncJob, SyncRun, Trigger};
use crate::http::ErrorChain;
use crate::items::{AgendaList, Item, time_key};
use crate::oauth::TokenError;
use crate::queue::SendJobs;
use crate::store::{
    Automation, DUE_SHARDS, DUE_SOON_CHECK, DueAutomation, DueConnection, IDLE_REFRESH, QueueRefusal, RunOutcome,
    StoreError,
};
use crate::sync::{RecordKind, SyncMode};

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
    /// Connections, runs or shards that failed on the store (each logged); the pass went on.
    pub errors: usize,
    /// Automation events queued for the automations runner: one per schedule whose time had
    /// come, one per item that entered an `item.due_soon` automation's window.
    pub automations_queued: usize,
    /// Provider subscriptions renewed or made again before they expire.
    pub subscriptions: crate::webhooks::lifecycle::RenewalReport,
    /// OAuth grants unused for a while, refreshed to keep them alive.
    pub grants_refreshed: usize,
}

impl SchedulerReport {
    fn failed(&mut self, what: &str, error: &StoreError) {
        self.errors += 1;
        tracing::error!(error = %ErrorChain(error), "scheduler: {what}");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the scheduler has no sync queue: set SYNC_QUEUE_URL")]
    NoQueue,
}

/// Most due connections queued per shard per pass; the rest wait for the next pass.
const PER_SHARD: i32 = 250;
/// Runs queued before their messages are sent (one SendMessageBatch).
const SEND_BATCH: usize = 10;

/// One pass over the due index, sending through the state's sync queue.
pub async fn run_scheduler(state: &AppState, now: DateTime<Utc>) -> Result<SchedulerReport, SchedulerError> {
    let queue = state.queue.as_ref().ok_or(SchedulerError::NoQueue)?;
    Ok(schedule(state, queue, now).await)
}

/// One pass over the due index, sending through `queue`.
#[tracing::instrument(skip_all)]
pub async fn schedule(state: &AppState, queue: &dyn SendJobs, now: DateTime<Utc>) -> SchedulerReport {
    let mut report = SchedulerReport::default();
    for shard in 0..DUE_SHARDS {
        match state.store.due_connections(shard, now, PER_SHARD).await {
            Ok((due, read)) => {
                report.due_read += read;
                queue_due(state, queue, &due, now, &mut report).await;
            }
            Err(e) => report.failed(&format!("could not read due shard {shard}"), &e),
        }
        match state.store.overdue_runs(shard, now).await {
            Ok(runs) => {
                for run in runs {
                    end_overdue(state, &run, &mut report).await;
                }
            }
            Err(e) => report.failed(&format!("could not read the overdue runs of shard {shard}"), &e),
        }
        queue_due_automations(state, shard, now, &mut report).await;
        keep_grants_alive(state, shard, now, &mut report).await;
    }
    report.subscriptions = crate::webhooks::lifecycle::renew_due(state, now).await;
    report
}

/// Refreshes the OAuth grants of one shard that have gone unused for [`IDLE_REFRESH`]
/// (connections that do not sync by themselves), so that a provider that ends idle grants
/// (Microsoft after 90 days, Google after six months) never does. A refused refresh marks the
/// connection for reconnecting at once (audited); one that could not happen now is tried again
/// in an hour. Reads only the due entries of the index.
pub async fn keep_grants_alive(state: &AppState, shard: u32, now: DateTime<Utc>, report: &mut SchedulerReport) {
    let due = match state.store.due_refreshes(shard, now, PER_SHARD).await {
        Ok(due) => due,
        Err(e) => return report.failed(&format!("could not read the due refreshes of shard {shard}"), &e),
    };
    for (user, id, due_at) in due {
        let connection = match state.store.get_connection(&user, &id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => continue,
            Err(e) => {
                report.failed("could not read a connection due a refresh", &e);
                continue;
            }
        };
        let next = match refresh_idle(state, &connection).await {
            Ok(()) => {
                report.grants_refreshed += 1;
                now + IDLE_REFRESH
            }
            // Marked for reconnecting: it has left the index.
            Err(TokenError::Revoked(_)) => continue,
            Err(e) => {
                tracing::warn!(connection = %id, error = %ErrorChain(&e), "an idle grant could not be refreshed now");
                now + Duration::hours(1)
            }
        };
        match state.store.postpone_refresh(&user, &id, due_at, next).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(e) => report.failed("could not move a keep-alive refresh on", &e),
        }
    }
}

/// One refresh of an idle grant: its current access token counts as used up.
async fn refresh_idle(state: &AppState, connection: &crate::domain::Connection) -> Result<(), TokenError> {
    let current = state.vault.read(&connection.secret_id).await?;
    let Some(access) = current.access_token() else { return Ok(()) };
    crate::oauth::fresh_credentials(state, connection, Some(access)).await.map(|_| ())
}

/// Queues the automations of one shard whose time has come, then moves each on to its next run.
///
/// - A schedule: one event, its slot (`schedule:{slot}`).
/// - An `item.due_soon` automation (checked every [`DUE_SOON_CHECK`]): one event per item that
///   entered its window since the last check, keyed by the item and when it is due
///   ([`due_soon_key`]). The items are read with one Query of the agenda index, over the band of
///   due times that came into the window since the previous check (the whole window on the first
///   check after the definition was saved), so a check reads what became due and no more. Items
///   a sync creates or changes inside the window are sent by the sync itself.
///
/// An automation whose events could not all be sent is left due: the next pass sends them again
/// with the same keys, and the runner's claims act once. So does a pass that stops between
/// sending and moving on.
async fn queue_due_automations(state: &AppState, shard: u32, now: DateTime<Utc>, report: &mut SchedulerReport) {
    let Some(queue) = &state.automations else { return };
    let due = match state.store.due_automations(shard, now, PER_SHARD).await {
        Ok(due) => due,
        Err(e) => return report.failed(&format!("could not read the due automations of shard {shard}"), &e),
    };
    // Each due automation's events and its next run; the events of all are sent together.
    let mut ready = Vec::new();
    let mut jobs = Vec::new();
    for d in &due {
        let automation = match state.store.get_automation(&d.user_id, &d.automation_id).await {
            Ok(automation) => automation,
            Err(StoreError::NotFound) => continue,
            Err(e) => {
                report.failed("could not read a due automation", &e);
                continue;
            }
        };
        match due_jobs(state, &automation, d, now).await {
            Ok(mine) => {
                let next = crate::store::next_run(&automation.spec, now.max(d.slot));
                ready.push((d, next, jobs.len()..jobs.len() + mine.len()));
                jobs.extend(mine);
            }
            Err(e) => report.failed("could not read the items due soon", &e),
        }
    }
    let failed = queue.send_batch(&jobs).await;
    for (d, next, range) in ready {
        if let Some((_, reason)) = failed.iter().find(|(i, _)| range.contains(i)) {
            // Left due: the next pass sends its events again.
            tracing::error!(automation = %d.automation_id, %reason, "could not queue an automation's events");
            continue;
        }
        report.automations_queued += range.len();
        match state.store.advance_automation(d, next).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(e) => report.failed("could not move a due automation on", &e),
        }
    }
}

/// The events of a due automation at `now` (none for one switched off or no longer timed: it is
/// only moved on, which takes it out of the index).
async fn due_jobs(
    state: &AppState,
    automation: &Automation,
    d: &DueAutomation,
    now: DateTime<Utc>,
) -> Result<Vec<AutomationJob>, StoreError> {
    let job = |key: String, item: Option<serde_json::Value>| AutomationJob {
        user_id: d.user_id.clone(),
        automation_id: d.automation_id.clone(),
        event: TriggerEvent { key, item },
        manual: false,
    };
    if !automation.spec.enabled {
        return Ok(Vec::new());
    }
    let (hours, kind) = match &automation.spec.trigger {
        AutomationTrigger::Schedule(_) => {
            return Ok(vec![job(format!("schedule:{}", d.slot.to_rfc3339_opts(SecondsFormat::Secs, true)), None)]);
        }
        AutomationTrigger::DueSoon { hours, filter } => (Duration::hours(i64::from(*hours)), filter.kind),
        _ => return Ok(Vec::new()),
    };
    let list = match kind {
        RecordKind::Task => AgendaList::Tasks,
        RecordKind::Event => AgendaList::Agenda,
        _ => return Ok(Vec::new()),
    };
    // The previous check covered due times up to its own time + hours, and it ran no earlier
    // than one check interval before this slot. A definition saved since then gets its whole
    // window.
    let previous = d.slot - DUE_SOON_CHECK;
    let from = if automation.updated_at >= previous { now } else { (previous + hours).max(now) };
    let (records, _) = state.store.agenda_records(&d.user_id, list, &time_key(from), &time_key(now + hours)).await?;
    let items: Vec<Item> = records.iter().map(Item::from).collect();
    Ok(matching(&automation.spec, &items, now)
        .into_iter()
        .filter_map(|item| {
            let due = due_instant(item)?;
            Some(job(due_soon_key(&item.item_id, due), serde_json::to_value(item).ok()))
        })
        .collect())
}

/// Queues the due connections of one shard, sending each batch of runs as soon as it is full.
async fn queue_due(
    state: &AppState,
    queue: &dyn SendJobs,
    due: &[DueConnection],
    now: DateTime<Utc>,
    report: &mut SchedulerReport,
) {
    let mut pending = Vec::with_capacity(SEND_BATCH);
    for d in due {
        match queue_one(state, d, now).await {
            Ok(Scheduled::Queued(run)) => pending.push(*run),
            Ok(Scheduled::Postponed) => report.postponed += 1,
            Ok(Scheduled::CannotSync) => report.cannot_sync += 1,
            Ok(Scheduled::Skipped) => {}
            Err(e) => {
                tracing::error!(connection = %d.connection_id, error = %ErrorChain(&e), "could not schedule a due connection");
                report.errors += 1;
            }
        }
        if pending.len() == SEND_BATCH {
            send(state, queue, &mut pending, report).await;
        }
    }
    send(state, queue, &mut pending, report).await;
}

/// What became of one due connection.
enum Scheduled {
    Queued(Box<SyncRun>),
    Postponed,
    CannotSync,
    Skipped,
}

async fn queue_one(state: &AppState, d: &DueConnection, now: DateTime<Utc>) -> Result<Scheduled, StoreError> {
    let syncs = state.catalog.find(d.integration_id.as_str()).is_some_and(|i| i.syncs_with(d.auth_kind));
    if !syncs {
        match state.store.stop_auto_sync(d).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(e) => return Err(e),
        }
        tracing::info!(connection = %d.connection_id, "auto-sync turned off: nothing to sync");
        return Ok(Scheduled::CannotSync);
    }
    let next = now + Duration::minutes(i64::from(interval_minutes(state, d)));
    let run = SyncRun::queued(
        d.user_id.clone(),
        d.connection_id.clone(),
        d.integration_id.clone(),
        Trigger::Schedule,
        SyncMode::Incremental,
        now,
    );
    match state.store.queue_run(&run, None, Some(next)).await? {
        Ok(()) => Ok(Scheduled::Queued(Box::new(run))),
        Err(QueueRefusal::InFlight(_)) => match state.store.postpone_due(d, next).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(Scheduled::Postponed),
            Err(e) => Err(e),
        },
        Err(refusal) => {
            tracing::info!(connection = %d.connection_id, ?refusal, "due connection skipped");
            Ok(Scheduled::Skipped)
        }
    }
}

/// A due connection's interval: its own, or the polling fallback while it is `polling` and that
/// is shorter (back to its own once it is `live` again).
fn interval_minutes(state: &AppState, d: &DueConnection) -> u32 {
    if d.polling { d.interval_minutes.min(state.sync.polling_fallback_minutes) } else { d.interval_minutes }
}

/// Sends the pending runs' jobs; a run whose job was not sent is ended, which frees its
/// connection to sync again.
async fn send(state: &AppState, queue: &dyn SendJobs, pending: &mut Vec<SyncRun>, report: &mut SchedulerReport) {
    if pending.is_empty() {
        return;
    }
    let jobs: Vec<SyncJob> = pending.iter().map(SyncRun::job).collect();
    let failed = queue.send_batch(&jobs).await;
    for run in pending.drain(..) {
        let Some((_, reason)) = failed.iter().find(|(id, _)| *id == run.sync_id) else {
            report.queued += 1;
            continue;
        };
        report.send_failed += 1;
        tracing::error!(sync = %run.sync_id, connection = %run.connection_id, %reason, "could not queue a scheduled sync");
        let outcome = RunOutcome::failed("The sync could not be queued.", Default::default(), false);
        if let Err(e) = state.store.finish_run(&run, &outcome).await {
            // The overdue sweep ends it once its deadline has passed.
            report.failed(&format!("could not end the unsent run {}", run.sync_id), &e);
        }
    }
}

async fn end_overdue(state: &AppState, run: &SyncRun, report: &mut SchedulerReport) {
    let error =
        format!("The sync did not finish within {} minutes and was stopped.", crate::store::RUN_DEADLINE.num_minutes());
    let outcome = RunOutcome::failed(error, run.counts, false);
    match state.store.finish_run(run, &outcome).await {
        Ok(true) => report.overdue_failed += 1,
        Ok(false) => {}
        Err(e) => report.failed(&format!("could not end the overdue run {}", run.sync_id), &e),
    }
}
