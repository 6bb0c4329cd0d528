//! The caller's items: filtered, searched, sorted and paged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::view::{AgendaList, Item, ItemId, When, time_key};
use crate::auth::Caller;
use crate::config::AppState;
use crate::domain::{ConnectionId, IntegrationId};
use crate::store::{StoreError, StoredRecord};
use crate::sync::{KindFields, MessageFields, RecordKind};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum ItemSort {
    /// Soonest due (or start) first; undated last.
    #[serde(rename = "due")]
    Due,
    /// Most recently changed first.
    #[default]
    #[serde(rename = "-updated")]
    RecentlyUpdated,
}

/// `GET /items`' query, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemQuery {
    pub kind: Option<RecordKind>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub status: Option<String>,
    pub due_from: Option<String>,
    pub due_to: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    pub mentions_me: Option<bool>,
    pub q: Option<String>,
    pub sort: Option<ItemSort>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ItemsError {
    #[error("{0}")]
    Invalid(String),
    #[error("the cursor does not belong to this query; start again without it")]
    InvalidCursor,
    #[error("there is no such item")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ItemsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ItemsError::NotFound,
            other => ItemsError::Store(other),
        }
    }
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemsPage {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
}

pub const MAX_LIMIT: u32 = 100;
const DEFAULT_LIMIT: u32 = 50;

/// The checked filters of a query.
struct Filters {
    kind: Option<RecordKind>,
    integration: Option<IntegrationId>,
    connection: Option<ConnectionId>,
    status: Option<String>,
    due_from: Option<DateTime<Utc>>,
    due_to: Option<DateTime<Utc>>,
    updated_since: Option<DateTime<Utc>>,
    mentions_me: Option<bool>,
    words: Vec<String>,
    sort: ItemSort,
    limit: usize,
}

fn bound(raw: &Option<String>, name: &str, end_of_day: bool) -> Result<Option<DateTime<Utc>>, ItemsError> {
    let Some(raw) = raw else { return Ok(None) };
    match When::parse(raw) {
        Some(When::At(at)) => Ok(Some(at)),
        Some(When::Day(day)) => {
            let day = if end_of_day { day.succ_opt().unwrap_or(day) } else { day };
            let at = When::Day(day).instant();
            Ok(Some(if end_of_day { at - chrono::Duration::milliseconds(1) } else { at }))
        }
        None => Err(ItemsError::Invalid(format!("{name} must be a date (2026-12-31) or an RFC 3339 time"))),
    }
}

impl Filters {
    fn parse(state: &AppState, query: &ItemQuery) -> Result<Self, ItemsError> {
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ItemsError::Invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let integration = match &query.integration_id {
            None => None,
            Some(id) => match state.catalog.find(id) {
                Some(i) => Some(i.id.clone()),
                None => return Err(ItemsError::Invalid(format!("there is no integration `{id}`"))),
            },
        };
        let connection = match &query.connection_id {
            None => None,
            Some(id) => Some(
                ConnectionId::parse(id).map_err(|_| ItemsError::Invalid(format!("`{id}` is not a connection id")))?,
            ),
        };
        let due_from = bound(&query.due_from, "dueFrom", false)?;
        let due_to = bound(&query.due_to, "dueTo", true)?;
        if let (Some(from), Some(to)) = (due_from, due_to)
            && from > to
        {
            return Err(ItemsError::Invalid("dueFrom must not be after dueTo".into()));
        }
        let q = query.q.as_deref().unwrap_or_default().trim();
        if q.chars().count() > 200 {
            return Err(ItemsError::Invalid("q must be at most 200 characters".into()));
        }
        Ok(Filters {
            kind: query.kind,
            integration,
            connection,
            status: query.status.as_ref().map(|s| s.to_lowercase()),
            due_from,
            due_to,
            updated_since: query.updated_since,
            mentions_me: query.mentions_me,
            words: q.to_lowercase().split_whitespace().map(str::to_owned).collect(),
            sort: query.sort.unwrap_or_default(),
            limit: limit as usize,
        })
    }

    fn by_due(&self) -> bool {
        self.due_from.is_some() || self.due_to.is_some()
    }

    fn matches(&self, stored: &StoredRecord) -> bool {
        let r = &stored.record;
        let due = r.due_at.as_deref().and_then(When::parse).map(When::instant);
        self.kind.is_none_or(|k| r.kind == k)
            && self.integration.as_ref().is_none_or(|i| &stored.integration_id == i)
            && self.connection.as_ref().is_none_or(|c| &stored.connection_id == c)
            && self.status.as_ref().is_none_or(|s| r.status.as_deref().is_some_and(|rs| rs.eq_ignore_ascii_case(s)))
            && self.due_from.is_none_or(|from| due.is_some_and(|d| d >= from))
            && self.due_to.is_none_or(|to| due.is_some_and(|d| d <= to))
            && self.updated_since.is_none_or(|since| r.updated_at.is_some_and(|u| u >= since))
            && self
                .mentions_me
                .is_none_or(|m| (r.kind == RecordKind::Message && MessageFields::read(&r.data).mentions_me) == m)
            && (self.words.is_empty() || {
                let title = r.title.to_lowercase();
                self.words.iter().all(|w| title.contains(w.as_str()))
            })
    }
}

