//! The shared, seedable state behind the fake server: provider data, faults and the request log.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::oauth::OAuthProvider;
use crate::{asana, google, graph, notion, oauth, slack, trello};

/// One of the faked data APIs (each with its own base URL on the fake server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Trello,
    Slack,
    Asana,
    Notion,
    /// Google Calendar API v3.
    GoogleCalendar,
    /// Google Drive API v3.
    GoogleDrive,
    /// Microsoft Graph v1.0 (users, Teams).
    MicrosoftGraph,
    /// Google's OpenID Connect userinfo endpoint (`/oauth2/v3/userinfo`).
    GoogleUserinfo,
}

impl Provider {
    pub const ALL: [Provider; 8] = [
        Provider::Trello,
        Provider::Slack,
        Provider::Asana,
        Provider::Notion,
        Provider::GoogleCalendar,
        Provider::GoogleDrive,
        Provider::MicrosoftGraph,
        Provider::GoogleUserinfo,
    ];

    /// Lower-case name, as used in `/_fake/{provider}/…` (`google-calendar`, `microsoft-graph`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Trello => "trello",
            Provider::Slack => "slack",
            Provider::Asana => "asana",
            Provider::Notion => "notion",
            Provider::GoogleCalendar => "google-calendar",
            Provider::GoogleDrive => "google-drive",
            Provider::MicrosoftGraph => "microsoft-graph",
            Provider::GoogleUserinfo => "google-userinfo",
        }
    }

    /// Path of the provider's base URL on the fake server (`/trello`, `/slack/api`, …).
    pub fn base_path(self) -> &'static str {
        match self {
            Provider::Trello => "/trello",
            Provider::Slack => "/slack/api",
            Provider::Asana => "/asana/api/1.0",
            Provider::Notion => "/notion",
            Provider::GoogleCalendar => "/google/calendar/v3",
            Provider::GoogleDrive => "/google/drive/v3",
            Provider::MicrosoftGraph => "/graph/v1.0",
            Provider::GoogleUserinfo => "/google/oauth2/v3",
        }
    }

    /// The real provider's base URL that `base_path` stands in for.
    pub fn real_base_url(self) -> &'static str {
        match self {
            Provider::Trello => "https://api.trello.com",
            Provider::Slack => "https://slack.com/api",
            Provider::Asana => "https://app.asana.com/api/1.0",
            Provider::Notion => "https://api.notion.com",
            Provider::GoogleCalendar => "https://www.googleapis.com/calendar/v3",
            Provider::GoogleDrive => "https://www.googleapis.com/drive/v3",
            Provider::MicrosoftGraph => "https://graph.microsoft.com/v1.0",
            Provider::GoogleUserinfo => "https://www.googleapis.com/oauth2/v3",
        }
    }

    /// The OAuth server whose access tokens this API accepts (Trello has none here).
    pub fn oauth(self) -> Option<OAuthProvider> {
        match self {
            Provider::Trello => None,
            Provider::Slack => Some(OAuthProvider::Slack),
            Provider::Asana => Some(OAuthProvider::Asana),
            Provider::Notion => Some(OAuthProvider::Notion),
            Provider::GoogleCalendar | Provider::GoogleDrive | Provider::GoogleUserinfo => Some(OAuthProvider::Google),
            Provider::MicrosoftGraph => Some(OAuthProvider::Microsoft),
        }
    }

    /// Splits a server path into the provider and the path relative to its base URL.
    pub(crate) fn split_path(path: &str) -> Option<(Provider, String)> {
        Provider::ALL.into_iter().find_map(|p| {
            let rest = path.strip_prefix(p.base_path())?;
            if rest.is_empty() {
                Some((p, "/".to_owned()))
            } else if rest.starts_with('/') {
                Some((p, rest.to_owned()))
            } else {
                None
            }
        })
    }
}

/// `Google-Calendar`, `google_calendar` and `googlecalendar` all name the same provider.
pub(crate) fn normalized_name(s: &str) -> String {
    s.trim().chars().filter(|c| !matches!(c, '-' | '_' | ' ')).flat_map(char::to_lowercase).collect()
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = normalized_name(s);
        Provider::ALL
            .into_iter()
            .find(|p| normalized_name(p.as_str()) == wanted)
            .ok_or_else(|| format!("unknown provider `{s}`"))
    }
}

/// A failure to serve instead of (or before) the normal answer, for testing clients' retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// HTTP 429 in the provider's shape, with `Retry-After: retry_after_secs`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500 in the provider's error shape.
    ServerError,
    /// Waits `millis` milliseconds, then answers normally.
    Timeout { millis: u64 },
    /// Does what was asked at once, then waits `millis` before answering: a client that stops
    /// waiting first loses the answer to a write that happened.
    LateAnswer { millis: u64 },
}

