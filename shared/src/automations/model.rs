//! An automation as a user defines it: a name, an on/off switch, one trigger, conditions and
//! steps. [`AutomationSpec::validate`] checks all of it before it is saved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::condition::Conditions;
use super::schedule::Schedule;
use super::template::{self, Scope};
use crate::domain::{ConnectionId, Plan};
use crate::providers::{ActionSpec, Registry};
use crate::sync::RecordKind;

/// The built-in action that needs no connection: a signed POST to any HTTPS URL, per the
/// Standard Webhooks spec.
pub static WEBHOOK_ACTION: ActionSpec = ActionSpec {
    id: "webhook.post",
    receipt: "Sent a signed webhook",
    params: &[crate::providers::Param::required("url", "An HTTPS URL")],
    scope: None,
    calls: 1,
    minutes_saved: 2,
    premium: true,
};

pub const MAX_STEPS: usize = 10;
pub const MAX_NAME_CHARS: usize = 80;
/// `item.due_soon` looks at most this far ahead.
pub const MAX_DUE_SOON_HOURS: u32 = 24 * 14;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutomationSpec {
    pub name: String,
    #[serde(default)]
    pub enabled: bool,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Conditions,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", try_from = "RawTrigger")]
pub enum Trigger {
    /// A sync brought in an item it had not seen.
    #[serde(rename = "item.created")]
    ItemCreated(ItemFilter),
    /// A sync found an item changed.
    #[serde(rename = "item.updated")]
    ItemUpdated(ItemFilter),
    /// `hours` before an item's `dueAt` (a task) or `startAt` (an event).
    #[serde(rename = "item.due_soon", rename_all = "camelCase")]
    DueSoon {
        hours: u32,
        #[serde(flatten)]
        filter: ItemFilter,
    },
    #[serde(rename = "schedule")]
    Schedule(Schedule),
}

/// A trigger as sent: every member any trigger type has, each typed, none other. A member that
/// does not belong to the trigger's type is refused rather than ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawTrigger {
    #[serde(rename = "type")]
    kind_of: String,
    kind: Option<RecordKind>,
    connection_id: Option<ConnectionId>,
    hours: Option<u32>,
    time_zone: Option<String>,
    every: Option<String>,
    at: Option<String>,
    day: Option<super::schedule::Day>,
    days: Option<Vec<super::schedule::Day>>,
    cron: Option<String>,
}

impl TryFrom<RawTrigger> for Trigger {
    type Error = String;

