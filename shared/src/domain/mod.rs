//! Domain types: no AWS, no HTTP.

mod connection;
mod health;
mod ids;
mod sync;

pub use connection::{Account, Connection, ConnectionStatus, LastSync, Plan, Realtime, SyncSettings, credential_hint};
pub use health::{FAILURES_FOR_ATTENTION, Health, HealthAction, HealthStatus, health};
pub use ids::{AutomationId, ConnectionId, DeliveryId, HookId, IntegrationId, InvalidId, SyncId, UserId};
pub use sync::{Counts, Phase, Progress, SyncJob, SyncRun, SyncStatus, Trigger};
