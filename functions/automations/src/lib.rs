//! Lambdas `automations-api` (define, switch on, dry-run, run, receipts, templates) and
//! `automations-runner` (SQS). The logic is in `integrations::automations`; this crate maps it
//! to requests and events.

mod api;
mod runner;

pub use api::{router, routes};
pub use runner::handle_sqs_event;
