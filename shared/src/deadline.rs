//! How long a request path may wait on providers.
//!
//! API Gateway gives up on a request after 29 s, and a Lambda behind it is stopped then. So
//! each API request runs within a deadline ([`layer`], [`REQUEST_BUDGET`] from its start), and
//! the provider calls made inside it take their timeouts from what remains of it: the retries
//! of [`crate::providers::send_with_retry`], which wait out a backoff or a Retry-After only when
//! it fits, and the OAuth token calls. Work outside a request (the sync worker, the scheduler)
//! has no deadline here and keeps the clients' own timeouts.

use std::future::Future;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

/// What an API request may spend waiting on providers, which leaves the rest of API Gateway's
/// 29 s for the store and the answer.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(20);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with a deadline `budget` from now, or the enclosing one if it comes first.
pub async fn within<F: Future>(budget: Duration, work: F) -> F::Output {
    let own = Instant::now() + budget;
    let deadline = current().map_or(own, |outer| outer.min(own));
    DEADLINE.scope(deadline, work).await
}

/// The deadline of the work being done, if it has one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// The time left before the deadline (zero once it has passed); `None` without a deadline.
pub fn remaining() -> Option<Duration> {
    current().map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

/// The timeout of one outgoing request: `own` (if it has one), shortened to what remains.
pub fn timeout(own: Option<Duration>) -> Option<Duration> {
    match (own, remaining()) {
        (Some(own), Some(left)) => Some(own.min(left)),
        (own, left) => own.or(left),
    }
}

/// Axum middleware: the request runs within [`REQUEST_BUDGET`].
pub async fn layer(request: Request, next: Next) -> Response {
    within(REQUEST_BUDGET, next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_deadline_counts_down_and_an_inner_one_never_outlasts_it() {
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64().round() as u64);
        assert_eq!(remaining(), None);
        assert_eq!(timeout(Some(Duration::from_secs(3))), Some(Duration::from_secs(3)), "no deadline: its own");
        within(Duration::from_secs(10), async {
            assert_eq!(secs(remaining()), Some(10));
            assert_eq!(secs(timeout(Some(Duration::from_secs(20)))), Some(10));
            assert_eq!(timeout(Some(Duration::from_secs(2))), Some(Duration::from_secs(2)));
            within(Duration::from_secs(60), async {
                assert_eq!(secs(remaining()), Some(10), "an inner budget does not extend it");
            })
            .await;
            within(Duration::from_secs(1), async { assert_eq!(secs(remaining()), Some(1)) }).await;
            within(Duration::ZERO, async { assert_eq!(remaining(), Some(Duration::ZERO)) }).await;
        })
        .await;
    }
}
