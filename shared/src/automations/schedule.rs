//! When a scheduled automation runs: daily (on chosen weekdays) or weekly at a local time in
//! the user's IANA time zone, or a cron expression, never more often than every 15 minutes.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};

/// The shortest time between two runs of a schedule.
pub const MIN_INTERVAL: Duration = Duration::minutes(15);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// An IANA time zone, `Europe/Berlin`.
    pub time_zone: String,
    #[serde(flatten)]
    pub every: Every,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "lowercase")]
pub enum Every {
    /// Each listed weekday (all seven when none are) at a local time, `08:30`.
    Daily {
        at: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        days: Vec<Day>,
    },
    Weekly {
        day: Day,
        at: String,
    },
    /// Five fields: minute, hour, day of month, month, weekday.
    Cron {
        cron: String,
    },
}

/// A weekday as three lowercase letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{0}` is not an IANA time zone (for example Europe/Berlin)")]
    TimeZone(String),
    #[error("`{0}` is not a time of day as HH:MM")]
    Time(String),
    #[error("`{0}` is not a cron expression of five fields")]
    Cron(String),
    #[error("the schedule runs more often than every {} minutes", MIN_INTERVAL.num_minutes())]
    TooOften,
    #[error("the schedule never runs")]
    Never,
}

/// A schedule checked and ready to give its run times.
#[derive(Debug, Clone)]
pub struct Compiled {
    tz: Tz,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Days { at: NaiveTime, days: Vec<Weekday> },
    Cron(Box<Cron>),
}

impl Schedule {
    /// Parses and checks it: the time zone exists, times read as HH:MM, a cron expression has five
    /// fields and its runs are at least [`MIN_INTERVAL`] apart.
    pub fn compile(&self) -> Result<Compiled, ScheduleError> {
        let tz = Tz::from_str(&self.time_zone).map_err(|_| ScheduleError::TimeZone(clip(&self.time_zone)))?;
        let time = |at: &str| NaiveTime::parse_from_str(at, "%H:%M").map_err(|_| ScheduleError::Time(clip(at)));
        let rule = match &self.every {
            Every::Daily { at, days } if days.is_empty() => Rule::Days {
                at: time(at)?,
                days: [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun].map(Day::weekday).to_vec(),
            },
            Every::Daily { at, days } => Rule::Days { at: time(at)?, days: days.iter().map(|d| d.weekday()).collect() },
            Every::Weekly { day, at } => Rule::Days { at: time(at)?, days: vec![day.weekday()] },
            Every::Cron { cron } => {
                let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
                let parsed = parser.parse(cron).map_err(|_| ScheduleError::Cron(clip(cron)))?;
                Rule::Cron(Box::new(parsed))
            }
        };
        let compiled = Compiled { tz, rule };
        if let Rule::Cron(_) = compiled.rule {
            compiled.check_interval()?;
        }
        Ok(compiled)
    }
}

impl Compiled {
    /// The first run strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Days { at, days } => {
                let start = after.with_timezone(&self.tz).date_naive();
                (0..=8)
                    .filter_map(|n| start.checked_add_signed(Duration::days(n)))
                    .filter(|d| days.contains(&d.weekday()))
                    .filter_map(|d| self.local(d, *at))
                    .find(|t| *t > after)
            }
            Rule::Cron(cron) => {
                cron.find_next_occurrence(&after.with_timezone(&self.tz), false).ok().map(|t| t.with_timezone(&Utc))
            }
        }
    }

    /// A local time on a day as an instant; a time skipped by a clock change runs an hour later.
    fn local(&self, day: NaiveDate, at: NaiveTime) -> Option<DateTime<Utc>> {
        let naive = day.and_time(at);
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => {
                self.tz.from_local_datetime(&(naive + Duration::hours(1))).earliest().map(|t| t.with_timezone(&Utc))
            }
        }
    }

    /// A cron expression's runs over the next two weeks are at least [`MIN_INTERVAL`] apart.
    fn check_interval(&self) -> Result<(), ScheduleError> {
        let from = Utc.with_ymd_and_hms(2027, 1, 4, 0, 0, 0).single().expect("a fixed instant");
        let mut previous = self.next_after(from).ok_or(ScheduleError::Never)?;
        while previous < from + Duration::days(14) {
            let Some(next) = self.next_after(previous) else { break };
            if next - previous < MIN_INTERVAL {
                return Err(ScheduleError::TooOften);
            }
            previous = next;
        }
        Ok(())
    }
}

fn clip(raw: &str) -> String {
    raw.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(json: serde_json::Value) -> Result<Compiled, ScheduleError> {
        serde_json::from_value::<Schedule>(json).unwrap().compile()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn weekdays_at_half_past_eight_in_the_users_zone() {
        let s = schedule(serde_json::json!({
            "timeZone": "Europe/Berlin", "every": "daily", "at": "08:30",
            "days": ["mon", "tue", "wed", "thu", "fri"]
        }))
        .unwrap();
        // Wednesday 2 December 2026, 10:00 in Berlin: next is Thursday 08:30 (07:30 UTC).
        assert_eq!(s.next_after(at("2026-12-02T09:00:00Z")), Some(at("2026-12-03T07:30:00Z")));
        // Friday after the run: next is Monday.
        assert_eq!(s.next_after(at("2026-12-04T07:30:00Z")), Some(at("2026-12-07T07:30:00Z")));
        // Summer time moves the UTC hour.
        assert_eq!(s.next_after(at("2027-06-01T00:00:00Z")), Some(at("2027-06-01T06:30:00Z")));
    }

    #[test]
    fn weekly_and_a_time_the_clock_skips() {
        let s =
            schedule(serde_json::json!({"timeZone": "Europe/Berlin", "every": "weekly", "day": "sun", "at": "02:30"}))
                .unwrap();
        // 28 March 2027: Berlin's clocks jump from 02:00 to 03:00; the run happens at 03:30.
        assert_eq!(s.next_after(at("2027-03-27T12:00:00Z")), Some(at("2027-03-28T01:30:00Z")));
    }

    #[test]
    fn cron_expressions_run_at_most_every_fifteen_minutes() {
        let s =
            schedule(serde_json::json!({"timeZone": "America/New_York", "every": "cron", "cron": "*/15 9-17 * * 1-5"}))
                .unwrap();
        assert_eq!(s.next_after(at("2026-12-02T14:05:00Z")), Some(at("2026-12-02T14:15:00Z")));
        for (cron, error) in [
            ("*/5 * * * *", ScheduleError::TooOften),
            ("0,10 9 * * *", ScheduleError::TooOften),
            ("0 0 0 * * *", ScheduleError::Cron("0 0 0 * * *".into())),
            ("every day", ScheduleError::Cron("every day".into())),
        ] {
            let got = schedule(serde_json::json!({"timeZone": "UTC", "every": "cron", "cron": cron}));
            assert_eq!(got.unwrap_err(), error, "{cron}");
        }
        let bad_zone = schedule(serde_json::json!({"timeZone": "Mars/Olympus", "every": "daily", "at": "08:30"}));
        assert!(matches!(bad_zone, Err(ScheduleError::TimeZone(_))));
        let bad_time = schedule(serde_json::json!({"timeZone": "UTC", "every": "daily", "at": "8.30am"}));
        assert!(matches!(bad_time, Err(ScheduleError::Time(_))));
    }
}
