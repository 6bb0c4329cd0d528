//! Stats and recommendations, computed from what the store keeps.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::auth::Caller;
use crate::catalog::{Availability, Catalog};
use crate::config::AppState;
use crate::domain::{Connection, Plan};
use crate::store::{DayActivity, IntegrationCounter, StoreError, UserSummary};

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub items: u64,
    pub minutes_saved: f64,
    pub syncs: u64,
    pub failures: u64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DayPoint {
    pub date: NaiveDate,
    /// Items synced and the minutes their syncs saved.
    pub items: u64,
    pub minutes_saved: f64,
    /// Actions automations did that day and the minutes their receipts count.
    pub automation_actions: u64,
    pub automation_minutes_saved: u64,
}

/// Time saved by automations, from their receipts (apart from the syncs' counts).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutomationSavings {
    pub minutes_saved: u64,
    pub actions: u64,
    pub last_7_days: AutomationPeriod,
}

#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutomationPeriod {
    pub minutes_saved: u64,
    pub actions: u64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub connection_id: String,
    pub integration_id: String,
    pub display_name: String,
    pub sync_id: String,
    pub status: String,
    pub finished_at: chrono::DateTime<Utc>,
    pub items: u64,
    pub minutes_saved: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub available: usize,
    pub available_by_category: BTreeMap<String, usize>,
    pub connected: usize,
    pub connected_by_category: BTreeMap<String, usize>,
    pub needs_attention: usize,
    pub items_processed: u64,
    pub minutes_saved: f64,
    pub last_7_days: Period,
    /// What automations did, counted from their receipts.
    pub automations: AutomationSavings,
    /// One point per day for the last 30 days, oldest first (zeros included).
    pub time_saved_by_day: Vec<DayPoint>,
    pub recent_activity: Vec<Activity>,
}

pub fn build_stats(catalog: &Catalog, summary: &UserSummary, today: NaiveDate) -> Stats {
    let connections = &summary.connections;
    let mut connected_by_category: BTreeMap<String, usize> = BTreeMap::new();
    for c in connections {
        if let Some(i) = catalog.find(c.integration_id.as_str()) {
            *connected_by_category.entry(i.category.clone()).or_default() += 1;
        }
    }
    let week_start = today - Duration::days(6);
    let mut last_7_days = Period { items: 0, minutes_saved: 0.0, syncs: 0, failures: 0 };
    let mut automations_7_days = AutomationPeriod::default();
    for (_, day) in summary.days.range(week_start..=today) {
        last_7_days.items += day.items;
        last_7_days.minutes_saved += day.minutes_saved;
        last_7_days.syncs += day.syncs;
        last_7_days.failures += day.failures;
        automations_7_days.minutes_saved += day.automation_minutes_saved;
        automations_7_days.actions += day.automation_actions;
    }
    let time_saved_by_day = (0..30)
        .rev()
        .map(|back| {
            let date = today - Duration::days(back);
            let day = summary.days.get(&date).cloned().unwrap_or_else(DayActivity::default);
            DayPoint {
                date,
                items: day.items,
                minutes_saved: day.minutes_saved,
                automation_actions: day.automation_actions,
                automation_minutes_saved: day.automation_minutes_saved,
            }
        })
        .collect();
    let mut recent_activity: Vec<Activity> = connections
        .iter()
        .filter_map(|c| {
            let last = c.last_sync.as_ref()?;
            Some(Activity {
                connection_id: c.connection_id.to_string(),
                integration_id: c.integration_id.to_string(),
                display_name: c.display_name.clone(),
                sync_id: last.sync_id.to_string(),
                status: last.status.as_str().to_owned(),
                finished_at: last.finished_at,
                items: last.items,
                minutes_saved: last.minutes_saved,
            })
        })
        .collect();
    recent_activity.sort_by_key(|a| std::cmp::Reverse(a.finished_at));
    recent_activity.truncate(10);

    Stats {
        available: catalog.integrations().len(),
        available_by_category: catalog.count_by_category().into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        connected: connections.len(),
        connected_by_category,
        needs_attention: connections.iter().filter(|c| c.status != crate::domain::ConnectionStatus::Active).count(),
        items_processed: connections.iter().map(|c| c.items_total).sum(),
        minutes_saved: connections.iter().fold(0.0, |sum, c| sum + c.minutes_saved_total),
        last_7_days,
        automations: AutomationSavings {
            minutes_saved: summary.automations.minutes_saved,
            actions: summary.automations.actions,
            last_7_days: automations_7_days,
        },
        time_saved_by_day,
        recent_activity,
    }
}

pub async fn stats(state: &AppState, caller: &Caller) -> Result<Stats, StoreError> {
    let summary = state.store.user_summary(&caller.user_id).await?;
    Ok(build_stats(state.catalog, &summary, Utc::now().date_naive()))
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    pub integration_id: String,
    pub name: String,
    pub category: String,
    pub status: Availability,
    pub reason: String,
    pub score: i64,
}

