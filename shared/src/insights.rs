//! Stats and recommendations, computed from what the store keeps.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::auth::Caller;
use crate::catalog::{Availability, Catalog};
use crate::config::AppState;
use crate::domain::{Connection, Plan};
use crate::store::{DayActivity, StoreError, UsageCounters, UserSummary};

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

/// What a suggestion's one click does: the request to make.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SuggestedAction {
    pub label: String,
    pub method: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
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
    pub action: SuggestedAction,
}

/// An automation worth switching on, given what is connected.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutomationSuggestion {
    pub template_id: &'static str,
    pub name: &'static str,
    pub reason: String,
    pub action: SuggestedAction,
}

/// Fewer users than this with a tool say nothing about what its users also connect.
pub const MIN_CO_CONNECTION_SAMPLE: i64 = 5;

/// Of the people who use one of `mine`, the largest share who also connect `candidate`:
/// (the tool, the share in percent), when enough people use it to say.
fn co_connection(mine: &[&str], candidate: &str, counters: &UsageCounters) -> Option<(String, i64)> {
    mine.iter()
        .filter_map(|tool| {
            let users = counters.users.get(*tool).copied().unwrap_or(0);
            (users >= MIN_CO_CONNECTION_SAMPLE)
                .then(|| ((*tool).to_owned(), (counters.together(tool, candidate) * 100 / users).min(100)))
        })
        .filter(|(_, share)| *share > 0)
        .max_by_key(|(_, share)| *share)
}

/// Ranks the integrations the user has not connected. What people who use the user's tools also
/// connect counts most ("Most people who use Trello also connect Google Calendar (62%)"), then a
/// category they have no tool for, then how many users connected it. Coming-soon integrations
/// are left out; premium ones are kept for free users, with the plan named in the reason.
pub fn rank(
    catalog: &Catalog,
    connections: &[Connection],
    counters: &UsageCounters,
    plan: Plan,
) -> Vec<Recommendation> {
    let connected: HashSet<&str> = connections.iter().map(|c| c.integration_id.as_str()).collect();
    let mut mine: Vec<&str> = connected.iter().copied().collect();
    mine.sort_unstable();
    let covered: HashSet<&str> = connections
        .iter()
        .filter_map(|c| catalog.find(c.integration_id.as_str()))
        .map(|i| i.category.as_str())
        .collect();
    let popularity: HashMap<&str, i64> =
        counters.integrations.iter().map(|c| (c.integration_id.as_str(), c.connections.max(0))).collect();
    let category_name = |id: &str| {
        catalog.categories().iter().find(|c| c.id == id).map(|c| c.name.to_lowercase()).unwrap_or_else(|| id.to_owned())
    };
    let name_of = |id: &str| catalog.find(id).map_or_else(|| id.to_owned(), |i| i.name.clone());

    let mut ranked: Vec<Recommendation> = catalog
        .integrations()
        .iter()
        .filter(|i| i.status != Availability::ComingSoon && !connected.contains(i.id.as_str()))
        .map(|i| {
            let users = popularity.get(i.id.as_str()).copied().unwrap_or(0);
            let gap = !covered.contains(i.category.as_str());
            let together = co_connection(&mine, i.id.as_str(), counters);
            let mut reason = match &together {
                Some((tool, share)) if *share >= 50 => {
                    format!("Most people who use {} also connect {} ({share}%)", name_of(tool), i.name)
                }
                Some((tool, share)) => format!("{share}% of people who use {} also connect {}", name_of(tool), i.name),
                None if gap => format!("You have no {} tool connected yet", category_name(&i.category)),
                None => format!("Adds to your {} tools", category_name(&i.category)),
            };
            if together.is_none() && users > 0 {
                let who = if users == 1 { "manager uses" } else { "managers use" };
                reason.push_str(&format!("; {users} {who} it"));
            }
            let premium_only = i.status == Availability::Premium && plan != Plan::Premium;
            if premium_only {
                reason.push_str(" (premium plan)");
            }
            let score =
                together.as_ref().map_or(0, |(_, share)| 2_000 + share * 10) + i64::from(gap) * 1_000 + users * 10
                    - i64::from(premium_only) * 5;
            Recommendation {
                integration_id: i.id.to_string(),
                name: i.name.clone(),
                category: i.category.clone(),
                status: i.status,
                reason,
                score,
                action: SuggestedAction {
                    label: format!("Connect {}", i.name),
                    method: "POST",
                    path: "/api/v1/integrations/connect".into(),
                    body: Some(serde_json::json!({ "integrationId": i.id.as_str() })),
                },
            }
        })
        .collect();
    // Stable sort: equal scores keep the catalog's order.
    ranked.sort_by_key(|r| std::cmp::Reverse(r.score));
    ranked
}

