//! A connection's health, in words a manager acts on: pure, from what the connection item holds.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Connection, ConnectionStatus, SyncStatus};

/// How long before a grant that cannot be renewed ends its connection needs attention.
pub const GRANT_EXPIRY_WARNING_DAYS: i64 = 7;

/// Failed syncs in a row after which a connection needs attention. One or two failures are
/// usually passing (a provider's bad minute); the worker already retried each before giving up.
pub const FAILURES_FOR_ATTENTION: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthStatus {
    Ok,
    Attention,
    ActionNeeded,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::Attention => "attention",
            HealthStatus::ActionNeeded => "action-needed",
        }
    }

    /// The level alone: what a change of health (audited) is measured on.
    pub fn of(status: ConnectionStatus, consecutive_failures: u32) -> Self {
        match status {
            ConnectionStatus::NeedsReauth => HealthStatus::ActionNeeded,
            _ if consecutive_failures >= FAILURES_FOR_ATTENTION => HealthStatus::Attention,
            _ => HealthStatus::Ok,
        }
    }
}

/// The one thing the manager can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthAction {
    Reconnect,
    Retry,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub status: HealthStatus,
    /// Why, in words, most pressing first.
    pub reasons: Vec<String>,
    pub action: HealthAction,
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%-d %b").to_string()
}

fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M UTC").to_string()
}

