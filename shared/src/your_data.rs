//! The caller's data: all of it as JSON (no secret), and "delete me", which removes every
//! connection through the ordinary disconnect (revoking at the provider) and then everything
//! else of the caller in the table and in Secrets Manager.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::config::AppState;
use crate::connections::{ConnectionError, disconnect};
use crate::domain::Connection;
use crate::store::StoreError;
use crate::store::attrs::{Item, get_s};
use crate::store::table;
use crate::vault::VaultError;

/// Attributes that are keys, index entries, leases or secret references: never exported.
const INTERNAL: [&str; 10] = [
    table::PK,
    table::GSI1PK,
    table::GSI1SK,
    table::GSI2PK,
    table::GSI2SK,
    "secretId",
    "refreshLeaseOwner",
    "refreshLeaseUntil",
    "verifier",
    "bindingHash",
];

/// The family an item belongs to, by its sort key, as the export names it.
fn family(sk: &str) -> &'static str {
    match sk.split('#').next().unwrap_or_default() {
        "CONN" => "connections",
        "REC" => "items",
        "SYNC" => "syncRuns",
        "AUTO" => "automations",
        "AUTORUN" => "automationRuns",
        "ACTION" => "actionReceipts",
        "AUDIT" => "audit",
        "DAY" => "dailyActivity",
        "PROFILE" => "profile",
        "HOOK" => "hooks",
        "HOOKD" => "hookDeliveries",
        "SUB" => "subscriptions",
        "USAGE" => "usage",
        "STATE" => "openSignIns",
        "ACCOUNT" => "accounts",
        _ => "other",
    }
}

fn json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => serde_json::from_str(n).unwrap_or_else(|_| Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(list) => Value::Array(list.iter().map(json).collect()),
        AttributeValue::M(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), json(v))).collect()),
        AttributeValue::Ss(set) => Value::from(set.clone()),
        AttributeValue::Ns(set) => Value::Array(set.iter().map(|n| json(&AttributeValue::N(n.clone()))).collect()),
        _ => Value::Null,
    }
}

fn exported(item: &Item) -> Value {
    let mut out = Map::new();
    for (name, value) in item {
        let secretive = name.to_ascii_lowercase().contains("secret") || name.to_ascii_lowercase().contains("token");
        if INTERNAL.contains(&name.as_str()) || secretive {
            continue;
        }
        out.insert(name.clone(), json(value));
    }
    Value::Object(out)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub user_id: String,
    pub exported_at: chrono::DateTime<chrono::Utc>,
    /// The connections as the API shows them.
    pub connections: Vec<Connection>,
    /// Everything else, by family (items, syncRuns, automations, automationRuns, audit, …).
    pub data: BTreeMap<&'static str, Vec<Value>>,
}

/// All of the caller's data: one paged Query of their partition.
pub async fn export(state: &AppState, caller: &Caller) -> Result<Export, StoreError> {
    let items = state.store.user_items(&caller.user_id).await?;
    let mut connections = Vec::new();
    let mut data: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    for item in &items {
        match family(get_s(item, table::SK)?) {
            "connections" => connections.push(crate::store::connection_from_item(item)?),
            kind => data.entry(kind).or_default().push(exported(item)),
        }
    }
    Ok(Export { user_id: caller.user_id.to_string(), exported_at: crate::store::attrs::now(), connections, data })
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteMeError {
    #[error("a connection could not be removed: {0}")]
    Connection(#[source] ConnectionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What "delete me" removed.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub connections: usize,
    pub items: usize,
    pub secrets: usize,
}

/// Removes the caller: each connection through the disconnect (revoke, secret, synced data),
/// then every other item and any secret left under their name. A failure part way leaves the
/// rest for a repeated request, which finishes it.
#[tracing::instrument(skip_all, fields(user = %caller.user_id))]
pub async fn delete_me(state: &AppState, caller: &Caller) -> Result<Deleted, DeleteMeError> {
    let mut deleted = Deleted::default();
    for connection in state.store.list_connections(&caller.user_id).await? {
        match disconnect(state, caller, &connection.connection_id).await {
            Ok(()) | Err(ConnectionError::NotFound) => deleted.connections += 1,
            Err(e) => return Err(DeleteMeError::Connection(e)),
        }
    }
    for secret in state.vault.list_of(&caller.user_id).await? {
        state.vault.delete(&secret.name).await?;
        deleted.secrets += 1;
    }
    deleted.items = state.store.delete_user_items(&caller.user_id).await?;
    tracing::info!(connections = deleted.connections, items = deleted.items, "the user's data was deleted");
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_leases_and_anything_secret_are_left_out_of_an_export() {
        let item = Item::from([
            (table::PK.to_owned(), AttributeValue::S("USER#ada".into())),
            (table::SK.to_owned(), AttributeValue::S("HOOK#1".into())),
            ("secretId".to_owned(), AttributeValue::S("prefix/ada/1".into())),
            ("signingSecret".to_owned(), AttributeValue::S("whsec_x".into())),
            ("accessToken".to_owned(), AttributeValue::S("t".into())),
            ("refreshLeaseOwner".to_owned(), AttributeValue::S("o".into())),
            ("count".to_owned(), AttributeValue::N("3".into())),
        ]);
        assert_eq!(exported(&item), serde_json::json!({ "SK": "HOOK#1", "count": 3 }));
        assert_eq!(family("HOOKD#1#2"), "hookDeliveries");
        assert_eq!(family("AUTORUN#1#2"), "automationRuns");
    }
}
