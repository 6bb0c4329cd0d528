//! Audit entries: who did what to which connection, and when. Written in the same
//! transaction as the change they describe; kept for a year (TTL).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::attrs::{Item, get_s, get_ts, n, opt_s, s, ts};
use super::{Store, StoreError, keys, table};
use crate::domain::{ConnectionId, IntegrationId, UserId};

const RETENTION_DAYS: i64 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Connected,
    Reconnected,
    SettingsChanged,
    Disconnected,
}

impl AuditAction {
    fn as_str(self) -> &'static str {
        match self {
            AuditAction::Connected => "connected",
            AuditAction::Reconnected => "reconnected",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::Disconnected => "disconnected",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub user_id: UserId,
    pub action: String,
    pub connection_id: String,
    pub integration_id: String,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

pub(crate) fn audit_put(
    table_name: &str,
    user: &UserId,
    action: AuditAction,
    connection: &ConnectionId,
    integration: &IntegrationId,
    detail: Option<&str>,
) -> TransactWriteItem {
    let now = Utc::now();
    let mut item = Item::from([
        (table::PK.into(), s(keys::user(user))),
        (table::SK.into(), s(format!("AUDIT#{}", ulid::Ulid::new()))),
        ("userId".into(), s(user.as_str())),
        ("action".into(), s(action.as_str())),
        ("connectionId".into(), s(connection.as_str())),
        ("integrationId".into(), s(integration.as_str())),
        ("at".into(), ts(now)),
        (table::TTL_ATTRIBUTE.into(), n(now.timestamp() + RETENTION_DAYS * 86_400)),
    ]);
    if let Some(detail) = detail {
        item.insert("detail".into(), s(detail));
    }
    TransactWriteItem::builder()
        .put(Put::builder().table_name(table_name).set_item(Some(item)).build().expect("put"))
        .build()
}

impl Store {
    /// An audit entry on its own (for changes that are not a transaction of their own).
    pub async fn write_audit(
        &self,
        user: &UserId,
        action: AuditAction,
        connection: &ConnectionId,
        integration: &IntegrationId,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let put = audit_put(&self.table, user, action, connection, integration, detail);
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

    /// The caller's audit trail, newest first.
    pub async fn audit_entries(&self, user: &UserId, limit: i32) -> Result<Vec<AuditEntry>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :audit)")
            .expression_attribute_values(":pk", s(keys::user(user)))
            .expression_attribute_values(":audit", s("AUDIT#"))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.items()
            .iter()
            .map(|item| {
                Ok(AuditEntry {
                    user_id: user.clone(),
                    action: get_s(item, "action")?.to_owned(),
                    connection_id: get_s(item, "connectionId")?.to_owned(),
                    integration_id: get_s(item, "integrationId")?.to_owned(),
                    at: get_ts(item, "at")?,
                    detail: opt_s(item, "detail").map(str::to_owned),
                })
            })
            .collect()
    }
}
