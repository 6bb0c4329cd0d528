//! Google Calendar: the primary calendar's events and their seeding. Every change gets the next
//! value of a change counter, which is what sync tokens remember.

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};

use super::owner_of;
use crate::state::{FakeState, Inner};
use crate::util::mix;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Tentative,
    /// Deleted: listed only with `showDeleted=true`, `updatedMin` or a sync token.
    Cancelled,
}

impl EventStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Tentative => "tentative",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

/// An event's start or end: a time (`dateTime`) or, for all-day events, a `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
}

impl EventTime {
    /// The instant, all-day dates counting from midnight UTC.
    pub(crate) fn instant(&self) -> DateTime<Utc> {
        match self {
            EventTime::DateTime(t) => *t,
            EventTime::Date(d) => d.and_hms_opt(0, 0, 0).map(|n| n.and_utc()).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// base32hex characters (`0-9a-v`), as Google's generated ids.
    pub id: String,
    pub status: EventStatus,
    pub summary: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: EventTime,
    pub end: EventTime,
    /// The guests, the calendar's owner among them when invited (listed with `self: true`).
    /// The organizer is the attendee marked so, or else the calendar's owner.
    pub attendees: Vec<EventAttendee>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// A guest of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAttendee {
    pub email: String,
    pub display_name: Option<String>,
    /// `needsAction`, `declined`, `tentative` or `accepted`.
    pub response_status: String,
    pub organizer: bool,
}

impl EventAttendee {
    /// A guest (not the organizer) who answered `response_status`.
    pub fn new(email: &str, response_status: &str) -> EventAttendee {
        EventAttendee {
            email: email.to_owned(),
            display_name: None,
            response_status: response_status.to_owned(),
            organizer: false,
        }
    }

    /// The same guest as the event's organizer.
    pub fn organizing(self) -> EventAttendee {
        EventAttendee { organizer: true, ..self }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct EventRec {
    /// `sub` of the calendar's owner.
    pub owner: String,
    /// Value of the change counter at the event's last change.
    pub seq: u64,
    pub event: CalendarEvent,
    /// `extendedProperties.private`, as set by `events.insert`.
    pub private_properties: Vec<(String, String)>,
}

pub(crate) fn event_id(seed: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let (mut x, mut out) = (mix(seed ^ 0xCA1E_0000), String::new());
    for i in 0..26 {
        if i % 12 == 11 {
            x = mix(x);
        }
        out.push(ALPHABET[(x % 32) as usize] as char);
        x /= 32;
    }
    out
}

/// Google timestamps have millisecond precision; keep them so.
pub(crate) fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

impl FakeState {
    /// Adds a confirmed event to the primary calendar of `token_or_user` (a bearer token, `sub`
    /// or email), created and updated now; returns its id (empty if there is no such user).
    pub fn add_calendar_event(
        &self,
        token_or_user: &str,
        summary: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> String {
        self.with(|s| {
            let Some(owner) = owner_of(s, token_or_user) else {
                return String::new();
            };
            let id = event_id(s.next_seq());
            s.google.event_seq += 1;
            let now = now_ms();
            let event = CalendarEvent {
                id: id.clone(),
                status: EventStatus::Confirmed,
                summary: summary.to_owned(),
                description: None,
                location: None,
                start: EventTime::DateTime(start),
                end: EventTime::DateTime(end),
                attendees: Vec::new(),
                created: now,
                updated: now,
            };
            s.google.events.push(EventRec {
                owner: owner.clone(),
                seq: s.google.event_seq,
                event,
                private_properties: Vec::new(),
            });
            super::channels::notify(s, &owner, super::channels::Watched::CalendarEvents);
            id
        })
    }

    /// Adds `n` one-hour events "Event 1" … "Event n", one a day from tomorrow 09:00 UTC.
    pub fn add_calendar_events(&self, token_or_user: &str, n: usize) -> Vec<String> {
        let day0 = (Utc::now() + Duration::days(1)).date_naive().and_hms_opt(9, 0, 0).map(|t| t.and_utc());
        let day0 = day0.unwrap_or_else(Utc::now);
        (0..n)
            .map(|i| {
                let start = day0 + Duration::days(i as i64);
                self.add_calendar_event(token_or_user, &format!("Event {}", i + 1), start, start + Duration::hours(1))
            })
            .collect()
    }

    /// Edits an event; a change (sync tokens see it). `updated` becomes now unless `edit` set it.
    pub fn update_calendar_event(&self, id: &str, edit: impl FnOnce(&mut CalendarEvent)) -> bool {
        self.with(|s| change_event(s, id, edit))
    }

    /// Deletes an event the way Google does: it stays, with status `cancelled`.
    pub fn cancel_calendar_event(&self, id: &str) -> bool {
        self.update_calendar_event(id, |e| e.status = EventStatus::Cancelled)
    }

    /// Makes every sync token issued so far invalid (the next incremental sync gets 410 Gone).
    pub fn invalidate_calendar_sync_tokens(&self) {
        self.with(|s| s.google.sync_epoch += 1);
    }

    /// The events of a user's primary calendar whose summary is `summary` (what an automation made).
    pub fn calendar_events_named(&self, token_or_user: &str, summary: &str) -> Vec<CalendarEvent> {
        self.with(|s| {
            let owner = owner_of(s, token_or_user).unwrap_or_default();
            s.google
                .events
                .iter()
                .filter(|r| r.owner == owner && r.event.summary == summary)
                .map(|r| r.event.clone())
                .collect()
        })
    }

    pub fn calendar_event(&self, id: &str) -> Option<CalendarEvent> {
        self.with(|s| s.google.events.iter().find(|r| r.event.id == id).map(|r| r.event.clone()))
    }
}

pub(crate) fn change_event(s: &mut Inner, id: &str, edit: impl FnOnce(&mut CalendarEvent)) -> bool {
    let Some(idx) = s.google.events.iter().position(|r| r.event.id == id) else {
        return false;
    };
    s.google.event_seq += 1;
    let rec = &mut s.google.events[idx];
    let before = rec.event.updated;
    edit(&mut rec.event);
    rec.event.id = id.to_owned();
    if rec.event.updated == before {
        rec.event.updated = now_ms().max(before + Duration::milliseconds(1));
    }
    rec.seq = s.google.event_seq;
    let owner = rec.owner.clone();
    super::channels::notify(s, &owner, super::channels::Watched::CalendarEvents);
    true
}