impl Fault {
    fn label(&self) -> &'static str {
        match self {
            Fault::RateLimited { .. } => "rate_limited",
            Fault::ServerError => "server_error",
            Fault::Timeout { .. } => "timeout",
            Fault::LateAnswer { .. } => "late_answer",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FaultRule {
    pub provider: Provider,
    pub path_prefix: String,
    pub fault: Fault,
    pub remaining: u32,
}

/// One request the fake received. Secrets (tokens, keys) are masked: `xoxb****`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    pub provider: Provider,
    pub method: String,
    /// Path relative to the provider's base URL, e.g. `/1/boards/{id}/cards` or `/conversations.history`.
    pub path: String,
    /// The query string (without `?`), secrets masked.
    pub query: String,
    /// The request body as text (form bodies re-encoded with secrets masked), if any.
    pub body: Option<String>,
    /// The masked credential the request carried, if any.
    pub credential: Option<String>,
    pub status: u16,
    /// `rate_limited` / `server_error` / `timeout` when an injected fault was served.
    pub fault: Option<String>,
    pub at: DateTime<Utc>,
}

impl RecordedRequest {
    /// The first value of a query (or form body) parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        let from_query = crate::util::parse_pairs(self.query.as_bytes());
        let from_body = self.body.as_deref().map(|b| crate::util::parse_pairs(b.as_bytes())).unwrap_or_default();
        from_query.into_iter().chain(from_body).find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

const MAX_RECORDED: usize = 10_000;

#[derive(Default)]
pub(crate) struct Inner {
    seq: u64,
    pub base_url: Option<String>,
    /// See [`FakeState::check_callbacks`].
    pub checks_callbacks: bool,
    pub trello: trello::Data,
    pub slack: slack::Data,
    pub asana: asana::Data,
    pub notion: notion::Data,
    pub google: google::Data,
    pub graph: graph::Data,
    pub oauth: oauth::Data,
    pub hooks: crate::hooks::Data,
    pub receivers: crate::hooks::Receivers,
    pub faults: Vec<FaultRule>,
    pub requests: Vec<RecordedRequest>,
    /// Every credential the fakes issued or were sent, for the check that none reaches a log.
    pub secrets: std::collections::BTreeSet<String>,
}

impl Inner {
    /// Remembers a credential (too short a value would match by chance, and is no secret).
    pub fn saw_secret(&mut self, secret: &str) {
        if secret.len() >= 12 {
            self.secrets.insert(secret.to_owned());
        }
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// Shared handle (cheap to clone) to the fake's data: seed it, inspect it, inject faults.
#[derive(Clone, Default)]
pub struct FakeState {
    inner: Arc<Mutex<Inner>>,
}

impl fmt::Debug for FakeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeState").finish_non_exhaustive()
    }
}

impl FakeState {
    /// An empty state (no accounts). Use [`FakeState::seed_demo`] for ready-made data.
    pub fn new() -> FakeState {
        FakeState::default()
    }

    /// Runs `f` with the lock held; a poisoned lock is recovered, never propagated.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    pub(crate) fn set_base_url(&self, url: String) {
        self.with(|s| s.base_url = Some(url));
    }

    /// Forgets all accounts, data, faults and recorded requests.
    pub fn reset(&self) {
        self.with(|s| {
            let base_url = s.base_url.take();
            let secrets = std::mem::take(&mut s.secrets);
            *s = Inner { base_url, secrets, checks_callbacks: s.checks_callbacks, ..Inner::default() };
        });
    }

    /// Revokes a credential: Trello token, Slack/Asana/Notion/Google/Graph bearer token, or a
    /// token issued by the provider's OAuth server (its whole grant is revoked then).
    /// Returns whether such a credential was known.
    pub fn revoke(&self, provider: Provider, token: &str) -> bool {
        self.with(|s| {
            let by_oauth = provider.oauth().is_some_and(|p| s.oauth.revoke_token(p, token));
            let by_account = match provider {
                Provider::Trello => s.trello.revoke(token),
                Provider::Slack => s.slack.revoke(token),
                Provider::Asana => s.asana.revoke(token),
                Provider::Notion => s.notion.revoke(token),
                Provider::GoogleCalendar | Provider::GoogleDrive | Provider::GoogleUserinfo => s.google.revoke(token),
                Provider::MicrosoftGraph => s.graph.revoke(token),
            };
            by_oauth || by_account
        })
    }

