//! Plans as data: what each plan allows, and the caller's usage against it (one request: the
//! counters connect, disconnect and the automations keep on the user's profile item).

use serde::Serialize;

use crate::auth::Caller;
use crate::automations::AutomationLimits;
use crate::config::AppState;
use crate::domain::Plan;
use crate::store::{FULL_SYNCS_PER_DAY, StoreError};

/// What a plan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanLimits {
    /// Connections at once (premium's is a cap against abuse).
    pub connections: Option<u32>,
    /// Automations at once; `None`: as many as wanted.
    pub automations: Option<u32>,
    pub steps_per_automation: u32,
    pub premium_actions: bool,
    /// Days sync history, automation runs with their receipts, and the audit trail are kept.
    pub history_days: u32,
    /// Real-time hooks out (REST hooks for Zapier and others).
    pub realtime: bool,
    pub full_syncs_per_day: u32,
}

impl PlanLimits {
    pub fn of(plan: Plan) -> Self {
        let automations = AutomationLimits::for_plan(plan);
        PlanLimits {
            connections: plan.connection_limit(),
            automations: automations.automations,
            steps_per_automation: automations.steps_per_automation,
            premium_actions: automations.premium_actions,
            history_days: plan.history_days(),
            realtime: plan == Plan::Premium,
            full_syncs_per_day: FULL_SYNCS_PER_DAY,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanUsage {
    pub connections: u32,
    pub automations: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    pub plan: Plan,
    pub limits: PlanLimits,
    pub usage: PlanUsage,
    /// What premium allows, for comparison (the same as `limits` on premium).
    pub premium: PlanLimits,
}

pub fn view(plan: Plan, usage: PlanUsage) -> PlanView {
    PlanView { plan, limits: PlanLimits::of(plan), usage, premium: PlanLimits::of(Plan::Premium) }
}

pub async fn plan(state: &AppState, caller: &Caller) -> Result<PlanView, StoreError> {
    let (connections, automations) = state.store.usage_counts(&caller.user_id).await?;
    Ok(view(caller.plan, PlanUsage { connections, automations }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_and_premium_differ_in_what_the_issue_names() {
        let free = PlanLimits::of(Plan::Free);
        let premium = PlanLimits::of(Plan::Premium);
        assert_eq!(
            (free.connections, free.automations, free.history_days, free.realtime),
            (Some(3), Some(2), 30, false)
        );
        assert_eq!((premium.automations, premium.history_days, premium.realtime), (None, 365, true));
        assert!(premium.steps_per_automation > free.steps_per_automation);
    }
}