/// The automation templates whose every tool is connected, each with why and its one click:
/// save it switched on when nothing is left to fill in, else open it to fill in the rest.
pub fn automations_worth_enabling(
    catalog: &Catalog,
    connections: &[Connection],
    plan: Plan,
) -> Vec<AutomationSuggestion> {
    let name_of = |id: &str| catalog.find(id).map_or_else(|| id.to_owned(), |i| i.name.clone());
    crate::automations::templates::templates(connections)
        .into_iter()
        .filter(|t| t.ready && (!t.premium || plan == Plan::Premium))
        .map(|t| {
            let tools: Vec<String> = t.needs.iter().map(|id| name_of(id)).collect();
            let reason = format!("You have {} connected: {}", tools.join(" and "), t.description.trim_end_matches('.'));
            let action = if t.to_fill.is_empty() {
                let mut definition = t.definition.clone();
                definition["enabled"] = serde_json::Value::Bool(true);
                SuggestedAction {
                    label: "Switch it on".into(),
                    method: "POST",
                    path: "/api/v1/integrations/automations".into(),
                    body: Some(definition),
                }
            } else {
                SuggestedAction {
                    label: "Set it up".into(),
                    method: "GET",
                    path: format!("/api/v1/integrations/automation-templates#{}", t.id),
                    body: None,
                }
            };
            AutomationSuggestion { template_id: t.id, name: t.name, reason, action }
        })
        .collect()
}

/// The suggestions: two DynamoDB requests (the caller's connections, the global counters).
pub async fn recommendations(
    state: &AppState,
    caller: &Caller,
) -> Result<(Vec<Recommendation>, Vec<AutomationSuggestion>), StoreError> {
    let (connections, counters) =
        tokio::try_join!(state.store.list_connections(&caller.user_id), state.store.usage_counters())?;
    Ok((
        rank(state.catalog, &connections, &counters, caller.plan),
        automations_worth_enabling(state.catalog, &connections, caller.plan),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(connections: &[(&str, i64)]) -> UsageCounters {
        UsageCounters {
            integrations: connections
                .iter()
                .map(|(id, n)| crate::store::IntegrationCounter { integration_id: (*id).into(), connections: *n })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn uncovered_categories_rank_first_then_popularity() {
        let ranked = rank(Catalog::get(), &[], &counters(&[("google-drive", 7), ("slack", 3)]), Plan::Free);
        let ids: Vec<_> = ranked.iter().map(|r| r.integration_id.as_str()).collect();
        assert_eq!(ids[0], "google-drive");
        assert_eq!(ids[1], "slack");
        assert!(!ids.contains(&"asana") && !ids.contains(&"notion"), "coming-soon left out");
        assert!(ranked[0].reason.contains("no file storage tool"));
        assert!(ranked[0].reason.contains("7 managers use it"));
        assert_eq!(ranked[0].action.body, Some(serde_json::json!({ "integrationId": "google-drive" })));
        let zapier = ranked.iter().find(|r| r.integration_id == "zapier").unwrap();
        assert!(zapier.reason.ends_with("(premium plan)"));
    }

    fn connected(integration: &str) -> Connection {
        use crate::domain::*;
        Connection {
            user_id: UserId::parse("ada").unwrap(),
            connection_id: ConnectionId::generate(),
            integration_id: IntegrationId::parse(integration).unwrap(),
            status: ConnectionStatus::Active,
            status_reason: None,
            status_since: None,
            auth_kind: crate::catalog::AuthMode::ApiKey,
            plan: Plan::Free,
            can_sync: true,
            secret_id: String::new(),
            credential_hint: String::new(),
            account: Account { id: "a".into(), name: "a".into(), workspace: None },
            display_name: integration.into(),
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
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
            health: None,
            budget: None,
            realtime: crate::domain::Realtime::Off,
            fresh_as_of: None,
            grant_expires_at: None,
        }
    }

    #[test]
    fn what_users_of_your_tools_also_connect_ranks_first_with_its_share() {
        let mut counters = counters(&[]);
        counters.users.insert("trello".into(), 50);
        counters.users.insert("slack".into(), 4); // too few to say anything
        counters.pairs.insert(("google-calendar".into(), "trello".into()), 31);
        counters.pairs.insert(("microsoft-teams".into(), "trello".into()), 10);
        counters.pairs.insert(("google-drive".into(), "slack".into()), 4);
        let mine = [connected("trello"), connected("slack")];
        let ranked = rank(Catalog::get(), &mine, &counters, Plan::Free);
        assert_eq!(ranked[0].integration_id, "google-calendar");
        assert_eq!(ranked[0].reason, "Most people who use Trello also connect Google Calendar (62%)");
        let teams = ranked.iter().find(|r| r.integration_id == "microsoft-teams").unwrap();
        assert_eq!(teams.reason, "20% of people who use Trello also connect Microsoft Teams");
        let drive = ranked.iter().find(|r| r.integration_id == "google-drive").unwrap();
        assert_eq!(drive.reason, "You have no file storage tool connected yet", "Slack's 4 users are too few");
    }

    #[test]
    fn automations_are_suggested_once_their_tools_are_connected() {
        assert!(
            automations_worth_enabling(Catalog::get(), &[connected("trello")], Plan::Free)
                .iter()
                .all(|s| s.template_id != "block-focus-time")
        );
        let both = [connected("trello"), connected("google-calendar")];
        let suggested = automations_worth_enabling(Catalog::get(), &both, Plan::Free);
        let focus = suggested.iter().find(|s| s.template_id == "block-focus-time").expect("suggested");
        assert!(focus.reason.starts_with("You have Trello and Google Calendar connected"), "{}", focus.reason);
        assert_eq!((focus.action.method, focus.action.path.as_str()), ("POST", "/api/v1/integrations/automations"));
        assert_eq!(focus.action.body.as_ref().unwrap()["enabled"], true);
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
