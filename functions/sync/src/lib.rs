//! Lambdas `sync-api` (trigger, history, items and the agenda), `sync-worker` (SQS) and `sync-scheduler`
//! (EventBridge: the sync schedule and the sweep of orphan secrets). The logic is in
//! `integrations::sync`; this crate maps it to events.

mod api;
mod items;
mod sweep;
mod worker;

pub use api::{router, routes};
pub use sweep::{SWEEP_ORPHAN_SECRETS, handle_scheduler_event};
pub use worker::{handle_schedule, handle_sqs_event};
