//! Automations and their action claims, in the user's partition.
//!
//! - `AUTO#{id}`: a definition, with a version for conditional replaces. The user's count is kept
//!   on the profile item and checked against the plan in the same transaction as the write.
//! - `ACTION#{automation}#{event}#{step}`: the claim of one action, written (conditionally)
//!   before the provider call and completed after it, so that an action happens at most once
//!   whatever is retried or redelivered. Two writes per action: the claim, in one transaction
//!   with the spend from the connection's API budget (its own item: `budgets`), and the outcome.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::attrs::{Item, get_n, get_s, get_ts, n, opt_s, s, ts};
use super::update::UpdateExpr;
use super::{Store, StoreError, keys, table, unless_condition_failed};
use crate::automations::{AutomationSpec, OnFailure};
use crate::domain::{AutomationId, Plan, UserId};

/// Claims and their results are kept this long (redeliveries come within days).
const CLAIM_RETENTION: Duration = Duration::days(30);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Automation {
    pub automation_id: AutomationId,
    #[serde(skip)]
    pub user_id: UserId,
    #[serde(flatten)]
    pub spec: AutomationSpec,
    /// The owner's plan when it was last saved: it decides how long its runs are kept.
    #[serde(skip)]
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    /// A switched-on schedule's next run; the scheduler finds it in GSI1 (`AUTODUE#{shard}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<DateTime<Utc>>,
}

/// How often the scheduler looks for the items entering a switched-on `item.due_soon`
/// automation's window.
pub const DUE_SOON_CHECK: Duration = Duration::minutes(15);

/// When a definition next runs on its own, after `after`: a switched-on schedule's next time, or
/// a switched-on `item.due_soon` automation's next window check (the next quarter hour).
pub fn next_run(spec: &AutomationSpec, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use crate::automations::Trigger;
    match &spec.trigger {
        Trigger::Schedule(schedule) if spec.enabled => schedule.compile().ok()?.next_after(after),
        Trigger::DueSoon { .. } if spec.enabled => {
            let step = DUE_SOON_CHECK.num_seconds();
            DateTime::from_timestamp((after.timestamp().div_euclid(step) + 1) * step, 0)
        }
        _ => None,
    }
}

fn due_shard(id: &AutomationId) -> u32 {
    id.as_str().bytes().fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(u32::from(b))) % super::DUE_SHARDS
}

fn due_key(at: DateTime<Utc>, id: &AutomationId) -> String {
    format!("{}#{id}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A scheduled automation whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAutomation {
    pub user_id: UserId,
    pub automation_id: AutomationId,
    /// The slot it is due for (its event's time).
    pub slot: DateTime<Utc>,
}

/// Why a new automation was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertRefusal {
    /// The plan's number of automations is reached.
    LimitReached(u32),
}

fn automation_sk(id: &AutomationId) -> String {
    format!("AUTO#{id}")
}

fn to_item(a: &Automation) -> Item {
    let mut item = Item::from([
        (table::PK.into(), s(keys::user(&a.user_id))),
        (table::SK.into(), s(automation_sk(&a.automation_id))),
        ("automationId".into(), s(a.automation_id.as_str())),
        ("userId".into(), s(a.user_id.as_str())),
        ("spec".into(), s(serde_json::to_string(&a.spec).expect("a spec serialises"))),
        ("enabled".into(), super::attrs::b(a.spec.enabled)),
        (
            "plan".into(),
            s(match a.plan {
                Plan::Free => "free",
                Plan::Premium => "premium",
            }),
        ),
        ("createdAt".into(), ts(a.created_at)),
        ("updatedAt".into(), ts(a.updated_at)),
        ("version".into(), n(a.version)),
    ]);
    if let Some(at) = a.next_run_at {
        item.insert("nextRunAt".into(), ts(at));
        item.insert(table::GSI1PK.into(), s(format!("AUTODUE#{}", due_shard(&a.automation_id))));
        item.insert(table::GSI1SK.into(), s(due_key(at, &a.automation_id)));
    }
    item
}

