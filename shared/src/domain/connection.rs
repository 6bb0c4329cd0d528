//! A user's connection to one integration.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::health::{Health, HealthStatus, health};
use super::{ConnectionId, IntegrationId, SyncId, SyncStatus, UserId};
use crate::catalog::AuthMode;

/// The caller's plan, from the `plan` claim of their token (default free).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    #[default]
    Free,
    Premium,
}

impl Plan {
    pub const FREE_CONNECTION_LIMIT: u32 = 3;
    pub const FREE_HISTORY_DAYS: u32 = 30;
    pub const PREMIUM_HISTORY_DAYS: u32 = 365;
    /// Premium is not limited by the plan, but each connection costs a secret: a cap against abuse.
    pub const PREMIUM_CONNECTION_CAP: u32 = 50;

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Premium => "premium",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "free" => Some(Plan::Free),
            "premium" => Some(Plan::Premium),
            _ => None,
        }
    }

    /// How many days sync history, automation runs and their receipts, and the audit trail are
    /// kept (the TTL of those items).
    pub fn history_days(self) -> u32 {
        match self {
            Plan::Free => Self::FREE_HISTORY_DAYS,
            Plan::Premium => Self::PREMIUM_HISTORY_DAYS,
        }
    }

    pub fn history_retention(self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.history_days()))
    }

    pub fn connection_limit(self) -> Option<u32> {
        match self {
            Plan::Free => Some(Self::FREE_CONNECTION_LIMIT),
            Plan::Premium => Some(Self::PREMIUM_CONNECTION_CAP),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// The provider rejected the credential: the user has to connect again.
    NeedsReauth,
    /// Being disconnected: the secret is being deleted; a repeated DELETE finishes it.
    Disconnecting,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Active => "active",
            ConnectionStatus::NeedsReauth => "needs_reauth",
            ConnectionStatus::Disconnecting => "disconnecting",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "needs_reauth" => Some(Self::NeedsReauth),
            "disconnecting" => Some(Self::Disconnecting),
            _ => None,
        }
    }
}

/// Whether a connection hears of changes as they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Realtime {
    /// Its subscriptions are in place: a change reaches the items within seconds.
    Live,
    /// It could not subscribe (or its subscription was lost): its changes are polled for.
    Polling,
    /// Its provider does not notify.
    Off,
}

impl Realtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Realtime::Live => "live",
            Realtime::Polling => "polling",
            Realtime::Off => "off",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "live" => Some(Realtime::Live),
            "polling" => Some(Realtime::Polling),
            "off" => Some(Realtime::Off),
            _ => None,
        }
    }
}

/// Whose account at the provider a credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Stable id at the provider (member id, team id + user id, hash of a webhook URL).
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettings {
    pub auto_sync: bool,
    pub sync_interval_minutes: u32,
}

impl SyncSettings {
    pub const MIN_INTERVAL_MINUTES: u32 = 15;
    pub const MAX_INTERVAL_MINUTES: u32 = 24 * 60;
    pub const DEFAULT_INTERVAL_MINUTES: u32 = 60;

    /// The intervals a client offers; any whole number of minutes in the bounds is accepted.
    pub const INTERVAL_CHOICES: [u32; 6] = [15, 30, 60, 240, 720, 1440];

    pub fn interval_is_valid(minutes: u32) -> bool {
        (Self::MIN_INTERVAL_MINUTES..=Self::MAX_INTERVAL_MINUTES).contains(&minutes)
    }

