//! Sync runs and their transitions. Each transition is conditional, so every run ends exactly
//! once however often its message is delivered, and a connection has at most one run in flight.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::attrs::{Item, get_n, get_s, get_ts, n, now, opt_n, opt_s, opt_ts, s, ts};
use super::audit::{AuditAction, audit_put, expires_at, health_detail};
use super::connections::{due_shard, due_sort_key};
use super::update::UpdateExpr;
use super::{Store, StoreError, keys, table};
use crate::catalog::AuthMode;
use crate::domain::{
    Connection, ConnectionId, ConnectionStatus, Counts, HealthStatus, IntegrationId, Phase, Plan, Progress, Realtime,
    SyncId, SyncRun, SyncStatus, Trigger, UserId,
};
use crate::sync::SyncMode;

/// A run still in flight this long after it was queued, or after its last continuation (a long
/// run goes on in a new message each time a worker's invocation ends), is ended as failed by
/// the scheduler. Longer than SQS needs to give up on a message (5 receives × 12 minutes of
/// visibility).
pub const RUN_DEADLINE: Duration = Duration::hours(2);

pub(crate) fn run_sk(connection: &ConnectionId, sync: &SyncId) -> String {
    format!("SYNC#{connection}#{sync}")
}

fn inflight_key(run: &SyncRun) -> (String, String) {
    (
        format!("INFLIGHT#{}", due_shard(&run.connection_id)),
        inflight_sort_key(run.queued_at + RUN_DEADLINE, &run.sync_id),
    )
}

