//! Runs one job: from the queued run to its recorded outcome, page by page.
//!
//! A run ends when its provider has no next page; when the provider's cursor does not advance
//! (the same cursor, or the same page, twice in a row) or the run reaches its page cap; or when
//! its connection is removed. A worker's invocation has a deadline: a run still reading when the
//! deadline nears stops between pages, its cursor saved, and goes on in a new message as the
//! same run.
//!
//! Each page's records are written first; then the `item.created` and `item.updated` events of
//! the records it created or changed are sent to the automations queue ([`super::events`]), and
//! only then is the cursor saved. A page whose events could not all be sent is left for the
//! message to be delivered again: read again by the same run, it reports the same changes, so
//! its events come again with the same keys (the runner acts once per key).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::connector::{Connector, ConnectorConfig};
use super::events::{Listeners, emit_item_events};
use super::record::{Page, RecordKey, SyncMode};
use crate::catalog::{AuthMode, Integration};
use crate::config::AppState;
use crate::domain::{Connection, ConnectionStatus, Counts, Phase, SyncJob, SyncRun, SyncStatus, Trigger};
use crate::http::ErrorChain;
use crate::oauth::{REFRESH_MARGIN, TokenError, fresh_credentials};
use crate::providers::{ConnectorError, ProviderError};
use crate::store::{Bucket, RunOutcome, Spend, StoreError};
use crate::vault::{Credentials, VaultError};

