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
    /// Other fields worth keeping (labels, list, author, …), small.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

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
    fn clip_cuts_on_character_boundaries() {
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("hi", 5), "hi");
    }
}
