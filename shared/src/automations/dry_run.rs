//! What an automation would do now, with no provider call and no write: the items it matches,
//! each step's fields filled in for the first of them, and the provider calls it would spend.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::model::{AutomationSpec, Trigger, find_action};
use super::template;
use crate::items::{Item, When};

/// Steps are filled in for at most this many matching items.
pub const PREVIEWED_ITEMS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// Every matching item's id (a schedule's run has none).
    pub matching_items: Vec<String>,
    /// Runs it would make now: one per matching item, or one for a schedule.
    pub runs: usize,
    /// For the first matching items (or the one scheduled run), each step as it would be sent.
    pub previews: Vec<Vec<StepPreview>>,
    /// Provider requests it would spend, per integration.
    pub calls: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepPreview {
    pub action: String,
    /// The fields filled in, or why one could not be.
    pub params: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Evaluates a (valid) definition over the caller's items at `now`.
pub fn dry_run(spec: &AutomationSpec, items: &[Item], now: DateTime<Utc>) -> DryRun {
    let matching = matching(spec, items, now);
    let runs = if matches!(spec.trigger, Trigger::Schedule(_)) { 1 } else { matching.len() };
    let mut calls = BTreeMap::new();
    for step in &spec.steps {
        if let Some(action) = find_action(&step.action) {
            let key = action.integration_id.unwrap_or("webhook").to_owned();
            *calls.entry(key).or_insert(0) += action.spec.calls * runs as u32;
        }
    }
    let previews = if matches!(spec.trigger, Trigger::Schedule(_)) {
        vec![preview(spec, None, now)]
    } else {
        matching.iter().take(PREVIEWED_ITEMS).map(|i| preview(spec, Some(i), now)).collect()
    };
    DryRun { matching_items: matching.iter().map(|i| i.item_id.clone()).collect(), runs, previews, calls }
}

/// The items an item trigger would act on now: of its kind and connection, due within its window
/// for `item.due_soon`, meeting the conditions. A schedule acts on none.
pub fn matching<'a>(spec: &AutomationSpec, items: &'a [Item], now: DateTime<Utc>) -> Vec<&'a Item> {
    let Some(filter) = spec.trigger.item_filter() else { return Vec::new() };
    let due_by = match spec.trigger {
        Trigger::DueSoon { hours, .. } => Some(now + Duration::hours(i64::from(hours))),
        _ => None,
    };
    items
        .iter()
        .filter(|i| i.kind == filter.kind)
        .filter(|i| filter.connection_id.as_ref().is_none_or(|c| *c == i.connection_id))
        .filter(|i| due_by.is_none_or(|by| due_within(i, now, by)))
        .filter(|i| spec.conditions.matches(i, now))
        .collect()
}

/// When an item is due (a task) or starts (an event).
pub fn due_instant(item: &Item) -> Option<DateTime<Utc>> {
    item.due_at.as_deref().or(item.start_at.as_deref()).and_then(When::parse).map(When::instant)
}

/// Due (a task) or starting (an event) after now and by `by`.
pub fn due_within(item: &Item, now: DateTime<Utc>, by: DateTime<Utc>) -> bool {
    due_instant(item).is_some_and(|t| t > now && t <= by)
}

/// The key of an `item.due_soon` event: the item and the time it is due, so that an item is
/// acted on once for each time it is due, however many times it is found in the window (by the
/// scheduler's checks, a sync that changed it, or a manual run).
pub fn due_soon_key(item_id: &str, due: DateTime<Utc>) -> String {
    format!("{item_id}@due:{}", due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn preview(spec: &AutomationSpec, item: Option<&Item>, now: DateTime<Utc>) -> Vec<StepPreview> {
    let mut steps = vec![serde_json::Value::Null];
    spec.steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let context = minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
                "item": item,
                "steps": steps,
                "now": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "automation": {"name": spec.name},
            })));
            let mut params = BTreeMap::new();
            let mut error = None;
            for (name, source) in &step.params {
                match template::render(source, &context) {
                    Ok(value) => {
                        params.insert(name.clone(), value);
                    }
                    Err(e) => error = Some(format!("{name}: {e}")),
                }
            }
            // What the step would create is only known when it runs.
            let placeholder = format!("(made by step {})", i + 1);
            steps.push(serde_json::json!({"id": placeholder, "url": placeholder, "title": placeholder}));
            StepPreview { action: step.action.clone(), params, error }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automations::condition::tests::card;
    use crate::automations::model::tests::block_focus_time;

    #[test]
    fn the_dry_run_lists_matching_items_fills_in_steps_and_counts_calls() {
        let now: DateTime<Utc> = "2026-12-02T09:00:00Z".parse().unwrap();
        let mut items = vec![
            card("Q4 report", Some("2026-12-04T17:00:00Z"), &[]),
            card("Plan 2027", Some("2027-01-20"), &[]),
            card("Someday", None, &[]),
        ];
        items[0].item_id = "due-this-week".into();
        let spec = block_focus_time(&items[0].connection_id);
        let run = dry_run(&spec, &items, now);
        assert_eq!(run.matching_items, ["due-this-week"]);
        assert_eq!(run.runs, 1);
        let step = &run.previews[0][0];
        assert_eq!(step.params["summary"], "Focus: Q4 report");
        assert_eq!(step.params["start"], "2026-12-04T17:00:00Z");
        assert_eq!(step.error, None);
        assert_eq!(run.calls["google-calendar"], 2, "a lookup and an insert");

        let mut soon = spec.clone();
        soon.trigger =
            serde_json::from_value(serde_json::json!({"type": "item.due_soon", "kind": "task", "hours": 24})).unwrap();
        assert!(dry_run(&soon, &items, now).matching_items.is_empty(), "the report is due in 56 hours");

        let mut scheduled = spec.clone();
        scheduled.trigger = serde_json::from_value(
            serde_json::json!({"type": "schedule", "timeZone": "UTC", "every": "daily", "at": "08:30"}),
        )
        .unwrap();
        scheduled.steps[0].params = [("summary".into(), "Weekly review {{ now }}".into())].into();
        let run = dry_run(&scheduled, &items, now);
        assert_eq!((run.runs, run.matching_items.len()), (1, 0));
        assert_eq!(run.previews[0][0].params["summary"], "Weekly review 2026-12-02T09:00:00Z");
    }
}
