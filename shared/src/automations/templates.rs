//! Ready-made automations a manager switches on in two clicks: each names the integrations it
//! needs and, for the caller, comes filled in with their connections where they have them.

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::{Connection, ConnectionStatus};

/// One template, as `GET /automation-templates` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The integrations it acts on or listens to.
    pub needs: Vec<&'static str>,
    pub premium: bool,
    /// Every connection it needs is there (and, for a step, active).
    pub ready: bool,
    /// Fields the manager still fills in (a Slack channel, a Trello list), by step.
    pub to_fill: Vec<String>,
    /// The definition, with the caller's connections filled in where found (null where not).
    pub definition: Value,
}

struct Template {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    premium: bool,
    /// `(trigger integration or None, [step integration per step])`.
    trigger: Option<&'static str>,
    steps: &'static [&'static str],
    to_fill: &'static [&'static str],
    definition: fn() -> Value,
}

const TEMPLATES: &[Template] = &[
    Template {
        id: "block-focus-time",
        name: "Block focus time in Google Calendar for Trello cards due this week",
        description: "For each new Trello card due within a week, an hour in your calendar before it is due.",
        premium: false,
        trigger: Some("trello"),
        steps: &["google-calendar"],
        to_fill: &[],
        definition: || {
            json!({
                "name": "Block focus time for Trello cards due this week",
                "trigger": {"type": "item.created", "kind": "task"},
                "conditions": {"rules": [
                    {"field": "dueAt", "op": "after"},
                    {"field": "dueAt", "op": "before", "days": 7},
                    {"field": "task.done", "op": "equals", "value": false}
                ]},
                "steps": [{
                    "action": "calendar.insertEvent",
                    "params": {
                        "summary": "Focus: {{ item.title }}",
                        "start": "{{ item.dueAt | shift_hours(-1) }}",
                        "end": "{{ item.dueAt }}",
                        "description": "Time to finish {{ item.title }} before it is due. {{ item.url }}"
                    }
                }]
            })
        },
    },
    Template {
        id: "post-my-day",
        name: "Post my day's agenda to Slack every weekday at 8:30",
        description: "Your meetings, due tasks, mentions and files changed by others, posted to a channel.",
        premium: false,
        trigger: None,
        steps: &["slack"],
        to_fill: &["steps[1].params.channel"],
        definition: || {
            json!({
                "name": "My day at 8:30",
                "trigger": {"type": "schedule", "timeZone": "UTC", "every": "daily", "at": "08:30",
                            "days": ["mon", "tue", "wed", "thu", "fri"]},
                "steps": [{"action": "slack.postAgenda", "params": {"channel": "", "intro": "Good morning! Your day:"}}]
            })
        },
    },
    Template {
        id: "done-to-teams",
        name: "Tell a Teams channel when a Trello card is moved to Done",
        description: "A card in your Teams channel for each Trello card that reaches a list named Done.",
        premium: false,
        trigger: Some("trello"),
        steps: &["microsoft-teams"],
        to_fill: &[],
        definition: || {
            json!({
                "name": "Cards done, told in Teams",
                "trigger": {"type": "item.updated", "kind": "task"},
                "conditions": {"rules": [{"field": "task.list", "op": "equals", "value": "Done"}]},
                "steps": [{"action": "teams.postCard", "params": {"title": "Done: {{ item.title }}",
                                                                    "text": "{{ item.container | default('Trello') }} · {{ item.url | default('') }}"}}]
            })
        },
    },
    Template {
        id: "mention-to-trello",
        name: "Create a Trello card when someone mentions me in Slack",
        description: "Each Slack message that mentions you becomes a card, so nothing asked of you is lost.",
        premium: false,
        trigger: Some("slack"),
        steps: &["trello"],
        to_fill: &["steps[1].params.listId"],
        definition: || {
            json!({
                "name": "Slack mentions to Trello",
                "trigger": {"type": "item.created", "kind": "message"},
                "conditions": {"rules": [{"field": "message.mentionsMe", "op": "equals", "value": true}]},
                "steps": [{"action": "trello.createCard", "params": {"listId": "", "name": "{{ item.title }}",
                                                                       "desc": "From Slack. {{ item.url | default('') }}"}}]
            })
        },
    },
    Template {
        id: "drive-to-zapier",
        name: "Send new Google Drive files to a Zapier hook",
        description: "Each new file in your Drive starts your Zap.",
        premium: true,
        trigger: Some("google-drive"),
        steps: &["zapier"],
        to_fill: &[],
        definition: || {
            json!({
                "name": "New Drive files to Zapier",
                "trigger": {"type": "item.created", "kind": "file"},
                "steps": [{"action": "zapier.catchHook", "params": {"note": "New file: {{ item.title }}"}}]
            })
        },
    },
];

