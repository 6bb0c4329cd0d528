//! A manual sync: queued at once, one in flight per connection, at most one a minute.

use crate::auth::Caller;
use crate::config::AppState;
use crate::domain::{ConnectionId, ConnectionStatus, SyncId, SyncRun, Trigger};
use crate::queue::QueueError;
use crate::store::{QueueRefusal, RunOutcome, StoreError};
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
    match state.store.queue_run(&run, Some(state.sync.manual_gap), None).await? {
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
        return Err(TriggerError::Queue(e));
    }
    tracing::info!(sync = %run.sync_id, "sync queued");
    Ok(run)
}