    fn try_from(raw: RawTrigger) -> Result<Self, String> {
        use super::schedule::{Every, Schedule};
        let present = |name: &str, here: bool| if here { Some(name.to_owned()) } else { None };
        let item_members = [present("kind", raw.kind.is_some()), present("connectionId", raw.connection_id.is_some())];
        let schedule_members = [
            present("timeZone", raw.time_zone.is_some()),
            present("every", raw.every.is_some()),
            present("at", raw.at.is_some()),
            present("day", raw.day.is_some()),
            present("days", raw.days.is_some()),
            present("cron", raw.cron.is_some()),
        ];
        let refuse = |members: &[Option<String>], what: &str| match members.iter().flatten().next() {
            Some(name) => Err(format!("`{name}` does not apply to a {what} trigger")),
            None => Ok(()),
        };
        let filter = || -> Result<ItemFilter, String> {
            Ok(ItemFilter {
                kind: raw.kind.ok_or("an item trigger needs `kind`")?,
                connection_id: raw.connection_id.clone(),
            })
        };
        match raw.kind_of.as_str() {
            t @ ("item.created" | "item.updated") => {
                refuse(&schedule_members, t)?;
                refuse(&[present("hours", raw.hours.is_some())], t)?;
                Ok(if t == "item.created" { Trigger::ItemCreated(filter()?) } else { Trigger::ItemUpdated(filter()?) })
            }
            "item.due_soon" => {
                refuse(&schedule_members, "item.due_soon")?;
                Ok(Trigger::DueSoon { hours: raw.hours.ok_or("`item.due_soon` needs `hours`")?, filter: filter()? })
            }
            "schedule" => {
                refuse(&item_members, "schedule")?;
                refuse(&[present("hours", raw.hours.is_some())], "schedule")?;
                let time_zone = raw.time_zone.ok_or("a schedule needs `timeZone`")?;
                let every = match raw.every.as_deref() {
                    Some("daily") if raw.day.is_none() && raw.cron.is_none() => {
                        Every::Daily { at: raw.at.ok_or("`daily` needs `at`")?, days: raw.days.unwrap_or_default() }
                    }
                    Some("weekly") if raw.days.is_none() && raw.cron.is_none() => Every::Weekly {
                        day: raw.day.ok_or("`weekly` needs `day`")?,
                        at: raw.at.ok_or("`weekly` needs `at`")?,
                    },
                    Some("cron") if raw.at.is_none() && raw.day.is_none() && raw.days.is_none() => {
                        Every::Cron { cron: raw.cron.ok_or("`cron` needs `cron`")? }
                    }
                    Some("daily" | "weekly" | "cron") => {
                        return Err("daily takes `at` and `days`, weekly `day` and `at`, cron `cron`".into());
                    }
                    _ => return Err("a schedule's `every` is daily, weekly or cron".into()),
                };
                Ok(Trigger::Schedule(Schedule { time_zone, every }))
            }
            other => Err(format!("`{}` is not a trigger type", other.chars().take(40).collect::<String>())),
        }
    }
}

/// Which items a trigger listens to: a kind, from one connection or any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFilter {
    pub kind: RecordKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<ConnectionId>,
}

impl Trigger {
    pub fn item_filter(&self) -> Option<&ItemFilter> {
        match self {
            Trigger::ItemCreated(f) | Trigger::ItemUpdated(f) | Trigger::DueSoon { filter: f, .. } => Some(f),
            Trigger::Schedule(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// The run stops at the failed step (the default).
    #[default]
    Stop,
    /// The next steps run anyway.
    Continue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// An action id, `calendar.insertEvent`.
    pub action: String,
    /// The connection it acts through (none for `webhook.post`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<ConnectionId>,
    /// The action's fields, each a template.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub on_failure: OnFailure,
}

/// Where an action comes from: a provider's module, or built in.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAction {
    pub spec: &'static ActionSpec,
    /// The integration whose connection runs it; `None` for built-ins.
    pub integration_id: Option<&'static str>,
}

/// Finds an action by id among the providers' declared actions and the built-ins.
pub fn find_action(id: &str) -> Option<ResolvedAction> {
    if id == WEBHOOK_ACTION.id {
        return Some(ResolvedAction { spec: &WEBHOOK_ACTION, integration_id: None });
    }
    Registry::get().providers().iter().find_map(|p| {
        let spec = p.capabilities().actions.iter().find(|a| a.id == id)?;
        Some(ResolvedAction { spec, integration_id: Some(p.id()) })
    })
}

/// What a plan allows, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomationLimits {
    /// `None`: as many as wanted.
    pub automations: Option<u32>,
    pub steps_per_automation: u32,
    pub premium_actions: bool,
}

impl AutomationLimits {
    pub fn for_plan(plan: Plan) -> Self {
        match plan {
            Plan::Free => AutomationLimits { automations: Some(2), steps_per_automation: 1, premium_actions: false },
            Plan::Premium => {
                AutomationLimits { automations: None, steps_per_automation: MAX_STEPS as u32, premium_actions: true }
            }
        }
    }
}

/// Why a definition cannot be saved, in words, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct Invalid {
    /// `name`, `trigger`, `conditions`, `steps[2].params.text`, …
    pub at: String,
    pub reason: String,
}

