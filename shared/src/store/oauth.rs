//! OAuth state items (one-time, ten minutes) and the refresh lease on a connection.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};

use super::attrs::{Item, get_s, get_ts, n, now, opt_s, s, ts};
use super::audit::{AuditAction, audit_put, health_detail};
use super::connections::{due_shard, due_sort_key};
use super::update::UpdateExpr;
use super::{Store, StoreError, keys, table};
use crate::domain::{Connection, ConnectionId, ConnectionStatus, HealthStatus, IntegrationId, Plan, UserId};

pub const OAUTH_STATE_TTL: Duration = Duration::minutes(10);

/// What the authorize step remembers until the provider sends the user back.
#[derive(Debug, Clone)]
pub struct OAuthState {
    pub state: String,
    /// SHA-256 of the value of the cookie set in the browser that started the flow.
    pub binding_hash: String,
    pub user_id: UserId,
    pub integration_id: IntegrationId,
    /// The PKCE code verifier: proves at the token endpoint that we started this flow.
    pub verifier: String,
    pub scopes: Vec<String>,
    pub return_url: String,
    /// Re-consent of an existing connection (keeps its id and history).
    pub reconnect: Option<ConnectionId>,
    /// The plan when the flow started (the callback carries no token to read it from).
    pub plan: Plan,
    pub expires_at: DateTime<Utc>,
}