/// The health of `connection` at `now`; `provider` is its integration's name.
pub fn health(connection: &Connection, provider: &str, now: DateTime<Utc>) -> Health {
    let mut status = HealthStatus::of(connection.status, connection.consecutive_failures);
    let mut reasons = Vec::new();
    let mut action = HealthAction::None;
    if connection.status == ConnectionStatus::NeedsReauth {
        let since = connection.status_since.unwrap_or(connection.updated_at);
        reasons.push(format!("Reconnect: {provider} refused the token on {}", day(since)));
        action = HealthAction::Reconnect;
    } else if let Some(ends) = connection.grant_expires_at {
        // A token the provider gave an expiry and no way to renew: warned of, then needed.
        if ends <= now {
            status = HealthStatus::ActionNeeded;
            reasons.push(format!("Reconnect: {provider}'s token expired on {}", day(ends)));
            action = HealthAction::Reconnect;
        } else if ends - now <= chrono::Duration::days(GRANT_EXPIRY_WARNING_DAYS) {
            status = status.max(HealthStatus::Attention);
            let days = ((ends - now).num_hours() + 23) / 24;
            reasons.push(match days {
                ..=1 => format!("{provider}'s token expires within a day"),
                n => format!("{provider}'s token expires in {n} days"),
            });
            action = HealthAction::Reconnect;
        }
    }
    if connection.consecutive_failures >= FAILURES_FOR_ATTENTION {
        let last = connection
            .last_sync
            .as_ref()
            .and_then(|l| l.error.as_deref())
            .map(|e| format!(": {}", e.trim_end_matches('.')))
            .unwrap_or_default();
        reasons.push(format!("{} syncs in a row failed{last}", connection.consecutive_failures));
        if action == HealthAction::None && connection.can_sync {
            action = HealthAction::Retry;
        }
    }
    if let Some(until) = connection.rate_limited_until.filter(|u| *u > now) {
        reasons.push(format!("Rate-limited until {}", clock(until)));
    }
    // Fresh as of the start of the last successful sync (what it read was current then), the
    // same instant the connection shows as `freshAsOf`.
    if let Some(fresh) = connection.fresh_as_of.or(connection.last_success_at) {
        reasons.push(format!(
            "Data fresh as of {}",
            if fresh.date_naive() == now.date_naive() {
                clock(fresh)
            } else {
                format!("{} {}", day(fresh), clock(fresh))
            }
        ));
    } else if connection.last_sync.as_ref().is_some_and(|l| l.status == SyncStatus::Succeeded) {
        let finished = connection.last_sync.as_ref().map(|l| l.finished_at).expect("checked");
        reasons.push(format!("Data fresh as of {} {}", day(finished), clock(finished)));
    }
    Health { status, reasons, action }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::AuthMode;
    use crate::domain::{Account, ConnectionId, IntegrationId, LastSync, SyncId, SyncSettings, UserId};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn connection() -> Connection {
        Connection {
            user_id: UserId::parse("user-1").unwrap(),
            connection_id: ConnectionId::generate(),
            integration_id: IntegrationId::parse("trello").unwrap(),
            status: ConnectionStatus::Active,
            status_reason: None,
            status_since: None,
            auth_kind: AuthMode::ApiKey,
            plan: crate::domain::Plan::Free,
            can_sync: true,
            secret_id: String::new(),
            credential_hint: "••••".into(),
            account: Account { id: "a".into(), name: "A".into(), workspace: None },
            display_name: "Trello".into(),
            settings: SyncSettings::default(),
            next_sync_at: None,
            sync_in_flight: None,
            last_sync: None,
            last_manual_sync_at: None,
            consecutive_failures: 0,
            last_success_at: None,
            rate_limited_until: None,
            items_total: 0,
            minutes_saved_total: 0.0,
            created_at: at("2026-12-01T08:00:00Z"),
            updated_at: at("2026-12-01T08:00:00Z"),
            version: 1,
            health: None,
            budget: None,
            realtime: crate::domain::Realtime::Off,
            fresh_as_of: None,
            grant_expires_at: None,
        }
    }

    #[test]
    fn a_refused_token_needs_the_user_at_once_with_the_day_it_happened() {
        let mut c = connection();
        c.status = ConnectionStatus::NeedsReauth;
        c.status_since = Some(at("2026-12-02T09:00:00Z"));
        let h = health(&c, "Google", at("2026-12-03T10:00:00Z"));
        assert_eq!(h.status, HealthStatus::ActionNeeded);
        assert_eq!(h.action, HealthAction::Reconnect);
        assert_eq!(h.reasons[0], "Reconnect: Google refused the token on 2 Dec");
    }

    #[test]
    fn passing_failures_need_attention_only_from_the_third_in_a_row() {
        let mut c = connection();
        c.last_sync = Some(LastSync {
            sync_id: SyncId::generate(),
            status: SyncStatus::Failed,
            finished_at: at("2026-12-02T10:00:00Z"),
            items: 0,
            minutes_saved: 0.0,
            error: Some("Trello answered 503.".into()),
        });
        c.consecutive_failures = FAILURES_FOR_ATTENTION - 1;
        assert_eq!(health(&c, "Trello", at("2026-12-02T10:05:00Z")).status, HealthStatus::Ok);
        c.consecutive_failures = FAILURES_FOR_ATTENTION;
        let h = health(&c, "Trello", at("2026-12-02T10:05:00Z"));
        assert_eq!(h.status, HealthStatus::Attention);
        assert_eq!(h.action, HealthAction::Retry);
        assert_eq!(h.reasons, ["3 syncs in a row failed: Trello answered 503"]);
    }

    #[test]
    fn a_token_that_cannot_be_renewed_needs_attention_a_week_before_it_ends_and_the_user_after() {
        let mut c = connection();
        c.integration_id = IntegrationId::parse("slack").unwrap();
        c.auth_kind = AuthMode::Oauth2;
        c.grant_expires_at = Some(at("2026-12-07T12:00:00Z"));
        // More than a week ahead: nothing to say.
        let h = health(&c, "Slack", at("2026-11-29T12:00:00Z"));
        assert_eq!((h.status, h.action), (HealthStatus::Ok, HealthAction::None));
        assert!(h.reasons.is_empty(), "{:?}", h.reasons);
        // Within a week: attention, with the days left (a part day counts as one).
        let h = health(&c, "Slack", at("2026-12-02T10:00:00Z"));
        assert_eq!((h.status, h.action), (HealthStatus::Attention, HealthAction::Reconnect));
        assert_eq!(h.reasons, ["Slack's token expires in 6 days"]);
        assert_eq!(health(&c, "Slack", at("2026-12-02T12:00:00Z")).reasons, ["Slack's token expires in 5 days"]);
        assert_eq!(health(&c, "Slack", at("2026-12-07T01:00:00Z")).reasons, ["Slack's token expires within a day"]);
        // Ended: the user must connect again.
        let h = health(&c, "Slack", at("2026-12-07T12:00:00Z"));
        assert_eq!((h.status, h.action), (HealthStatus::ActionNeeded, HealthAction::Reconnect));
        assert_eq!(h.reasons, ["Reconnect: Slack's token expired on 7 Dec"]);
    }

    #[test]
    fn a_refused_token_is_said_once_even_when_it_would_have_expired() {
        let mut c = connection();
        c.status = ConnectionStatus::NeedsReauth;
        c.status_since = Some(at("2026-12-02T09:00:00Z"));
        c.grant_expires_at = Some(at("2026-12-01T09:00:00Z"));
        let h = health(&c, "Slack", at("2026-12-03T10:00:00Z"));
        assert_eq!(h.status, HealthStatus::ActionNeeded);
        assert_eq!(h.reasons, ["Reconnect: Slack refused the token on 2 Dec"]);
    }

    #[test]
    fn a_healthy_connection_says_how_fresh_its_data_is_and_when_a_rate_limit_ends() {
        let mut c = connection();
        c.fresh_as_of = Some(at("2026-12-02T10:42:00Z"));
        c.last_success_at = Some(at("2026-12-02T10:43:30Z"));
        c.rate_limited_until = Some(at("2026-12-02T14:05:00Z"));
        let h = health(&c, "Trello", at("2026-12-02T12:00:00Z"));
        assert_eq!(h.status, HealthStatus::Ok);
        assert_eq!(h.action, HealthAction::None);
        assert_eq!(h.reasons, ["Rate-limited until 14:05 UTC", "Data fresh as of 10:42 UTC"]);
        // A limit that has passed is not mentioned.
        let later = health(&c, "Trello", at("2026-12-02T15:00:00Z"));
        assert_eq!(later.reasons, ["Data fresh as of 10:42 UTC"]);
    }
}
