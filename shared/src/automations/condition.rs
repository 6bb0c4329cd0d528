//! Conditions: field predicates on an item, combined with all or any. They are checked against
//! the item model when an automation is saved, and evaluated without allocating per item.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::items::{Item, When};

/// An item field a condition can test, named as the item API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "container")]
    Container,
    #[serde(rename = "kind")]
    Kind,
    #[serde(rename = "integrationId")]
    IntegrationId,
    #[serde(rename = "dueAt")]
    DueAt,
    #[serde(rename = "startAt")]
    StartAt,
    #[serde(rename = "updatedAt")]
    UpdatedAt,
    #[serde(rename = "task.list")]
    TaskList,
    #[serde(rename = "task.labels")]
    TaskLabels,
    #[serde(rename = "task.assignees")]
    TaskAssignees,
    #[serde(rename = "task.done")]
    TaskDone,
    #[serde(rename = "event.location")]
    EventLocation,
    #[serde(rename = "event.allDay")]
    EventAllDay,
    #[serde(rename = "event.myResponse")]
    EventMyResponse,
    #[serde(rename = "message.author")]
    MessageAuthor,
    #[serde(rename = "message.channel")]
    MessageChannel,
    #[serde(rename = "message.mentionsMe")]
    MessageMentionsMe,
    #[serde(rename = "message.repliedByMe")]
    MessageRepliedByMe,
    #[serde(rename = "file.mimeType")]
    FileMimeType,
    #[serde(rename = "file.owner")]
    FileOwner,
    #[serde(rename = "file.lastModifiedBy")]
    FileLastModifiedBy,
    #[serde(rename = "file.modifiedByMe")]
    FileModifiedByMe,
    #[serde(rename = "page.parent")]
    PageParent,
}

/// What a field holds, which decides the tests that make sense on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    List,
    Flag,
    Time,
}

impl Field {
    pub const ALL: [Field; 24] = [
        Field::Title,
        Field::Status,
        Field::Container,
        Field::Kind,
        Field::IntegrationId,
        Field::DueAt,
        Field::StartAt,
        Field::UpdatedAt,
        Field::TaskList,
        Field::TaskLabels,
        Field::TaskAssignees,
        Field::TaskDone,
        Field::EventLocation,
        Field::EventAllDay,
        Field::EventMyResponse,
        Field::MessageAuthor,
        Field::MessageChannel,
        Field::MessageMentionsMe,
        Field::MessageRepliedByMe,
        Field::FileMimeType,
        Field::FileOwner,
        Field::FileLastModifiedBy,
        Field::FileModifiedByMe,
        Field::PageParent,
    ];

    pub fn field_type(self) -> FieldType {
        use Field::*;
        match self {
            TaskLabels | TaskAssignees => FieldType::List,
            TaskDone | EventAllDay | MessageMentionsMe | MessageRepliedByMe | FileModifiedByMe => FieldType::Flag,
            DueAt | StartAt | UpdatedAt => FieldType::Time,
            _ => FieldType::Text,
        }
    }

    /// The field's value on an item, borrowed from it. A field of another kind is empty.
    fn value(self, item: &Item) -> FieldValue<'_> {
        use Field::*;
        let task = item.task.as_ref();
        let event = item.event.as_ref().map(|e| &e.fields);
        let message = item.message.as_ref();
        let file = item.file.as_ref();
        match self {
            Title => FieldValue::Text(Some(&item.title)),
            Status => text(item.status.as_ref()),
            Container => text(item.container.as_ref()),
            Kind => FieldValue::Text(Some(item.kind.as_str())),
            IntegrationId => FieldValue::Text(Some(item.integration_id.as_str())),
            DueAt => FieldValue::Time(item.due_at.as_deref().and_then(When::parse).map(When::instant)),
            StartAt => FieldValue::Time(item.start_at.as_deref().and_then(When::parse).map(When::instant)),
            UpdatedAt => FieldValue::Time(item.updated_at),
            TaskList => text(task.and_then(|t| t.list.as_ref())),
            TaskLabels => FieldValue::List(task.map_or(&[], |t| t.labels.as_slice())),
            TaskAssignees => FieldValue::List(task.map_or(&[], |t| t.assignees.as_slice())),
            TaskDone => FieldValue::Flag(task.is_some_and(|t| t.done)),
            EventLocation => text(event.and_then(|e| e.location.as_ref())),
            EventAllDay => FieldValue::Flag(event.is_some_and(|e| e.all_day)),
            EventMyResponse => text(event.and_then(|e| e.my_response.as_ref())),
            MessageAuthor => text(message.and_then(|m| m.author.as_ref())),
            MessageChannel => text(message.and_then(|m| m.channel.as_ref())),
            MessageMentionsMe => FieldValue::Flag(message.is_some_and(|m| m.mentions_me)),
            MessageRepliedByMe => FieldValue::Flag(message.is_some_and(|m| m.replied_by_me)),
            FileMimeType => text(file.and_then(|f| f.mime_type.as_ref())),
            FileOwner => text(file.and_then(|f| f.owner.as_ref())),
            FileLastModifiedBy => text(file.and_then(|f| f.last_modified_by.as_ref())),
            FileModifiedByMe => FieldValue::Flag(file.is_some_and(|f| f.modified_by_me)),
            PageParent => text(item.page.as_ref().and_then(|p| p.parent.as_ref())),
        }
    }
}