    /// Serves `fault` to the next `times` requests whose path (relative to the provider's base
    /// URL, e.g. `/1/boards`, `/conversations.history`, `/tasks`, `/v1/search`) starts with
    /// `path_prefix`. Each matching request consumes one. `""` or `"/"` matches every path.
    pub fn fail_next(&self, provider: Provider, path_prefix: &str, fault: Fault, times: u32) {
        if times == 0 {
            return;
        }
        self.with(|s| {
            s.faults.push(FaultRule { provider, path_prefix: path_prefix.to_owned(), fault, remaining: times })
        });
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        self.with(|s| s.faults.clear());
    }

    /// Consumes one pending fault for this request, if any matches.
    pub(crate) fn take_fault(&self, provider: Provider, path: &str) -> Option<Fault> {
        self.with(|s| {
            let idx = s.faults.iter().position(|r| {
                r.provider == provider
                    && r.remaining > 0
                    && (r.path_prefix.is_empty() || r.path_prefix == "/" || path.starts_with(&r.path_prefix))
            })?;
            let rule = &mut s.faults[idx];
            rule.remaining -= 1;
            let fault = rule.fault;
            if rule.remaining == 0 {
                s.faults.remove(idx);
            }
            Some(fault)
        })
    }

    pub(crate) fn record(&self, mut req: RecordedRequest, fault: Option<Fault>, secrets: Vec<String>) {
        req.fault = fault.map(|f| f.label().to_owned());
        self.with(|s| {
            for secret in &secrets {
                s.saw_secret(secret);
            }
            if s.requests.len() >= MAX_RECORDED {
                s.requests.remove(0);
            }
            s.requests.push(req);
        });
    }

    /// Every credential issued by the fakes' OAuth servers or sent to their APIs so far (a reset
    /// keeps them: they may still be in a log).
    pub fn secrets(&self) -> Vec<String> {
        self.with(|s| s.secrets.iter().cloned().collect())
    }

    /// Requests received for `provider`, oldest first.
    pub fn requests(&self, provider: Provider) -> Vec<RecordedRequest> {
        self.with(|s| s.requests.iter().filter(|r| r.provider == provider).cloned().collect())
    }

    /// How many requests for `provider` had a path starting with `path_prefix`.
    pub fn request_count(&self, provider: Provider, path_prefix: &str) -> usize {
        self.with(|s| s.requests.iter().filter(|r| r.provider == provider && r.path.starts_with(path_prefix)).count())
    }

    /// Forgets the recorded requests (keeps data and faults).
    pub fn clear_requests(&self) {
        self.with(|s| s.requests.clear());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_paths_split_into_provider_and_relative_path() {
        assert_eq!(Provider::split_path("/slack/api/auth.test"), Some((Provider::Slack, "/auth.test".to_owned())));
        assert_eq!(Provider::split_path("/asana/api/1.0/tasks"), Some((Provider::Asana, "/tasks".to_owned())));
        assert_eq!(Provider::split_path("/trellox/1"), None);
        assert_eq!(Provider::split_path("/nowhere"), None);
        assert_eq!(
            Provider::split_path("/google/calendar/v3/calendars/primary/events"),
            Some((Provider::GoogleCalendar, "/calendars/primary/events".to_owned()))
        );
        assert_eq!(Provider::split_path("/graph/v1.0/me"), Some((Provider::MicrosoftGraph, "/me".to_owned())));
    }

    #[test]
    fn a_fault_is_consumed_once_per_matching_request() {
        let state = FakeState::new();
        state.fail_next(Provider::Asana, "/tasks", Fault::ServerError, 2);
        assert_eq!(state.take_fault(Provider::Asana, "/users/me"), None);
        assert_eq!(state.take_fault(Provider::Notion, "/tasks"), None);
        assert_eq!(state.take_fault(Provider::Asana, "/tasks"), Some(Fault::ServerError));
        assert_eq!(state.take_fault(Provider::Asana, "/tasks"), Some(Fault::ServerError));
        assert_eq!(state.take_fault(Provider::Asana, "/tasks"), None);
    }

    #[test]
    fn provider_names_parse_case_insensitively() {
        assert_eq!("Notion".parse::<Provider>(), Ok(Provider::Notion));
        assert!("jira".parse::<Provider>().is_err());
        assert_eq!("google_calendar".parse::<Provider>(), Ok(Provider::GoogleCalendar));
        assert_eq!("microsoft-graph".parse::<Provider>(), Ok(Provider::MicrosoftGraph));
    }
}
