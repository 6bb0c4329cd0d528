//! `sync-scheduler` runs two schedules: the sync schedule, and the daily sweep of orphan secrets,
//! whose EventBridge rule sends `{"task": "sweep-orphan-secrets"}` (template.yaml).

use integrations::AppState;
use integrations::secret_sweep::sweep_orphan_secrets;
use serde_json::Value;

use crate::worker::handle_schedule;

/// The `task` of the sweep's schedule input.
pub const SWEEP_ORPHAN_SECRETS: &str = "sweep-orphan-secrets";

/// One scheduler event: the sweep when its input names it, otherwise a sync scheduler pass.
/// Answers the pass's report.
pub async fn handle_scheduler_event(state: &AppState, event: &Value) -> Result<Value, lambda_runtime::Error> {
    if event.get("task").and_then(Value::as_str) == Some(SWEEP_ORPHAN_SECRETS) {
        let report = sweep_orphan_secrets(state, integrations::store::attrs::now()).await?;
        tracing::info!(?report, "orphan secret sweep");
        return Ok(serde_json::to_value(report)?);
    }
    Ok(serde_json::to_value(handle_schedule(state).await?)?)
}