/// The templates, filled in with the caller's connections (the first active one of each
/// integration).
pub fn templates(connections: &[Connection]) -> Vec<TemplateView> {
    let find = |integration: &str| {
        connections
            .iter()
            .find(|c| c.integration_id.as_str() == integration && c.status == ConnectionStatus::Active)
            .map(|c| c.connection_id.to_string())
    };
    TEMPLATES
        .iter()
        .map(|t| {
            let mut definition = (t.definition)();
            let mut ready = t.trigger.is_none_or(|i| find(i).is_some());
            for (i, integration) in t.steps.iter().enumerate() {
                let connection = find(integration);
                ready &= connection.is_some();
                definition["steps"][i]["connectionId"] = connection.map_or(Value::Null, Value::String);
            }
            let needs = t.trigger.into_iter().chain(t.steps.iter().copied()).collect();
            TemplateView {
                id: t.id,
                name: t.name,
                description: t.description,
                needs,
                premium: t.premium,
                ready,
                to_fill: t.to_fill.iter().map(|f| f.to_string()).collect(),
                definition,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automations::AutomationSpec;

    #[test]
    fn every_template_is_a_valid_definition_once_filled_in() {
        for view in templates(&[]) {
            let mut definition = view.definition.clone();
            for (i, step) in definition["steps"].as_array_mut().unwrap().iter_mut().enumerate() {
                step["connectionId"] = crate::domain::ConnectionId::generate().to_string().into();
                if let Some(params) = step["params"].as_object_mut() {
                    for (name, value) in params.iter_mut() {
                        if value.as_str() == Some("") {
                            assert!(view.to_fill.contains(&format!("steps[{}].params.{name}", i + 1)), "{}", view.id);
                            *value = "filled".into();
                        }
                    }
                }
            }
            let spec: AutomationSpec =
                serde_json::from_value(definition).unwrap_or_else(|e| panic!("{}: {e}", view.id));
            spec.validate().unwrap_or_else(|e| panic!("{}: {e}", view.id));
            assert!(!view.ready, "no connections, not ready");
        }
    }

    /// An item of the trigger's kind with only what every item has: no URL, no due time, no
    /// container (a Slack message has no URL, a Drive file no due time).
    fn bare_item(spec: &AutomationSpec) -> serde_json::Value {
        let Some(filter) = spec.trigger.item_filter() else { return Value::Null };
        let record = crate::sync::Record {
            kind: filter.kind,
            external_id: "x1".into(),
            title: "Can you review the launch checklist?".into(),
            url: None,
            container: None,
            status: None,
            due_at: None,
            updated_at: None,
            data: Default::default(),
        };
        let stored = crate::store::StoredRecord {
            connection_id: crate::domain::ConnectionId::generate(),
            integration_id: crate::domain::IntegrationId::parse("slack").unwrap(),
            record,
        };
        serde_json::to_value(crate::items::Item::from(&stored)).unwrap()
    }

    #[test]
    fn every_template_fills_in_for_an_item_with_only_the_fields_every_item_has() {
        for view in templates(&[]) {
            let mut definition = view.definition.clone();
            for step in definition["steps"].as_array_mut().unwrap() {
                step["connectionId"] = crate::domain::ConnectionId::generate().to_string().into();
            }
            let spec: AutomationSpec = serde_json::from_value(definition).unwrap();
            // Block focus time acts on cards with a due time only (its conditions say so).
            if view.id == "block-focus-time" {
                continue;
            }
            let context = minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
                "item": bare_item(&spec),
                "steps": [null],
                "now": "2026-12-02T09:00:00Z",
                "automation": {"name": spec.name},
            })));
            for step in &spec.steps {
                for (name, source) in &step.params {
                    let rendered = crate::automations::template::render(source, &context);
                    assert!(rendered.is_ok(), "{}: `{name}`: {:?}", view.id, rendered.err());
                }
            }
        }
    }
}