/// What became of a job, for the worker to acknowledge or not.
#[derive(Debug, PartialEq)]
pub enum JobOutcome {
    /// The run ended (succeeded or failed) with this delivery.
    Finished(SyncStatus),
    /// The run had already ended, or a later delivery of it has taken over: a redelivered
    /// message, acknowledged and dropped.
    AlreadyFinished,
    /// The invocation's time was nearly up, or the connection's API budget was spent: the run
    /// stopped between pages with its cursor saved, and a new message, already queued (delayed
    /// until the budget has refilled), continues it as the same run. Acknowledge this one.
    Continued,
    /// A passing failure: leave the message for SQS to deliver again (the run stays running
    /// and resumes from its last saved cursor).
    Retry(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Time saved: every record the run brought in or changed, at the catalog's rate. Records that
/// were read but had not changed saved nobody any time.
pub fn minutes_saved(counts: &Counts, minutes_per_item: f64) -> f64 {
    let changed = counts.created + counts.updated + counts.deleted;
    (changed as f64 * minutes_per_item * 100.0).round() / 100.0
}

async fn end(state: &AppState, run: &SyncRun, outcome: RunOutcome) -> Result<JobOutcome, SyncError> {
    let status = outcome.status;
    if state.store.finish_run(run, &outcome).await? {
        tracing::info!(sync = %run.sync_id, status = status.as_str(), items = outcome.counts.items(), "sync run ended");
        let took = run.started_at.map(|t| (chrono::Utc::now() - t).to_std().unwrap_or_default()).unwrap_or_default();
        crate::metrics::Record::new("Sync", "Provider", run.integration_id.as_str())
            .millis("Duration", took)
            .count("Items", outcome.counts.items())
            .count("Succeeded", u64::from(status == SyncStatus::Succeeded))
            .count("Failed", u64::from(status == SyncStatus::Failed))
            .emit();
        let mut events = super::events::run_end_events(run, &outcome);
        if let (Some(before), Some((from, to, why))) = (&outcome.before, outcome.health_change()) {
            events.push(crate::hooks::health_changed(before, from, to, &why, format!("sync:{}", run.sync_id)));
        }
        crate::hooks::publish_or_log(state, &run.user_id, &events).await;
        let unheard = run.trigger != Trigger::Webhook
            && run.mode == SyncMode::Incremental
            && status == SyncStatus::Succeeded
            && outcome.counts.created + outcome.counts.updated + outcome.counts.deleted > 0;
        // Boxed: it is rare, and would otherwise grow every run's future.
        if unheard
            && let Err(e) = Box::pin(crate::webhooks::lifecycle::changes_found_unheard(
                state,
                &run.user_id,
                &run.connection_id,
                chrono::Utc::now(),
            ))
            .await
        {
            tracing::error!(error = %ErrorChain(&e), "could not count a change no notification told of");
        }
        Ok(JobOutcome::Finished(status))
    } else {
        Ok(JobOutcome::AlreadyFinished)
    }
}

/// Runs a job until its run ends, however long that takes (tools and tests; the worker, whose
/// invocations have a deadline, uses [`run_job_until`]).
pub async fn run_job(state: &AppState, job: &SyncJob) -> Result<JobOutcome, SyncError> {
    observed(state, run(state, job, None)).await
}

/// Runs a job in an invocation that ends at `deadline`. The run reads pages until its end, or
/// until too little time is left for another page (the `deadline_margin` of the settings is
/// kept free to write the page in hand and queue what follows): then it continues in a new
/// message ([`JobOutcome::Continued`]).
pub async fn run_job_until(state: &AppState, job: &SyncJob, deadline: Instant) -> Result<JobOutcome, SyncError> {
    observed(state, run(state, job, Some(deadline))).await
}

/// Runs a job's invocation counting its provider calls, then adds them, and the run's end if
/// it ended, to its provider's health rollup. A rollup that cannot be written is logged: the
/// run's own outcome is what matters.
async fn observed(
    state: &AppState,
    work: impl std::future::Future<Output = Result<JobOutcome, SyncError>>,
) -> Result<JobOutcome, SyncError> {
    let (result, calls) = crate::metrics::measure_calls(work).await;
    let Some(provider) = calls.provider.as_deref() else { return result };
    let ended = match &result {
        Ok(JobOutcome::Finished(status)) => Some(*status == SyncStatus::Succeeded),
        _ => None,
    };
    if (calls.calls > 0 || ended.is_some())
        && let Err(e) = state.store.record_health(provider, &calls, ended, chrono::Utc::now()).await
    {
        tracing::warn!(error = %ErrorChain(&e), "the provider health rollup could not be written");
    }
    result
}

#[tracing::instrument(
    skip_all,
    fields(user = %job.user_id, connection = %job.connection_id, sync = %job.sync_id, provider = tracing::field::Empty)
)]
async fn run(state: &AppState, job: &SyncJob, deadline: Option<Instant>) -> Result<JobOutcome, SyncError> {
    let Some(mut run) = state.store.start_run(&job.user_id, &job.connection_id, &job.sync_id).await? else {
        tracing::info!("redelivered job of a finished run; dropped");
        forget_if_removed(state, job).await?;
        return Ok(JobOutcome::AlreadyFinished);
    };
    let connection = match state.store.get_connection(&job.user_id, &job.connection_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            return end(state, &run, RunOutcome::failed(REMOVED, run.counts, false)).await;
        }
        Err(e) => return Err(e.into()),
    };
    if connection.status != ConnectionStatus::Active {
        let reason = connection
            .status_reason
            .clone()
            .unwrap_or_else(|| format!("The connection is {}.", connection.status.as_str()));
        return end(state, &run, RunOutcome::failed(reason, run.counts, false).after_seeing(&connection)).await;
    }
    crate::metrics::set_provider(connection.integration_id.as_str());
    tracing::Span::current().record("provider", connection.integration_id.as_str());
    let Some(integration) = state.catalog.find(connection.integration_id.as_str()) else {
        return end(
            state,
            &run,
            RunOutcome::failed("The integration is no longer offered.", run.counts, false).after_seeing(&connection),
        )
        .await;
    };
    let mut credentials = match fresh_credentials(state, &connection, None).await {
        Ok(c) => c,
        Err(TokenError::Revoked(reason)) => {
            return end(state, &run, RunOutcome::failed(reason, run.counts, true).after_seeing(&refused(&connection)))
                .await;
        }
        Err(TokenError::Vault(VaultError::NotFound | VaultError::Unreadable)) => {
            let reason = "The stored credential is missing; connect again.";
            return end(state, &run, RunOutcome::failed(reason, run.counts, true).after_seeing(&connection)).await;
        }
        Err(e) => return Ok(JobOutcome::Retry(e.to_string())),
    };
    let config = ConnectorConfig {
        http: state.http.clone(),
        base_url: state.endpoints.api_base(integration),
        page_size: state.sync.page_size,
        retry: state.sync.retry,
    };
    let mut connector = match Connector::for_integration(integration, config.clone(), &credentials) {
        Ok(connector) => connector,
        Err(e) => return end(state, &run, cannot_connect(integration, &e, run.counts).after_seeing(&connection)).await,
    };

    let mut cursor: Value = match run.cursor.take() {
        Some(saved) => saved,
        None => {
            let saved_state = state.store.sync_state(&job.user_id, &job.connection_id).await?;
            connector.start(saved_state.as_ref(), run.mode)
        }
    };
    let mut full = run.mode == SyncMode::Full;
    let mut retried_with_fresh_token = false;
    // Pages read by this invocation, and the keys of the last one (to see a page come twice).
    let mut pages_read = 0u64;
    let mut previous_keys: HashSet<RecordKey> = HashSet::new();
    let mut listeners = Listeners::default();
    let mut bucket = Bucket::new(&job.user_id, &job.connection_id, integration.provider().capabilities().budget);
    let final_state = loop {
        if run.progress.pages >= state.sync.max_pages_per_run {
            tracing::warn!(pages = run.progress.pages, "the run reached its page cap");
            let message = format!(
                "{} kept returning more pages; the sync was stopped after {} pages.",
                integration.name, run.progress.pages
            );
            return end(state, &run, RunOutcome::failed(message, run.counts, false).after_seeing(&connection)).await;
        }
        // An OAuth token about to expire is refreshed between pages (once for all workers).
        if let Credentials::OAuth(tokens) = &credentials
            && tokens.expires_within(REFRESH_MARGIN, crate::store::attrs::now())
        {
            match fresh_credentials(state, &connection, None).await {
                Ok(fresh) => credentials = fresh,
                Err(TokenError::Revoked(reason)) => {
                    let outcome = RunOutcome::failed(reason, run.counts, true).after_seeing(&refused(&connection));
                    return end(state, &run, outcome).await;
                }
                Err(e) => return retry_later(state, &run, e.to_string()).await,
            }
            connector = match Connector::for_integration(integration, config.clone(), &credentials) {
                Ok(connector) => connector,
                Err(e) => {
                    return end(state, &run, cannot_connect(integration, &e, run.counts).after_seeing(&connection))
                        .await;
                }
            };
        }
        let time = match time_for_a_page(deadline, state.sync.deadline_margin) {
            Some(None) => return out_of_time(state, &run, integration, pages_read).await,
            time => time.flatten(),
        };
        // Each page is one provider request, paid for from the connection's budget first. A short
        // wait for it to refill is waited out, which paces the run at the provider's rate; a
        // longer one is not a failure either: the run goes on in a new message once it has.
        loop {
            match state.store.spend(&mut bucket, 1, crate::store::attrs::now()).await? {
                Spend::Spent { .. } => break,
                Spend::Empty { wait }
                    if wait <= state.sync.max_budget_pause && time.is_none_or(|left| wait * 2 < left) =>
                {
                    tokio::time::sleep(wait).await;
                }
                Spend::Empty { wait } => {
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "the connection's API budget is spent; the run yields"
                    );
                    return continue_later(state, &run, wait).await;
                }
            }
        }
        let fetched = match time {
            None => connector.fetch_page(&cursor).await,
            Some(time) => match tokio::time::timeout(time, connector.fetch_page(&cursor)).await {
                Ok(fetched) => fetched,
                Err(_) => return out_of_time(state, &run, integration, pages_read).await,
            },
        };
        let page = match fetched {
            Ok(page) => {
                retried_with_fresh_token = false;
                page
            }
            Err(ProviderError::Unauthorized(_))
                if connection.auth_kind == AuthMode::Oauth2 && !retried_with_fresh_token =>
            {
                // The access token was refused before its time: refresh it once and try again.
                let rejected = credentials.access_token().map(str::to_owned);
                match fresh_credentials(state, &connection, rejected.as_deref()).await {
                    Ok(fresh) => credentials = fresh,
                    Err(TokenError::Revoked(reason)) => {
                        let outcome = RunOutcome::failed(reason, run.counts, true).after_seeing(&refused(&connection));
                        return end(state, &run, outcome).await;
                    }
                    Err(e) => return retry_later(state, &run, e.to_string()).await,
                }
                connector = match Connector::for_integration(integration, config.clone(), &credentials) {
                    Ok(connector) => connector,
                    Err(e) => {
                        return end(state, &run, cannot_connect(integration, &e, run.counts).after_seeing(&connection))
                            .await;
                    }
                };
                retried_with_fresh_token = true;
                continue;
            }
            Err(e @ ProviderError::Unauthorized(_)) => {
                tracing::warn!(error = %ErrorChain(&e), "the provider refused the credential");
                let message = e.user_message(&integration.name);
                return end(state, &run, RunOutcome::failed(message, run.counts, true).after_seeing(&connection)).await;
            }
            Err(e @ ProviderError::Unexpected(_)) => {
                tracing::error!(error = %ErrorChain(&e), "the provider's answer could not be used");
                let message = e.user_message(&integration.name);
                return end(state, &run, RunOutcome::failed(message, run.counts, false).after_seeing(&connection))
                    .await;
            }
            Err(passing) => {
                tracing::warn!(error = %ErrorChain(&passing), "provider call failed");
                if let ProviderError::RateLimited(wait) = &passing {
                    let until = crate::store::attrs::now() + chrono::Duration::from_std(*wait).unwrap_or_default();
                    state.store.note_rate_limit(&connection, until).await?;
                }
                return retry_later(state, &run, passing.user_message(&integration.name)).await;
            }
        };
        let keys = page_keys(&page);
        if page.next.as_ref() == Some(&cursor) || (!keys.is_empty() && keys == previous_keys) {
            tracing::warn!(pages = run.progress.pages, "the provider's cursor does not advance");
            let message = format!("{} returned the same page twice; the sync was stopped.", integration.name);
            return end(state, &run, RunOutcome::failed(message, run.counts, false).after_seeing(&connection)).await;
        }
        previous_keys = keys;
        if page.full_listing && !full {
            tracing::info!("the provider asked for a full resync");
            full = true;
            run.mode = SyncMode::Full;
        }
        let written = state
            .store
            .upsert_records(
                &job.user_id,
                &job.connection_id,
                &connection.integration_id,
                &run.sync_id,
                &page.records,
                full,
            )
            .await?;
        run.counts.add(written.counts);
        if !page.deleted.is_empty() {
            run.counts.deleted += state.store.delete_records(&job.user_id, &job.connection_id, &page.deleted).await?;
        }
        // A disconnect removes what the connection synced. It marks the connection first, then
        // reads its records: a page written before the mark is seen there, one written after it
        // is seen here (by this consistent read after the write) and taken back.
        if connection_removed(state, job).await? {
            state.store.remove_records(&job.user_id, &job.connection_id, &page.records).await?;
            tracing::info!("the connection was removed during the sync");
            return end(state, &run, RunOutcome::failed(REMOVED, run.counts, false).after_seeing(&connection)).await;
        }
        // Only now: a page taken back above triggers nothing. Events that could not be sent
        // leave the page (its cursor unsaved) for the message's next delivery to read again.
        let unsent = emit_item_events(state, &mut listeners, &run, &written.changed).await?;
        if unsent > 0 {
            return retry_later(state, &run, format!("{unsent} automation events could not be queued.")).await;
        }
        run.progress.pages += 1;
        pages_read += 1;
        run.progress.items = run.counts.items();
        match page.next {
            Some(next) => {
                // The cursor is saved only now, after the records before it are written.
                run.cursor = Some(next.clone());
                match state.store.save_progress(&run).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict) => return Ok(JobOutcome::AlreadyFinished),
                    Err(e) => return Err(e.into()),
                }
                cursor = next;
            }
            None => break page.state,
        }
    };
    if full {
        run.progress.phase = Phase::Finishing;
        run.counts.deleted += state.store.sweep_unseen_records(&job.user_id, &job.connection_id, &run.sync_id).await?;
    }
    let outcome = RunOutcome {
        status: SyncStatus::Succeeded,
        counts: run.counts,
        minutes_saved: minutes_saved(&run.counts, integration.minutes_saved_per_item),
        error: None,
        sync_state: final_state,
        needs_reauth: false,
        before: Some(Box::new(connection)),
    };
    end(state, &run, outcome).await
}

