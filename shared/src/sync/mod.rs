//! The sync engine: from a queued run to its one recorded outcome.

mod connector;
mod engine;
mod record;
mod schedule;
mod trigger;

pub use crate::providers::SyncConnector;
pub use connector::{Connector, ConnectorConfig};
pub use engine::{JobOutcome, SyncError, fail_dead_letter, minutes_saved, run_job};
pub use record::{Page, Record, RecordKey, RecordKind, SyncMode, clip};
pub use schedule::{SchedulerError, SchedulerReport, run_scheduler};
pub use trigger::{TriggerError, trigger_sync};
