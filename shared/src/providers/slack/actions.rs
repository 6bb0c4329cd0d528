//! Slack's actions: `chat.postMessage` to a channel (a plain message, or the day's agenda the
//! runner wrote into `text`). Slack answers errors as `ok: false` with HTTP 200. A post cannot be
//! found again by a marker, so a post whose answer was lost stays unknown.

use serde::Deserialize;
use serde_json::json;

use super::{TOKEN, is_auth_error};
use crate::providers::action::{ActionCall, ActionError, Performed, send_write};
use crate::providers::{ActionSpec, Failure, ProviderError, bearer, read_json};

#[derive(Deserialize)]
struct Posted {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

pub(super) async fn perform(action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
    if !matches!(action.id, "slack.postMessage" | "slack.postAgenda") {
        return Err(ActionError::Unsupported(action.id));
    }
    let token = bearer(call.credentials, TOKEN).map_err(|_| ActionError::Unsupported(action.id))?;
    let body = json!({"channel": call.param("channel")?, "text": call.param("text")?, "unfurl_links": false});
    let url = format!("{}/chat.postMessage", call.base);
    let response = send_write(call.http.post(url).bearer_auth(token).json(&body)).await?;
    let posted: Posted = read_json(response, "Slack", "chat.postMessage").await.map_err(ActionError::Uncertain)?;
    if !posted.ok {
        let code = posted.error.unwrap_or_else(|| "unknown_error".into());
        let failure = Failure::code(code.clone(), "Slack did not post the message");
        // Slack refused before posting: nothing was posted.
        return Err(ActionError::Refused(if is_auth_error(&code) {
            ProviderError::Unauthorized(failure)
        } else {
            ProviderError::Unexpected(failure)
        }));
    }
    let id = posted.channel.zip(posted.ts).map(|(channel, ts)| format!("{channel}:{ts}"));
    Ok(Performed { id, url: None, title: None })
}