/// Ranks the integrations the user has not connected: a category they have no tool for counts
/// most, then how many users connected it. Coming-soon integrations are left out; premium ones
/// are kept for free users, with the plan named in the reason.
pub fn rank(
    catalog: &Catalog,
    connections: &[Connection],
    counters: &[IntegrationCounter],
    plan: Plan,
) -> Vec<Recommendation> {
    let connected: HashSet<&str> = connections.iter().map(|c| c.integration_id.as_str()).collect();
    let covered: HashSet<&str> = connections
        .iter()
        .filter_map(|c| catalog.find(c.integration_id.as_str()))
        .map(|i| i.category.as_str())
        .collect();
    let popularity: HashMap<&str, i64> =
        counters.iter().map(|c| (c.integration_id.as_str(), c.connections.max(0))).collect();
    let category_name = |id: &str| {
        catalog.categories().iter().find(|c| c.id == id).map(|c| c.name.to_lowercase()).unwrap_or_else(|| id.to_owned())
    };

    let mut ranked: Vec<Recommendation> = catalog
        .integrations()
        .iter()
        .filter(|i| i.status != Availability::ComingSoon && !connected.contains(i.id.as_str()))
        .map(|i| {
            let users = popularity.get(i.id.as_str()).copied().unwrap_or(0);
            let gap = !covered.contains(i.category.as_str());
            let mut reason = if gap {
                format!("You have no {} tool connected yet", category_name(&i.category))
            } else {
                format!("Adds to your {} tools", category_name(&i.category))
            };
            if users > 0 {
                let who = if users == 1 { "manager uses" } else { "managers use" };
                reason.push_str(&format!("; {users} {who} it"));
            }
            if i.status == Availability::Premium && plan != Plan::Premium {
                reason.push_str(" (premium plan)");
            }
            let score = i64::from(gap) * 1_000 + users * 10
                - i64::from(i.status == Availability::Premium && plan != Plan::Premium) * 5;
            Recommendation {
                integration_id: i.id.to_string(),
                name: i.name.clone(),
                category: i.category.clone(),
                status: i.status,
                reason,
                score,
            }
        })
        .collect();
    // Stable sort: equal scores keep the catalog's order.
    ranked.sort_by_key(|r| std::cmp::Reverse(r.score));
    ranked
}

pub async fn recommendations(state: &AppState, caller: &Caller) -> Result<Vec<Recommendation>, StoreError> {
    let (connections, counters) =
        tokio::try_join!(state.store.list_connections(&caller.user_id), state.store.integration_counters())?;
    Ok(rank(state.catalog, &connections, &counters, caller.plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(id: &str, n: i64) -> IntegrationCounter {
        IntegrationCounter { integration_id: id.into(), connections: n }
    }

    #[test]
    fn uncovered_categories_rank_first_then_popularity() {
        let ranked = rank(Catalog::get(), &[], &[counter("google-drive", 7), counter("slack", 3)], Plan::Free);
        let ids: Vec<_> = ranked.iter().map(|r| r.integration_id.as_str()).collect();
        assert_eq!(ids[0], "google-drive");
        assert_eq!(ids[1], "slack");
        assert!(!ids.contains(&"asana") && !ids.contains(&"notion"), "coming-soon left out");
        assert!(ranked[0].reason.contains("no file storage tool"));
        assert!(ranked[0].reason.contains("7 managers use it"));
        let zapier = ranked.iter().find(|r| r.integration_id == "zapier").unwrap();
        assert!(zapier.reason.ends_with("(premium plan)"));
    }

    #[test]
    fn a_thirty_day_series_has_a_point_for_every_day() {
        let today: NaiveDate = "2026-11-29".parse().unwrap();
        let mut summary = UserSummary::default();
        let day = |items, minutes_saved, failures, automation_minutes_saved, automation_actions| DayActivity {
            items,
            minutes_saved,
            syncs: 1,
            failures,
            automation_minutes_saved,
            automation_actions,
        };
        summary.days.insert(today - Duration::days(2), day(10, 20.0, 0, 9, 3));
        summary.days.insert(today - Duration::days(9), day(5, 10.0, 1, 6, 2));
        summary.automations = crate::store::AutomationTotals { minutes_saved: 15, actions: 5 };
        let stats = build_stats(Catalog::get(), &summary, today);
        assert_eq!(stats.time_saved_by_day.len(), 30);
        assert_eq!(stats.time_saved_by_day.last().unwrap().date, today);
        assert_eq!(stats.last_7_days.items, 10);
        assert_eq!(stats.last_7_days.failures, 0);
        assert_eq!(stats.available, 8);
        // Automations' time saved is apart from the syncs', in total, by week and by day.
        assert_eq!(stats.automations.minutes_saved, 15);
        assert_eq!(stats.automations.actions, 5);
        assert_eq!(stats.automations.last_7_days, AutomationPeriod { minutes_saved: 9, actions: 3 });
        assert_eq!(stats.last_7_days.minutes_saved, 20.0);
        let two_days_ago = &stats.time_saved_by_day[27];
        assert_eq!((two_days_ago.minutes_saved, two_days_ago.automation_minutes_saved), (20.0, 9));
        assert_eq!(two_days_ago.automation_actions, 3);
    }
}
