//! "Your week": overdue and due tasks, meetings, unanswered mentions and files changed by others,
//! by day in the caller's time zone. Two Queries of the agenda index, however many items.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::query::ItemsError;
use super::view::{AgendaList, Item, When, time_key};
use crate::auth::Caller;
use crate::config::AppState;
use crate::store::{ReadCost, StoredRecord};
use crate::sync::RecordKind;

pub const MAX_DAYS: u32 = 31;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agenda {
    pub time_zone: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Open tasks due before today, oldest first.
    pub overdue: Vec<Item>,
    pub days: Vec<AgendaDay>,
    /// What building it cost (not part of the answer; for tests and the bench).
    #[serde(skip)]
    pub cost: ReadCost,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgendaDay {
    pub date: NaiveDate,
    /// Open tasks due that day.
    pub tasks: Vec<Item>,
    /// Events starting that day.
    pub meetings: Vec<Item>,
    /// Today only: messages of the last `days` days that mention the user, unanswered.
    pub mentions: Vec<Item>,
    /// Today only: files someone else changed in the last `days` days.
    pub files: Vec<Item>,
}

/// Parses an IANA time zone name.
pub fn time_zone(name: &str) -> Result<Tz, ItemsError> {
    name.parse::<Tz>().map_err(|_| ItemsError::Invalid(format!("`{name}` is not an IANA time zone (Europe/Paris)")))
}

/// The caller's agenda for `days` days from today, in `tz`.
pub async fn agenda(state: &AppState, caller: &Caller, days: u32, tz: Tz) -> Result<Agenda, ItemsError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ItemsError::Invalid(format!("days must be between 1 and {MAX_DAYS}")));
    }
    let now = crate::store::attrs::now();
    // A day alone sorts at its UTC midnight: a day of margin on each side keeps every local
    // day whole, whatever the zone; the grouping below is exact.
    let look_back = now - Duration::days(i64::from(days) + 1);
    let end = now + Duration::days(i64::from(days) + 1);
    let (tasks, mut cost) = state.store.agenda_records(&caller.user_id, AgendaList::Tasks, "0", &time_key(end)).await?;
    let (rest, more) =
        state.store.agenda_records(&caller.user_id, AgendaList::Agenda, &time_key(look_back), &time_key(end)).await?;
    cost += more;
    let mut agenda = build_agenda(tasks.into_iter().chain(rest), now, tz, days);
    agenda.cost = cost;
    Ok(agenda)
}