fn from_item(item: &Item) -> Result<Automation, StoreError> {
    let spec = serde_json::from_str(get_s(item, "spec")?)
        .map_err(|e| StoreError::Corrupt(format!("automation definition: {e}")))?;
    let id = get_s(item, "automationId")?;
    Ok(Automation {
        automation_id: AutomationId::parse(id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        user_id: UserId::parse(get_s(item, "userId")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        spec,
        plan: if opt_s(item, "plan") == Some("premium") { Plan::Premium } else { Plan::Free },
        created_at: get_ts(item, "createdAt")?,
        updated_at: get_ts(item, "updatedAt")?,
        version: get_n(item, "version")?,
        next_run_at: super::attrs::opt_ts(item, "nextRunAt"),
    })
}

impl Store {
    /// Stores a new automation and counts it against `limit` (none: unlimited), all or nothing.
    pub async fn insert_automation(
        &self,
        user: &UserId,
        spec: AutomationSpec,
        plan: Plan,
        limit: Option<u32>,
    ) -> Result<Result<Automation, InsertRefusal>, StoreError> {
        let now = super::attrs::now();
        let next_run_at = next_run(&spec, now);
        let automation = Automation {
            next_run_at,
            automation_id: AutomationId::generate(),
            user_id: user.clone(),
            spec,
            plan,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&automation)))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("put");
        let mut count = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(keys::PROFILE))
            .update_expression("ADD automationCount :one")
            .expression_attribute_values(":one", n(1));
        if let Some(limit) = limit {
            count = count
                .condition_expression("attribute_not_exists(automationCount) OR automationCount < :limit")
                .expression_attribute_values(":limit", n(limit));
        }
        let items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(count.build().expect("update")).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(Ok(automation)),
            Err(c) if c.failed(1) => Ok(Err(InsertRefusal::LimitReached(limit.unwrap_or_default()))),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    /// The user's automations, oldest first: one Query.
    pub async fn list_automations(&self, user: &UserId) -> Result<Vec<Automation>, StoreError> {
        let items = self.items_with_prefix(user, "AUTO#", None, super::records::Read::Eventual).await?;
        items.iter().map(from_item).collect()
    }

    pub async fn get_automation(&self, user: &UserId, id: &AutomationId) -> Result<Automation, StoreError> {
        let item = self.user_item(user, &automation_sk(id), None).await?;
        item.as_ref().map(from_item).transpose()?.ok_or(StoreError::NotFound)
    }

    /// Replaces a definition if nobody changed it since `current` was read.
    pub async fn replace_automation(
        &self,
        current: &Automation,
        spec: AutomationSpec,
    ) -> Result<Automation, StoreError> {
        let now = super::attrs::now();
        // A run already planned stands while the trigger and the switch stay as they were (a
        // rename does not move it); otherwise it is planned again from the new definition.
        let unchanged = spec.enabled == current.spec.enabled && spec.trigger == current.spec.trigger;
        let next_run_at = match current.next_run_at {
            Some(at) if unchanged => Some(at),
            _ => next_run(&spec, now),
        };
        let next = Automation { spec, updated_at: now, version: current.version + 1, next_run_at, ..current.clone() };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&next)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(current.version))
            .send()
            .await;
        unless_condition_failed(result)?.ok_or(StoreError::Conflict)?;
        Ok(next)
    }

    /// Removes a definition and uncounts it, all or nothing. Its claims expire on their own.
    pub async fn delete_automation(&self, user: &UserId, id: &AutomationId) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(automation_sk(id)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .expect("delete");
        let uncount = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(keys::PROFILE))
            .update_expression("ADD automationCount :minus")
            .expression_attribute_values(":minus", n(-1))
            .build()
            .expect("update");
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(uncount).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(0) => Err(StoreError::NotFound),
            Err(_) => Err(StoreError::Conflict),
        }
    }
}

impl Store {
    /// Switched-on schedules of one shard whose time has come: reads only due entries.
    pub async fn due_automations(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<DueAutomation>, StoreError> {
        self.due_entries(&format!("AUTODUE#{shard}"), now, limit)
            .await?
            .iter()
            .map(|item| {
                let corrupt = |what: &str| StoreError::Corrupt(format!("due automation: {what}"));
                Ok(DueAutomation {
                    user_id: UserId::parse(get_s(item, "userId")?).map_err(|_| corrupt("userId"))?,
                    automation_id: AutomationId::parse(get_s(item, "automationId")?).map_err(|_| corrupt("id"))?,
                    slot: get_ts(item, "nextRunAt")?,
                })
            })
            .collect()
    }

    /// Moves a due schedule on to its next run after its slot, if it is still due for that slot
    /// (another pass that got there first wins; its event has the same key).
    pub async fn advance_automation(&self, due: &DueAutomation, next: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        let update = match next {
            Some(at) => {
                UpdateExpr::new().set("nextRunAt", ts(at)).set(table::GSI1SK, s(due_key(at, &due.automation_id)))
            }
            None => UpdateExpr::new().remove("nextRunAt").remove(table::GSI1PK).remove(table::GSI1SK),
        }
        .condition_value("slot", ts(due.slot));
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&due.user_id)))
            .key(table::SK, s(automation_sk(&due.automation_id)))
            .condition_expression("#nextRunAt = :slot");
        unless_condition_failed(update.on_update_item(request).send().await)?.ok_or(StoreError::Conflict)?;
        Ok(())
    }
}