fn is_conditional_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// The user's index entry of an open state: sorted by when it expires, so the open ones are one
/// key range (`STATE#{now}` onwards) of the user's partition.
fn open_state_key(expires_at: DateTime<Utc>, state: &str) -> String {
    format!("STATE#{}#{state}", expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn state_key(state: &str) -> String {
    format!("OAUTH#{state}")
}

/// Refused to open another sign-in: the user has too many open already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyOpenStates {
    /// Seconds until the oldest open one expires.
    pub retry_after_secs: u64,
}

impl Store {
    /// Remembers a started sign-in under its one-time state, with its entry in the user's
    /// partition, unless the user already has `cap` open (unused, unexpired) ones.
    pub async fn put_oauth_state(
        &self,
        st: &OAuthState,
        cap: usize,
    ) -> Result<Result<(), TooManyOpenStates>, StoreError> {
        let at = now();
        let open = self.open_state_expiries(&st.user_id, at, cap).await?;
        if open.len() >= cap {
            let wait = (open[0] - at).num_seconds().max(1);
            return Ok(Err(TooManyOpenStates { retry_after_secs: u64::try_from(wait).unwrap_or(1) }));
        }
        let mut item = Item::from([
            (table::PK.into(), s(state_key(&st.state))),
            (table::SK.into(), s("OAUTH")),
            ("userId".into(), s(st.user_id.as_str())),
            ("integrationId".into(), s(st.integration_id.as_str())),
            ("verifier".into(), s(&st.verifier)),
            ("bindingHash".into(), s(&st.binding_hash)),
            ("scopes".into(), s(st.scopes.join(" "))),
            ("returnUrl".into(), s(&st.return_url)),
            ("plan".into(), s(if st.plan == Plan::Premium { "premium" } else { "free" })),
            ("validUntil".into(), ts(st.expires_at)),
            (table::TTL_ATTRIBUTE.into(), n(st.expires_at.timestamp())),
        ]);
        if let Some(id) = &st.reconnect {
            item.insert("reconnect".into(), s(id.as_str()));
        }
        let put_state = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("put");
        let put_entry = Put::builder()
            .table_name(&self.table)
            .item(table::PK, s(keys::user(&st.user_id)))
            .item(table::SK, s(open_state_key(st.expires_at, &st.state)))
            .item(table::TTL_ATTRIBUTE, n(st.expires_at.timestamp()))
            .build()
            .expect("put");
        let items = vec![
            TransactWriteItem::builder().put(put_state).build(),
            TransactWriteItem::builder().put(put_entry).build(),
        ];
        self.transact(items).await?.map_err(|_| StoreError::Conflict)?;
        Ok(Ok(()))
    }

    /// When the user's open sign-ins expire, soonest first; at most `limit` of them (one Query
    /// of the user's partition, from now on: expired entries sort before it).
    async fn open_state_expiries(
        &self,
        user: &UserId,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .expression_attribute_values(":from", s(open_state_key(at, "")))
            .expression_attribute_values(":to", s("STATE#~"))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| opt_s(i, table::SK))
            .filter_map(|sk| sk.strip_prefix("STATE#")?.rsplit_once('#'))
            .filter_map(|(expiry, _)| DateTime::parse_from_rfc3339(expiry).ok())
            .map(|t| t.with_timezone(&Utc))
            .collect())
    }

    /// The sign-in remembered under `state`, without using it up. `None`: unknown or used.
    /// (An expired one is returned; the caller checks `expires_at`, as TTL deletion lags.)
    pub async fn get_oauth_state(&self, state: &str) -> Result<Option<OAuthState>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(state_key(state)))
            .key(table::SK, s("OAUTH"))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        let Some(item) = out.item() else { return Ok(None) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("oauth state: {what}"));
        Ok(Some(OAuthState {
            state: state.to_owned(),
            binding_hash: get_s(item, "bindingHash")?.to_owned(),
            user_id: UserId::parse(get_s(item, "userId")?).map_err(|_| corrupt("userId"))?,
            integration_id: IntegrationId::parse(get_s(item, "integrationId")?).map_err(|_| corrupt("integration"))?,
            verifier: get_s(item, "verifier")?.to_owned(),
            scopes: get_s(item, "scopes")?.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            return_url: get_s(item, "returnUrl")?.to_owned(),
            reconnect: opt_s(item, "reconnect").and_then(|id| ConnectionId::parse(id).ok()),
            plan: if opt_s(item, "plan") == Some("premium") { Plan::Premium } else { Plan::Free },
            expires_at: get_ts(item, "validUntil")?,
        }))
    }

    /// Uses a state up, so it serves once only: `false` if it was already used.
    pub async fn take_oauth_state(&self, st: &OAuthState) -> Result<bool, StoreError> {
        let delete_state = Delete::builder()
            .table_name(&self.table)
            .key(table::PK, s(state_key(&st.state)))
            .key(table::SK, s("OAUTH"))
            .condition_expression("attribute_exists(PK)")
            .build()
            .expect("delete");
        let delete_entry = Delete::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&st.user_id)))
            .key(table::SK, s(open_state_key(st.expires_at, &st.state)))
            .build()
            .expect("delete");
        let items = vec![
            TransactWriteItem::builder().delete(delete_state).build(),
            TransactWriteItem::builder().delete(delete_entry).build(),
        ];
        Ok(self.transact(items).await?.is_ok())
    }

    /// Elects one refresher of a connection's token: `true` for the caller that got the lease.
    pub async fn acquire_refresh_lease(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        owner: &str,
        hold: Duration,
    ) -> Result<bool, StoreError> {
        let at = now();
        let result = self
            .update_connection(user, connection)
            .update_expression("SET refreshLeaseOwner = :owner, refreshLeaseUntil = :until")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(refreshLeaseUntil) OR refreshLeaseUntil < :now)",
            )
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", ts(at + hold))
            .expression_attribute_values(":now", ts(at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(false),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    pub async fn release_refresh_lease(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        owner: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .update_connection(user, connection)
            .update_expression("REMOVE refreshLeaseOwner, refreshLeaseUntil")
            .condition_expression("refreshLeaseOwner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(()),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Fences a write made under the refresh lease: `true` while `owner` still holds it (and
    /// then it is held `hold` longer), `false` once it expired and may have gone to another.
    pub async fn confirm_refresh_lease(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        owner: &str,
        hold: Duration,
    ) -> Result<bool, StoreError> {
        let at = now();
        let result = self
            .update_connection(user, connection)
            .update_expression("SET refreshLeaseUntil = :until")
            .condition_expression("refreshLeaseOwner = :owner AND refreshLeaseUntil >= :now")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", ts(at + hold))
            .expression_attribute_values(":now", ts(at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(false),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// The provider no longer accepts the connection's grant: the user must sign in again. The
    /// change of health is audited in the same transaction. Fenced: only while `owner` holds
    /// the refresh lease (`false` when it no longer does).
    pub async fn mark_needs_reauth(
        &self,
        connection: &Connection,
        reason: &str,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let at = now();
        let update = Update::builder()
            .table_name(&self.table)
            .key(table::PK, s(keys::user(&connection.user_id)))
            .key(table::SK, s(keys::connection(&connection.connection_id)))
            .update_expression(
                "SET #status = :reauth, statusReason = :reason, statusSince = :now, #version = #version + :one \
                 REMOVE nextSyncAt, GSI1PK, GSI1SK",
            )
            .condition_expression(
                "attribute_exists(PK) AND #status <> :disconnecting AND refreshLeaseOwner = :owner \
                 AND refreshLeaseUntil >= :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":reauth", s(ConnectionStatus::NeedsReauth.as_str()))
            .expression_attribute_values(":disconnecting", s(ConnectionStatus::Disconnecting.as_str()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", ts(at))
            .build()
            .expect("update");
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        let before = connection.health_status();
        if before != HealthStatus::ActionNeeded {
            let detail = health_detail(before, HealthStatus::ActionNeeded, reason);
            items.push(audit_put(&self.table, connection, AuditAction::HealthChanged, Some(&detail)));
        }
        Ok(self.transact(items).await?.is_ok())
    }

    /// After a successful re-consent (or new key): active again, back in the schedule if
    /// auto-sync is on. A connection the provider had refused holds no live run, so its claim on
    /// one (`syncInFlight`, left by a run that ended on the refusal) is cleared, whatever its
    /// schedule; an active connection keeps the run it has in flight. Refused (`Conflict`) when
    /// the connection changed meanwhile or is being disconnected.
    pub async fn reactivate(&self, current: &Connection) -> Result<Connection, StoreError> {
        let at = now();
        let mut next = current.clone();
        next.status = ConnectionStatus::Active;
        next.status_reason = None;
        next.updated_at = at;
        next.version += 1;
        next.next_sync_at = current
            .settings
            .auto_sync
            .then(|| at + Duration::minutes(i64::from(current.settings.sync_interval_minutes)));
        let refused = current.status != ConnectionStatus::Active;
        if refused {
            next.sync_in_flight = None;
        }
        let mut changes = UpdateExpr::new()
            .set("status", s(ConnectionStatus::Active.as_str()))
            .set("updatedAt", ts(at))
            .add_to("version", n(1))
            .remove("statusReason")
            .condition_value("expected", n(current.version))
            .condition_value("disconnecting", s(ConnectionStatus::Disconnecting.as_str()));
        changes = match next.next_sync_at {
            Some(at) => changes
                .set("nextSyncAt", ts(at))
                .set(table::GSI1PK, s(format!("DUE#{}", due_shard(&current.connection_id))))
                .set(table::GSI1SK, s(due_sort_key(at, &current.connection_id))),
            None if current.auth_kind == crate::catalog::AuthMode::Oauth2 => {
                // Kept alive by the scheduler's refresh while it does not sync by itself.
                let due = at + super::connections::IDLE_REFRESH;
                changes
                    .remove("nextSyncAt")
                    .set("refreshDueAt", ts(due))
                    .set(table::GSI1PK, s(format!("REFRESH#{}", due_shard(&current.connection_id))))
                    .set(table::GSI1SK, s(due_sort_key(due, &current.connection_id)))
            }
            None => changes.remove("nextSyncAt").remove(table::GSI1PK).remove(table::GSI1SK),
        };
        if refused {
            // Nothing can queue a run meanwhile: that needs an active connection.
            changes = changes.remove("syncInFlight");
        }
        let update = changes
            .set("consecutiveFailures", n(0))
            .on_update(
                Update::builder()
                    .table_name(&self.table)
                    .key(table::PK, s(keys::user(&current.user_id)))
                    .key(table::SK, s(keys::connection(&current.connection_id)))
                    .condition_expression("#version = :expected AND #status <> :disconnecting"),
            )
            .build()
            .expect("update");
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        let before = current.health_status();
        next.consecutive_failures = 0;
        next = next.with_health(at);
        if before != HealthStatus::Ok {
            let detail = health_detail(before, HealthStatus::Ok, "reconnected");
            items.push(audit_put(&self.table, current, AuditAction::HealthChanged, Some(&detail)));
        }
        self.transact(items).await?.map_err(|_| StoreError::Conflict)?;
        Ok(next)
    }
}
