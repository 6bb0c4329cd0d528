//! Lambdas `hooks-api` (REST hooks out: subscribe, list, unsubscribe, deliveries, redeliver)
//! and `hooks-worker` (SQS: signs and sends each delivery, retrying for about a day). The
//! logic is in `integrations::hooks`; this crate maps it to requests and events.

mod api;
mod worker;

pub use api::{router, routes};
pub use worker::handle_sqs_event;