/// Where a run in flight sorts in the in-flight index: by the time the scheduler ends it.
fn inflight_sort_key(deadline: DateTime<Utc>, sync: &SyncId) -> String {
    format!("{}#{sync}", deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The user's rollup of one day's activity (syncs and automations), `DAY#{date}`.
pub(super) fn day_key(at: DateTime<Utc>) -> String {
    format!("DAY#{}", at.date_naive())
}

fn to_item(run: &SyncRun) -> Item {
    let (gpk, gsk) = inflight_key(run);
    Item::from([
        (table::PK.into(), s(keys::user(&run.user_id))),
        (table::SK.into(), s(run_sk(&run.connection_id, &run.sync_id))),
        ("entity".into(), s("sync")),
        ("userId".into(), s(run.user_id.as_str())),
        ("syncId".into(), s(run.sync_id.as_str())),
        ("connectionId".into(), s(run.connection_id.as_str())),
        ("integrationId".into(), s(run.integration_id.as_str())),
        ("status".into(), s(run.status.as_str())),
        ("trigger".into(), s(run.trigger.as_str())),
        ("mode".into(), s(run.mode.as_str())),
        ("queuedAt".into(), ts(run.queued_at)),
        ("phase".into(), s(run.progress.phase.as_str())),
        ("pages".into(), n(0)),
        ("items".into(), n(0)),
        ("attempts".into(), n(0)),
        (table::GSI1PK.into(), s(gpk)),
        (table::GSI1SK.into(), s(gsk)),
    ])
}

fn from_item(item: &Item) -> Result<SyncRun, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("sync run: {what}"));
    Ok(SyncRun {
        user_id: UserId::parse(get_s(item, "userId")?).map_err(|_| corrupt("userId"))?,
        sync_id: SyncId::parse(get_s(item, "syncId")?).map_err(|_| corrupt("syncId"))?,
        connection_id: ConnectionId::parse(get_s(item, "connectionId")?).map_err(|_| corrupt("connectionId"))?,
        integration_id: IntegrationId::parse(get_s(item, "integrationId")?).map_err(|_| corrupt("integrationId"))?,
        status: SyncStatus::parse(get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        trigger: match get_s(item, "trigger")? {
            "schedule" => Trigger::Schedule,
            "webhook" => Trigger::Webhook,
            _ => Trigger::Manual,
        },
        mode: match get_s(item, "mode")? {
            "full" => SyncMode::Full,
            _ => SyncMode::Incremental,
        },
        queued_at: get_ts(item, "queuedAt")?,
        started_at: opt_ts(item, "startedAt"),
        finished_at: opt_ts(item, "finishedAt"),
        progress: Progress {
            phase: Phase::parse(get_s(item, "phase")?).ok_or_else(|| StoreError::Corrupt("sync run: phase".into()))?,
            pages: get_n(item, "pages")?,
            items: get_n(item, "items")?,
        },
        counts: Counts {
            created: opt_n(item, "created").unwrap_or(0),
            updated: opt_n(item, "updated").unwrap_or(0),
            unchanged: opt_n(item, "unchanged").unwrap_or(0),
            deleted: opt_n(item, "deleted").unwrap_or(0),
        },
        duration_ms: opt_n(item, "durationMs"),
        minutes_saved: opt_n(item, "minutesSaved").unwrap_or(0.0),
        error: opt_s(item, "error").map(str::to_owned),
        attempts: opt_n(item, "attempts").unwrap_or(0),
        cursor: opt_s(item, "cursor").and_then(|raw| serde_json::from_str(raw).ok()),
    })
}

/// The write of a newly queued run (in the transaction that makes it its connection's run in
/// flight).
pub(crate) fn queued_run_put(table_name: &str, run: &SyncRun) -> Put {
    Put::builder()
        .table_name(table_name)
        .set_item(Some(to_item(run)))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .expect("put")
}

/// Why a run could not be queued.
#[derive(Debug)]
pub enum QueueRefusal {
    NotFound,
    InFlight(Option<SyncId>),
    NotActive(ConnectionStatus),
    /// A manual trigger too soon after the previous one: retry after this many seconds.
    RateLimited(u64),
}

/// How a run ended, for [`Store::finish_run`].
pub struct RunOutcome {
    pub status: SyncStatus,
    pub counts: Counts,
    pub minutes_saved: f64,
    pub error: Option<String>,
    /// The state the next incremental run starts from (on success).
    pub sync_state: Option<Value>,
    /// The connection needs the user to connect again (the provider refused the credential).
    pub needs_reauth: bool,
    /// The connection as the run found it, when it did: its failure count is then set (not
    /// added to) and a change of its health is audited in the same transaction.
    pub before: Option<Box<Connection>>,
}

impl RunOutcome {
    /// A failed run: its error for the user, the counts it reached, and whether the connection
    /// now needs the user to connect again.
    pub fn failed(error: impl Into<String>, counts: Counts, needs_reauth: bool) -> Self {
        Self {
            status: SyncStatus::Failed,
            counts,
            minutes_saved: 0.0,
            error: Some(error.into()),
            sync_state: None,
            needs_reauth,
            before: None,
        }
    }

    /// The same outcome, for a run that found its connection as `connection`.
    pub fn after_seeing(mut self, connection: &Connection) -> Self {
        self.before = Some(Box::new(connection.clone()));
        self
    }

    /// The change of health this outcome makes to the connection the run found (none when it
    /// found none): from, to and why in words. Audited with the run's end, and published.
    pub fn health_change(&self) -> Option<(HealthStatus, HealthStatus, String)> {
        let before = self.before.as_ref()?;
        let failures = match self.status {
            SyncStatus::Succeeded => 0,
            _ => before.consecutive_failures + 1,
        };
        let status = if self.needs_reauth { ConnectionStatus::NeedsReauth } else { before.status };
        let (from, to) = (before.health_status(), HealthStatus::of(status, failures));
        let why = match to {
            _ if from == to => return None,
            HealthStatus::Ok => "a sync succeeded".to_owned(),
            HealthStatus::Attention => {
                format!("{failures} syncs in a row failed: {}", self.error.as_deref().unwrap_or("no reason given"))
            }
            HealthStatus::ActionNeeded => {
                self.error.clone().unwrap_or_else(|| "the provider refused the credential".into())
            }
        };
        Some((from, to, why))
    }
}

/// A connection whose auto-sync is due, as the index holds it.
#[derive(Debug, Clone)]
pub struct DueConnection {
    pub user_id: UserId,
    pub connection_id: ConnectionId,
    pub integration_id: IntegrationId,
    pub auth_kind: AuthMode,
    pub interval_minutes: u32,
    pub next_sync_at: DateTime<Utc>,
    /// Whether it is `polling` (its subscription could not be made or renewed): it is synced
    /// at the fallback interval then.
    pub polling: bool,
}

fn is_conditional_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// A failed condition is a `Conflict`; anything else an AWS error.
fn conflict_or_aws<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if e.as_service_error().is_some_and(is_conditional_failure) { StoreError::Conflict } else { StoreError::aws(e) }
}

