//! DynamoDB repository over the single table (see DESIGN.md, "Data").

pub mod attrs;
mod audit;
mod automations;
mod budgets;
mod connections;
mod grants;
mod health;
mod hooks;
mod insights;
mod limits;
mod oauth;
mod records;
mod subscriptions;
mod syncs;
pub mod table;
mod update;
mod your_data;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

pub use audit::{AuditAction, AuditEntry, AuditFilter, Subject};
pub use automations::{
    ActionKey, ActionRecord, ActionStatus, Automation, Claim, DUE_SOON_CHECK, DueAutomation, InsertRefusal, RunRecord,
    next_run,
};
pub use budgets::{Bucket, ClaimSpend, Level, Spend};
pub(crate) use connections::from_item as connection_from_item;
pub use connections::{ConnectOutcome, DUE_SHARDS, IDLE_REFRESH, NewConnection, SettingsChange};
pub use grants::{GrantRelease, shared_grant};
pub use health::ProviderRollup;
pub use hooks::{Attempt, AttemptRecord, DELIVERY_RETENTION, Delivery, DeliveryStatus, Hook, MAX_DELIVERIES_LISTED};
pub use insights::{AutomationTotals, DayActivity, IntegrationCounter, UsageCounters, UserSummary};
pub use limits::FULL_SYNCS_PER_DAY;
pub use oauth::{OAUTH_STATE_TTL, OAuthState, TooManyOpenStates};
pub use records::{Change, Changed, ReadCost, StoredRecord, Written, content_hash};
pub use subscriptions::{PendingRun, SEEN_EVENT_TTL, Subscription};
pub use syncs::{DueConnection, QueueRefusal, RUN_DEADLINE, RunOutcome};

use crate::domain::{ConnectionId, IntegrationId, UserId};

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A condition failed: someone else changed the item first.
    #[error("the item was changed concurrently")]
    Conflict,
    #[error("stored item is not readable: {0}")]
    Corrupt(String),
    /// A paging cursor that this listing did not hand out.
    #[error("the cursor is not valid for this listing")]
    InvalidCursor,
    #[error("DynamoDB request failed: {0}")]
    Aws(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub(crate) fn aws<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        StoreError::Aws(Box::new(e))
    }
}

/// A transaction cancelled because conditions failed: which of its items' did, by position.
#[derive(Debug)]
pub(crate) struct Cancelled(Vec<bool>);

impl Cancelled {
    /// Whether the condition of item `i` (in the order the transaction lists them) failed.
    pub fn failed(&self, i: usize) -> bool {
        self.0.get(i).copied().unwrap_or(false)
    }
}

impl Store {
    /// Writes `items` all or nothing: `Ok(Err(Cancelled))` when conditions failed and nothing
    /// was written; any other failure is the store's error.
    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Result<(), Cancelled>, StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => Ok(Err(Cancelled(
                    e.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect(),
                ))),
                _ => Err(StoreError::aws(err)),
            },
        }
    }
}

/// A conditional write's outcome: `Ok(None)` when its condition failed (nothing was written);
/// any other failure is the store's error.
pub(crate) fn unless_condition_failed<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Option<T>, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException") => Ok(None),
        Err(e) => Err(StoreError::aws(e)),
    }
}

/// A listing's cursor: the sort key it stopped at, opaque to the client.
pub(crate) fn encode_cursor(sk: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk)
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()
}

pub(crate) mod keys {
    use super::*;

    pub fn user(user: &UserId) -> String {
        format!("USER#{user}")
    }
    pub fn connection(id: &ConnectionId) -> String {
        format!("CONN#{id}")
    }
    pub fn account_guard(integration: &IntegrationId, account_id: &str) -> String {
        format!("ACCOUNT#{integration}#{account_id}")
    }
    pub const PROFILE: &str = "PROFILE";
    /// A grant that several connections may hold (see `grants`).
    pub fn grant(grant: &str) -> String {
        format!("GRANT#{grant}")
    }
    pub const GRANT: &str = "GRANT";
    pub const STATS: &str = "STATS";
    pub fn integration_counter(integration: &IntegrationId) -> String {
        format!("INTEGRATION#{integration}")
    }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