fn text(value: Option<&String>) -> FieldValue<'_> {
    FieldValue::Text(value.map(String::as_str))
}

enum FieldValue<'a> {
    Text(Option<&'a str>),
    List(&'a [String]),
    Flag(bool),
    Time(Option<DateTime<Utc>>),
}

/// A test on a field. Text comparisons ignore case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Test {
    /// The text is the value (a flag: `true` or `false`; a list: one of its entries is).
    Equals {
        value: Value,
    },
    /// The text, or one of the list's entries, contains the value.
    Contains {
        value: String,
    },
    /// The text, or one of the list's entries, is one of the values.
    In {
        values: Vec<String>,
    },
    IsEmpty,
    IsNotEmpty,
    /// The time is before now plus the offset (a negative offset reaches into the past).
    Before {
        #[serde(default)]
        days: i32,
        #[serde(default)]
        hours: i32,
    },
    /// The time is after now plus the offset.
    After {
        #[serde(default)]
        days: i32,
        #[serde(default)]
        hours: i32,
    },
    /// One of the labels (or assignees) is the value.
    LabelHas {
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawRule")]
pub struct Rule {
    pub field: Field,
    #[serde(flatten)]
    pub test: Test,
}

/// A rule as sent: every member any test has, each typed, none other; a member that does not
/// belong to the rule's `op` is refused rather than ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    field: Field,
    op: String,
    value: Option<TextOrFlag>,
    values: Option<Vec<String>>,
    days: Option<i32>,
    hours: Option<i32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrFlag {
    Text(String),
    Flag(bool),
}

impl TryFrom<RawRule> for Rule {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<Self, String> {
        let op = raw.op.as_str();
        let (value, values, offset) =
            (raw.value.is_some(), raw.values.is_some(), raw.days.is_some() || raw.hours.is_some());
        let fits = match op {
            "equals" => value && !values && !offset,
            "contains" | "labelHas" => matches!(raw.value, Some(TextOrFlag::Text(_))) && !values && !offset,
            "in" => values && !value && !offset,
            "isEmpty" | "isNotEmpty" => !value && !values && !offset,
            "before" | "after" => !value && !values,
            _ => return Err(format!("`{}` is not a test", op.chars().take(40).collect::<String>())),
        };
        if !fits {
            return Err(format!(
                "`{op}` takes {}",
                match op {
                    "equals" => "`value`",
                    "contains" | "labelHas" => "a text `value`",
                    "in" => "`values`",
                    "before" | "after" => "`days` and `hours`",
                    _ => "nothing more",
                }
            ));
        }
        let text = |v: Option<TextOrFlag>| match v {
            Some(TextOrFlag::Text(t)) => t,
            _ => String::new(),
        };
        let test = match op {
            "equals" => Test::Equals {
                value: match raw.value {
                    Some(TextOrFlag::Flag(b)) => Value::Bool(b),
                    other => Value::String(text(other)),
                },
            },
            "contains" => Test::Contains { value: text(raw.value) },
            "labelHas" => Test::LabelHas { value: text(raw.value) },
            "in" => Test::In { values: raw.values.unwrap_or_default() },
            "isEmpty" => Test::IsEmpty,
            "isNotEmpty" => Test::IsNotEmpty,
            "before" => Test::Before { days: raw.days.unwrap_or(0), hours: raw.hours.unwrap_or(0) },
            _ => Test::After { days: raw.days.unwrap_or(0), hours: raw.hours.unwrap_or(0) },
        };
        Ok(Rule { field: raw.field, test })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    #[default]
    All,
    Any,
}

/// The rules an item must pass; none means every item does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Conditions {
    #[serde(rename = "match")]
    pub combine: Combine,
    pub rules: Vec<Rule>,
}

/// The most rules a condition set may hold.
pub const MAX_RULES: usize = 20;

/// A rule that cannot work on its field, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition {index}: {reason}")]
pub struct InvalidRule {
    pub index: usize,
    pub reason: String,
}

impl Conditions {
    /// Checks every rule against its field's type, so that a saved automation cannot hold a
    /// test that is always false by construction.
    pub fn validate(&self) -> Result<(), InvalidRule> {
        if self.rules.len() > MAX_RULES {
            return Err(InvalidRule { index: MAX_RULES + 1, reason: format!("at most {MAX_RULES} conditions") });
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule.validate().map_err(|reason| InvalidRule { index: i + 1, reason })?;
        }
        Ok(())
    }

    pub fn matches(&self, item: &Item, now: DateTime<Utc>) -> bool {
        match self.combine {
            Combine::All => self.rules.iter().all(|r| r.matches(item, now)),
            Combine::Any => self.rules.is_empty() || self.rules.iter().any(|r| r.matches(item, now)),
        }
    }
}

impl Rule {
    fn validate(&self) -> Result<(), String> {
        let ty = self.field.field_type();
        let name =
            serde_json::to_value(self.field).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let ok = match &self.test {
            Test::Equals { value } => match ty {
                FieldType::Flag => value.is_boolean(),
                FieldType::Text | FieldType::List => value.is_string(),
                FieldType::Time => false,
            },
            Test::Contains { .. } | Test::In { .. } => matches!(ty, FieldType::Text | FieldType::List),
            Test::IsEmpty | Test::IsNotEmpty => true,
            Test::Before { .. } | Test::After { .. } => ty == FieldType::Time,
            Test::LabelHas { .. } => ty == FieldType::List,
        };
        if !ok {
            let what = match ty {
                FieldType::Text => "a text",
                FieldType::List => "a list",
                FieldType::Flag => "true or false",
                FieldType::Time => "a time",
            };
            return Err(format!("`{name}` holds {what}; this test does not apply to it"));
        }
        if let Test::Before { days, hours } | Test::After { days, hours } = self.test
            && (days.abs() > 366 || hours.abs() > 24 * 366)
        {
            return Err("a relative date is at most a year away".into());
        }
        Ok(())
    }

    fn matches(&self, item: &Item, now: DateTime<Utc>) -> bool {
        let value = self.field.value(item);
        match (&self.test, value) {
            (Test::Equals { value: Value::Bool(b) }, FieldValue::Flag(f)) => *b == f,
            (Test::Equals { value: Value::String(s) }, FieldValue::Text(t)) => {
                t.is_some_and(|t| t.eq_ignore_ascii_case(s))
            }
            (Test::Equals { value: Value::String(s) } | Test::LabelHas { value: s }, FieldValue::List(l)) => {
                l.iter().any(|e| e.eq_ignore_ascii_case(s))
            }
            (Test::Contains { value }, FieldValue::Text(t)) => t.is_some_and(|t| contains_ignore_case(t, value)),
            (Test::Contains { value }, FieldValue::List(l)) => l.iter().any(|e| contains_ignore_case(e, value)),
            (Test::In { values }, FieldValue::Text(t)) => {
                t.is_some_and(|t| values.iter().any(|v| v.eq_ignore_ascii_case(t)))
            }
            (Test::In { values }, FieldValue::List(l)) => {
                l.iter().any(|e| values.iter().any(|v| v.eq_ignore_ascii_case(e)))
            }
            (Test::IsEmpty, v) => is_empty(&v),
            (Test::IsNotEmpty, v) => !is_empty(&v),
            (Test::Before { days, hours }, FieldValue::Time(t)) => t.is_some_and(|t| t < offset(now, *days, *hours)),
            (Test::After { days, hours }, FieldValue::Time(t)) => t.is_some_and(|t| t > offset(now, *days, *hours)),
            _ => false,
        }
    }
}

fn offset(now: DateTime<Utc>, days: i32, hours: i32) -> DateTime<Utc> {
    now + Duration::days(i64::from(days)) + Duration::hours(i64::from(hours))
}

fn is_empty(value: &FieldValue<'_>) -> bool {
    match value {
        FieldValue::Text(t) => t.is_none_or(str::is_empty),
        FieldValue::List(l) => l.is_empty(),
        FieldValue::Flag(f) => !f,
        FieldValue::Time(t) => t.is_none(),
    }
}

/// Whether `needle` is in `haystack`, ignoring ASCII case, without lowering either.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sync::{RecordKind, TaskFields};

    pub(crate) fn card(title: &str, due: Option<&str>, labels: &[&str]) -> Item {
        Item {
            item_id: "i".into(),
            integration_id: crate::domain::IntegrationId::parse("trello").unwrap(),
            connection_id: crate::domain::ConnectionId::generate(),
            kind: RecordKind::Task,
            title: title.into(),
            url: None,
            container: Some("Launch".into()),
            status: Some("open".into()),
            due_at: due.map(str::to_owned),
            start_at: None,
            updated_at: None,
            task: Some(TaskFields {
                list: Some("Doing".into()),
                labels: labels.iter().map(|l| l.to_string()).collect(),
                done: false,
                assignees: vec![],
            }),
            event: None,
            message: None,
            file: None,
            page: None,
        }
    }

    fn rules(json: Value) -> Conditions {
        let c: Conditions = serde_json::from_value(json).unwrap();
        c.validate().unwrap();
        c
    }

    #[test]
    fn rules_test_fields_of_the_item_model() {
        let now: DateTime<Utc> = "2026-12-02T09:00:00Z".parse().unwrap();
        let item = card("Ship the Q4 report", Some("2026-12-04T17:00:00Z"), &["Urgent"]);
        let due_this_week = rules(serde_json::json!({"rules": [
            {"field": "dueAt", "op": "before", "days": 7},
            {"field": "dueAt", "op": "after"},
            {"field": "task.done", "op": "equals", "value": false},
            {"field": "title", "op": "contains", "value": "q4"},
            {"field": "task.labels", "op": "labelHas", "value": "urgent"},
            {"field": "task.list", "op": "in", "values": ["doing", "to do"]},
            {"field": "event.location", "op": "isEmpty"}
        ]}));
        assert!(due_this_week.matches(&item, now));
        let later = card("Plan 2027", Some("2027-01-20"), &[]);
        assert!(!due_this_week.matches(&later, now));
        let undated = card("Someday", None, &[]);
        assert!(!due_this_week.matches(&undated, now), "no due date is neither before nor after");

        let any = rules(serde_json::json!({"match": "any", "rules": [
            {"field": "task.labels", "op": "labelHas", "value": "Urgent"},
            {"field": "title", "op": "equals", "value": "plan 2027"}
        ]}));
        assert!(any.matches(&item, now) && any.matches(&later, now) && !any.matches(&undated, now));
        assert!(Conditions::default().matches(&undated, now), "no rule: every item");
    }

    #[test]
    fn a_test_that_cannot_apply_to_its_field_is_refused_at_save() {
        for bad in [
            serde_json::json!({"rules": [{"field": "title", "op": "before", "days": 1}]}),
            serde_json::json!({"rules": [{"field": "task.done", "op": "equals", "value": "yes"}]}),
            serde_json::json!({"rules": [{"field": "dueAt", "op": "contains", "value": "x"}]}),
            serde_json::json!({"rules": [{"field": "title", "op": "labelHas", "value": "x"}]}),
            serde_json::json!({"rules": [{"field": "dueAt", "op": "before", "days": 4000}]}),
        ] {
            let c: Conditions = serde_json::from_value(bad.clone()).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        let unknown = serde_json::json!({"rules": [{"field": "task.secret", "op": "isEmpty"}]});
        assert!(serde_json::from_value::<Conditions>(unknown).is_err());
    }

    #[test]
    fn case_is_ignored_without_lowering_the_text() {
        assert!(contains_ignore_case("Quarterly REPORT", "report"));
        assert!(!contains_ignore_case("rep", "report"));
        assert!(contains_ignore_case("anything", ""));
    }
}
