//! Lambdas `sync-api` (trigger, history, items and the agenda), `sync-worker` (SQS) and `sync-scheduler`
//! (EventBridge). The logic is in `integrations::sync`; this crate maps it to events.

mod api;
mod items;
mod worker;

pub use api::{router, routes};
pub use worker::{handle_schedule, handle_sqs_event};
