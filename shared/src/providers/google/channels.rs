//! Google push notification channels: Calendar `events.watch` (`POST
//! /calendars/primary/events/watch`) and Drive `changes.watch` (`POST /changes/watch?pageToken=`),
//! each a `web_hook` channel named by our key, to our callback, with its own random token that
//! every notification carries back (`X-Goog-Channel-Token`). A channel cannot be extended: the
//! scheduler makes a new one before `expiration` and stops the old one with `channels.stop`
//! (`POST /channels/stop {id, resourceId}`), as disconnect does.
//! https://developers.google.com/workspace/calendar/api/guides/push,
//! https://developers.google.com/drive/api/guides/push

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::read_json;
use crate::providers::{Failure, ProviderError, RetryPolicy, Subscribed, SubscriptionCall, bearer, send_with_retry};

/// How long a channel is asked to last (Google may end it sooner; it says when in `expiration`).
const CHANNEL_LIFETIME: chrono::Duration = chrono::Duration::days(7);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Channel {
    resource_id: String,
    /// Milliseconds since the epoch, as a string.
    #[serde(default)]
    expiration: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartPageToken {
    start_page_token: String,
}

fn token<'a>(call: &'a SubscriptionCall<'_>) -> Result<&'a str, ProviderError> {
    bearer(call.credentials, "access_token").map_err(|e| ProviderError::Unexpected(e.to_string().into()))
}

/// Calendar: a channel on the primary calendar's events.
pub(super) async fn watch_calendar(call: &SubscriptionCall<'_>) -> Result<Subscribed, ProviderError> {
    watch(call, "/calendars/primary/events/watch", None).await
}

/// Drive: a channel on the change log, from its current start page token.
pub(super) async fn watch_drive(call: &SubscriptionCall<'_>) -> Result<Subscribed, ProviderError> {
    let token = token(call)?;
    let url = format!("{}/changes/startPageToken", call.base.trim_end_matches('/'));
    let response = send_with_retry(&RetryPolicy::default(), || call.http.get(&url).bearer_auth(token)).await?;
    let start: StartPageToken = read_json(response, "start page token").await?;
    watch(call, "/changes/watch", Some(&start.start_page_token)).await
}

async fn watch(call: &SubscriptionCall<'_>, path: &str, page_token: Option<&str>) -> Result<Subscribed, ProviderError> {
    let token = token(call)?;
    let url = format!("{}{path}", call.base.trim_end_matches('/'));
    let body = json!({
        "id": call.key,
        "type": "web_hook",
        "address": call.callback_url,
        "token": call.secret,
        "expiration": (call.now + CHANNEL_LIFETIME).timestamp_millis().to_string(),
    });
    let query: Vec<(&str, &str)> = page_token.map(|t| ("pageToken", t)).into_iter().collect();
    let response =
        send_with_retry(&RetryPolicy::default(), || call.http.post(&url).query(&query).bearer_auth(token).json(&body))
            .await?;
    let channel: Channel = read_json(response, "watch").await?;
    Ok(Subscribed {
        key: call.key.to_owned(),
        remote_id: Some(channel.resource_id),
        expires_on: channel.expiration.as_deref().and_then(expiration),
        uses_secret: true,
    })
}

fn expiration(millis: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis.trim().parse().ok()?)
}

/// `channels.stop`: the channel is named by our key (its id) and Google's resource id. One that
/// Google no longer knows is stopped already.
pub(super) async fn stop(call: &SubscriptionCall<'_>, resource_id: &str) -> Result<(), ProviderError> {
    let token = token(call)?;
    let url = format!("{}/channels/stop", call.base.trim_end_matches('/'));
    let body = json!({ "id": call.key, "resourceId": resource_id });
    let response =
        send_with_retry(&RetryPolicy::default(), || call.http.post(&url).bearer_auth(token).json(&body)).await?;
    let status = response.status();
    if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
        return Ok(());
    }
    Err(ProviderError::Unexpected(Failure::http(status, format!("Google answered HTTP {status} to channels.stop"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_are_milliseconds_since_the_epoch() {
        assert_eq!(expiration("1426325213000"), DateTime::from_timestamp(1_426_325_213, 0));
        assert_eq!(expiration("soon"), None);
    }
}
