//! Reads behind the stats and recommendations endpoints.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::attrs::{Item, get_s, opt_n, s};
use super::connections::from_item;
use super::{Store, StoreError, keys};
use crate::domain::Connection;
use crate::domain::UserId;

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

    /// How many users connected each integration (kept on connect and disconnect).
    pub async fn integration_counters(&self) -> Result<Vec<IntegrationCounter>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::STATS))
            .expression_attribute_values(":prefix", s("INTEGRATION#"))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items
            .into_iter()
            .map(|item| {
                let item = item.map_err(StoreError::aws)?;
                let sk = get_s(&item, "SK")?;
                Ok(IntegrationCounter {
                    integration_id: sk.trim_start_matches("INTEGRATION#").to_owned(),
                    connections: opt_n(&item, "connections").unwrap_or(0),
                })
            })
            .collect()
    }
}