/// A definition that is valid but needs more than the caller's plan gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanRefusal(pub String);

fn invalid(at: impl Into<String>, reason: impl std::fmt::Display) -> Invalid {
    Invalid { at: at.into(), reason: reason.to_string() }
}

impl AutomationSpec {
    /// Checks the definition on its own: its name, its trigger, that every condition fits its
    /// field, and that every step names a known action with its required fields and templates
    /// that only use what the trigger and the steps before give.
    pub fn validate(&self) -> Result<(), Invalid> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid("name", format!("give it a name of 1 to {MAX_NAME_CHARS} characters")));
        }
        if name.chars().any(|c| c.is_control() || crate::connections::is_bidi_control(c)) {
            return Err(invalid("name", "control characters are not allowed"));
        }
        match &self.trigger {
            Trigger::DueSoon { hours, .. } if *hours == 0 || *hours > MAX_DUE_SOON_HOURS => {
                return Err(invalid("trigger.hours", format!("between 1 and {MAX_DUE_SOON_HOURS}")));
            }
            // Only tasks (by their due time) and events (by their start) are found by when.
            Trigger::DueSoon { filter, .. } if !matches!(filter.kind, RecordKind::Task | RecordKind::Event) => {
                return Err(invalid("trigger.kind", "`item.due_soon` applies to tasks and events"));
            }
            Trigger::Schedule(schedule) => {
                schedule.compile().map_err(|e| invalid("trigger", e))?;
            }
            _ => {}
        }
        self.conditions.validate().map_err(|e| invalid("conditions", e))?;
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(invalid("steps", format!("between 1 and {MAX_STEPS} steps")));
        }
        let has_item = self.trigger.item_filter().is_some();
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("steps[{}]", i + 1);
            let Some(action) = find_action(&step.action) else {
                return Err(invalid(format!("{at}.action"), format!("`{}` is not an action", clip(&step.action))));
            };
            match (action.integration_id, &step.connection_id) {
                (Some(_), None) => {
                    return Err(invalid(format!("{at}.connectionId"), "choose the connection it acts through"));
                }
                (None, Some(_)) => {
                    return Err(invalid(format!("{at}.connectionId"), "this action needs no connection"));
                }
                _ => {}
            }
            for param in action.spec.params.iter().filter(|p| p.required) {
                if step.params.get(param.name).is_none_or(|v| v.trim().is_empty()) {
                    return Err(invalid(format!("{at}.params.{}", param.name), "is required"));
                }
            }
            let scope = Scope { item: has_item, step: i + 1 };
            for (name, source) in &step.params {
                if action.spec.param(name).is_none() {
                    return Err(invalid(
                        format!("{at}.params"),
                        format!("`{}` is not a field of {}", clip(name), action.spec.id),
                    ));
                }
                template::check(source, scope).map_err(|e| invalid(format!("{at}.params.{name}"), e))?;
            }
        }
        Ok(())
    }

    /// Checks it against the caller's plan (how many automations exist is checked where it is
    /// saved, in the same transaction).
    pub fn check_plan(&self, limits: &AutomationLimits) -> Result<(), PlanRefusal> {
        if self.steps.len() as u32 > limits.steps_per_automation {
            return Err(PlanRefusal(format!(
                "Your plan allows {} step per automation; premium runs several in a row.",
                limits.steps_per_automation
            )));
        }
        if !limits.premium_actions
            && let Some(step) = self.steps.iter().find(|s| find_action(&s.action).is_some_and(|a| a.spec.premium))
        {
            return Err(PlanRefusal(format!("`{}` is a premium action.", step.action)));
        }
        Ok(())
    }
}

