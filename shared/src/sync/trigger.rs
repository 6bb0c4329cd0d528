//! A manual sync: queued at once, one in flight per connection, at most one a minute, and at
//! most [`FULL_SYNCS_PER_DAY`] full syncs a connection per UTC day.

use crate::auth::Caller;
use crate::config::AppState;
use crate::domain::{ConnectionId, ConnectionStatus, SyncId, SyncRun, Trigger};
use crate::queue::QueueError;
use crate::store::{FULL_SYNCS_PER_DAY, QueueRefusal, RunOutcome, StoreError};
use crate::sync::SyncMode;

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("there is no such connection")]
    NotFound,
    #[error("a sync of this connection is already in progress")]
    InFlight(Option<SyncId>),
    #[error("the connection is {}; reconnect it before syncing", .0.as_str())]
    NotActive(ConnectionStatus),
    #[error("this connection was synced moments ago; you can sync again in {0} seconds")]
    RateLimited(u64),
    #[error(
        "this connection has run its {FULL_SYNCS_PER_DAY} full syncs today; an incremental sync runs now, another full \
         sync in {0} seconds"
    )]
    FullSyncLimit(u64),
    #[error("{0} connected this way has nothing to sync")]
    NothingToSync(String),
    #[error("sync is not configured on this service")]
    NoQueue,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the sync could not be queued")]
    Queue(#[source] QueueError),
}

#[tracing::instrument(skip_all, fields(user = %caller.user_id, connection = %connection_id))]
pub async fn trigger_sync(
    state: &AppState,
    caller: &Caller,
    connection_id: &ConnectionId,
    mode: SyncMode,
) -> Result<SyncRun, TriggerError> {
    let queue = state.queue.as_ref().ok_or(TriggerError::NoQueue)?;
    let connection = match state.store.get_connection(&caller.user_id, connection_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(TriggerError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let integration = state
        .catalog
        .find(connection.integration_id.as_str())
        .ok_or_else(|| TriggerError::NothingToSync(connection.integration_id.to_string()))?;
    if !integration.syncs_with(connection.auth_kind) {
        return Err(TriggerError::NothingToSync(integration.name.clone()));
    }
    let run = SyncRun::queued(
        caller.user_id.clone(),
        connection_id.clone(),
        connection.integration_id.clone(),
        Trigger::Manual,
        mode,
        crate::store::attrs::now(),
    );
    let full = mode == SyncMode::Full;
    if full && let Err(secs) = state.store.take_full_sync(&caller.user_id, connection_id, run.queued_at).await? {
        return Err(TriggerError::FullSyncLimit(secs));
    }
    let queued = state.store.queue_run(&run, Some(state.sync.manual_gap), None).await;
    if full && !matches!(queued, Ok(Ok(()))) {
        give_back_full_sync(state, &run).await;
    }
    match queued? {
        Ok(()) => {}
        Err(QueueRefusal::NotFound) => return Err(TriggerError::NotFound),
        Err(QueueRefusal::InFlight(id)) => return Err(TriggerError::InFlight(id)),
        Err(QueueRefusal::NotActive(status)) => return Err(TriggerError::NotActive(status)),
        Err(QueueRefusal::RateLimited(secs)) => return Err(TriggerError::RateLimited(secs)),
    }
    if let Err(e) = queue.send(&run.job()).await {
        // The run must not stay "queued" with no message behind it.
        let outcome = RunOutcome::failed("The sync could not be queued.", Default::default(), false);
        state.store.finish_run(&run, &outcome).await?;
        if full {
            give_back_full_sync(state, &run).await;
        }
        return Err(TriggerError::Queue(e));
    }
    tracing::info!(sync = %run.sync_id, "sync queued");
    Ok(run)
}

/// A full sync taken for a run that never ran does not count (at worst, failing that, the user
/// has one fewer that day).
async fn give_back_full_sync(state: &AppState, run: &SyncRun) {
    if let Err(e) = state.store.return_full_sync(&run.user_id, &run.connection_id, run.queued_at).await {
        tracing::warn!(sync = %run.sync_id, error = %crate::http::ErrorChain(&e), "could not give back a full sync");
    }
}
