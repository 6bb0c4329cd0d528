//! An item: a synced record as the API shows it, with a stable id, and where it stands in the
//! agenda index.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{ConnectionId, IntegrationId};
use crate::store::StoredRecord;
use crate::sync::{EventFields, FileFields, KindFields, MessageFields, PageFields, Record, RecordKind, TaskFields};

/// A stable item id: the connection, the kind and the provider's id, `{connection}.{kind}.{id}`
/// with the provider's id in base64url, so it reads back to the record's key in one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemId {
    pub connection_id: ConnectionId,
    pub kind: RecordKind,
    pub external_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an item id")]
pub struct InvalidItemId(String);

impl ItemId {
    pub fn parse(raw: &str) -> Result<Self, InvalidItemId> {
        let invalid = || InvalidItemId(raw.chars().take(80).collect());
        let mut parts = raw.splitn(3, '.');
        let (Some(connection), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let external_id =
            URL_SAFE_NO_PAD.decode(id).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
        Ok(Self {
            connection_id: ConnectionId::parse(connection).map_err(|_| invalid())?,
            kind: RecordKind::parse(kind).ok_or_else(invalid)?,
            external_id,
        })
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.connection_id, self.kind.as_str(), URL_SAFE_NO_PAD.encode(&self.external_id))
    }
}

/// An event's fields and its start.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(flatten)]
    pub fields: EventFields,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub item_id: String,
    pub integration_id: IntegrationId,
    pub connection_id: ConnectionId,
    pub kind: RecordKind,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A task's due time (or date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// An event's start time (or date, all day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskFields>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageFields>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileFields>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<PageFields>,
}

impl From<&StoredRecord> for Item {
    fn from(stored: &StoredRecord) -> Self {
        let r = &stored.record;
        let id =
            ItemId { connection_id: stored.connection_id.clone(), kind: r.kind, external_id: r.external_id.clone() };
        let mut item = Item {
            item_id: id.to_string(),
            integration_id: stored.integration_id.clone(),
            connection_id: stored.connection_id.clone(),
            kind: r.kind,
            title: r.title.clone(),
            url: r.url.clone(),
            container: r.container.clone(),
            status: r.status.clone(),
            due_at: None,
            start_at: None,
            updated_at: r.updated_at,
            task: None,
            event: None,
            message: None,
            file: None,
            page: None,
        };
        match r.kind {
            RecordKind::Task => {
                item.due_at = r.due_at.clone();
                item.task = Some(TaskFields::read(&r.data));
            }
            RecordKind::Event => {
                item.start_at = r.due_at.clone();
                item.event = Some(EventView { start: r.due_at.clone(), fields: EventFields::read(&r.data) });
            }
            RecordKind::Message => item.message = Some(MessageFields::read(&r.data)),
            RecordKind::File => item.file = Some(FileFields::read(&r.data)),
            RecordKind::Page => item.page = Some(PageFields::read(&r.data)),
        }
        item
    }
}

/// A provider's time: RFC 3339, or a date alone (all day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl When {
    pub fn parse(raw: &str) -> Option<When> {
        if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
            return Some(When::At(at.with_timezone(&Utc)));
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().map(When::Day)
    }

    /// The instant it sorts at: a day alone at its start in UTC.
    pub fn instant(self) -> DateTime<Utc> {
        match self {
            When::At(at) => at,
            When::Day(day) => day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc(),
        }
    }

    /// The calendar day it falls on in a time zone (a day alone is that day everywhere).
    pub fn day_in(self, tz: chrono_tz::Tz) -> NaiveDate {
        match self {
            When::At(at) => at.with_timezone(&tz).date_naive(),
            When::Day(day) => day,
        }
    }
}

/// The key an instant sorts at in the agenda index.
pub fn time_key(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The agenda index's two lists of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgendaList {
    /// Open tasks with a due date, by due time.
    Tasks,
    /// Events by start, unanswered mentions and files changed by others by when they happened.
    Agenda,
}

