//! The write actions a provider offers to automations, declared by its module: the fields a step
//! fills in (templated), the write scope it needs, what it costs and the minutes it saves; and
//! how a write is sent: once, with its answer sorted into done, not done, refused or uncertain.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use super::{Failure, ProviderError};
use crate::vault::Credentials;

/// One field of an action's request, filled in by a step's (templated) parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub required: bool,
    /// What goes in it, for the builder's field picker.
    pub help: &'static str,
}

impl Param {
    pub const fn required(name: &'static str, help: &'static str) -> Self {
        Param { name, required: true, help }
    }

    pub const fn optional(name: &'static str, help: &'static str) -> Self {
        Param { name, required: false, help }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSpec {
    /// `{provider}.{verb}`, as steps name it: `slack.postMessage`.
    pub id: &'static str,
    /// What it does, as a receipt says it: "Posted a message in Slack".
    pub receipt: &'static str,
    pub params: &'static [Param],
    /// The OAuth scope it needs beyond reading, if any (asked for by incremental consent).
    pub scope: Option<&'static str>,
    /// Provider requests it spends from the connection's budget.
    pub calls: u32,
    /// The minutes a manager would spend doing it by hand.
    pub minutes_saved: u32,
    /// Offered on the premium plan only.
    pub premium: bool,
}

impl ActionSpec {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// One action to perform at a provider.
pub struct ActionCall<'a> {
    pub http: &'a reqwest::Client,
    /// The provider's API base URL (configuration; the fakes' in tests).
    pub base: &'a str,
    pub credentials: &'a Credentials,
    /// The step's fields, filled in.
    pub params: &'a BTreeMap<String, String>,
    /// Unique to (automation, trigger event, step): stored with the object where the provider
    /// allows it, so that [`Provider::find_performed`] can find it again.
    pub marker: &'a str,
    /// The trigger's item as the API shows it, for actions that send it along.
    pub item: Option<&'a Value>,
}

impl ActionCall<'_> {
    /// A filled-in field; the definition's check makes required ones present.
    pub fn param(&self, name: &'static str) -> Result<&str, ActionError> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .ok_or(ActionError::Param { name, reason: "is empty".into() })
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }
}

/// What an action made at the provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Performed {
    pub id: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
}

/// Whether an object made by an earlier attempt exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Performed),
    NotFound,
    /// The provider offers no way to find it: its outcome stays unknown.
    NotOffered,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The provider did not do it (refused at the door: 429, or nothing was sent): it may be
    /// tried again, after `retry_after` where the provider said so.
    #[error("the action was not performed: {0}")]
    NotDone(#[source] ProviderError),
    /// The request was sent and no clear answer came back (a timeout, a 5xx to a write): it may
    /// have been done. Never sent again without looking it up.
    #[error("the action may or may not have been performed: {0}")]
    Uncertain(#[source] ProviderError),
    /// The provider refused the request as it is; sending it again would not help.
    #[error("the provider refused the action: {0}")]
    Refused(#[source] ProviderError),
    #[error("`{name}` {reason}")]
    Param { name: &'static str, reason: String },
    #[error("this connection cannot perform `{0}`")]
    Unsupported(&'static str),
}

impl ActionError {
    /// What happened, in words a manager understands.
    pub fn user_message(&self, provider: &str) -> String {
        match self {
            ActionError::NotDone(e) | ActionError::Refused(e) => e.user_message(provider),
            ActionError::Uncertain(e) => {
                format!(
                    "{} It may have gone through; check {provider} before doing it by hand.",
                    e.user_message(provider)
                )
            }
            ActionError::Param { name, reason } => format!("The step's `{name}` {reason}."),
            ActionError::Unsupported(action) => format!("This {provider} connection cannot {action}."),
        }
    }
}

/// Sends a write once and sorts its answer: an answer that is not a success is an error saying
/// whether the write may have landed. A success's body is returned for the provider to read.
pub async fn send_write(request: reqwest::RequestBuilder) -> Result<reqwest::Response, ActionError> {
    let started = std::time::Instant::now();
    let answer = request.send().await;
    crate::metrics::provider_call(answer.as_ref().ok().map(|r| r.status().as_u16()), started.elapsed());
    let response = match answer {
        Ok(response) => response,
        // Nothing reached the provider when the connection could not be made.
        Err(e) if e.is_connect() => {
            return Err(ActionError::NotDone(ProviderError::Transport { timed_out: false, source: e.without_url() }));
        }
        Err(e) => {
            let timed_out = e.is_timeout();
            return Err(ActionError::Uncertain(ProviderError::Transport { timed_out, source: e.without_url() }));
        }
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let wait = super::retry::retry_after(&response);
    // The body is not kept: it may echo what was sent.
    let failure = Failure::http(status, format!("answered HTTP {status} to the write"));
    Err(match status {
        StatusCode::TOO_MANY_REQUESTS => {
            ActionError::NotDone(ProviderError::RateLimited(wait.unwrap_or(std::time::Duration::from_secs(1))))
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ActionError::Refused(ProviderError::Unauthorized(failure)),
        s if s.is_server_error() => ActionError::Uncertain(ProviderError::Server(failure)),
        _ => ActionError::Refused(ProviderError::Unexpected(failure)),
    })
}
