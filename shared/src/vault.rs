//! Credentials in Secrets Manager: one secret per connection, `{prefix}/{userId}/{connectionId}`.
//! Values are `SecretString`s; nothing here logs or formats them.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::domain::{ConnectionId, UserId};

/// What a connection authenticates with.
pub enum Credentials {
    /// The fields of an API-key connect form (`apiKey`, `token`, `webhookUrl`, …).
    ApiKey(BTreeMap<String, SecretString>),
}

impl Credentials {
    pub fn field(&self, name: &str) -> Option<&str> {
        match self {
            Credentials::ApiKey(fields) => fields.get(name).map(|v| v.expose_secret()),
        }
    }

    fn to_secret_json(&self) -> SecretString {
        let value = match self {
            Credentials::ApiKey(fields) => {
                let fields: Map<String, Value> =
                    fields.iter().map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_owned()))).collect();
                json!({ "kind": "api_key", "fields": fields })
            }
        };
        SecretString::from(value.to_string())
    }

    fn from_secret_json(raw: &str) -> Result<Self, VaultError> {
        let value: Value = serde_json::from_str(raw).map_err(|_| VaultError::Unreadable)?;
        match value.get("kind").and_then(Value::as_str) {
            Some("api_key") => {
                let fields = value
                    .get("fields")
                    .and_then(Value::as_object)
                    .ok_or(VaultError::Unreadable)?
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), SecretString::from(v.as_str()?.to_owned()))))
                    .collect();
                Ok(Credentials::ApiKey(fields))
            }
            _ => Err(VaultError::Unreadable),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the secret does not exist")]
    NotFound,
    #[error("the secret's value is not in the expected format")]
    Unreadable,
    #[error("Secrets Manager request failed: {0}")]
    Aws(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn aws<E: std::error::Error + Send + Sync + 'static>(e: E) -> VaultError {
    VaultError::Aws(Box::new(e))
}

#[derive(Clone)]
pub struct Vault {
    client: Client,
    prefix: String,
}

impl Vault {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self { client, prefix: prefix.into().trim_end_matches('/').to_owned() }
    }

    pub fn secret_name(&self, user: &UserId, connection: &ConnectionId) -> String {
        format!("{}/{user}/{connection}", self.prefix)
    }

    /// Creates the connection's secret and returns its name.
    pub async fn create(
        &self,
        user: &UserId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<String, VaultError> {
        let name = self.secret_name(user, connection);
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        self.client
            .create_secret()
            .name(&name)
            .description("Director of One integration credential")
            .secret_string(credentials.to_secret_json().expose_secret())
            .tags(tag("userId", user.as_str()))
            .tags(tag("connectionId", connection.as_str()))
            .send()
            .await
            .map_err(aws)?;
        Ok(name)
    }

    pub async fn read(&self, secret_id: &str) -> Result<Credentials, VaultError> {
        let out = self.client.get_secret_value().secret_id(secret_id).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                VaultError::NotFound
            } else {
                aws(e)
            }
        })?;
        Credentials::from_secret_json(out.secret_string().ok_or(VaultError::Unreadable)?)
    }

    /// Deletes the secret at once (no recovery window: the connection is gone). A secret that
    /// is already gone counts as deleted, so a repeated disconnect finishes cleanly.
    pub async fn delete(&self, secret_id: &str) -> Result<(), VaultError> {
        match self.client.delete_secret().secret_id(secret_id).force_delete_without_recovery(true).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(aws(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_credentials_survive_the_round_trip_through_json() {
        let creds = Credentials::ApiKey(BTreeMap::from([
            ("apiKey".to_owned(), SecretString::from("k1")),
            ("token".to_owned(), SecretString::from("t1")),
        ]));
        let back = Credentials::from_secret_json(creds.to_secret_json().expose_secret()).unwrap();
        assert_eq!(back.field("apiKey"), Some("k1"));
        assert_eq!(back.field("token"), Some("t1"));
    }

    #[test]
    fn an_unknown_secret_format_is_reported_not_guessed() {
        assert!(matches!(Credentials::from_secret_json("{\"kind\":\"x\"}"), Err(VaultError::Unreadable)));
        assert!(matches!(Credentials::from_secret_json("not json"), Err(VaultError::Unreadable)));
    }
}
