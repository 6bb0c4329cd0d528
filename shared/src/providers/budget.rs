//! A provider's published request limit, as the size and refill rate of the token bucket that
//! every connection to it spends from (syncs per page request, actions per call). The bucket
//! itself is kept in DynamoDB ([`crate::store::Bucket`]).

use std::time::Duration;

use serde::Serialize;

/// A token bucket's shape: it holds at most `capacity` requests and gains `refill` of them
/// every `per_seconds` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub capacity: u32,
    pub refill: u32,
    pub per_seconds: u32,
}

impl Budget {
    /// A limit stated as "`requests` per `seconds`": a bucket that size, refilled at that rate.
    pub const fn per(requests: u32, seconds: u32) -> Self {
        Budget { capacity: requests, refill: requests, per_seconds: seconds }
    }

    pub fn refill_per_second(&self) -> f64 {
        f64::from(self.refill) / f64::from(self.per_seconds.max(1))
    }

    /// What a bucket last left at `tokens` holds `elapsed` later.
    pub fn refilled(&self, tokens: f64, elapsed: Duration) -> f64 {
        (tokens + elapsed.as_secs_f64() * self.refill_per_second()).min(f64::from(self.capacity))
    }

    /// How long a bucket holding `available` takes to hold `wanted`.
    pub fn wait_for(&self, available: f64, wanted: f64) -> Duration {
        let missing = (wanted - available).max(0.0);
        Duration::from_secs_f64(missing / self.refill_per_second().max(f64::MIN_POSITIVE))
    }

    /// The view of a bucket holding `available`, as the connection API shows it.
    pub fn view(&self, available: f64) -> BudgetView {
        BudgetView {
            capacity: self.capacity,
            available: available.clamp(0.0, f64::from(self.capacity)).floor() as u32,
            refill_per_second: (self.refill_per_second() * 1000.0).round() / 1000.0,
        }
    }
}

/// A connection's budget as the API shows it: requests it may make now, out of how many, and
/// how fast they come back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetView {
    pub capacity: u32,
    pub available: u32,
    pub refill_per_second: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_capacity() {
        let trello = Budget::per(100, 10);
        assert_eq!(trello.refill_per_second(), 10.0);
        assert_eq!(trello.refilled(0.0, Duration::from_millis(500)), 5.0);
        assert_eq!(trello.refilled(95.0, Duration::from_secs(60)), 100.0);
        assert_eq!(trello.wait_for(0.5, 1.0), Duration::from_millis(50));
        assert_eq!(trello.wait_for(3.0, 1.0), Duration::ZERO);
        assert_eq!(trello.view(42.7), BudgetView { capacity: 100, available: 42, refill_per_second: 10.0 });
    }
}
