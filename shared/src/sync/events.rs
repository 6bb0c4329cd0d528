//! Trigger events: `item.created` and `item.updated` for the records a run actually created or
//! changed (records read again unchanged emit nothing), sent to the automations queue as one
//! job per matching automation; and `item.due_soon` for a created or changed record that is
//! already inside an automation's window (the scheduler finds the ones that enter it later).
//!
//! An event's key is `{itemId}@{contentHash}`: the item and the version of it the change brought
//! ([`item_version_key`]). A page read again by the same run (a redelivered message) reports its
//! changes again (see [`Store::upsert_records`](crate::store::Store::upsert_records)), so its
//! events come again with the same keys, and the runner's claims make sure each acts once. A
//! manual run keys an item the same way, so an automation acts once on a version of an item
//! however it was set off; an item changed back to a version already acted on is not acted on
//! again.

use std::sync::Once;

use chrono::{DateTime, Utc};

use crate::automations::{AutomationJob, Trigger, TriggerEvent};
use crate::config::AppState;
use crate::domain::{ConnectionId, SyncRun};
use crate::items::Item;
use crate::store::{Automation, Change, Changed, StoreError, StoredRecord};
use crate::sync::RecordKind;

/// The user's automations that item events trigger, read once per run, when a page first has
/// changes.
#[derive(Debug, Default)]
pub(super) struct Listeners(Option<Vec<Automation>>);

impl Listeners {
    async fn get(&mut self, state: &AppState, run: &SyncRun) -> Result<&[Automation], StoreError> {
        if self.0.is_none() {
            let mut automations = state.store.list_automations(&run.user_id).await?;
            automations.retain(|a| {
                a.spec.enabled
                    && matches!(
                        a.spec.trigger,
                        Trigger::ItemCreated(_) | Trigger::ItemUpdated(_) | Trigger::DueSoon { .. }
                    )
            });
            self.0 = Some(automations);
        }
        Ok(self.0.as_deref().unwrap_or_default())
    }
}

