//! What connectors produce: normalised records, and pages of them with the cursor that follows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Task,
    Message,
    Event,
    File,
    Page,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Task => "task",
            RecordKind::Message => "message",
            RecordKind::Event => "event",
            RecordKind::File => "file",
            RecordKind::Page => "page",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Task, Self::Message, Self::Event, Self::File, Self::Page].into_iter().find(|k| k.as_str() == raw)
    }
}

/// One item of a user's work at a provider, in a shape common to all providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub kind: RecordKind,
    /// The provider's id (card id, `channel:ts`, event id, file id, page id).
    pub external_id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where it lives: board, channel, workspace, calendar, folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// `open`, `done`, `archived`, `cancelled`, … as the provider says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Due date or start time (RFC 3339 or a plain date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// The provider's last change of the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// The fields of its kind ([`TaskFields`], [`EventFields`], …, under their names) and
    /// other small fields worth keeping (a description, a message's text).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

/// The fields that matter for a kind of record. Connectors write them into [`Record::data`]
/// with [`KindFields::write`]; the item API reads them back with [`KindFields::read`].
pub trait KindFields: Serialize + serde::de::DeserializeOwned + Default {
    /// Adds these fields to a record's data (empty ones are left out).
    fn write(&self, data: &mut Map<String, Value>) {
        if let Value::Object(fields) = serde_json::to_value(self).expect("kind fields serialise") {
            data.extend(fields.into_iter().filter(|(_, v)| !is_empty(v)));
        }
    }

    /// Reads these fields from a record's data; missing or unreadable ones take their default.
    fn read(data: &Map<String, Value>) -> Self {
        serde_json::from_value(Value::Object(data.clone())).unwrap_or_default()
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_u64() == Some(0),
        Value::Object(o) => o.is_empty(),
    }
}

/// A task (Trello card, Asana task). Its due time is [`Record::due_at`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskFields {
    /// The list or section it is in.
    pub list: Option<String>,
    pub labels: Vec<String>,
    pub done: bool,
    /// Who it is assigned to (names where the provider gives them, else ids).
    pub assignees: Vec<String>,
}

/// A calendar event. Its start is [`Record::due_at`] (a date alone for an all-day event).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventFields {
    pub end: Option<String>,
    pub all_day: bool,
    pub location: Option<String>,
    pub attendee_count: u32,
    /// The user's own answer: `accepted`, `declined`, `tentative`, `needsAction`.
    pub my_response: Option<String>,
}

/// A channel message (Slack, Teams).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageFields {
    pub author: Option<String>,
    pub channel: Option<String>,
    /// It mentions the connected user.
    pub mentions_me: bool,
    /// The connected user has answered in its thread.
    pub replied_by_me: bool,
    pub reply_count: u32,
}

/// A file (Google Drive).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileFields {
    pub mime_type: Option<String>,
    pub owner: Option<String>,
    pub last_modified_by: Option<String>,
    /// The last change was made by the connected user.
    pub modified_by_me: bool,
}

/// A page (Notion).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PageFields {
    pub parent: Option<String>,
    pub last_edited_by: Option<String>,
}

impl KindFields for TaskFields {}
impl KindFields for EventFields {}
impl KindFields for MessageFields {}
impl KindFields for FileFields {}
impl KindFields for PageFields {}

/// Identifies a record that the provider reports as deleted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordKey {
    pub kind: RecordKind,
    pub external_id: String,
}

/// One page from a provider.
#[derive(Debug, Default)]
pub struct Page {
    pub records: Vec<Record>,
    pub deleted: Vec<RecordKey>,
    /// The cursor of the next page; `None` when this was the last one.
    pub next: Option<Value>,
    /// With the last page: what the next incremental sync starts from (saved on the connection).
    pub state: Option<Value>,
    /// The provider invalidated the incremental state (Google Calendar's 410): from this page
    /// on the connector lists everything, so the run finishes as a full sync — existing records
    /// stay until the new listing is complete, then those it did not see are removed.
    pub full_listing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Only what changed since the last successful sync (the connection's saved state).
    #[default]
    Incremental,
    /// Everything, from the start; records the provider no longer has are removed at the end.
    Full,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Incremental => "incremental",
            SyncMode::Full => "full",
        }
    }
}

/// Cuts a text to at most `max` characters (on a character boundary), marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_fields_round_trip_through_a_records_data_leaving_empty_ones_out() {
        let mut data = Map::new();
        data.insert("description".into(), Value::String("kept".into()));
        let task =
            TaskFields { list: Some("Doing".into()), labels: vec!["ops".into()], done: false, assignees: vec![] };
        task.write(&mut data);
        assert_eq!(data.get("done"), None, "false is left out");
        assert_eq!(data.get("assignees"), None);
        assert_eq!(TaskFields::read(&data), task);
        assert_eq!(data["description"], "kept");
        assert_eq!(EventFields::read(&Map::new()), EventFields::default());
    }

    #[test]
    fn clip_cuts_on_character_boundaries() {
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("hi", 5), "hi");
    }
}
