//! Connection items, the per-account guard that makes "same account twice" impossible and the
//! per-user connection counter that enforces the plan limit, changed together in one
//! transaction; and the global counters used by recommendations, changed after it.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};

use super::attrs::{Item, b, get_b, get_n, get_s, get_ts, n, opt_n, opt_s, opt_ts, s, ts};
use super::audit::{AuditAction, audit_put};
use super::grants::{hold_grant, shared_grant};
use super::{Store, StoreError, keys, table, unless_condition_failed};
use crate::catalog::{AuthMode, Catalog};
use crate::domain::{
    Account, Connection, ConnectionId, ConnectionStatus, IntegrationId, LastSync, Plan, Realtime, SyncId, SyncSettings,
    SyncStatus, UserId,
};

/// Shards of the due-sync index: spreads a busy minute over several partitions.
pub const DUE_SHARDS: u32 = 4;

pub fn due_shard(connection: &ConnectionId) -> u32 {
    connection.as_str().bytes().fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(u32::from(b))) % DUE_SHARDS
}

pub fn due_sort_key(at: DateTime<Utc>, connection: &ConnectionId) -> String {
    format!("{}#{connection}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// An OAuth connection that does not sync by itself is refreshed after this long without use,
/// well within the providers' own rules (Microsoft ends a refresh token after 90 days of
/// inactivity, Google after six months).
pub const IDLE_REFRESH: Duration = Duration::days(30);

/// Its entry in the index the scheduler reads for grants to keep alive (`REFRESH#{shard}`).
fn refresh_entry(connection: &ConnectionId, at: DateTime<Utc>) -> (String, String) {
    (format!("REFRESH#{}", due_shard(connection)), due_sort_key(at, connection))
}

/// Whether a connection is kept alive by the scheduler's refresh: an active OAuth connection
/// that does not sync on a schedule (one that does refreshes when it syncs).
fn kept_alive(c: &Connection, auto_sync: bool) -> bool {
    c.status == ConnectionStatus::Active && c.auth_kind == AuthMode::Oauth2 && !auto_sync
}

/// What `connect` stores.
pub struct NewConnection {
    pub user_id: UserId,
    pub connection_id: ConnectionId,
    pub integration_id: IntegrationId,
    pub auth_kind: AuthMode,
    pub secret_id: String,
    pub credential_hint: String,
    pub account: Account,
    pub display_name: String,
    pub settings: SyncSettings,
    /// The owner's plan (how long the connection's history is kept).
    pub plan: Plan,
    /// `Some(n)`: refuse when the user already has `n` connections.
    pub connection_limit: Option<u32>,
}

#[derive(Debug)]
pub enum ConnectOutcome {
    Created(Box<Connection>),
    AlreadyConnected { existing: Option<ConnectionId> },
    LimitReached,
}

/// A settings change; `None` keeps the current value.
#[derive(Debug, Default, Clone)]
pub struct SettingsChange {
    pub display_name: Option<String>,
    pub auto_sync: Option<bool>,
    pub sync_interval_minutes: Option<u32>,
    /// The owner's plan now (from their token), kept for the connection's retention.
    pub plan: Option<Plan>,
}

fn to_item(c: &Connection) -> Item {
    let mut item = Item::from([
        (table::PK.into(), s(keys::user(&c.user_id))),
        (table::SK.into(), s(keys::connection(&c.connection_id))),
        ("entity".into(), s("connection")),
        ("userId".into(), s(c.user_id.as_str())),
        ("connectionId".into(), s(c.connection_id.as_str())),
        ("integrationId".into(), s(c.integration_id.as_str())),
        ("status".into(), s(c.status.as_str())),
        ("authKind".into(), s(c.auth_kind.as_str())),
        ("plan".into(), s(c.plan.as_str())),
        ("secretId".into(), s(&c.secret_id)),
        ("credentialHint".into(), s(&c.credential_hint)),
        ("accountId".into(), s(&c.account.id)),
        ("accountName".into(), s(&c.account.name)),
        ("displayName".into(), s(&c.display_name)),
        ("autoSync".into(), b(c.settings.auto_sync)),
        ("syncIntervalMinutes".into(), n(c.settings.sync_interval_minutes)),
        ("itemsTotal".into(), n(c.items_total)),
        ("minutesSavedTotal".into(), n(c.minutes_saved_total)),
        ("createdAt".into(), ts(c.created_at)),
        ("updatedAt".into(), ts(c.updated_at)),
        ("version".into(), n(c.version)),
    ]);
    if let Some(ws) = &c.account.workspace {
        item.insert("accountWorkspace".into(), s(ws));
    }
    if let Some(at) = c.next_sync_at {
        item.insert("nextSyncAt".into(), ts(at));
        item.insert(table::GSI1PK.into(), s(format!("DUE#{}", due_shard(&c.connection_id))));
        item.insert(table::GSI1SK.into(), s(due_sort_key(at, &c.connection_id)));
    } else if kept_alive(c, c.settings.auto_sync) {
        let at = c.updated_at + IDLE_REFRESH;
        let (pk, sk) = refresh_entry(&c.connection_id, at);
        item.insert("refreshDueAt".into(), ts(at));
        item.insert(table::GSI1PK.into(), s(pk));
        item.insert(table::GSI1SK.into(), s(sk));
    }
    item
}

pub(crate) fn from_item(item: &Item) -> Result<Connection, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("connection: {what}"));
    let last_sync = match opt_s(item, "lastSyncId") {
        Some(id) => Some(LastSync {
            sync_id: SyncId::parse(id).map_err(|_| corrupt("lastSyncId"))?,
            status: SyncStatus::parse(get_s(item, "lastSyncStatus")?).ok_or_else(|| corrupt("lastSyncStatus"))?,
            finished_at: get_ts(item, "lastSyncFinishedAt")?,
            items: get_n(item, "lastSyncItems")?,
            minutes_saved: get_n(item, "lastSyncMinutesSaved")?,
            error: opt_s(item, "lastSyncError").map(str::to_owned),
        }),
        None => None,
    };
    let integration_id = IntegrationId::parse(get_s(item, "integrationId")?).map_err(|_| corrupt("integrationId"))?;
    let auth_kind = AuthMode::parse(get_s(item, "authKind")?).ok_or_else(|| corrupt("authKind"))?;
    let can_sync = Catalog::get().can_sync(&integration_id, auth_kind);
    Ok(Connection {
        realtime: realtime_of(&integration_id, can_sync, opt_s(item, "realtime")),
        fresh_as_of: opt_ts(item, "freshAsOf"),
        can_sync,
        auth_kind,
        plan: opt_s(item, "plan").and_then(Plan::parse).unwrap_or_default(),
        user_id: UserId::parse(get_s(item, "userId")?).map_err(|_| corrupt("userId"))?,
        connection_id: ConnectionId::parse(get_s(item, "connectionId")?).map_err(|_| corrupt("connectionId"))?,
        integration_id,
        status: ConnectionStatus::parse(get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        status_reason: opt_s(item, "statusReason").map(str::to_owned),
        status_since: opt_ts(item, "statusSince"),
        secret_id: get_s(item, "secretId")?.to_owned(),
        credential_hint: get_s(item, "credentialHint")?.to_owned(),
        account: Account {
            id: get_s(item, "accountId")?.to_owned(),
            name: get_s(item, "accountName")?.to_owned(),
            workspace: opt_s(item, "accountWorkspace").map(str::to_owned),
        },
        display_name: get_s(item, "displayName")?.to_owned(),
        settings: SyncSettings {
            auto_sync: get_b(item, "autoSync")?,
            sync_interval_minutes: get_n(item, "syncIntervalMinutes")?,
        },
        next_sync_at: opt_ts(item, "nextSyncAt"),
        sync_in_flight: opt_s(item, "syncInFlight").and_then(|id| SyncId::parse(id).ok()),
        last_sync,
        last_manual_sync_at: opt_ts(item, "lastManualSyncAt"),
        consecutive_failures: opt_n(item, "consecutiveFailures").unwrap_or(0),
        last_success_at: opt_ts(item, "lastSuccessAt"),
        rate_limited_until: opt_ts(item, "rateLimitedUntil"),
        grant_expires_at: opt_ts(item, "grantExpiresAt"),
        items_total: opt_n(item, "itemsTotal").unwrap_or(0),
        minutes_saved_total: opt_n(item, "minutesSavedTotal").unwrap_or(0.0),
        budget: None,
        created_at: get_ts(item, "createdAt")?,
        updated_at: get_ts(item, "updatedAt")?,
        version: get_n(item, "version")?,
        health: None,
    }
    .with_health(super::attrs::now()))
}

/// How a connection hears of changes: `off` unless its provider notifies and it has data to
/// sync; then as its subscriptions last left it, `polling` until one is in place.
fn realtime_of(integration: &IntegrationId, can_sync: bool, stored: Option<&str>) -> Realtime {
    let notifies = Catalog::get().find(integration.as_str()).is_some_and(|i| i.capabilities.realtime);
    if !(notifies && can_sync) {
        return Realtime::Off;
    }
    stored.and_then(Realtime::parse).unwrap_or(Realtime::Polling)
}

fn counter_update(table_name: &str, pk: String, sk: String, attr: &str, delta: i64) -> TransactWriteItem {
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(table_name)
                .key(table::PK, s(pk))
                .key(table::SK, s(sk))
                .update_expression("ADD #c :d")
                .expression_attribute_names("#c", attr)
                .expression_attribute_values(":d", n(delta))
                .build()
                .expect("update"),
        )
        .build()
}

