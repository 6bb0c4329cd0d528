//! The sweep of orphan secrets. A connect creates its secret just before it stores the
//! connection and deletes it again if that fails; a crash or timeout in between leaves a secret
//! that no connection names, and a disconnect that failed halfway can leave one too. The sweep
//! lists this deployment's connection secrets, and deletes each whose connection (named by its
//! tags) does not exist and that is older than an hour, so it never races a connect in progress.

use chrono::{DateTime, Duration, Utc};

use crate::config::AppState;
use crate::http::ErrorChain;
use crate::store::StoreError;
use crate::vault::{ListedSecret, VaultError};

/// A secret younger than this may belong to a connect still in progress.
pub const ORPHAN_AGE: Duration = Duration::hours(1);

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Connection secrets listed.
    pub listed: usize,
    /// Orphans deleted.
    pub deleted: usize,
    /// Secrets whose tags name no connection: left alone for a person to look at.
    pub untagged: usize,
    /// Secrets that could not be checked or deleted (each logged); the sweep went on.
    pub errors: usize,
}

/// Deletes the secrets older than [`ORPHAN_AGE`] at `now` whose connection does not exist.
#[tracing::instrument(skip_all)]
pub async fn sweep_orphan_secrets(state: &AppState, now: DateTime<Utc>) -> Result<SweepReport, VaultError> {
    let secrets = state.vault.list().await?;
    let mut report = SweepReport { listed: secrets.len(), ..SweepReport::default() };
    for secret in &secrets {
        match sweep_one(state, secret, now).await {
            Ok(Swept::Deleted) => report.deleted += 1,
            Ok(Swept::Kept) => {}
            Ok(Swept::Untagged) => {
                tracing::warn!(secret = %secret.name, "a connection secret without its connection tags");
                report.untagged += 1;
            }
            Err(e) => {
                tracing::error!(secret = %secret.name, error = %ErrorChain(&*e), "could not sweep a secret");
                report.errors += 1;
            }
        }
    }
    Ok(report)
}

enum Swept {
    Deleted,
    Kept,
    Untagged,
}

async fn sweep_one(
    state: &AppState,
    secret: &ListedSecret,
    now: DateTime<Utc>,
) -> Result<Swept, Box<dyn std::error::Error + Send + Sync>> {
    let Some((user, connection)) = &secret.connection else { return Ok(Swept::Untagged) };
    if secret.created.is_none_or(|created| created > now - ORPHAN_AGE) {
        return Ok(Swept::Kept);
    }
    match state.store.get_connection(user, connection).await {
        Ok(_) => return Ok(Swept::Kept),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    state.vault.delete(&secret.name).await?;
    tracing::info!(user = %user, connection = %connection, "orphan secret deleted");
    Ok(Swept::Deleted)
}
