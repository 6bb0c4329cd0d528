//! Google Calendar's action: insert an event (block time). The event carries the action's marker
//! as a private extended property, so that a retry whose first answer was lost finds it with
//! `events.list?privateExtendedProperty=` instead of making a second event.

use serde::Deserialize;
use serde_json::json;

use crate::providers::action::{ActionCall, ActionError, Lookup, Performed, send_write};
use crate::providers::{ActionSpec, ProviderError, bearer, read_json};

/// The private extended property that holds an action's marker.
pub const MARKER_PROPERTY: &str = "directorOfOneAction";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: String,
    #[serde(default)]
    html_link: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

impl From<Event> for Performed {
    fn from(e: Event) -> Self {
        Performed { id: Some(e.id), url: e.html_link, title: e.summary }
    }
}

fn events_url(call: &ActionCall<'_>) -> Result<reqwest::Url, ActionError> {
    let calendar = call.optional("calendarId").unwrap_or("primary");
    let mut url = reqwest::Url::parse(call.base)
        .map_err(|_| ActionError::Param { name: "calendarId", reason: "cannot form a URL".into() })?;
    url.path_segments_mut()
        .map_err(|_| ActionError::Param { name: "calendarId", reason: "cannot form a URL".into() })?
        .pop_if_empty()
        .extend(["calendars", calendar, "events"]);
    Ok(url)
}

/// An event's start or end: an RFC 3339 time, or a date alone for an all-day event.
fn when(value: &str, time_zone: Option<&str>) -> serde_json::Value {
    if value.len() == 10 && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
        json!({"date": value})
    } else {
        match time_zone {
            Some(tz) => json!({"dateTime": value, "timeZone": tz}),
            None => json!({"dateTime": value}),
        }
    }
}

fn check_time(name: &'static str, value: &str) -> Result<(), ActionError> {
    let is_date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok();
    if is_date || chrono::DateTime::parse_from_rfc3339(value).is_ok() {
        Ok(())
    } else {
        Err(ActionError::Param { name, reason: format!("is not a date or an RFC 3339 time (`{value}`)") })
    }
}

pub(super) async fn perform(action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
    if action.id != "calendar.insertEvent" {
        return Err(ActionError::Unsupported(action.id));
    }
    let token = bearer(call.credentials, "access_token").map_err(|_| ActionError::Unsupported(action.id))?;
    let (start, end) = (call.param("start")?, call.param("end")?);
    check_time("start", start)?;
    check_time("end", end)?;
    let time_zone = call.optional("timeZone");
    let mut body = json!({
        "summary": call.param("summary")?,
        "start": when(start, time_zone),
        "end": when(end, time_zone),
        "extendedProperties": {"private": {MARKER_PROPERTY: call.marker}},
    });
    if let Some(description) = call.optional("description") {
        body["description"] = description.into();
    }
    let response = send_write(call.http.post(events_url(call)?).bearer_auth(token).json(&body)).await?;
    // It was made; an answer we cannot read does not undo that.
    let event: Event = read_json(response, "Google Calendar", "event insert").await.map_err(ActionError::Uncertain)?;
    Ok(event.into())
}

pub(super) async fn find_performed(
    action: &'static ActionSpec,
    call: &ActionCall<'_>,
) -> Result<Lookup, ProviderError> {
    if action.id != "calendar.insertEvent" {
        return Ok(Lookup::NotOffered);
    }
    let Ok(token) = bearer(call.credentials, "access_token") else { return Ok(Lookup::NotOffered) };
    let Ok(url) = events_url(call) else { return Ok(Lookup::NotOffered) };
    let property = format!("{MARKER_PROPERTY}={}", call.marker);
    let request = || {
        call.http.get(url.clone()).bearer_auth(token).query(&[
            ("privateExtendedProperty", property.as_str()),
            ("maxResults", "1"),
            ("showDeleted", "true"),
        ])
    };
    let response = crate::providers::send_with_retry(&Default::default(), request).await?;
    #[derive(Deserialize)]
    struct Events {
        #[serde(default)]
        items: Vec<Event>,
    }
    let found: Events = read_json(response, "Google Calendar", "event lookup").await?;
    Ok(found.items.into_iter().next().map_or(Lookup::NotFound, |e| Lookup::Found(e.into())))
}