/// Where a record stands in the agenda index, if anywhere: its list and time key. The sync
/// writer stores this with every record, so the index follows the data by itself.
pub fn agenda_slot(record: &Record) -> Option<(AgendaList, String)> {
    let when = |raw: &Option<String>| raw.as_deref().and_then(When::parse).map(|w| time_key(w.instant()));
    match record.kind {
        RecordKind::Task => {
            let done = TaskFields::read(&record.data).done || matches!(record.status.as_deref(), Some("done"));
            let open = !done && !matches!(record.status.as_deref(), Some("archived" | "cancelled"));
            open.then(|| when(&record.due_at)).flatten().map(|at| (AgendaList::Tasks, at))
        }
        RecordKind::Event if record.status.as_deref() != Some("cancelled") => {
            when(&record.due_at).map(|at| (AgendaList::Agenda, at))
        }
        RecordKind::Message => {
            let m = MessageFields::read(&record.data);
            (m.mentions_me && !m.replied_by_me)
                .then(|| record.updated_at.map(|at| (AgendaList::Agenda, time_key(at))))
                .flatten()
        }
        RecordKind::File => {
            let f = FileFields::read(&record.data);
            let by_someone_else = f.last_modified_by.is_some() && !f.modified_by_me;
            by_someone_else.then(|| record.updated_at.map(|at| (AgendaList::Agenda, time_key(at)))).flatten()
        }
        RecordKind::Event | RecordKind::Page => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    fn record(kind: RecordKind, due: Option<&str>, data: Map<String, serde_json::Value>) -> Record {
        Record {
            kind,
            external_id: "x/1".into(),
            title: "t".into(),
            url: None,
            container: None,
            status: Some("open".into()),
            due_at: due.map(str::to_owned),
            updated_at: Some("2026-12-02T10:00:00Z".parse().unwrap()),
            data,
        }
    }

    #[test]
    fn an_item_id_reads_back_to_its_record_whatever_the_provider_id() {
        let id = ItemId {
            connection_id: ConnectionId::generate(),
            kind: RecordKind::Message,
            external_id: "C123:1701.0002/é".into(),
        };
        let text = id.to_string();
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{text}");
        assert_eq!(ItemId::parse(&text).unwrap(), id);
        for bad in ["", "x.task.YQ", "01ARZ3NDEKTSV4RRFFQ69G5FAV.thing.YQ", "01ARZ3NDEKTSV4RRFFQ69G5FAV.task.*"] {
            assert!(ItemId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn open_dated_tasks_events_unanswered_mentions_and_others_changes_are_in_the_agenda() {
        let task = record(RecordKind::Task, Some("2026-12-03T09:00:00+01:00"), Map::new());
        assert_eq!(agenda_slot(&task), Some((AgendaList::Tasks, "2026-12-03T08:00:00Z".into())));
        let mut done = Map::new();
        TaskFields { done: true, ..Default::default() }.write(&mut done);
        assert_eq!(agenda_slot(&record(RecordKind::Task, Some("2026-12-03"), done)), None);
        assert_eq!(agenda_slot(&record(RecordKind::Task, None, Map::new())), None);

        let all_day = record(RecordKind::Event, Some("2026-12-04"), Map::new());
        assert_eq!(agenda_slot(&all_day), Some((AgendaList::Agenda, "2026-12-04T00:00:00Z".into())));

        let mut mention = Map::new();
        MessageFields { mentions_me: true, ..Default::default() }.write(&mut mention);
        assert!(agenda_slot(&record(RecordKind::Message, None, mention)).is_some());
        let mut answered = Map::new();
        MessageFields { mentions_me: true, replied_by_me: true, ..Default::default() }.write(&mut answered);
        assert_eq!(agenda_slot(&record(RecordKind::Message, None, answered)), None);

        let mut theirs = Map::new();
        FileFields { last_modified_by: Some("Grace".into()), ..Default::default() }.write(&mut theirs);
        assert!(agenda_slot(&record(RecordKind::File, None, theirs)).is_some());
        let mut mine = Map::new();
        FileFields { last_modified_by: Some("Ada".into()), modified_by_me: true, ..Default::default() }
            .write(&mut mine);
        assert_eq!(agenda_slot(&record(RecordKind::File, None, mine)), None);
        assert_eq!(agenda_slot(&record(RecordKind::Page, None, Map::new())), None);
    }
}
