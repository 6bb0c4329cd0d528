//! Reads behind the stats and recommendations endpoints.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::attrs::{Item, get_s, n, opt_n, s};
use super::connections::from_item;
use super::{Store, StoreError, keys, table};
use crate::domain::Connection;
use crate::domain::{IntegrationId, UserId};

/// One day of activity for a user, kept as `DAY#{date}` items: syncs (by the sync worker) and
/// automations (their receipts, by the runner).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayActivity {
    pub items: u64,
    pub minutes_saved: f64,
    pub syncs: u64,
    pub failures: u64,
    pub automation_minutes_saved: u64,
    pub automation_actions: u64,
}

/// What the user's automations did, from their receipts' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AutomationTotals {
    pub minutes_saved: u64,
    pub actions: u64,
}

/// Everything the stats endpoint needs about one user, from a single Query: the user's
/// partition between `CONN#` and `PROFILE` holds exactly the connections, the daily rollups
/// and the profile (other item families sort outside that range).
#[derive(Debug, Default)]
pub struct UserSummary {
    pub connections: Vec<Connection>,
    pub days: BTreeMap<NaiveDate, DayActivity>,
    /// The profile's automation counters (all time).
    pub automations: AutomationTotals,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationCounter {
    pub integration_id: String,
    pub connections: i64,
}

impl Store {
    pub async fn user_summary(&self, user: &UserId) -> Result<UserSummary, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .expression_attribute_values(":from", s("CONN#"))
            .expression_attribute_values(":to", s(keys::PROFILE))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut summary = UserSummary::default();
        for item in items {
            let item: Item = item.map_err(StoreError::aws)?;
            let sk = get_s(&item, "SK")?;
            if sk.starts_with("CONN#") {
                summary.connections.push(from_item(&item)?);
            } else if let Some(day) = sk.strip_prefix("DAY#") {
                let Ok(date) = day.parse::<NaiveDate>() else {
                    continue;
                };
                summary.days.insert(
                    date,
                    DayActivity {
                        items: opt_n(&item, "items").unwrap_or(0),
                        minutes_saved: opt_n(&item, "minutesSaved").unwrap_or(0.0),
                        syncs: opt_n(&item, "syncs").unwrap_or(0),
                        failures: opt_n(&item, "failures").unwrap_or(0),
                        automation_minutes_saved: opt_n(&item, "automationMinutesSaved").unwrap_or(0),
                        automation_actions: opt_n(&item, "automationActions").unwrap_or(0),
                    },
                );
            } else if sk == keys::PROFILE {
                summary.automations = AutomationTotals {
                    minutes_saved: opt_n(&item, "automationMinutesSaved").unwrap_or(0),
                    actions: opt_n(&item, "automationActions").unwrap_or(0),
                };
            }
        }
        Ok(summary)
    }

    /// How many connections each integration has (kept on connect and disconnect).
    pub async fn integration_counters(&self) -> Result<Vec<IntegrationCounter>, StoreError> {
        Ok(self.usage_counters().await?.integrations)
    }

    /// Every global counter, from one (paged) Query of the `STATS` partition: connections per
    /// integration, users per integration, and users per pair of integrations.
    pub async fn usage_counters(&self) -> Result<UsageCounters, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(keys::STATS))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut counters = UsageCounters::default();
        for item in items {
            let item = item.map_err(StoreError::aws)?;
            let sk = get_s(&item, "SK")?;
            if let Some(id) = sk.strip_prefix("INTEGRATION#") {
                counters.integrations.push(IntegrationCounter {
                    integration_id: id.to_owned(),
                    connections: opt_n(&item, "connections").unwrap_or(0),
                });
            } else if let Some(id) = sk.strip_prefix(USERS_PREFIX) {
                counters.users.insert(id.to_owned(), opt_n(&item, "users").unwrap_or(0));
            } else if let Some((a, b)) = sk.strip_prefix(PAIR_PREFIX).and_then(|pair| pair.split_once('#')) {
                counters.pairs.insert((a.to_owned(), b.to_owned()), opt_n(&item, "users").unwrap_or(0));
            }
        }
        Ok(counters)
    }

    /// After a connect (`delta` 1) or a disconnect (-1) of `integration` by `user`: when it is
    /// the user's first (or they no longer have one), the integration's user count and its pair
    /// counts with each other integration the user has. Changed after the commit, like the
    /// connection count: items every user's connect would share make concurrent transactions
    /// conflict. Best effort: a count missed here only shades a suggestion.
    pub(crate) async fn count_co_connections(&self, user: &UserId, integration: &IntegrationId, delta: i64) {
        let others = match self.user_integrations(user).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %crate::http::ErrorChain(&e), "could not read the user's integrations for the pair counts");
                return;
            }
        };
        let same = others.iter().filter(|i| *i == integration.as_str()).count();
        // Connected: the new connection is listed; it is the first when it is the only one.
        // Disconnected: it is gone; it was the last when none is left.
        if (delta > 0 && same != 1) || (delta < 0 && same != 0) {
            return;
        }
        let mut keys = vec![format!("{USERS_PREFIX}{integration}")];
        let distinct: std::collections::BTreeSet<&str> =
            others.iter().map(String::as_str).filter(|i| *i != integration.as_str()).collect();
        keys.extend(distinct.into_iter().map(|other| pair_key(integration.as_str(), other)));
        for sk in keys {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(table::PK, s(keys::STATS))
                .key(table::SK, s(&sk))
                .update_expression("ADD #users :d")
                .expression_attribute_names("#users", "users")
                .expression_attribute_values(":d", n(delta))
                .send()
                .await;
            if let Err(e) = result {
                tracing::warn!(counter = %sk, error = %crate::http::ErrorChain(&e), "could not update a co-connection count");
            }
        }
    }

    /// The integration of each of the user's connections (one Query, ids only).
    async fn user_integrations(&self, user: &UserId) -> Result<Vec<String>, StoreError> {
        let items =
            self.items_with_prefix(user, "CONN#", Some("integrationId"), super::records::Read::Consistent).await?;
        items.iter().map(|i| Ok(get_s(i, "integrationId")?.to_owned())).collect()
    }
}

const USERS_PREFIX: &str = "USERS#";
const PAIR_PREFIX: &str = "PAIR#";

/// The counter of a pair, the same whichever of the two is named first.
fn pair_key(a: &str, b: &str) -> String {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    format!("{PAIR_PREFIX}{first}#{second}")
}

/// The global counters behind recommendations.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UsageCounters {
    pub integrations: Vec<IntegrationCounter>,
    /// Users who have at least one connection of the integration.
    pub users: std::collections::HashMap<String, i64>,
    /// Users who have both, keyed by the two ids in order.
    pub pairs: std::collections::HashMap<(String, String), i64>,
}

impl UsageCounters {
    /// Users who have both `a` and `b`.
    pub fn together(&self, a: &str, b: &str) -> i64 {
        let key = if a <= b { (a.to_owned(), b.to_owned()) } else { (b.to_owned(), a.to_owned()) };
        self.pairs.get(&key).copied().unwrap_or(0).max(0)
    }
}