/// The cursor: where the next page starts, bound to the caller and the query by a digest,
/// so it cannot be replayed against another user's or another query's results.
fn digest(caller: &Caller, query: &ItemQuery) -> String {
    let canonical = format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        caller.user_id,
        query.kind,
        query.integration_id,
        query.connection_id,
        query.status,
        query.due_from,
        query.due_to,
        query.updated_since,
        query.mentions_me,
        query.q,
        query.sort,
        query.limit
    );
    Sha256::digest(canonical.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

fn encode_cursor(offset: usize, digest: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{digest}"))
}

fn decode_cursor(raw: &str, digest: &str) -> Result<usize, ItemsError> {
    let text =
        URL_SAFE_NO_PAD.decode(raw).ok().and_then(|b| String::from_utf8(b).ok()).ok_or(ItemsError::InvalidCursor)?;
    let (offset, bound_to) = text.split_once(':').ok_or(ItemsError::InvalidCursor)?;
    if bound_to != digest {
        return Err(ItemsError::InvalidCursor);
    }
    offset.parse().map_err(|_| ItemsError::InvalidCursor)
}

/// One page of the caller's items that match the query.
pub async fn list_items(state: &AppState, caller: &Caller, query: &ItemQuery) -> Result<ItemsPage, ItemsError> {
    let filters = Filters::parse(state, query)?;
    let digest = digest(caller, query);
    let offset = match &query.cursor {
        Some(raw) => decode_cursor(raw, &digest)?,
        None => 0,
    };
    let mut records = if filters.by_due() {
        // Due filters read the agenda index: open tasks and events in the range.
        let from = filters.due_from.map(time_key).unwrap_or_else(|| "0".into());
        let to = filters.due_to.map(time_key).unwrap_or_else(|| "9999".into());
        let mut found = Vec::new();
        if filters.kind.is_none_or(|k| k == RecordKind::Task) {
            found.extend(state.store.agenda_records(&caller.user_id, AgendaList::Tasks, &from, &to).await?.0);
        }
        if filters.kind.is_none_or(|k| k == RecordKind::Event) {
            let (agenda, _) = state.store.agenda_records(&caller.user_id, AgendaList::Agenda, &from, &to).await?;
            found.extend(agenda.into_iter().filter(|r| r.record.kind == RecordKind::Event));
        }
        found
    } else {
        let within = match (&filters.connection, filters.kind) {
            (Some(c), Some(k)) => format!("{c}#{}#", k.as_str()),
            (Some(c), None) => format!("{c}#"),
            (None, _) => String::new(),
        };
        state.store.user_records(&caller.user_id, &within).await?
    };
    records.retain(|r| filters.matches(r));
    sort(&mut records, filters.sort);
    let next = offset + filters.limit;
    let items = records.iter().skip(offset).take(filters.limit).map(Item::from).collect();
    let next_cursor = (next < records.len()).then(|| encode_cursor(next, &digest));
    Ok(ItemsPage { items, next_cursor })
}

fn sort(records: &mut [StoredRecord], order: ItemSort) {
    let due = |r: &StoredRecord| r.record.due_at.as_deref().and_then(When::parse).map(When::instant);
    match order {
        // `None` sorts after every time.
        ItemSort::Due => records.sort_by(|a, b| {
            (due(a).is_none(), due(a), &a.record.title).cmp(&(due(b).is_none(), due(b), &b.record.title))
        }),
        ItemSort::RecentlyUpdated => {
            records.sort_by(|a, b| (b.record.updated_at, &a.record.title).cmp(&(a.record.updated_at, &b.record.title)))
        }
    }
}

/// One of the caller's items (another user's is not found).
pub async fn get_item(state: &AppState, caller: &Caller, id: &str) -> Result<Item, ItemsError> {
    let id = ItemId::parse(id).map_err(|e| ItemsError::Invalid(e.to_string()))?;
    let stored = state.store.get_record(&caller.user_id, &id.connection_id, id.kind, &id.external_id).await?;
    Ok(Item::from(&stored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Plan, UserId};

    #[test]
    fn a_cursor_works_only_for_its_caller_and_query() {
        let ada = Caller { user_id: UserId::parse("ada").unwrap(), plan: Plan::Free };
        let bob = Caller { user_id: UserId::parse("bob").unwrap(), plan: Plan::Free };
        let query = ItemQuery { q: Some("plan".into()), ..Default::default() };
        let cursor = encode_cursor(50, &digest(&ada, &query));
        assert_eq!(decode_cursor(&cursor, &digest(&ada, &query)).unwrap(), 50);
        assert!(decode_cursor(&cursor, &digest(&bob, &query)).is_err());
        let other = ItemQuery { q: Some("budget".into()), ..Default::default() };
        assert!(decode_cursor(&cursor, &digest(&ada, &other)).is_err());
        assert!(decode_cursor("not-a-cursor", &digest(&ada, &query)).is_err());
    }

    #[test]
    fn a_due_day_bound_covers_the_whole_day() {
        let to = bound(&Some("2026-12-03".into()), "dueTo", true).unwrap().unwrap();
        assert_eq!(to.to_rfc3339(), "2026-12-03T23:59:59.999+00:00");
        assert!(bound(&Some("tomorrow".into()), "dueFrom", false).is_err());
    }
}
