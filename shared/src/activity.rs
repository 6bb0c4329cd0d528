//! The caller's audit trail as they read it: one page, newest first, narrowed by connection and
//! action. One Query per page.

use serde::Serialize;

use crate::auth::Caller;
use crate::config::AppState;
use crate::domain::ConnectionId;
use crate::store::{AuditAction, AuditEntry, AuditFilter, StoreError};

pub const DEFAULT_PAGE: i32 = 20;

/// What `GET /audit` asks for, as sent.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    pub limit: Option<i32>,
    pub cursor: Option<String>,
    pub connection_id: Option<String>,
    pub action: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// The next page, when there may be one (a filtered page may hold fewer than `limit`).
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error("{0}")]
    Invalid(String),
    #[error("the cursor is not valid for this listing")]
    InvalidCursor,
    #[error(transparent)]
    Store(StoreError),
}

fn filter(query: &AuditQuery) -> Result<AuditFilter, ActivityError> {
    let connection = query
        .connection_id
        .as_deref()
        .map(ConnectionId::parse)
        .transpose()
        .map_err(|e| ActivityError::Invalid(format!("connectionId: {e}")))?;
    let action = match query.action.as_deref() {
        None => None,
        Some(raw) => Some(AuditAction::parse(raw).ok_or_else(|| {
            let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
            ActivityError::Invalid(format!("`{raw}` is not an audit action; use one of: {}", known.join(", ")))
        })?),
    };
    Ok(AuditFilter { connection, action })
}

/// One page of the caller's audit trail. Another user's connection id simply matches nothing.
pub async fn audit(state: &AppState, caller: &Caller, query: AuditQuery) -> Result<AuditPage, ActivityError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=100).contains(&limit) {
        return Err(ActivityError::Invalid("limit must be between 1 and 100".into()));
    }
    let filter = filter(&query)?;
    match state.store.audit_page(&caller.user_id, &filter, limit, query.cursor.as_deref()).await {
        Ok((entries, next_cursor)) => Ok(AuditPage { entries, next_cursor }),
        Err(StoreError::InvalidCursor) => Err(ActivityError::InvalidCursor),
        Err(e) => Err(ActivityError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_action_is_refused_naming_the_known_ones() {
        let query = AuditQuery { action: Some("deleted".into()), ..Default::default() };
        let Err(ActivityError::Invalid(message)) = filter(&query) else { panic!("expected a refusal") };
        assert!(message.contains("health_changed") && message.contains("hook_removed"), "{message}");
        let query = AuditQuery { action: Some("sign_in_declined".into()), ..Default::default() };
        assert_eq!(filter(&query).unwrap().action, Some(AuditAction::SignInDeclined));
    }

    #[test]
    fn a_malformed_connection_id_is_refused() {
        let query = AuditQuery { connection_id: Some("not-an-id".into()), ..Default::default() };
        assert!(matches!(filter(&query), Err(ActivityError::Invalid(_))));
    }
}
