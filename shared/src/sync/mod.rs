//! The sync engine: from a queued run to its one recorded outcome.

mod connector;
mod engine;
mod events;
mod history;
mod notified;
mod record;
mod schedule;
mod trigger;

pub use crate::providers::SyncConnector;
pub use connector::{Connector, ConnectorConfig};
pub use engine::{JobOutcome, SyncError, fail_dead_letter, minutes_saved, run_job, run_job_until};
pub use events::item_version_key;
pub use history::{HistoryError, get_run, list_runs};
pub use notified::{NOTIFIED_SYNC_GAP, NotifiedError, NotifiedOutcome, queue_notified};
pub use record::{
    EventFields, FileFields, KindFields, MessageFields, Page, PageFields, Record, RecordKey, RecordKind, SyncMode,
    TaskFields, clip,
};
pub use schedule::{SchedulerError, SchedulerReport, keep_grants_alive, run_scheduler, schedule};
pub use trigger::{TriggerError, trigger_sync};