/// One action of one automation for one trigger event: the key it is claimed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionKey {
    pub automation_id: AutomationId,
    /// What triggered the run: an item event (`{itemId}@{version}`) or a schedule slot.
    pub event: String,
    /// The step, from 1.
    pub step: usize,
}

impl ActionKey {
    fn sk(&self) -> String {
        format!("ACTION#{}#{}#{}", self.automation_id, self.event, self.step)
    }

    /// The key as one opaque string, for the provider-side marker (an event's private extended
    /// property, a card's description line) that finds the object again.
    pub fn token(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.sk().as_bytes());
        digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

/// Where an action stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    /// Claimed: the provider call is being made (or was, by a worker that did not come back).
    Sending,
    Done,
    Failed,
    /// The call was sent and its outcome could not be learned: shown, never re-sent.
    Unknown,
}

impl ActionStatus {
    fn as_str(&self) -> &'static str {
        match self {
            ActionStatus::Sending => "sending",
            ActionStatus::Done => "done",
            ActionStatus::Failed => "failed",
            ActionStatus::Unknown => "unknown",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        [ActionStatus::Sending, ActionStatus::Done, ActionStatus::Failed, ActionStatus::Unknown]
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| StoreError::Corrupt(format!("action status `{raw}`")))
    }
}

/// What an action left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    pub status: ActionStatus,
    pub claimed_at: DateTime<Utc>,
    /// The provider's id of what it created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What went wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller owns the action: make the provider call, then [`Store::complete_action`].
    Claimed,
    /// Someone claimed it before: this is where it stands. Never call the provider again
    /// without looking the object up first.
    Taken(ActionRecord),
}

/// A new claim: the action is being sent now.
pub(super) fn claim_item(user: &UserId, key: &ActionKey) -> Item {
    let now = super::attrs::now();
    Item::from([
        (table::PK.to_owned(), s(keys::user(user))),
        (table::SK.to_owned(), s(key.sk())),
        ("status".to_owned(), s(ActionStatus::Sending.as_str())),
        ("claimedAt".to_owned(), ts(now)),
        (table::TTL_ATTRIBUTE.to_owned(), n((now + CLAIM_RETENTION).timestamp())),
    ])
}

pub(super) fn record_from(item: &Item) -> Result<ActionRecord, StoreError> {
    Ok(ActionRecord {
        status: ActionStatus::parse(get_s(item, "status")?)?,
        claimed_at: get_ts(item, "claimedAt")?,
        provider_id: opt_s(item, "providerId").map(str::to_owned),
        url: opt_s(item, "url").map(str::to_owned),
        error: opt_s(item, "error").map(str::to_owned),
    })
}

