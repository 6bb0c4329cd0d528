//! Google Calendar sync: the events of the primary calendar (`GET /calendars/primary/events`,
//! recurring events expanded with `singleEvents=true`), paged with `pageToken`.
//!
//! The first run lists every event; its last page carries `nextSyncToken`. The next runs send
//! that `syncToken` and get only what changed since, deleted events included (as `status:
//! "cancelled"`, perhaps with nothing but their id), which become deletions. When Google no
//! longer accepts the token (410 Gone, `fullSyncRequired`), the run starts over without it, as a
//! full listing: its pages say `full_listing`, so the engine removes at the end what it no
//! longer saw (a full listing has no cancelled events to report).
//!
//! Cursor: `{"syncToken": t|null, "pageToken": t|null, "fullListing": bool}`.
//! State: `{"syncToken": <the last page's nextSyncToken>}`.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::read_json;
use crate::providers::SyncConnector;
use crate::providers::{ProviderError, send_with_retry};
use crate::sync::{ConnectorConfig, EventFields, KindFields, Page, Record, RecordKey, RecordKind};

/// Google's maximum `maxResults` of `events.list`.
const MAX_EVENTS_PER_PAGE: u32 = 2500;
/// What a page needs of each event (Google's partial-response syntax).
const EVENT_FIELDS: &str = concat!(
    "nextPageToken,nextSyncToken,items(id,status,summary,htmlLink,location,organizer/email,start,end,updated,",
    "attendees(self,responseStatus))"
);
const CONTAINER: &str = "Primary calendar";
const NO_TITLE: &str = "(no title)";

pub struct CalendarConnector {
    config: ConnectorConfig,
    token: SecretString,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cursor {
    /// The saved sync token: only changes since it are listed (`None`: everything).
    #[serde(default)]
    sync_token: Option<String>,
    /// Where the listing continues (`None`: its first page).
    #[serde(default)]
    page_token: Option<String>,
    /// The listing restarted from scratch after Google refused the sync token.
    #[serde(default)]
    full_listing: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Events {
    #[serde(default)]
    items: Vec<Event>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    next_sync_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    html_link: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    organizer: Option<Person>,
    #[serde(default)]
    start: Option<EventTime>,
    #[serde(default)]
    end: Option<EventTime>,
    #[serde(default)]
    updated: Option<DateTime<Utc>>,
    #[serde(default)]
    attendees: Vec<Attendee>,
}

#[derive(Deserialize)]
struct Person {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attendee {
    /// This entry is the calendar's owner, the connected user.
    #[serde(default, rename = "self")]
    is_self: bool,
    #[serde(default)]
    response_status: Option<String>,
}

/// A time (`dateTime`, RFC 3339) or, for all-day events, a `date`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventTime {
    #[serde(default)]
    date_time: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

impl EventTime {
    fn text(self) -> Option<String> {
        self.date_time.or(self.date)
    }

    /// An all-day event's time: a date and no time.
    fn is_date(&self) -> bool {
        self.date_time.is_none() && self.date.is_some()
    }
}

impl Cursor {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl CalendarConnector {
    pub fn new(config: ConnectorConfig, token: &str) -> Self {
        Self { config, token: SecretString::from(token.to_owned()) }
    }
}

#[async_trait::async_trait]
impl SyncConnector for CalendarConnector {
    /// The first cursor: the changes since the saved sync token, or (without one) every event.
    fn start(&self, state: Option<&Value>) -> Value {
        let sync_token = state.and_then(|s| s.get("syncToken")).and_then(Value::as_str).map(str::to_owned);
        Cursor { sync_token, ..Cursor::default() }.to_json()
    }

    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        let mut cursor: Cursor = serde_json::from_value(cursor.clone())
            .map_err(|_| ProviderError::Unexpected("not a Google Calendar sync cursor".into()))?;
        let url = format!("{}/calendars/primary/events", self.config.base_url.trim_end_matches('/'));
        let max = self.config.page_size.clamp(1, MAX_EVENTS_PER_PAGE).to_string();
        let mut query = vec![("maxResults", max.as_str()), ("singleEvents", "true"), ("fields", EVENT_FIELDS)];
        if let Some(sync_token) = &cursor.sync_token {
            query.push(("syncToken", sync_token.as_str()));
        }
        if let Some(page_token) = &cursor.page_token {
            query.push(("pageToken", page_token.as_str()));
        }
        let response = send_with_retry(&self.config.retry, || {
            self.config.http.get(&url).query(&query).bearer_auth(self.token.expose_secret())
        })
        .await?;
        if response.status() == StatusCode::GONE {
            if cursor.sync_token.is_none() && cursor.page_token.is_none() {
                return Err(ProviderError::Unexpected("Google Calendar refused a listing from scratch (410)".into()));
            }
            // The sync token expired: list everything again, as a full sync.
            tracing::info!("Google Calendar requires a full sync");
            let restart = Cursor { sync_token: None, page_token: None, full_listing: true };
            return Ok(Page { next: Some(restart.to_json()), full_listing: true, ..Page::default() });
        }
        let events: Events = read_json(response, "events").await?;
        let incremental = cursor.sync_token.is_some();
        let mut page = Page { full_listing: cursor.full_listing, ..Page::default() };
        for event in events.items {
            if event.status.as_deref() == Some("cancelled") {
                // Deleted: only an incremental listing reports them (a full one leaves them out).
                if incremental {
                    page.deleted.push(RecordKey { kind: RecordKind::Event, external_id: event.id });
                }
            } else {
                page.records.push(record(event));
            }
        }
        match (events.next_page_token, events.next_sync_token) {
            (Some(next), _) => {
                cursor.page_token = Some(next);
                page.next = Some(cursor.to_json());
            }
            (None, Some(sync_token)) => page.state = Some(json!({ "syncToken": sync_token })),
            (None, None) => {
                return Err(ProviderError::Unexpected(
                    "Google Calendar sent a last page without a nextSyncToken".into(),
                ));
            }
        }
        Ok(page)
    }
}

fn record(event: Event) -> Record {
    let fields = EventFields {
        end: event.end.and_then(EventTime::text),
        all_day: event.start.as_ref().is_some_and(EventTime::is_date),
        location: event.location.filter(|l| !l.trim().is_empty()),
        attendee_count: u32::try_from(event.attendees.len()).unwrap_or(u32::MAX),
        my_response: event.attendees.iter().find(|a| a.is_self).and_then(|a| a.response_status.clone()),
    };
    let mut data = Map::new();
    fields.write(&mut data);
    if let Some(organizer) = event.organizer.and_then(|o| o.email) {
        data.insert("organizer".into(), Value::String(organizer));
    }
    Record {
        kind: RecordKind::Event,
        external_id: event.id,
        title: event.summary.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| NO_TITLE.to_owned()),
        url: event.html_link,
        container: Some(CONTAINER.to_owned()),
        status: event.status,
        due_at: event.start.and_then(EventTime::text),
        updated_at: event.updated,
        data,
    }
}