impl Store {
    /// Queues a run: the connection takes the run as its one in-flight sync (and, for a manual
    /// trigger, checks the minimum gap since the previous one) in the same transaction that
    /// writes the queued run.
    pub async fn queue_run(
        &self,
        run: &SyncRun,
        manual_gap: Option<Duration>,
        next_sync_at: Option<DateTime<Utc>>,
    ) -> Result<Result<(), QueueRefusal>, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&run.user_id)))
            .key(table::SK, s(keys::connection(&run.connection_id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sid", s(run.sync_id.as_str()))
            .expression_attribute_values(":active", s(ConnectionStatus::Active.as_str()));
        let mut condition =
            "attribute_exists(PK) AND #status = :active AND attribute_not_exists(syncInFlight)".to_owned();
        let mut set = "SET syncInFlight = :sid".to_owned();
        if let Some(gap) = manual_gap {
            condition.push_str(" AND (attribute_not_exists(lastManualSyncAt) OR lastManualSyncAt <= :cutoff)");
            set.push_str(", lastManualSyncAt = :now");
            update = update
                .expression_attribute_values(":cutoff", ts(run.queued_at - gap))
                .expression_attribute_values(":now", ts(run.queued_at));
        }
        if let Some(next) = next_sync_at {
            set.push_str(", nextSyncAt = :next, GSI1SK = :gsk");
            update = update
                .expression_attribute_values(":next", ts(next))
                .expression_attribute_values(":gsk", s(due_sort_key(next, &run.connection_id)));
        }
        let update = update.update_expression(set).condition_expression(condition).build().expect("update");
        let put = queued_run_put(&self.table, run);
        let items =
            vec![TransactWriteItem::builder().update(update).build(), TransactWriteItem::builder().put(put).build()];
        if self.transact(items).await?.is_ok() {
            return Ok(Ok(()));
        }
        // Say why: the connection as it is now.
        let refusal = match self.get_connection(&run.user_id, &run.connection_id).await {
            Err(StoreError::NotFound) => QueueRefusal::NotFound,
            Err(e) => return Err(e),
            Ok(c) => refusal_for(&c, run.queued_at, manual_gap),
        };
        Ok(Err(refusal))
    }

    pub async fn get_run(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        sync: &SyncId,
    ) -> Result<SyncRun, StoreError> {
        let item = self.user_item(user, &run_sk(connection, sync), None).await?;
        item.as_ref().map(from_item).transpose()?.ok_or(StoreError::NotFound)
    }

    /// A connection's runs, newest first, a page at a time. The cursor is opaque to clients.
    pub async fn list_runs(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<SyncRun>, Option<String>), StoreError> {
        let prefix = format!("SYNC#{connection}#");
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .expression_attribute_values(":prefix", s(&prefix))
            .scan_index_forward(false)
            .limit(limit);
        if let Some(cursor) = cursor {
            let sk =
                super::decode_cursor(cursor).filter(|sk| sk.starts_with(&prefix)).ok_or(StoreError::InvalidCursor)?;
            query = query.exclusive_start_key(table::PK, s(keys::user(user))).exclusive_start_key(table::SK, s(sk));
        }
        let out = query.send().await.map_err(StoreError::aws)?;
        let runs = out.items().iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get(table::SK))
            .and_then(|v| v.as_s().ok())
            .map(|sk| super::encode_cursor(sk));
        Ok((runs, next))
    }

    /// Moves a queued (or interrupted running) run to running and counts the attempt.
    /// `Ok(None)`: the run has already ended, so the message is a redelivery to drop.
    pub async fn start_run(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        sync: &SyncId,
    ) -> Result<Option<SyncRun>, StoreError> {
        let started = now();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(run_sk(connection, sync)))
            .update_expression(
                "SET #status = :running, startedAt = if_not_exists(startedAt, :now), phase = :fetching, \
                 attempts = if_not_exists(attempts, :zero) + :one",
            )
            .condition_expression("#status IN (:queued, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(SyncStatus::Running.as_str()))
            .expression_attribute_values(":queued", s(SyncStatus::Queued.as_str()))
            .expression_attribute_values(":fetching", s("fetching"))
            .expression_attribute_values(":now", ts(started))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes().map(from_item).transpose(),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => {
                // Either finished, or gone.
                match self.get_run(user, connection, sync).await {
                    Ok(_) | Err(StoreError::NotFound) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Records a completed page: the cursor after it (written only after its records), and
    /// progress. Fails with `Conflict` if the run is no longer running, or if a later delivery
    /// of it has started since `run` was (its `attempts` fence the older one off).
    pub async fn save_progress(&self, run: &SyncRun) -> Result<(), StoreError> {
        let cursor = run.cursor.as_ref().map(Value::to_string).unwrap_or_else(|| "null".into());
        self.client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&run.user_id)))
            .key(table::SK, s(run_sk(&run.connection_id, &run.sync_id)))
            .update_expression(
                "SET #cursor = :cursor, pages = :pages, #items = :items, created = :created, updated = :updated, \
                 unchanged = :unchanged, deleted = :deleted, phase = :phase, #mode = :mode",
            )
            .condition_expression("#status = :running AND attempts = :attempt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#cursor", "cursor")
            .expression_attribute_values(":attempt", n(run.attempts))
            .expression_attribute_names("#items", "items")
            .expression_attribute_values(":running", s(SyncStatus::Running.as_str()))
            .expression_attribute_values(":cursor", s(cursor))
            .expression_attribute_values(":pages", n(run.progress.pages))
            .expression_attribute_values(":items", n(run.progress.items))
            .expression_attribute_values(":created", n(run.counts.created))
            .expression_attribute_values(":updated", n(run.counts.updated))
            .expression_attribute_values(":unchanged", n(run.counts.unchanged))
            .expression_attribute_values(":deleted", n(run.counts.deleted))
            .expression_attribute_values(":phase", s(run.progress.phase.as_str()))
            .expression_attribute_names("#mode", "mode")
            .expression_attribute_values(":mode", s(run.mode.as_str()))
            .send()
            .await
            .map_err(conflict_or_aws)?;
        Ok(())
    }

    /// A run that goes on in a new message (its invocation's time is up; its cursor is saved):
    /// its deadline in the in-flight index moves to `RUN_DEADLINE` from now, so the scheduler
    /// does not end a long run that is still making progress. Fails with `Conflict` like
    /// [`Store::save_progress`].
    pub async fn continue_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&run.user_id)))
            .key(table::SK, s(run_sk(&run.connection_id, &run.sync_id)))
            .update_expression("SET GSI1SK = :gsk")
            .condition_expression("#status = :running AND attempts = :attempt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(SyncStatus::Running.as_str()))
            .expression_attribute_values(":attempt", n(run.attempts))
            .expression_attribute_values(":gsk", s(inflight_sort_key(now() + RUN_DEADLINE, &run.sync_id)))
            .send()
            .await
            .map_err(conflict_or_aws)?;
        Ok(())
    }

    /// Ends a run that is still queued or running as failed with `reason` (a disconnect ends the
    /// connection's run in flight). A run already ended, or gone, is left as it is.
    pub async fn cancel_run(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        sync: &SyncId,
        reason: &str,
    ) -> Result<(), StoreError> {
        let run = match self.get_run(user, connection, sync).await {
            Ok(run) => run,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !run.status.is_finished() {
            self.finish_run(&run, &RunOutcome::failed(reason, run.counts, false)).await?;
        }
        Ok(())
    }

    /// Keeps the latest error of a failed attempt on the run (shown if it ends in the DLQ).
    pub async fn record_attempt_error(&self, run: &SyncRun, error: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&run.user_id)))
            .key(table::SK, s(run_sk(&run.connection_id, &run.sync_id)))
            .update_expression("SET lastError = :error")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":error", s(error))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    pub async fn last_attempt_error(&self, user: &UserId, connection: &ConnectionId, sync: &SyncId) -> Option<String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(run_sk(connection, sync)))
            .projection_expression("lastError")
            .send()
            .await
            .ok()?;
        out.item().and_then(|i| opt_s(i, "lastError")).map(str::to_owned)
    }

    /// Ends a run exactly once: the run (if still queued or running), the connection (if this
    /// run is its one in flight: last sync, totals, saved state, maybe `needs_reauth`) and the
    /// day's rollup, in one transaction. `Ok(false)`: it had already ended.
    pub async fn finish_run(&self, run: &SyncRun, outcome: &RunOutcome) -> Result<bool, StoreError> {
        let finished = now();
        // Kept as long as the owner's plan keeps history; when the run's end is not seen with its
        // connection (the scheduler ending a stuck run), the longest, so nothing goes early.
        let retention_plan = outcome.before.as_ref().map_or(Plan::Premium, |c| c.plan);
        let started = run.started_at.unwrap_or(run.queued_at);
        let duration_ms = u64::try_from((finished - started).num_milliseconds()).unwrap_or(0);
        let user_pk = keys::user(&run.user_id);
        let items = outcome.counts.items();
        let run_changes = run_end(outcome.status, outcome.error.clone(), finished, duration_ms)
            .set("minutesSaved", n(outcome.minutes_saved))
            .set("created", n(outcome.counts.created))
            .set("updated", n(outcome.counts.updated))
            .set("unchanged", n(outcome.counts.unchanged))
            .set("deleted", n(outcome.counts.deleted))
            .set("items", n(items))
            .set("pages", n(run.progress.pages))
            .set(table::TTL_ATTRIBUTE, expires_at(retention_plan, finished));
        let run_update = run_changes.on_update(
            Update::builder()
                .table_name(&self.table)
                .key(table::PK, s(&user_pk))
                .key(table::SK, s(run_sk(&run.connection_id, &run.sync_id)))
                .condition_expression("#status IN (:queued, :running)"),
        );

        let mut conn_changes = UpdateExpr::new()
            .set("lastSyncId", s(run.sync_id.as_str()))
            .set("lastSyncStatus", s(outcome.status.as_str()))
            .set("lastSyncFinishedAt", ts(finished))
            .set("lastSyncItems", n(items))
            .set("lastSyncMinutesSaved", n(outcome.minutes_saved))
            .add_to("itemsTotal", n(items))
            .add_to("minutesSavedTotal", n(outcome.minutes_saved))
            .set_or_remove("lastSyncError", outcome.error.as_ref().map(s))
            .remove("syncInFlight")
            .condition_value("sid", s(run.sync_id.as_str()));
        if let Some(state) = &outcome.sync_state {
            conn_changes = conn_changes.set("syncState", s(state.to_string()));
        }
        if outcome.status == SyncStatus::Succeeded {
            // What the run read was current when it started.
            conn_changes = conn_changes.set("freshAsOf", ts(started));
        }
        let failures_before = outcome.before.as_ref().map(|c| c.consecutive_failures);
        conn_changes = match (outcome.status, failures_before) {
            (SyncStatus::Succeeded, _) => conn_changes
                .set("consecutiveFailures", n(0))
                .set("lastSuccessAt", ts(finished))
                .remove("rateLimitedUntil"),
            (_, Some(before)) => conn_changes.set("consecutiveFailures", n(before + 1)),
            (_, None) => conn_changes.add_to("consecutiveFailures", n(1)),
        };
        if outcome.needs_reauth {
            let reason = outcome.error.clone().unwrap_or_else(|| "The provider refused the credential.".into());
            conn_changes = conn_changes
                .set("status", s(ConnectionStatus::NeedsReauth.as_str()))
                .set("statusSince", ts(finished))
                .set("statusReason", s(reason))
                .remove("nextSyncAt")
                .remove(table::GSI1PK)
                .remove(table::GSI1SK);
        }
        let conn_update = conn_changes
            .on_update(
                Update::builder()
                    .table_name(&self.table)
                    .key(table::PK, s(&user_pk))
                    .key(table::SK, s(keys::connection(&run.connection_id)))
                    .condition_expression("#syncInFlight = :sid"),
            )
            .build()
            .expect("update");

        let day = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(&user_pk))
            .key(table::SK, s(day_key(finished)))
            .update_expression("ADD #items :items, minutesSaved :minutes, syncs :one, failures :failed")
            .expression_attribute_names("#items", "items")
            .expression_attribute_values(":items", n(items))
            .expression_attribute_values(":minutes", n(outcome.minutes_saved))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":failed", n(u8::from(outcome.status == SyncStatus::Failed)))
            .build()
            .expect("update");

        let mut items = vec![
            TransactWriteItem::builder().update(run_update.build().expect("update")).build(),
            TransactWriteItem::builder().update(conn_update).build(),
            TransactWriteItem::builder().update(day).build(),
        ];
        if let (Some(before), Some((from, to, why))) = (&outcome.before, outcome.health_change()) {
            let detail = health_detail(from, to, &why);
            items.push(audit_put(&self.table, before, AuditAction::HealthChanged, Some(&detail)));
        }
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            // The run itself had already ended: nothing to do.
            Err(c) if c.failed(0) => Ok(false),
            // The run is live but the connection no longer holds it (disconnected, or cleared by
            // hand): end the run on its own.
            Err(_) => self.finish_orphan_run(run, outcome, finished, duration_ms).await,
        }
    }

    async fn finish_orphan_run(
        &self,
        run: &SyncRun,
        outcome: &RunOutcome,
        finished: DateTime<Utc>,
        duration_ms: u64,
    ) -> Result<bool, StoreError> {
        let error = outcome.error.clone().unwrap_or_else(|| "The connection was removed during the sync.".into());
        let changes = run_end(outcome.status, Some(error), finished, duration_ms);
        let result = changes
            .on_update_item(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(table::PK, s(keys::user(&run.user_id)))
                    .key(table::SK, s(run_sk(&run.connection_id, &run.sync_id)))
                    .condition_expression("#status IN (:queued, :running)"),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(false),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// The saved incremental state of a connection (what its last successful run left).
    pub async fn sync_state(&self, user: &UserId, connection: &ConnectionId) -> Result<Option<Value>, StoreError> {
        let item = self.connection_fields(user, connection, "syncState").await?;
        Ok(item.as_ref().and_then(|i| opt_s(i, "syncState")).and_then(|raw| serde_json::from_str(raw).ok()))
    }

    /// Some attributes of a connection's item, read consistently (`None`: no such connection).
    pub(super) async fn connection_fields(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        projection: &str,
    ) -> Result<Option<Item>, StoreError> {
        self.user_item(user, &keys::connection(connection), Some(projection)).await
    }

    /// An UpdateItem of a connection's item, its table and key filled in.
    pub(super) fn update_connection(
        &self,
        user: &UserId,
        connection: &ConnectionId,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(keys::connection(connection)))
    }

    /// One item of the user's partition (or only these attributes of it), read consistently.
    pub(super) async fn user_item(
        &self,
        user: &UserId,
        sk: &str,
        projection: Option<&str>,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(sk))
            .set_projection_expression(projection.map(str::to_owned))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.item)
    }

    /// The entries of one sparse GSI1 partition (`DUE#{shard}`, `AUTODUE#{shard}`) whose time,
    /// the start of their sort key, has come at `now`: only those are read.
    pub(crate) async fn due_entries(
        &self,
        partition: &str,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<super::attrs::Item>, StoreError> {
        let upper = format!("{}#~", now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(table::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK <= :upper")
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":upper", s(upper))
            .limit(limit)
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.items().to_vec())
    }

    /// Connections of one shard whose auto-sync is due at `now`: reads only due entries.
    pub async fn due_connections(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<(Vec<DueConnection>, usize), StoreError> {
        let items = self.due_entries(&format!("DUE#{shard}"), now, limit).await?;
        let read = items.len();
        let due = items
            .iter()
            .map(|item| {
                Ok(DueConnection {
                    user_id: UserId::parse(get_s(item, "userId")?).map_err(|_| StoreError::Corrupt("userId".into()))?,
                    connection_id: ConnectionId::parse(get_s(item, "connectionId")?)
                        .map_err(|_| StoreError::Corrupt("connectionId".into()))?,
                    integration_id: IntegrationId::parse(get_s(item, "integrationId")?)
                        .map_err(|_| StoreError::Corrupt("integrationId".into()))?,
                    auth_kind: AuthMode::parse(get_s(item, "authKind")?)
                        .ok_or_else(|| StoreError::Corrupt("authKind".into()))?,
                    interval_minutes: get_n(item, "syncIntervalMinutes")?,
                    next_sync_at: get_ts(item, "nextSyncAt")?,
                    polling: opt_s(item, "realtime") == Some(Realtime::Polling.as_str()),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((due, read))
    }

    /// Moves a due connection's next sync forward without queuing one (it had a run in flight).
    pub async fn postpone_due(&self, due: &DueConnection, next: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .update_connection(&due.user_id, &due.connection_id)
            .update_expression("SET nextSyncAt = :next, GSI1SK = :gsk")
            .condition_expression("nextSyncAt = :expected")
            .expression_attribute_values(":next", ts(next))
            .expression_attribute_values(":gsk", s(due_sort_key(next, &due.connection_id)))
            .expression_attribute_values(":expected", ts(due.next_sync_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Turns auto-sync off for a due connection that has nothing to sync (made before the
    /// API refused auto-sync for such connections), so the scheduler never reads it again.
    pub async fn stop_auto_sync(&self, due: &DueConnection) -> Result<(), StoreError> {
        let result = self
            .update_connection(&due.user_id, &due.connection_id)
            .update_expression("SET autoSync = :off, #version = #version + :one REMOVE nextSyncAt, GSI1PK, GSI1SK")
            .condition_expression("nextSyncAt = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":off", AttributeValue::Bool(false))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expected", ts(due.next_sync_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Runs of one shard still in flight past their deadline.
    pub async fn overdue_runs(&self, shard: u32, now: DateTime<Utc>) -> Result<Vec<SyncRun>, StoreError> {
        let upper = format!("{}#~", now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(table::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK <= :upper")
            .expression_attribute_values(":pk", s(format!("INFLIGHT#{shard}")))
            .expression_attribute_values(":upper", s(upper))
            .limit(100)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.items().iter().map(from_item).collect()
    }
}

/// What ending a run changes on it, whatever the way it ends: the status and error, the
/// timings, and the in-flight index entry and cursor, which a finished run no longer has.
/// Carries the placeholders of the `#status IN (:queued, :running)` condition.
fn run_end(status: SyncStatus, error: Option<String>, finished: DateTime<Utc>, duration_ms: u64) -> UpdateExpr {
    UpdateExpr::new()
        .set("status", s(status.as_str()))
        .set("finishedAt", ts(finished))
        .set("durationMs", n(duration_ms))
        .set("phase", s(Phase::Done.as_str()))
        .set_or_remove("error", error.map(s))
        .remove(table::GSI1PK)
        .remove(table::GSI1SK)
        .remove("cursor")
        .condition_value("queued", s(SyncStatus::Queued.as_str()))
        .condition_value("running", s(SyncStatus::Running.as_str()))
}

fn refusal_for(c: &Connection, now: DateTime<Utc>, manual_gap: Option<Duration>) -> QueueRefusal {
    if c.status != ConnectionStatus::Active {
        return QueueRefusal::NotActive(c.status);
    }
    if c.sync_in_flight.is_some() {
        return QueueRefusal::InFlight(c.sync_in_flight.clone());
    }
    if let (Some(gap), Some(last)) = (manual_gap, c.last_manual_sync_at) {
        let wait = (last + gap - now).num_seconds().max(1);
        return QueueRefusal::RateLimited(u64::try_from(wait).unwrap_or(1));
    }
    // The condition failed but nothing explains it now: it changed in between.
    QueueRefusal::InFlight(None)
}