fn clip(raw: &str) -> String {
    raw.chars().take(60).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn block_focus_time(connection: &ConnectionId) -> AutomationSpec {
        serde_json::from_value(serde_json::json!({
            "name": "Block focus time for cards due this week",
            "enabled": true,
            "trigger": {"type": "item.created", "kind": "task"},
            "conditions": {"rules": [{"field": "dueAt", "op": "before", "days": 7}]},
            "steps": [{
                "action": "calendar.insertEvent",
                "connectionId": connection.to_string(),
                "params": {
                    "summary": "Focus: {{ item.title }}",
                    "start": "{{ item.dueAt }}",
                    "end": "{{ item.dueAt }}"
                }
            }]
        }))
        .unwrap()
    }

    #[test]
    fn a_template_definition_is_valid_and_fits_the_free_plan() {
        let spec = block_focus_time(&ConnectionId::generate());
        spec.validate().unwrap();
        spec.check_plan(&AutomationLimits::for_plan(Plan::Free)).unwrap();
        let round_trip: AutomationSpec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(round_trip, spec);
    }

    #[test]
    fn definitions_are_refused_with_where_and_why() {
        let connection = ConnectionId::generate();
        let base = serde_json::to_value(block_focus_time(&connection)).unwrap();
        let cases = [
            ("/name", serde_json::json!(""), "name"),
            ("/steps/0/action", serde_json::json!("calendar.deleteEverything"), "steps[1].action"),
            ("/steps/0/params/summary", serde_json::json!("{{ item.nope }}"), "steps[1].params.summary"),
            ("/steps/0/params/colour", serde_json::json!("red"), "steps[1].params"),
            ("/steps/0/connectionId", serde_json::Value::Null, "steps[1].connectionId"),
            ("/trigger", serde_json::json!({"type": "item.due_soon", "kind": "task", "hours": 0}), "trigger.hours"),
            ("/trigger", serde_json::json!({"type": "item.due_soon", "kind": "message", "hours": 3}), "trigger.kind"),
            (
                "/trigger",
                serde_json::json!({"type": "schedule", "timeZone": "UTC", "every": "cron", "cron": "* * * * *"}),
                "trigger",
            ),
        ];
        for (pointer, value, at) in cases {
            let mut json = base.clone();
            if pointer == "/steps/0/params/colour" {
                json["steps"][0]["params"]["colour"] = value;
            } else {
                *json.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
            }
            let spec: AutomationSpec = serde_json::from_value(json).unwrap();
            assert_eq!(spec.validate().unwrap_err().at, at, "{pointer}");
        }
        // On a schedule there is no item to name.
        let mut json = base.clone();
        json["trigger"] = serde_json::json!({"type": "schedule", "timeZone": "UTC", "every": "daily", "at": "08:30"});
        let spec: AutomationSpec = serde_json::from_value(json).unwrap();
        assert_eq!(spec.validate().unwrap_err().at, "steps[1].params.end");
    }

    #[test]
    fn plans_limit_steps_and_premium_actions() {
        let mut spec = block_focus_time(&ConnectionId::generate());
        spec.steps.push(Step {
            action: "webhook.post".into(),
            connection_id: None,
            params: [("url".to_string(), "https://example.com/hook".to_string())].into(),
            on_failure: OnFailure::Continue,
        });
        spec.validate().unwrap();
        assert!(spec.check_plan(&AutomationLimits::for_plan(Plan::Free)).is_err());
        spec.check_plan(&AutomationLimits::for_plan(Plan::Premium)).unwrap();
        spec.steps.remove(0);
        let refusal = spec.check_plan(&AutomationLimits::for_plan(Plan::Free)).unwrap_err();
        assert!(refusal.0.contains("premium"), "{refusal}");
    }

    #[test]
    fn every_declared_action_is_found_with_its_provider() {
        let calendar = find_action("calendar.insertEvent").unwrap();
        assert_eq!(calendar.integration_id, Some("google-calendar"));
        assert!(calendar.spec.scope.is_some());
        assert_eq!(find_action("webhook.post").unwrap().integration_id, None);
        assert!(find_action("nope").is_none());
    }
}