/// Why a run of a connection that was removed ended.
const REMOVED: &str = "The connection was removed.";

/// Whether the job's connection is gone or going (disconnected), read consistently.
async fn connection_removed(state: &AppState, job: &SyncJob) -> Result<bool, StoreError> {
    match state.store.get_connection(&job.user_id, &job.connection_id).await {
        Ok(connection) => Ok(connection.status == ConnectionStatus::Disconnecting),
        Err(StoreError::NotFound) => Ok(true),
        Err(e) => Err(e),
    }
}

/// A message whose run has ended or is gone. If its connection was removed, a worker stopped
/// between writing a page and checking the connection (a timeout, a crash) may have left that
/// page behind the disconnect: remove what is left.
async fn forget_if_removed(state: &AppState, job: &SyncJob) -> Result<(), SyncError> {
    if connection_removed(state, job).await? {
        state.store.delete_connection_data(&job.user_id, &job.connection_id).await?;
    }
    Ok(())
}

/// How long the next page may take: `None` without a deadline, `Some(None)` when too little
/// time is left for one.
fn time_for_a_page(deadline: Option<Instant>, margin: Duration) -> Option<Option<Duration>> {
    let deadline = deadline?;
    let left = deadline.saturating_duration_since(Instant::now());
    Some(left.checked_sub(margin).filter(|budget| !budget.is_zero()))
}

