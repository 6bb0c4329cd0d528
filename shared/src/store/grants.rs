//! Who holds a shared OAuth grant: one item per grant (`GRANT#{provider family or workspace}#…`)
//! with the set of connections, of any user, that hold it. Connect adds the connection in its
//! transaction; disconnect takes it out and learns, atomically, whether it was the last holder.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};

use super::attrs::s;
use super::{Store, StoreError, keys, table};
use crate::domain::{Connection, ConnectionId};
use crate::providers::Registry;

const HOLDERS: &str = "holders";

/// What a disconnecting connection learns when it lets go of a shared grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantRelease {
    /// No other connection holds it: it may be revoked.
    LastHolder,
    /// Another connection holds it too.
    StillHeld,
    /// The connection was not listed as a holder (stored before holders were kept, or a repeated
    /// disconnect): whether others hold the grant is not known.
    NotListed,
}

/// The grant `connection` holds with other connections, if any (see `Provider::shared_grant`).
pub fn shared_grant(connection: &Connection) -> Option<String> {
    Registry::get().find(connection.integration_id.as_str())?.shared_grant(&connection.account)
}

fn holder(connection: &ConnectionId) -> AttributeValue {
    AttributeValue::Ss(vec![connection.to_string()])
}

/// The connect transaction's part: `connection` holds `grant`.
pub(super) fn hold_grant(table_name: &str, grant: &str, connection: &ConnectionId) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(table_name)
        .key(table::PK, s(keys::grant(grant)))
        .key(table::SK, s(keys::GRANT))
        .update_expression("ADD #holders :me")
        .expression_attribute_names("#holders", HOLDERS)
        .expression_attribute_values(":me", holder(connection))
        .build()
        .expect("update");
    TransactWriteItem::builder().update(update).build()
}

impl Store {
    /// Whether any connection holds `grant`.
    pub async fn grant_is_held(&self, grant: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::grant(grant)))
            .key(table::SK, s(keys::GRANT))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(out.item().and_then(|i| i.get(HOLDERS)).and_then(|h| h.as_ss().ok()).is_some_and(|h| !h.is_empty()))
    }

    /// `connection` no longer holds `grant`; says whether it was the last holder. Of two
    /// holders letting go at once, exactly one is the last.
    pub async fn release_grant(&self, grant: &str, connection: &ConnectionId) -> Result<GrantRelease, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::PK, s(keys::grant(grant)))
            .key(table::SK, s(keys::GRANT))
            .update_expression("DELETE #holders :me")
            .condition_expression("contains(#holders, :id)")
            .expression_attribute_names("#holders", HOLDERS)
            .expression_attribute_values(":me", holder(connection))
            .expression_attribute_values(":id", s(connection.as_str()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let Some(out) = super::unless_condition_failed(result)? else { return Ok(GrantRelease::NotListed) };
        let others = out.attributes().and_then(|a| a.get(HOLDERS)).and_then(|h| h.as_ss().ok());
        Ok(if others.is_some_and(|h| !h.is_empty()) { GrantRelease::StillHeld } else { GrantRelease::LastHolder })
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::Account;
    use crate::providers::Registry;

    fn grant(provider: &str, id: &str, workspace: Option<&str>) -> Option<String> {
        let account = Account { id: id.into(), name: "someone".into(), workspace: workspace.map(str::to_owned) };
        Registry::get().find(provider).unwrap().shared_grant(&account)
    }

    #[test]
    fn google_integrations_share_the_account_grant_and_slack_users_share_the_workspace() {
        assert_eq!(grant("google-calendar", "1234", Some("example.com")).as_deref(), Some("GOOGLE#1234"));
        assert_eq!(grant("google-drive", "1234", None), grant("google-calendar", "1234", None));
        assert_ne!(grant("google-drive", "1234", None), grant("google-drive", "5678", None));
        assert_eq!(grant("slack", "T01:U01", Some("Acme")).as_deref(), Some("slack#T01"));
        assert_eq!(grant("slack", "T01:U02", Some("Acme")), grant("slack", "T01:U01", Some("Acme")));
        assert_eq!(grant("trello", "member", None), None, "a Trello token is the connection's own");
        assert_eq!(grant("asana", "1", None), None);
    }
}
