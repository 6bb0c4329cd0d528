//! How every provider call treats failures: 429 honours Retry-After; 5xx and timeouts retry
//! with exponential backoff and full jitter, a bounded number of times and within the deadline
//! of the request being served; 401/403 are final; a POST that was sent is not sent twice.

use std::time::Duration;

use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::clients::PROVIDER_TIMEOUT;

/// What a provider answered when a call failed: its HTTP status and its own error code, where
/// known, and what it means in words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Failure {
    pub status: Option<u16>,
    /// The provider's own error code (`invalid_auth`, `rate_limited`, `object_not_found`, …).
    pub code: Option<String>,
    pub detail: String,
}

impl Failure {
    pub fn http(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status: Some(status.as_u16()), code: None, detail: detail.into() }
    }

    pub fn code(code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { status: None, code: Some(code.into()), detail: detail.into() }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)?;
        match (&self.code, self.status) {
            (Some(code), _) if !self.detail.contains(code.as_str()) => write!(f, " ({code})"),
            (None, Some(status)) if !self.detail.contains(&status.to_string()) => write!(f, " (HTTP {status})"),
            _ => Ok(()),
        }
    }
}

impl From<String> for Failure {
    fn from(detail: String) -> Self {
        Self { detail, ..Self::default() }
    }
}

impl From<&str> for Failure {
    fn from(detail: &str) -> Self {
        detail.to_owned().into()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The credential was refused (401/403, or the provider's equivalent).
    #[error("the provider refused the credential: {0}")]
    Unauthorized(Failure),
    /// Still rate limited after the retries we allow ourselves; try again after this long.
    #[error("rate limited by the provider (retry after {} s)", .0.as_secs())]
    RateLimited(Duration),
    #[error("the provider failed: {0}")]
    Server(Failure),
    /// No answer. The source is reqwest's error without its URL (a URL may carry a credential).
    #[error("the provider could not be reached ({})", if *.timed_out { "timed out" } else { "connection failed" })]
    Transport {
        timed_out: bool,
        #[source]
        source: reqwest::Error,
    },
    /// An answer we do not understand (a bug here or a change there): not retried.
    #[error("unexpected answer from the provider: {0}")]
    Unexpected(Failure),
}

impl ProviderError {
    /// What happened, in words a manager understands, naming the provider.
    pub fn user_message(&self, provider: &str) -> String {
        match self {
            ProviderError::Unauthorized(_) => format!("{provider} refused the stored credential; connect it again."),
            ProviderError::RateLimited(wait) => {
                format!("{provider} asked us to slow down for {} seconds.", wait.as_secs().max(1))
            }
            ProviderError::Server(failure) => match failure.status {
                Some(status) => {
                    format!("{provider} had a problem on its side (it answered {status}).")
                }
                None => format!("{provider} had a problem on its side."),
            },
            ProviderError::Transport { timed_out: true, .. } => {
                format!("{provider} did not answer in time.")
            }
            ProviderError::Transport { .. } => format!("{provider} could not be reached."),
            ProviderError::Unexpected(failure) => {
                format!("{provider} answered in a way we did not expect: {failure}.")
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A Retry-After longer than this is not waited out in-process: the error is returned
    /// and the caller (the queue's redelivery) tries later.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a random wait between zero and the capped exponential delay.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(2u32.saturating_pow(attempt.min(16)));
        let cap = exp.min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

pub fn retry_after(response: &Response) -> Option<Duration> {
    let raw = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    raw.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A retry is worth starting only with this much time left before the deadline.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// Whether waiting `wait` still leaves time for another attempt before the deadline of the
/// request being served ([`crate::deadline`]); always, outside a request.
fn time_to_retry_after(wait: Duration) -> bool {
    crate::deadline::remaining().is_none_or(|left| left > wait + MIN_ATTEMPT)
}

/// reqwest's error without its URL, which may carry a query credential.
fn transport(e: reqwest::Error) -> ProviderError {
    ProviderError::Transport { timed_out: e.is_timeout(), source: e.without_url() }
}

/// Sends the request built by `build` until it gets an answer worth returning. The answer
/// may still be a 4xx other than 401/403/429: the provider module decides what it means.
///
/// Within a request's deadline ([`crate::deadline`]) each attempt's timeout is what remains of
/// it, and a backoff or a Retry-After that would not leave time for another attempt is not
/// waited: the error is returned at once. A request that is not idempotent (a POST) and was sent
/// without an answer is never sent again, as it may have taken effect; only a failure to
/// connect, when nothing was sent, is retried.
pub async fn send_with_retry(
    policy: &RetryPolicy,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, ProviderError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last = attempt >= policy.max_attempts;
        let (client, request) = build().build_split();
        let mut request = request.map_err(transport)?;
        let timeout = crate::deadline::timeout(Some(request.timeout().copied().unwrap_or(PROVIDER_TIMEOUT)));
        *request.timeout_mut() = timeout;
        let idempotent = request.method().is_idempotent();
        let started = std::time::Instant::now();
        let answer = client.execute(request).await;
        crate::metrics::provider_call(answer.as_ref().ok().map(|r| r.status().as_u16()), started.elapsed());
        let error = match answer {
            Ok(response) => match response.status() {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    let status = response.status();
                    return Err(ProviderError::Unauthorized(Failure::http(status, "the credential was refused")));
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(&response).unwrap_or(policy.base_delay);
                    if last || wait > policy.max_retry_after || !time_to_retry_after(wait) {
                        return Err(ProviderError::RateLimited(wait));
                    }
                    tracing::info!(wait_ms = wait.as_millis() as u64, "provider rate limit; waiting as asked");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                status if status.is_server_error() => ProviderError::Server(Failure::http(status, "server error")),
                _ => return Ok(response),
            },
            Err(e) if !idempotent && !e.is_connect() => return Err(transport(e)),
            Err(e) => transport(e),
        };
        let wait = policy.backoff(attempt);
        if last || !time_to_retry_after(wait) {
            return Err(error);
        }
        tracing::info!(attempt, wait_ms = wait.as_millis() as u64, error = %error, "provider call failed; retrying");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_never_exceeds_its_cap() {
        let policy = RetryPolicy::default();
        for attempt in 0..40 {
            assert!(policy.backoff(attempt) <= policy.max_delay);
        }
    }
}
