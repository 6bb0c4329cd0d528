//! Audit entries: who did what to which connection, automation or hook, and when. Written in
//! the same transaction as the change they describe where there is one; kept as long as the
//! user's plan keeps history (TTL).

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::attrs::{Item, get_s, get_ts, n, opt_s, s, ts};
use super::{Store, StoreError, keys, table};
use crate::domain::{Connection, ConnectionId, HealthStatus, IntegrationId, Plan, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Connected,
    Reconnected,
    SettingsChanged,
    Disconnected,
    /// The user declined the provider's consent screen (or the provider refused the sign-in).
    SignInDeclined,
    /// The connection's health moved between ok, attention and action-needed.
    HealthChanged,
    AutomationCreated,
    AutomationEnabled,
    AutomationDisabled,
    AutomationFailed,
    HookCreated,
    HookRemoved,
}

impl AuditAction {
    pub const ALL: [AuditAction; 12] = [
        AuditAction::Connected,
        AuditAction::Reconnected,
        AuditAction::SettingsChanged,
        AuditAction::Disconnected,
        AuditAction::SignInDeclined,
        AuditAction::HealthChanged,
        AuditAction::AutomationCreated,
        AuditAction::AutomationEnabled,
        AuditAction::AutomationDisabled,
        AuditAction::AutomationFailed,
        AuditAction::HookCreated,
        AuditAction::HookRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Connected => "connected",
            AuditAction::Reconnected => "reconnected",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::Disconnected => "disconnected",
            AuditAction::SignInDeclined => "sign_in_declined",
            AuditAction::HealthChanged => "health_changed",
            AuditAction::AutomationCreated => "automation_created",
            AuditAction::AutomationEnabled => "automation_enabled",
            AuditAction::AutomationDisabled => "automation_disabled",
            AuditAction::AutomationFailed => "automation_failed",
            AuditAction::HookCreated => "hook_created",
            AuditAction::HookRemoved => "hook_removed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// The detail of a `health_changed` entry: `attention → ok: a sync succeeded`.
pub(crate) fn health_detail(from: HealthStatus, to: HealthStatus, why: &str) -> String {
    format!("{} → {}: {why}", from.as_str(), to.as_str())
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    /// What else it is about (an automation or hook id), for entries not about a connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What an audit listing is narrowed to.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub connection: Option<ConnectionId>,
    pub action: Option<AuditAction>,
}

/// When an item written now for a user on `plan` may be deleted.
pub(crate) fn expires_at(plan: Plan, now: DateTime<Utc>) -> AttributeValue {
    n((now + plan.history_retention()).timestamp())
}

/// The audit entry of a change to `connection`, kept as long as its user's plan keeps history.
pub(crate) fn audit_put(
    table_name: &str,
    connection: &Connection,
    action: AuditAction,
    detail: Option<&str>,
) -> TransactWriteItem {
    let subject = Subject::Connection(&connection.connection_id, &connection.integration_id);
    audit_put_for(table_name, &connection.user_id, connection.plan, action, subject, detail)
}

/// What an entry is about.
pub enum Subject<'a> {
    Connection(&'a ConnectionId, &'a IntegrationId),
    /// An integration, before there is a connection (a declined sign-in).
    Integration(&'a IntegrationId),
    /// An automation or a hook, by id.
    Other(&'a str),
}

pub(crate) fn audit_put_for(
    table_name: &str,
    user: &UserId,
    plan: Plan,
    action: AuditAction,
    subject: Subject<'_>,
    detail: Option<&str>,
) -> TransactWriteItem {
    let now = Utc::now();
    let mut item = Item::from([
        (table::PK.into(), s(keys::user(user))),
        (table::SK.into(), s(format!("{AUDIT_PREFIX}{}", ulid::Ulid::new()))),
        ("entity".into(), s("audit")),
        ("userId".into(), s(user.as_str())),
        ("action".into(), s(action.as_str())),
        ("at".into(), ts(now)),
        (table::TTL_ATTRIBUTE.into(), expires_at(plan, now)),
    ]);
    match subject {
        Subject::Connection(connection, integration) => {
            item.insert("connectionId".into(), s(connection.as_str()));
            item.insert("integrationId".into(), s(integration.as_str()));
        }
        Subject::Integration(integration) => {
            item.insert("integrationId".into(), s(integration.as_str()));
        }
        Subject::Other(id) => {
            item.insert("subjectId".into(), s(id));
        }
    }
    if let Some(detail) = detail {
        item.insert("detail".into(), s(detail));
    }
    TransactWriteItem::builder()
        .put(Put::builder().table_name(table_name).set_item(Some(item)).build().expect("put"))
        .build()
}

const AUDIT_PREFIX: &str = "AUDIT#";

fn entry(item: &Item) -> Result<AuditEntry, StoreError> {
    let sk = get_s(item, table::SK)?;
    Ok(AuditEntry {
        id: sk.trim_start_matches(AUDIT_PREFIX).to_owned(),
        action: get_s(item, "action")?.to_owned(),
        connection_id: opt_s(item, "connectionId").map(str::to_owned),
        integration_id: opt_s(item, "integrationId").map(str::to_owned),
        subject_id: opt_s(item, "subjectId").map(str::to_owned),
        at: get_ts(item, "at")?,
        detail: opt_s(item, "detail").map(str::to_owned),
    })
}

impl Store {
    /// An audit entry on its own (for changes that are not a transaction of their own).
    pub async fn write_audit(
        &self,
        connection: &Connection,
        action: AuditAction,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.put_audit(audit_put(&self.table, connection, action, detail)).await
    }

    async fn put_audit(&self, put: TransactWriteItem) -> Result<(), StoreError> {
        let put = put.put.expect("an audit entry is a put");
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }

    /// The newest `limit` entries of the caller's audit trail.
    pub async fn audit_entries(&self, user: &UserId, limit: i32) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.audit_page(user, &AuditFilter::default(), limit, None).await?.0)
    }

    /// An audit entry on its own about something other than a connection (an automation, a hook).
    pub async fn write_audit_about(
        &self,
        user: &UserId,
        plan: Plan,
        action: AuditAction,
        subject: Subject<'_>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.put_audit(audit_put_for(&self.table, user, plan, action, subject, detail)).await
    }

    /// One page of the caller's audit trail, newest first: one Query. Filters narrow the page
    /// (so a page may hold fewer than `limit` entries and still have a next one).
    pub async fn audit_page(
        &self,
        user: &UserId,
        filter: &AuditFilter,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Vec<AuditEntry>, Option<String>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :audit)")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .expression_attribute_values(":audit", s(AUDIT_PREFIX))
            .scan_index_forward(false)
            .limit(limit);
        let mut filters = vec!["(attribute_not_exists(#expires) OR #expires > :now)".to_owned()];
        query = query
            .expression_attribute_names("#expires", table::TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(Utc::now().timestamp()));
        if let Some(connection) = &filter.connection {
            filters.push("connectionId = :connection".into());
            query = query.expression_attribute_values(":connection", s(connection.as_str()));
        }
        if let Some(action) = filter.action {
            filters.push("#action = :action".into());
            query = query
                .expression_attribute_names("#action", "action")
                .expression_attribute_values(":action", s(action.as_str()));
        }
        query = query.filter_expression(filters.join(" AND "));
        if let Some(cursor) = cursor {
            let sk = super::decode_cursor(cursor)
                .filter(|sk| sk.starts_with(AUDIT_PREFIX))
                .ok_or(StoreError::InvalidCursor)?;
            query = query.exclusive_start_key(table::PK, s(keys::user(user))).exclusive_start_key(table::SK, s(sk));
        }
        let out = query.send().await.map_err(StoreError::aws)?;
        let entries = out.items().iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get(table::SK))
            .and_then(|v| v.as_s().ok())
            .map(|sk| super::encode_cursor(sk));
        Ok((entries, next))
    }
}
