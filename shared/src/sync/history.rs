//! A connection's sync history, as its owner sees it: another user's connection is not found.

use crate::auth::Caller;
use crate::config::AppState;
use crate::domain::{ConnectionId, SyncId, SyncRun};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("there is no such connection")]
    ConnectionNotFound,
    #[error("there is no such sync")]
    SyncNotFound,
    #[error("the page size must be between 1 and 100")]
    InvalidLimit,
    #[error("the cursor is not valid for this history")]
    InvalidCursor,
    #[error(transparent)]
    Store(StoreError),
}

/// One page of runs, newest first, and the cursor of the next page.
pub async fn list_runs(
    state: &AppState,
    caller: &Caller,
    connection: &ConnectionId,
    limit: i32,
    cursor: Option<&str>,
) -> Result<(Vec<SyncRun>, Option<String>), HistoryError> {
    if !(1..=100).contains(&limit) {
        return Err(HistoryError::InvalidLimit);
    }
    let (runs, next) = match state.store.list_runs(&caller.user_id, connection, limit, cursor).await {
        Ok(page) => page,
        Err(StoreError::InvalidCursor) => return Err(HistoryError::InvalidCursor),
        Err(e) => return Err(HistoryError::Store(e)),
    };
    // An empty first page may mean the connection is not the caller's: then it is not found.
    if runs.is_empty() && cursor.is_none() {
        match state.store.get_connection(&caller.user_id, connection).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => return Err(HistoryError::ConnectionNotFound),
            Err(e) => return Err(HistoryError::Store(e)),
        }
    }
    Ok((runs, next))
}

pub async fn get_run(
    state: &AppState,
    caller: &Caller,
    connection: &ConnectionId,
    sync: &SyncId,
) -> Result<SyncRun, HistoryError> {
    match state.store.get_run(&caller.user_id, connection, sync).await {
        Ok(run) => Ok(run),
        Err(StoreError::NotFound) => Err(HistoryError::SyncNotFound),
        Err(e) => Err(HistoryError::Store(e)),
    }
}
