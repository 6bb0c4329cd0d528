//! Director of One — Integrations: everything that is not transport.
//!
//! The Lambda functions in `functions/*` are thin: they extract a request, call one function
//! of this crate, and map its result.

pub mod activity;
pub mod auth;
pub mod automations;
pub mod catalog;
pub mod clients;
pub mod config;
pub mod connections;
pub mod deadline;
pub mod domain;
pub mod hooks;
pub mod http;
pub mod insights;
pub mod items;
pub mod metrics;
pub mod oauth;
pub mod plan;
pub mod provider_status;
pub mod providers;
pub mod queue;
pub mod secret_sweep;
pub mod standard_webhooks;
pub mod store;
pub mod sync;
pub mod vault;
pub mod webhooks;
pub mod your_data;

pub use config::AppState;

#[cfg(feature = "test-support")]
pub mod testing;