impl Store {
    /// Claims an action with one conditional write. When it was claimed before, the same request
    /// returns where it stands (no second read).
    pub async fn claim_action(&self, user: &UserId, key: &ActionKey) -> Result<Claim, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(claim_item(user, key)))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                let PutItemError::ConditionalCheckFailedException(failed) = e.err() else { unreachable!() };
                match failed.item() {
                    Some(old) => Ok(Claim::Taken(record_from(old)?)),
                    // An emulator that does not return the old item: read it.
                    None => self.action_record(user, key).await.map(Claim::Taken),
                }
            }
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Records an action's outcome on its claim (only a claim still `sending` takes one).
    pub async fn complete_action(
        &self,
        user: &UserId,
        key: &ActionKey,
        record: &ActionRecord,
    ) -> Result<(), StoreError> {
        let update = UpdateExpr::new()
            .set("status", s(record.status.as_str()))
            .set_or_remove("providerId", record.provider_id.as_deref().map(s))
            .set_or_remove("url", record.url.as_deref().map(s))
            .set_or_remove("error", record.error.as_deref().map(s))
            .condition_value("sending", s(ActionStatus::Sending.as_str()));
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(key.sk()))
            .condition_expression("#status = :sending");
        unless_condition_failed(update.on_update_item(request).send().await)?.ok_or(StoreError::Conflict)?;
        Ok(())
    }

    /// Gives back a claim whose action the provider did not perform, so a later delivery can
    /// claim it again. Only a claim still `sending` is given back.
    pub async fn release_action(&self, user: &UserId, key: &ActionKey) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(key.sk()))
            .condition_expression("#status = :sending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s(ActionStatus::Sending.as_str()))
            .send()
            .await;
        unless_condition_failed(result)?.ok_or(StoreError::Conflict)?;
        Ok(())
    }

    pub async fn action_record(&self, user: &UserId, key: &ActionKey) -> Result<ActionRecord, StoreError> {
        let item = self.user_item(user, &key.sk(), None).await?;
        item.as_ref().map(record_from).transpose()?.ok_or(StoreError::NotFound)
    }
}

/// One finished run of an automation, with its receipts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// What set it off (unique per automation and occurrence).
    pub trigger: String,
    pub finished_at: DateTime<Utc>,
    /// Each step that ran, in order.
    pub steps: Vec<crate::automations::StepReceipt>,
    pub minutes_saved: u32,
}

impl RunRecord {
    /// Why the run ended failed, when it did: no step was done, or a step set to stop the run
    /// on failure did not succeed (the run's last receipt either way).
    pub fn failure(&self, spec: &AutomationSpec) -> Option<String> {
        let last = self.steps.last()?;
        let stopped = last.status != ActionStatus::Done
            && spec.steps.get(last.step.wrapping_sub(1)).is_some_and(|s| s.on_failure == OnFailure::Stop);
        (self.status() == "failed" || stopped).then(|| {
            let error = last.error.as_deref().unwrap_or(&last.summary);
            format!("step {} ({}) failed: {error}", last.step, last.action)
        })
    }

    /// `succeeded` (every step done), `failed` (none done) or `partial`.
    pub fn status(&self) -> &'static str {
        let done = self.steps.iter().filter(|s| s.status == ActionStatus::Done).count();
        match done {
            d if d == self.steps.len() && d > 0 => "succeeded",
            0 => "failed",
            _ => "partial",
        }
    }
}

fn run_sk(automation: &AutomationId, trigger: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(trigger.as_bytes());
    let id: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("AUTORUN#{automation}#{id}")
}

