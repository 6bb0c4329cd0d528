//! A notified connection's pending sync, turned into a run by the worker: at once when no run
//! is in flight and none was started by a notification in the last [`NOTIFIED_SYNC_GAP`];
//! otherwise the message comes back when that is over. Notifications in between only find the
//! sync pending already, so a burst makes one run, then at most one more per gap.

use std::time::Duration;

use crate::config::AppState;
use crate::domain::{SyncRun, Trigger};
use crate::queue::{Notified, QueueError};
use crate::store::{PendingRun, RunOutcome, StoreError};
use crate::sync::SyncMode;

/// Least time between two runs that notifications start for one connection.
pub const NOTIFIED_SYNC_GAP: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Debug, thiserror::Error)]
pub enum NotifiedError {
    #[error("the worker has no sync queue: set SYNC_QUEUE_URL")]
    NoQueue,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the run or the pending sync could not be queued")]
    Queue(#[source] QueueError),
}

/// What became of a pending sync.
#[derive(Debug, Clone, PartialEq)]
pub enum NotifiedOutcome {
    Queued(Box<SyncRun>),
    /// Asked again after this long.
    Later(Duration),
    Dropped,
}

#[tracing::instrument(skip_all, fields(connection = %notified.connection_id))]
pub async fn queue_notified(state: &AppState, notified: &Notified) -> Result<NotifiedOutcome, NotifiedError> {
    let queue = state.queue.as_ref().ok_or(NotifiedError::NoQueue)?;
    let run = SyncRun::queued(
        notified.user_id.clone(),
        notified.connection_id.clone(),
        notified.integration_id.clone(),
        Trigger::Webhook,
        SyncMode::Incremental,
        crate::store::attrs::now(),
    );
    match state.store.queue_pending_run(&run, NOTIFIED_SYNC_GAP).await? {
        PendingRun::Queued => {
            if let Err(e) = queue.send(&run.job()).await {
                // The run must not stay queued with no message behind it; this message comes
                // back, and the next notification sets the sync pending again.
                let outcome = RunOutcome::failed("The sync could not be queued.", Default::default(), false);
                state.store.finish_run(&run, &outcome).await?;
                return Err(NotifiedError::Queue(e));
            }
            tracing::info!(sync = %run.sync_id, "notified sync queued");
            Ok(NotifiedOutcome::Queued(Box::new(run)))
        }
        PendingRun::Later(secs) => {
            let delay = Duration::from_secs(secs.clamp(1, 900));
            queue.send_notified(notified, delay).await.map_err(NotifiedError::Queue)?;
            Ok(NotifiedOutcome::Later(delay))
        }
        PendingRun::Dropped => Ok(NotifiedOutcome::Dropped),
    }
}