/// Sends the trigger events of one page's changes, once its records are written. Returns how
/// many jobs could not be sent (each is logged): the caller leaves the page to be read again.
/// Without an automations queue (a process configured without one) nothing is sent.
pub(super) async fn emit_item_events(
    state: &AppState,
    listeners: &mut Listeners,
    run: &SyncRun,
    changed: &[Changed<'_>],
) -> Result<usize, StoreError> {
    if changed.is_empty() {
        return Ok(0);
    }
    let Some(queue) = &state.automations else {
        static NO_QUEUE: Once = Once::new();
        NO_QUEUE.call_once(|| {
            tracing::warn!("no automations queue is configured: syncs trigger no automations in this process");
        });
        return Ok(0);
    };
    let jobs = item_jobs(listeners.get(state, run).await?, run, changed, crate::store::attrs::now());
    if jobs.is_empty() {
        return Ok(0);
    }
    let failed = queue.send_batch(&jobs).await;
    for (i, reason) in &failed {
        if let Some(job) = jobs.get(*i) {
            tracing::warn!(automation = %job.automation_id, event = %job.event.key, %reason, "automation event not queued");
        }
    }
    tracing::info!(sent = jobs.len() - failed.len(), failed = failed.len(), "automation events queued");
    Ok(failed.len())
}

/// The jobs for a page's changes: one per change and automation whose trigger listens to it
/// (the event, the kind, the connection if it names one) and whose conditions the item meets.
fn item_jobs(
    automations: &[Automation],
    run: &SyncRun,
    changed: &[Changed<'_>],
    now: DateTime<Utc>,
) -> Vec<AutomationJob> {
    let mut jobs = Vec::new();
    for change in changed {
        let listening: Vec<&Automation> = automations
            .iter()
            .filter(|a| listens_to(&a.spec.trigger, change.change, change.record.kind, &run.connection_id))
            .collect();
        if listening.is_empty() {
            continue;
        }
        let item = Item::from(&StoredRecord {
            connection_id: run.connection_id.clone(),
            integration_id: run.integration_id.clone(),
            record: change.record.clone(),
        });
        let mut json = None;
        for automation in listening.into_iter().filter(|a| a.spec.conditions.matches(&item, now)) {
            let key = match due_soon_window(&automation.spec.trigger, now) {
                // Due soon: only while inside the window, keyed by when it is due.
                Some(by) => match crate::automations::due_instant(&item) {
                    Some(due) if crate::automations::due_within(&item, now, by) => {
                        crate::automations::due_soon_key(&item.item_id, due)
                    }
                    _ => continue,
                },
                None => item_version_key(&item.item_id, &change.content_hash),
            };
            let json = json.get_or_insert_with(|| serde_json::to_value(&item).expect("items serialise"));
            jobs.push(AutomationJob {
                user_id: run.user_id.clone(),
                automation_id: automation.automation_id.clone(),
                event: TriggerEvent { key, item: Some(json.clone()) },
                manual: false,
            });
        }
    }
    jobs
}

/// The end of an `item.due_soon` trigger's window at `now`.
fn due_soon_window(trigger: &Trigger, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match trigger {
        Trigger::DueSoon { hours, .. } => Some(now + chrono::Duration::hours(i64::from(*hours))),
        _ => None,
    }
}

/// Whether a trigger listens to this change of a record of this kind from this connection
/// (`item.due_soon` to any change: a new due time may bring the item into its window).
fn listens_to(trigger: &Trigger, change: Change, kind: RecordKind, connection: &ConnectionId) -> bool {
    let filter = match (trigger, change) {
        (Trigger::ItemCreated(filter), Change::Created)
        | (Trigger::ItemUpdated(filter), Change::Updated)
        | (Trigger::DueSoon { filter, .. }, _) => filter,
        _ => return false,
    };
    filter.kind == kind && filter.connection_id.as_ref().is_none_or(|c| c == connection)
}

/// The key of an item event: the item and its version, the same for the same change however
/// often it is read, and for a manual run of the same version.
pub fn item_version_key(item_id: &str, content_hash: &str) -> String {
    format!("{item_id}@{content_hash}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{AutomationId, IntegrationId, Trigger as RunTrigger, UserId};
    use crate::sync::{KindFields, Record, SyncMode, TaskFields};

    fn automation(definition: serde_json::Value) -> Automation {
        let now = Utc::now();
        let mut spec = json!({
            "name": "Test",
            "enabled": true,
            "steps": [{"action": "webhook.post", "params": {"url": "https://example.com/hook"}}],
        });
        spec.as_object_mut().unwrap().extend(definition.as_object().unwrap().clone());
        Automation {
            automation_id: AutomationId::generate(),
            user_id: UserId::parse("ada").unwrap(),
            spec: serde_json::from_value(spec).unwrap(),
            plan: crate::domain::Plan::Free,
            created_at: now,
            updated_at: now,
            version: 1,
            next_run_at: None,
        }
    }

    fn task(id: &str, labels: &[&str]) -> Record {
        let mut data = Default::default();
        TaskFields { labels: labels.iter().map(|l| l.to_string()).collect(), ..Default::default() }.write(&mut data);
        Record {
            kind: RecordKind::Task,
            external_id: id.into(),
            title: format!("Card {id}"),
            url: None,
            container: None,
            status: Some("open".into()),
            due_at: None,
            updated_at: None,
            data,
        }
    }

    fn run() -> SyncRun {
        SyncRun::queued(
            UserId::parse("ada").unwrap(),
            ConnectionId::generate(),
            IntegrationId::parse("trello").unwrap(),
            RunTrigger::Manual,
            SyncMode::Incremental,
            Utc::now(),
        )
    }

    #[test]
    fn each_change_triggers_the_automations_that_listen_to_it_and_whose_conditions_it_meets() {
        let run = run();
        let created = automation(json!({"trigger": {"type": "item.created", "kind": "task"}}));
        let urgent = automation(json!({
            "trigger": {"type": "item.created", "kind": "task", "connectionId": run.connection_id},
            "conditions": {"rules": [{"field": "task.labels", "op": "labelHas", "value": "urgent"}]},
        }));
        let updated = automation(json!({"trigger": {"type": "item.updated", "kind": "task"}}));
        let elsewhere = automation(json!({
            "trigger": {"type": "item.created", "kind": "task", "connectionId": ConnectionId::generate()},
        }));
        let events = automation(json!({"trigger": {"type": "item.created", "kind": "event"}}));
        let automations = [created.clone(), urgent.clone(), updated.clone(), elsewhere, events];
        let (plain, flagged, edited) = (task("c1", &[]), task("c2", &["Urgent"]), task("c3", &[]));
        let changed = [
            Changed { change: Change::Created, record: &plain, content_hash: "h1".into() },
            Changed { change: Change::Created, record: &flagged, content_hash: "h2".into() },
            Changed { change: Change::Updated, record: &edited, content_hash: "h3".into() },
        ];

        let jobs = item_jobs(&automations, &run, &changed, Utc::now());
        let fired: Vec<(&AutomationId, &str)> = jobs
            .iter()
            .map(|j| (&j.automation_id, j.event.item.as_ref().unwrap()["title"].as_str().unwrap()))
            .collect();
        assert_eq!(
            fired,
            [
                (&created.automation_id, "Card c1"),
                (&created.automation_id, "Card c2"),
                (&urgent.automation_id, "Card c2"),
                (&updated.automation_id, "Card c3"),
            ]
        );
        let item_id = jobs[0].event.item.as_ref().unwrap()["itemId"].as_str().unwrap();
        assert_eq!(jobs[0].event.key, format!("{item_id}@h1"));
        assert!(jobs.iter().all(|j| j.user_id == run.user_id));
    }

    #[test]
    fn the_same_change_read_again_has_the_same_key_and_another_change_another() {
        let run = run();
        let automations = [automation(json!({"trigger": {"type": "item.updated", "kind": "task"}}))];
        let card = task("c1", &[]);
        let key = |hash: &str| {
            let changed = [Changed { change: Change::Updated, record: &card, content_hash: hash.into() }];
            item_jobs(&automations, &run, &changed, Utc::now()).remove(0).event.key
        };
        assert_eq!(key("h1"), key("h1"));
        assert_ne!(key("h1"), key("h2"));
    }

    #[test]
    fn a_change_inside_a_due_soon_window_fires_keyed_by_its_due_time_and_one_outside_it_does_not() {
        let run = run();
        let soon = automation(json!({"trigger": {"type": "item.due_soon", "kind": "task", "hours": 24}}));
        let now: DateTime<Utc> = "2026-12-02T09:00:00Z".parse().unwrap();
        let due = |id: &str, at: &str| Record { due_at: Some(at.into()), ..task(id, &[]) };
        let (in_3h, in_30h, past, undated) = (
            due("c1", "2026-12-02T12:00:00Z"),
            due("c2", "2026-12-03T15:00:00Z"),
            due("c3", "2026-12-02T08:00:00Z"),
            task("c4", &[]),
        );
        let changed: Vec<Changed<'_>> = [&in_3h, &in_30h, &past, &undated]
            .into_iter()
            .enumerate()
            .map(|(i, record)| Changed {
                change: if i == 0 { Change::Updated } else { Change::Created },
                record,
                content_hash: format!("h{i}"),
            })
            .collect();
        let jobs = item_jobs(std::slice::from_ref(&soon), &run, &changed, now);
        assert_eq!(jobs.len(), 1, "{jobs:#?}");
        let item_id = jobs[0].event.item.as_ref().unwrap()["itemId"].as_str().unwrap();
        assert_eq!(jobs[0].event.key, format!("{item_id}@due:2026-12-02T12:00:00Z"), "the same for any version");
    }
}