impl Store {
    /// Keeps a finished run and adds its minutes and done actions to the user's time saved by
    /// automations, in total and on the day it finished, once: a run recorded again (a
    /// redelivered event) changes nothing.
    pub async fn record_run(
        &self,
        user: &UserId,
        automation: &Automation,
        run: &RunRecord,
    ) -> Result<bool, StoreError> {
        let (plan, automation_id) = (automation.plan, &automation.automation_id);
        let done = run.steps.iter().filter(|s| s.status == ActionStatus::Done).count();
        let put = Put::builder()
            .table_name(&self.table)
            .item(table::PK, s(keys::user(user)))
            .item(table::SK, s(run_sk(automation_id, &run.trigger)))
            .item("run", s(serde_json::to_string(run).expect("a run serialises")))
            .item("finishedAt", ts(run.finished_at))
            .item(table::TTL_ATTRIBUTE, super::audit::expires_at(plan, run.finished_at))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("put");
        let saved = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(keys::PROFILE))
            .update_expression("ADD automationMinutesSaved :m, automationActions :a")
            .expression_attribute_values(":m", n(run.minutes_saved))
            .expression_attribute_values(":a", n(done))
            .build()
            .expect("update");
        // The same, on the day the run finished, for the stats' time saved per day.
        let day = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(super::syncs::day_key(run.finished_at)))
            .update_expression("ADD automationMinutesSaved :m, automationActions :a")
            .expression_attribute_values(":m", n(run.minutes_saved))
            .expression_attribute_values(":a", n(done))
            .build()
            .expect("update");
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(saved).build(),
            TransactWriteItem::builder().update(day).build(),
        ];
        if let Some(why) = run.failure(&automation.spec) {
            // Once per run: the run's put above is conditional, and this goes with it.
            let subject = super::audit::Subject::Other(automation_id.as_str());
            let detail = format!("{}: {why}", automation.spec.name);
            items.push(super::audit::audit_put_for(
                &self.table,
                user,
                plan,
                super::AuditAction::AutomationFailed,
                subject,
                Some(&detail),
            ));
        }
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            Err(c) if c.failed(0) => Ok(false),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    /// An automation's runs, newest first: one Query.
    pub async fn automation_runs(
        &self,
        user: &UserId,
        automation: &AutomationId,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let prefix = format!("AUTORUN#{automation}#");
        let items = self.items_with_prefix(user, &prefix, None, super::records::Read::Eventual).await?;
        let mut runs = items
            .iter()
            .map(|i| {
                serde_json::from_str::<RunRecord>(get_s(i, "run")?)
                    .map_err(|e| StoreError::Corrupt(format!("automation run: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        runs.sort_by_key(|r| std::cmp::Reverse(r.finished_at));
        Ok(runs)
    }

    /// Minutes saved and actions done by the user's automations, from the receipts' counter.
    pub async fn automation_savings(&self, user: &UserId) -> Result<(u64, u64), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(keys::PROFILE))
            .send()
            .await
            .map_err(StoreError::aws)?;
        let item = out.item();
        let get = |name: &str| item.and_then(|i| super::attrs::opt_n(i, name)).unwrap_or(0);
        Ok((get("automationMinutesSaved"), get("automationActions")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automations::AutomationSpec;
    use crate::testing::TestEnv;

    fn spec(name: &str) -> AutomationSpec {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "trigger": {"type": "item.created", "kind": "task"},
            "steps": [{"action": "webhook.post", "params": {"url": "https://example.com/hook"}}]
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn definitions_are_stored_counted_against_the_plan_and_replaced_by_version() {
        let env = TestEnv::new().await;
        let store = &env.state.store;
        let user = UserId::parse("auth-user-1").unwrap();
        let first = store.insert_automation(&user, spec("one"), Plan::Free, Some(2)).await.unwrap().unwrap();
        store.insert_automation(&user, spec("two"), Plan::Free, Some(2)).await.unwrap().unwrap();
        assert_eq!(
            store.insert_automation(&user, spec("three"), Plan::Free, Some(2)).await.unwrap(),
            Err(InsertRefusal::LimitReached(2))
        );
        let listed = store.list_automations(&user).await.unwrap();
        assert_eq!(listed.iter().map(|a| a.spec.name.as_str()).collect::<Vec<_>>(), ["one", "two"]);

        let renamed = store.replace_automation(&first, spec("one, renamed")).await.unwrap();
        assert_eq!(renamed.version, 2);
        assert!(matches!(store.replace_automation(&first, spec("stale")).await, Err(StoreError::Conflict)));
        assert_eq!(store.get_automation(&user, &first.automation_id).await.unwrap().spec.name, "one, renamed");

        store.delete_automation(&user, &first.automation_id).await.unwrap();
        assert!(matches!(store.delete_automation(&user, &first.automation_id).await, Err(StoreError::NotFound)));
        store.insert_automation(&user, spec("three"), Plan::Free, Some(2)).await.unwrap().unwrap();
        let other = UserId::parse("auth-user-2").unwrap();
        assert!(matches!(store.get_automation(&other, &renamed.automation_id).await, Err(StoreError::NotFound)));
        env.cleanup().await;
    }

    #[tokio::test]
    async fn a_replaced_definition_plans_its_next_run_again_when_its_trigger_or_switch_changes() {
        let env = TestEnv::new().await;
        let store = &env.state.store;
        let user = UserId::parse("auth-user-1").unwrap();
        let mut due_soon = spec("due soon");
        due_soon.enabled = true;
        due_soon.trigger =
            serde_json::from_value(serde_json::json!({"type": "item.due_soon", "kind": "task", "hours": 24})).unwrap();
        let first = store.insert_automation(&user, due_soon.clone(), Plan::Free, None).await.unwrap().unwrap();
        let check = first.next_run_at.expect("a window check");
        assert_eq!(check.timestamp() % DUE_SOON_CHECK.num_seconds(), 0, "on the quarter hour: {check}");

        let renamed = store.replace_automation(&first, AutomationSpec { name: "renamed".into(), ..due_soon.clone() });
        let renamed = renamed.await.unwrap();
        assert_eq!(renamed.next_run_at, Some(check), "a rename keeps its plan");
        let off = store.replace_automation(&renamed, AutomationSpec { enabled: false, ..due_soon.clone() }).await;
        let off = off.unwrap();
        assert_eq!(off.next_run_at, None);
        let on = store.replace_automation(&off, due_soon).await.unwrap();
        assert!(on.next_run_at.is_some(), "switched on again, it is planned again");
        assert_eq!(store.get_automation(&user, &first.automation_id).await.unwrap().next_run_at, on.next_run_at);
        env.cleanup().await;
    }

    #[tokio::test]
    async fn an_action_is_claimed_once_and_its_outcome_is_kept() {
        let env = TestEnv::new().await;
        let store = &env.state.store;
        let user = UserId::parse("auth-user-1").unwrap();
        let key = ActionKey { automation_id: AutomationId::generate(), event: "item-1@2".into(), step: 1 };
        assert_eq!(store.claim_action(&user, &key).await.unwrap(), Claim::Claimed);
        let Claim::Taken(pending) = store.claim_action(&user, &key).await.unwrap() else { panic!("claimed twice") };
        assert_eq!(pending.status, ActionStatus::Sending);

        let done = ActionRecord {
            status: ActionStatus::Done,
            claimed_at: pending.claimed_at,
            provider_id: Some("evt_1".into()),
            url: Some("https://calendar.example/evt_1".into()),
            error: None,
        };
        store.complete_action(&user, &key, &done).await.unwrap();
        assert_eq!(store.claim_action(&user, &key).await.unwrap(), Claim::Taken(done.clone()));
        assert!(matches!(store.complete_action(&user, &key, &done).await, Err(StoreError::Conflict)), "ended once");
        let next_step = ActionKey { step: 2, ..key.clone() };
        assert_eq!(store.claim_action(&user, &next_step).await.unwrap(), Claim::Claimed);
        assert_ne!(key.token(), next_step.token());
        env.cleanup().await;
    }

    #[tokio::test]
    async fn a_run_is_kept_and_counted_once() {
        let env = TestEnv::new().await;
        let store = &env.state.store;
        let user = UserId::parse("auth-user-1").unwrap();
        let spec: AutomationSpec = serde_json::from_value(serde_json::json!({
            "name": "Focus", "enabled": false, "trigger": {"type": "item.created", "kind": "task"},
            "steps": [{"action": "webhook.post", "params": {"url": "https://example.com/in"}}],
        }))
        .unwrap();
        let saved = store.insert_automation(&user, spec, Plan::Free, None).await.unwrap().unwrap();
        let automation = &saved.automation_id;
        let receipt = crate::automations::StepReceipt {
            step: 1,
            action: "calendar.insertEvent".into(),
            status: ActionStatus::Done,
            summary: "Created an event in Google Calendar".into(),
            provider_id: Some("evt".into()),
            url: None,
            error: None,
            minutes_saved: 3,
        };
        let run =
            RunRecord { trigger: "card@1".into(), finished_at: Utc::now(), steps: vec![receipt], minutes_saved: 3 };
        assert!(store.record_run(&user, &saved, &run).await.unwrap());
        assert!(!store.record_run(&user, &saved, &run).await.unwrap(), "redelivered");
        let later =
            RunRecord { trigger: "card@2".into(), finished_at: Utc::now() + Duration::seconds(1), ..run.clone() };
        store.record_run(&user, &saved, &later).await.unwrap();
        let runs = store.automation_runs(&user, automation).await.unwrap();
        assert_eq!(runs.iter().map(|r| r.trigger.as_str()).collect::<Vec<_>>(), ["card@2", "card@1"]);
        assert_eq!(runs[0].status(), "succeeded");
        assert_eq!(store.automation_savings(&user).await.unwrap(), (6, 2));
        // The stats' one Query sees the same, in total and on the days the runs finished.
        let summary = store.user_summary(&user).await.unwrap();
        assert_eq!(summary.automations, crate::store::AutomationTotals { minutes_saved: 6, actions: 2 });
        let by_day: (u64, u64) =
            summary.days.values().fold((0, 0), |(m, a), d| (m + d.automation_minutes_saved, a + d.automation_actions));
        assert_eq!(by_day, (6, 2), "counted once per run, on its day");
        assert!(summary.days.contains_key(&run.finished_at.date_naive()));
        env.cleanup().await;
    }
}