impl Store {
    /// The global count of connections per integration (for recommendations), changed after the
    /// connect or disconnect committed: one item that every user's connect would otherwise touch
    /// inside its transaction, making concurrent connects conflict. Best effort: a count missed
    /// here only shades a popularity ranking.
    async fn count_integration(&self, integration: &IntegrationId, delta: i64) {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::STATS))
            .key(table::SK, s(keys::integration_counter(integration)))
            .update_expression("ADD connections :d")
            .expression_attribute_values(":d", n(delta))
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(integration = %integration, error = %crate::http::ErrorChain(&e), "could not update the integration's connection count");
        }
    }

    /// Stores a new connection, its account guard, the user's connection count, the holder of
    /// its shared grant and the audit entry, all or nothing; then the global counter.
    pub async fn insert_connection(&self, new: NewConnection) -> Result<ConnectOutcome, StoreError> {
        let now = super::attrs::now();
        let next_sync_at =
            new.settings.auto_sync.then(|| now + Duration::minutes(i64::from(new.settings.sync_interval_minutes)));
        let can_sync = Catalog::get().can_sync(&new.integration_id, new.auth_kind);
        let connection = Connection {
            realtime: realtime_of(&new.integration_id, can_sync, None),
            fresh_as_of: None,
            grant_expires_at: None,
            can_sync,
            user_id: new.user_id,
            connection_id: new.connection_id,
            integration_id: new.integration_id,
            status: ConnectionStatus::Active,
            status_reason: None,
            status_since: None,
            auth_kind: new.auth_kind,
            plan: new.plan,
            secret_id: new.secret_id,
            credential_hint: new.credential_hint,
            account: new.account,
            display_name: new.display_name,
            settings: new.settings,
            next_sync_at,
            sync_in_flight: None,
            last_sync: None,
            last_manual_sync_at: None,
            consecutive_failures: 0,
            last_success_at: None,
            rate_limited_until: None,
            items_total: 0,
            minutes_saved_total: 0.0,
            budget: None,
            created_at: now,
            updated_at: now,
            version: 1,
            health: None,
        }
        .with_health(now);
        let user_pk = keys::user(&connection.user_id);
        let guard_sk = keys::account_guard(&connection.integration_id, &connection.account.id);

        let put_connection = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&connection)))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("put");
        let put_guard = Put::builder()
            .table_name(&self.table)
            .item(table::PK, s(&user_pk))
            .item(table::SK, s(&guard_sk))
            .item("connectionId", s(connection.connection_id.as_str()))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("put");
        let mut count = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(&user_pk))
            .key(table::SK, s(keys::PROFILE))
            .update_expression("ADD connectionCount :one")
            .expression_attribute_values(":one", n(1));
        if let Some(limit) = new.connection_limit {
            count = count
                .condition_expression("attribute_not_exists(connectionCount) OR connectionCount < :limit")
                .expression_attribute_values(":limit", n(limit));
        }

        let mut items = vec![
            TransactWriteItem::builder().put(put_connection).build(),
            TransactWriteItem::builder().put(put_guard).build(),
            TransactWriteItem::builder().update(count.build().expect("update")).build(),
            audit_put(&self.table, &connection, AuditAction::Connected, None),
        ];
        if let Some(grant) = shared_grant(&connection) {
            items.push(hold_grant(&self.table, &grant, &connection.connection_id));
        }
        match self.transact(items).await? {
            Ok(()) => {
                self.count_integration(&connection.integration_id, 1).await;
                self.count_co_connections(&connection.user_id, &connection.integration_id, 1).await;
                Ok(ConnectOutcome::Created(Box::new(connection)))
            }
            Err(c) if c.failed(1) => Ok(ConnectOutcome::AlreadyConnected {
                existing: self.guard_owner(&user_pk, &guard_sk).await.ok().flatten(),
            }),
            Err(c) if c.failed(2) => Ok(ConnectOutcome::LimitReached),
            Err(_) => Err(StoreError::Conflict),
        }
    }

    async fn guard_owner(&self, user_pk: &str, guard_sk: &str) -> Result<Option<ConnectionId>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(user_pk))
            .key(table::SK, s(guard_sk))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.item().and_then(|i| opt_s(i, "connectionId")).and_then(|id| ConnectionId::parse(id).ok()))
    }

    /// How many connections the user has (from the counter kept by connect and disconnect).
    pub async fn connection_count(&self, user: &UserId) -> Result<u32, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(keys::PROFILE))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.item().and_then(|i| opt_n(i, "connectionCount")).unwrap_or(0))
    }

    /// The user's connection and automation counts (kept on the profile by connect, disconnect
    /// and the automations): one GetItem.
    pub async fn usage_counts(&self, user: &UserId) -> Result<(u32, u32), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(user)))
            .key(table::SK, s(keys::PROFILE))
            .projection_expression("connectionCount, automationCount")
            .send()
            .await
            .map_err(StoreError::aws)?;
        let count = |name| out.item().and_then(|i| opt_n::<i64>(i, name)).map_or(0, |n| u32::try_from(n).unwrap_or(0));
        Ok((count("connectionCount"), count("automationCount")))
    }

    pub async fn get_connection(&self, user: &UserId, id: &ConnectionId) -> Result<Connection, StoreError> {
        let item = self.user_item(user, &keys::connection(id), None).await?;
        item.as_ref().map(from_item).transpose()?.ok_or(StoreError::NotFound)
    }

    /// The user's connections, oldest first: one Query, paged until done.
    pub async fn list_connections(&self, user: &UserId) -> Result<Vec<Connection>, StoreError> {
        let items = self.items_with_prefix(user, "CONN#", None, super::records::Read::Eventual).await?;
        items.iter().map(from_item).collect()
    }

    /// Applies a settings change to the connection at `expected_version`, keeping the
    /// due-sync index attributes in step, with its audit entry.
    pub async fn update_settings(
        &self,
        current: &Connection,
        change: &SettingsChange,
    ) -> Result<Connection, StoreError> {
        let now = super::attrs::now();
        let mut next = current.clone();
        if let Some(name) = &change.display_name {
            next.display_name = name.clone();
        }
        if let Some(on) = change.auto_sync {
            next.settings.auto_sync = on;
        }
        if let Some(minutes) = change.sync_interval_minutes {
            next.settings.sync_interval_minutes = minutes;
        }
        if let Some(plan) = change.plan {
            next.plan = plan;
        }
        let schedule_changed = next.settings != current.settings;
        next.next_sync_at = match (next.settings.auto_sync, schedule_changed) {
            (false, _) => None,
            (true, false) => current.next_sync_at,
            (true, true) => Some(now + Duration::minutes(i64::from(next.settings.sync_interval_minutes))),
        };
        next.updated_at = now;
        next.version = current.version + 1;

        let mut update = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&current.user_id)))
            .key(table::SK, s(keys::connection(&current.connection_id)))
            .condition_expression("#version = :expected AND #status <> :disconnecting")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expected", n(current.version))
            .expression_attribute_values(":disconnecting", s(ConnectionStatus::Disconnecting.as_str()))
            .expression_attribute_values(":name", s(&next.display_name))
            .expression_attribute_values(":auto", b(next.settings.auto_sync))
            .expression_attribute_values(":interval", n(next.settings.sync_interval_minutes))
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_names("#plan", "plan")
            .expression_attribute_values(":plan", s(next.plan.as_str()))
            .expression_attribute_values(":one", n(1));
        let set = "SET displayName = :name, autoSync = :auto, syncIntervalMinutes = :interval, \
                   updatedAt = :now, #plan = :plan, #version = #version + :one";
        let expression = match next.next_sync_at {
            // The index entry exists only while the connection is active with auto-sync on.
            Some(at) if current.status == ConnectionStatus::Active => {
                update = update
                    .expression_attribute_values(":next", ts(at))
                    .expression_attribute_values(":gpk", s(format!("DUE#{}", due_shard(&current.connection_id))))
                    .expression_attribute_values(":gsk", s(due_sort_key(at, &current.connection_id)));
                format!("{set}, nextSyncAt = :next, GSI1PK = :gpk, GSI1SK = :gsk")
            }
            Some(at) => {
                update = update.expression_attribute_values(":next", ts(at));
                format!("{set}, nextSyncAt = :next REMOVE GSI1PK, GSI1SK")
            }
            None if kept_alive(current, false) => {
                let at = now + IDLE_REFRESH;
                let (pk, sk) = refresh_entry(&current.connection_id, at);
                update = update
                    .expression_attribute_values(":refresh", ts(at))
                    .expression_attribute_values(":gpk", s(pk))
                    .expression_attribute_values(":gsk", s(sk));
                format!("{set}, refreshDueAt = :refresh, GSI1PK = :gpk, GSI1SK = :gsk REMOVE nextSyncAt")
            }
            None => format!("{set} REMOVE nextSyncAt, GSI1PK, GSI1SK"),
        };
        let update = update.update_expression(expression).build().expect("update");
        let detail = describe_change(change);

        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            audit_put(&self.table, &next, AuditAction::SettingsChanged, Some(&detail)),
        ];
        self.transact(items).await?.map_err(|_| StoreError::Conflict)?;
        Ok(next)
    }

    /// Connections of one shard whose grant is due a keep-alive refresh at `now`.
    pub async fn due_refreshes(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<(UserId, ConnectionId, DateTime<Utc>)>, StoreError> {
        let items = self.due_entries(&format!("REFRESH#{shard}"), now, limit).await?;
        items
            .iter()
            .map(|item| {
                let corrupt = |what: &str| StoreError::Corrupt(format!("refresh entry: {what}"));
                Ok((
                    UserId::parse(get_s(item, "userId")?).map_err(|_| corrupt("userId"))?,
                    ConnectionId::parse(get_s(item, "connectionId")?).map_err(|_| corrupt("connectionId"))?,
                    get_ts(item, "refreshDueAt")?,
                ))
            })
            .collect()
    }

    /// Moves a connection's keep-alive refresh to `next`, if it is still due at `expected`.
    pub async fn postpone_refresh(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        expected: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (_, sk) = refresh_entry(connection, next);
        let result = self
            .update_connection(user, connection)
            .update_expression("SET refreshDueAt = :next, GSI1SK = :gsk")
            .condition_expression("refreshDueAt = :expected AND begins_with(GSI1PK, :refresh)")
            .expression_attribute_values(":next", ts(next))
            .expression_attribute_values(":gsk", s(sk))
            .expression_attribute_values(":expected", ts(expected))
            .expression_attribute_values(":refresh", s("REFRESH#"))
            .send()
            .await;
        unless_condition_failed(result)?.ok_or(StoreError::Conflict)?;
        Ok(())
    }

    /// The provider asked us to slow down until `until`: shown in the connection's health.
    pub async fn note_rate_limit(&self, connection: &Connection, until: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .update_connection(&connection.user_id, &connection.connection_id)
            .update_expression("SET rateLimitedUntil = :until")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":until", ts(until))
            .send()
            .await;
        unless_condition_failed(result)?;
        Ok(())
    }

    /// When the connection's grant ends for good (a token with an expiry and no refresh token;
    /// `None` clears it): shown in its health. Written after a sign-in or a reconnect.
    pub async fn note_grant_expiry(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        ends: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let update = self.update_connection(user, connection).condition_expression("attribute_exists(PK)");
        let update = match ends {
            Some(at) => update.update_expression("SET grantExpiresAt = :at").expression_attribute_values(":at", ts(at)),
            None => update.update_expression("REMOVE grantExpiresAt"),
        };
        unless_condition_failed(update.send().await)?;
        Ok(())
    }

    /// First step of a disconnect: the connection leaves the due index and is marked
    /// `disconnecting`, so no sync starts while its secret is deleted.
    pub async fn mark_disconnecting(&self, current: &Connection) -> Result<(), StoreError> {
        let result = self
            .update_connection(&current.user_id, &current.connection_id)
            .update_expression("SET #status = :disconnecting, updatedAt = :now, #version = #version + :one REMOVE nextSyncAt, GSI1PK, GSI1SK")
            .condition_expression("#version = :expected")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":disconnecting", s(ConnectionStatus::Disconnecting.as_str()))
            .expression_attribute_values(":now", ts(Utc::now()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expected", n(current.version))
            .send()
            .await;
        unless_condition_failed(result)?.ok_or(StoreError::Conflict)?;
        Ok(())
    }

    /// Last step of a disconnect (after the secret is gone): removes the connection, its
    /// guard, and its share of the counters, with the audit entry.
    pub async fn delete_connection(&self, current: &Connection, audit_detail: Option<&str>) -> Result<(), StoreError> {
        let user_pk = keys::user(&current.user_id);
        let delete = |sk: String, condition: Option<&str>| {
            let mut d = Delete::builder().table_name(&self.table).key(table::PK, s(&user_pk)).key(table::SK, s(sk));
            if let Some(c) = condition {
                d = d
                    .condition_expression(c)
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":disconnecting", s(ConnectionStatus::Disconnecting.as_str()));
            }
            TransactWriteItem::builder().delete(d.build().expect("delete")).build()
        };
        let items = vec![
            delete(keys::connection(&current.connection_id), Some("#status = :disconnecting")),
            delete(keys::account_guard(&current.integration_id, &current.account.id), None),
            counter_update(&self.table, user_pk.clone(), keys::PROFILE.into(), "connectionCount", -1),
            audit_put(&self.table, current, AuditAction::Disconnected, audit_detail),
        ];
        self.transact(items).await?.map_err(|_| StoreError::Conflict)?;
        self.count_integration(&current.integration_id, -1).await;
        self.count_co_connections(&current.user_id, &current.integration_id, -1).await;
        Ok(())
    }
}

fn describe_change(change: &SettingsChange) -> String {
    let mut parts = Vec::new();
    if change.display_name.is_some() {
        parts.push("displayName".to_owned());
    }
    if let Some(on) = change.auto_sync {
        parts.push(format!("autoSync={on}"));
    }
    if let Some(m) = change.sync_interval_minutes {
        parts.push(format!("syncIntervalMinutes={m}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_shards_are_stable_and_in_range() {
        let id = ConnectionId::parse("01HV5Z4K9Q8W2X3Y4Z5A6B7C8D").unwrap();
        assert_eq!(due_shard(&id), due_shard(&id));
        assert!(due_shard(&id) < DUE_SHARDS);
    }

    #[test]
    fn due_sort_keys_order_by_time() {
        let id = ConnectionId::generate();
        let early = due_sort_key("2026-01-01T00:00:00Z".parse().unwrap(), &id);
        let late = due_sort_key("2026-01-01T00:15:00Z".parse().unwrap(), &id);
        assert!(early < late);
    }
}