/// Groups agenda records into days (pure: tested on its own).
pub fn build_agenda(records: impl IntoIterator<Item = StoredRecord>, now: DateTime<Utc>, tz: Tz, days: u32) -> Agenda {
    let today = now.with_timezone(&tz).date_naive();
    let last = today + Duration::days(i64::from(days) - 1);
    let since = now - Duration::days(i64::from(days));
    let mut agenda = Agenda {
        time_zone: tz.name().to_owned(),
        from: today,
        to: last,
        overdue: Vec::new(),
        days: (0..days)
            .map(|i| AgendaDay {
                date: today + Duration::days(i64::from(i)),
                tasks: Vec::new(),
                meetings: Vec::new(),
                mentions: Vec::new(),
                files: Vec::new(),
            })
            .collect(),
        cost: ReadCost::default(),
    };
    let mut overdue: Vec<(DateTime<Utc>, StoredRecord)> = Vec::new();
    let mut dated: Vec<(DateTime<Utc>, NaiveDate, StoredRecord)> = Vec::new();
    let mut recent: Vec<(DateTime<Utc>, StoredRecord)> = Vec::new();
    for stored in records {
        let record = &stored.record;
        match record.kind {
            RecordKind::Task | RecordKind::Event => {
                let Some(when) = record.due_at.as_deref().and_then(When::parse) else { continue };
                let day = when.day_in(tz);
                if record.kind == RecordKind::Task && day < today {
                    overdue.push((when.instant(), stored));
                } else if (today..=last).contains(&day) {
                    dated.push((when.instant(), day, stored));
                }
            }
            RecordKind::Message | RecordKind::File => {
                if let Some(at) = record.updated_at.filter(|at| *at >= since && *at <= now) {
                    recent.push((at, stored));
                }
            }
            RecordKind::Page => {}
        }
    }
    overdue.sort_by(|a, b| (a.0, &a.1.record.title).cmp(&(b.0, &b.1.record.title)));
    agenda.overdue = overdue.iter().map(|(_, r)| Item::from(r)).collect();
    dated.sort_by(|a, b| (a.0, &a.2.record.title).cmp(&(b.0, &b.2.record.title)));
    for (_, day, stored) in &dated {
        let index = usize::try_from((*day - today).num_days()).expect("a day in the window");
        let slot = &mut agenda.days[index];
        match stored.record.kind {
            RecordKind::Task => slot.tasks.push(Item::from(stored)),
            _ => slot.meetings.push(Item::from(stored)),
        }
    }
    recent.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (_, stored) in &recent {
        let today = &mut agenda.days[0];
        match stored.record.kind {
            RecordKind::Message => today.mentions.push(Item::from(stored)),
            _ => today.files.push(Item::from(stored)),
        }
    }
    agenda
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::domain::{ConnectionId, IntegrationId};
    use crate::sync::{KindFields, MessageFields, Record};

    fn stored(kind: RecordKind, title: &str, due: Option<&str>, updated: &str) -> StoredRecord {
        let mut data = Map::new();
        if kind == RecordKind::Message {
            MessageFields { mentions_me: true, ..Default::default() }.write(&mut data);
        }
        StoredRecord {
            connection_id: ConnectionId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap(),
            integration_id: IntegrationId::parse("trello").unwrap(),
            record: Record {
                kind,
                external_id: title.into(),
                title: title.into(),
                url: None,
                container: None,
                status: Some("open".into()),
                due_at: due.map(str::to_owned),
                updated_at: Some(updated.parse().unwrap()),
                data,
            },
        }
    }

    fn titles(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.title.as_str()).collect()
    }

    #[test]
    fn the_week_groups_by_local_day_with_overdue_first_and_todays_mentions() {
        // Wednesday 2 Dec 2026, 23:30 in Paris (22:30 UTC).
        let now: DateTime<Utc> = "2026-12-02T22:30:00Z".parse().unwrap();
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let records = vec![
            stored(RecordKind::Task, "Old report", Some("2026-11-20T10:00:00Z"), "2026-11-01T00:00:00Z"),
            stored(RecordKind::Task, "Yesterday's review", Some("2026-12-01"), "2026-11-01T00:00:00Z"),
            // 23:15 UTC is already Thursday in Paris.
            stored(RecordKind::Task, "Late call notes", Some("2026-12-02T23:15:00Z"), "2026-11-01T00:00:00Z"),
            stored(RecordKind::Event, "Budget meeting", Some("2026-12-03T09:00:00+01:00"), "2026-11-01T00:00:00Z"),
            stored(RecordKind::Event, "Offsite", Some("2026-12-05"), "2026-11-01T00:00:00Z"),
            stored(RecordKind::Event, "Next month", Some("2027-01-05T09:00:00Z"), "2026-11-01T00:00:00Z"),
            stored(RecordKind::Task, "Tonight", Some("2026-12-02T22:45:00Z"), "2026-11-01T00:00:00Z"),
            stored(RecordKind::Message, "@ada can you check?", None, "2026-12-01T08:00:00Z"),
            stored(RecordKind::Message, "old ping", None, "2026-11-01T08:00:00Z"),
        ];
        let agenda = build_agenda(records, now, tz, 7);
        assert_eq!(agenda.from.to_string(), "2026-12-02");
        assert_eq!(agenda.to.to_string(), "2026-12-08");
        assert_eq!(titles(&agenda.overdue), ["Old report", "Yesterday's review"]);
        assert_eq!(titles(&agenda.days[0].tasks), ["Tonight"]);
        assert_eq!(titles(&agenda.days[0].mentions), ["@ada can you check?"]);
        assert_eq!(titles(&agenda.days[1].tasks), ["Late call notes"]);
        assert_eq!(titles(&agenda.days[1].meetings), ["Budget meeting"]);
        assert_eq!(titles(&agenda.days[3].meetings), ["Offsite"]);
        assert!(agenda.days.iter().all(|d| !titles(&d.meetings).contains(&"Next month")));
        assert!(agenda.days[1..].iter().all(|d| d.mentions.is_empty() && d.files.is_empty()));
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        assert!(time_zone("Mars/Olympus").is_err());
        assert_eq!(time_zone("America/New_York").unwrap().name(), "America/New_York");
    }
}