/// What identifies a page: the keys of the records it brings and of those it deletes.
fn page_keys(page: &Page) -> HashSet<RecordKey> {
    let written = page.records.iter().map(|r| RecordKey { kind: r.kind, external_id: r.external_id.clone() });
    written.chain(page.deleted.iter().cloned()).collect()
}

/// The invocation's time is nearly up. The cursor is saved after every page, so a run that read
/// pages in this invocation continues in a new message as the same run, with a new deadline in
/// the in-flight index. One that could not read a single page is left for redelivery like any
/// passing failure, so a provider too slow for even one page ends in the dead-letter queue
/// instead of being continued for ever.
async fn out_of_time(
    state: &AppState,
    run: &SyncRun,
    integration: &Integration,
    pages_read: u64,
) -> Result<JobOutcome, SyncError> {
    if pages_read == 0 {
        let message = format!("{} did not answer in the time a sync worker has.", integration.name);
        return retry_later(state, run, message).await;
    }
    continue_later(state, run, Duration::ZERO).await
}

/// The run stops here, its cursor saved after its last page, and goes on in a new message
/// delivered after `delay`, as the same run, with a new deadline in the in-flight index.
async fn continue_later(state: &AppState, run: &SyncRun, delay: Duration) -> Result<JobOutcome, SyncError> {
    let Some(queue) = &state.queue else {
        return retry_later(state, run, "The sync could not be continued (no sync queue).".into()).await;
    };
    match state.store.continue_run(run).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Ok(JobOutcome::AlreadyFinished),
        Err(e) => return Err(e.into()),
    }
    if let Err(e) = queue.send_after(&run.job(), delay).await {
        tracing::warn!(error = %ErrorChain(&e), "the continuation of the run could not be queued");
        return retry_later(state, run, "The sync could not be continued.".into()).await;
    }
    tracing::info!(
        pages = run.progress.pages,
        items = run.progress.items,
        delay_s = delay.as_secs(),
        "the run continues in a new message"
    );
    Ok(JobOutcome::Continued)
}