    /// The allowed intervals, as `GET /available` tells clients.
    pub fn intervals() -> IntervalOptions {
        IntervalOptions {
            min_minutes: Self::MIN_INTERVAL_MINUTES,
            max_minutes: Self::MAX_INTERVAL_MINUTES,
            default_minutes: Self::DEFAULT_INTERVAL_MINUTES,
            choices: Self::INTERVAL_CHOICES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntervalOptions {
    pub min_minutes: u32,
    pub max_minutes: u32,
    pub default_minutes: u32,
    pub choices: [u32; 6],
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self { auto_sync: false, sync_interval_minutes: Self::DEFAULT_INTERVAL_MINUTES }
    }
}

/// The outcome of the latest finished sync, kept on the connection for the list view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSync {
    pub sync_id: SyncId,
    pub status: SyncStatus,
    pub finished_at: DateTime<Utc>,
    pub items: u64,
    pub minutes_saved: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub user_id: UserId,
    pub connection_id: ConnectionId,
    pub integration_id: IntegrationId,
    pub status: ConnectionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When the status last changed to what it is (set when the provider refuses the grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_since: Option<DateTime<Utc>>,
    pub auth_kind: AuthMode,
    /// The owner's plan when the connection was last connected or changed (from their token):
    /// how long its history and audit entries are kept. Internal.
    #[serde(skip_serializing)]
    pub plan: Plan,
    /// Whether it has data to sync (its provider's capability for its auth kind): a webhook
    /// connection only receives posts, and is never offered sync or auto-sync.
    pub can_sync: bool,
    /// Name of the Secrets Manager secret (never the secret itself); internal, not shown.
    #[serde(skip_serializing)]
    pub secret_id: String,
    /// Last four characters of the credential, masked, so a user can tell keys apart.
    pub credential_hint: String,
    pub account: Account,
    pub display_name: String,
    pub settings: SyncSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_sync_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_in_flight: Option<SyncId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<LastSync>,
    /// When the user last asked for a sync (manual triggers are rate limited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_manual_sync_at: Option<DateTime<Utc>>,
    /// Finished syncs that failed since the last one that succeeded (written by the worker).
    pub consecutive_failures: u32,
    /// When a sync last succeeded: how fresh the data is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// The provider asked us to slow down until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limited_until: Option<DateTime<Utc>>,
    /// When its OAuth grant ends for good: the provider gave the token an expiry and no refresh
    /// token to renew it with (what the health warns of). Not shown as such.
    #[serde(skip)]
    pub grant_expires_at: Option<DateTime<Utc>>,
    pub items_total: u64,
    pub minutes_saved_total: f64,
    /// Its API budget now (filled in where the API shows a connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::providers::BudgetView>,
    /// How it hears of changes: `live` (provider notifications), `polling`, or `off`.
    pub realtime: Realtime,
    /// When its data was last known current: the start of its last successful sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_as_of: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency: every update checks and bumps it.
    pub version: u64,
    /// Computed when read (see [`Connection::with_health`]), never stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

impl Connection {
    /// The connection with its health at `now` filled in.
    pub fn with_health(mut self, now: DateTime<Utc>) -> Self {
        let provider = crate::catalog::Catalog::get()
            .find(self.integration_id.as_str())
            .map_or_else(|| self.integration_id.as_str().to_owned(), |i| i.name.clone());
        self.health = Some(health(&self, &provider, now));
        self
    }

    /// Its health level alone (what a change is audited on).
    pub fn health_status(&self) -> HealthStatus {
        HealthStatus::of(self.status, self.consecutive_failures)
    }
}

/// Masks a credential to its last four characters: `••••abcd`.
pub fn credential_hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return "••••".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_shows_only_the_last_four_characters() {
        assert_eq!(credential_hint("abcdefghijkl1234"), "••••1234");
    }

    #[test]
    fn a_short_credential_is_not_revealed_by_its_hint() {
        assert_eq!(credential_hint("abcd1234"), "••••");
    }

    #[test]
    fn sync_intervals_are_bounded_between_fifteen_minutes_and_a_day() {
        assert!(!SyncSettings::interval_is_valid(14));
        assert!(SyncSettings::interval_is_valid(15));
        assert!(SyncSettings::interval_is_valid(1440));
        assert!(!SyncSettings::interval_is_valid(1441));
    }
}