/// The run's end when the connection's credential cannot drive its provider's connector.
fn cannot_connect(integration: &Integration, error: &ConnectorError, counts: Counts) -> RunOutcome {
    match error {
        ConnectorError::NothingToSync => {
            RunOutcome::failed(format!("{} connected this way has nothing to sync.", integration.name), counts, false)
        }
        ConnectorError::MissingField(field) => RunOutcome::failed(
            format!("The stored {} credential has no `{field}`; connect {} again.", integration.name, integration.name),
            counts,
            true,
        ),
    }
}

/// A passing failure: the error is kept on the run and the message is left for redelivery.
async fn retry_later(state: &AppState, run: &SyncRun, message: String) -> Result<JobOutcome, SyncError> {
    state.store.record_attempt_error(run, &message).await?;
    tracing::warn!(error = %message, "the job will be delivered again");
    Ok(JobOutcome::Retry(message))
}

/// A job that reached the dead-letter queue: its run ends as failed, with the last error.
pub async fn fail_dead_letter(state: &AppState, job: &SyncJob, receives: Option<u32>) -> Result<JobOutcome, SyncError> {
    let run = match state.store.get_run(&job.user_id, &job.connection_id, &job.sync_id).await {
        Ok(run) => run,
        Err(StoreError::NotFound) => {
            forget_if_removed(state, job).await?;
            return Ok(JobOutcome::AlreadyFinished);
        }
        Err(e) => return Err(e.into()),
    };
    if run.status.is_finished() {
        return Ok(JobOutcome::AlreadyFinished);
    }
    let last = state
        .store
        .last_attempt_error(&job.user_id, &job.connection_id, &job.sync_id)
        .await
        .unwrap_or_else(|| "the worker did not finish it".into());
    let attempts = receives.map(|n| format!(" after {n} attempts")).unwrap_or_default();
    let outcome = RunOutcome::failed(format!("Gave up{attempts}: {last}"), run.counts, false);
    // Seen with its connection, so that repeated failures count and their health is audited.
    let outcome = match state.store.get_connection(&job.user_id, &job.connection_id).await {
        Ok(connection) => outcome.after_seeing(&connection),
        Err(_) => outcome,
    };
    end(state, &run, outcome).await
}

/// The connection as it is once its refresh was refused (marked by the refresher).
fn refused(connection: &Connection) -> Connection {
    Connection { status: ConnectionStatus::NeedsReauth, ..connection.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_saved_counts_changed_records_only() {
        let counts = Counts { created: 10, updated: 5, unchanged: 100, deleted: 1 };
        assert_eq!(minutes_saved(&counts, 2.0), 32.0);
        assert_eq!(minutes_saved(&Counts::default(), 2.0), 0.0);
    }
}
