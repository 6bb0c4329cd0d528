//! Credentials in Secrets Manager: one secret per connection, `{prefix}/{userId}/{connectionId}`,
//! tagged with its user and connection. Values are `SecretString`s; nothing here logs or formats
//! them.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::domain::{ConnectionId, UserId};
use crate::standard_webhooks::SigningSecret;

/// What a connection authenticates with.
pub enum Credentials {
    /// The fields of an API-key connect form (`apiKey`, `token`, `webhookUrl`, …).
    ApiKey(BTreeMap<String, SecretString>),
    /// An OAuth token set, stored as one value so a rotated refresh token is never separated
    /// from its access token.
    OAuth(TokenSet),
}

/// OAuth tokens as the provider granted them.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

impl TokenSet {
    /// Whether the access token expires within `margin` (tokens without an expiry never do).
    pub fn expires_within(&self, margin: chrono::Duration, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now + margin)
    }
}

impl Credentials {
    pub fn field(&self, name: &str) -> Option<&str> {
        match self {
            Credentials::ApiKey(fields) => fields.get(name).map(|v| v.expose_secret()),
            Credentials::OAuth(_) => None,
        }
    }

    /// The OAuth access token (`None` for a token connection).
    pub fn access_token(&self) -> Option<&str> {
        match self {
            Credentials::ApiKey(_) => None,
            Credentials::OAuth(tokens) => Some(tokens.access_token.expose_secret()),
        }
    }

    fn to_secret_json(&self) -> SecretString {
        let value = match self {
            Credentials::ApiKey(fields) => {
                let fields: Map<String, Value> =
                    fields.iter().map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_owned()))).collect();
                json!({ "kind": "api_key", "fields": fields })
            }
            Credentials::OAuth(t) => json!({
                "kind": "oauth2",
                "accessToken": t.access_token.expose_secret(),
                "refreshToken": t.refresh_token.as_ref().map(|r| r.expose_secret().to_owned()),
                "expiresAt": t.expires_at.map(|at| at.to_rfc3339()),
                "scopes": t.scopes,
            }),
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
            Some("oauth2") => {
                let text = |name: &str| value.get(name).and_then(Value::as_str);
                Ok(Credentials::OAuth(TokenSet {
                    access_token: SecretString::from(text("accessToken").ok_or(VaultError::Unreadable)?.to_owned()),
                    refresh_token: text("refreshToken").map(|r| SecretString::from(r.to_owned())),
                    expires_at: text("expiresAt")
                        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                        .map(|at| at.with_timezone(&Utc)),
                    scopes: value
                        .get("scopes")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                }))
            }
            _ => Err(VaultError::Unreadable),
        }
    }
}

/// A connection secret as listed (never its value): its name, when it was created, and the
/// connection its tags name (`None` when the tags are missing or not ids).
#[derive(Debug, Clone)]
pub struct ListedSecret {
    pub name: String,
    pub created: Option<DateTime<Utc>>,
    pub connection: Option<(UserId, ConnectionId)>,
}

/// The tags that name a secret's connection.
const USER_TAG: &str = "userId";
const CONNECTION_TAG: &str = "connectionId";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the secret does not exist")]
    NotFound,
    #[error("the secret's value is not in the expected format")]
    Unreadable,
    #[error("Secrets Manager request failed")]
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
            .tags(tag(USER_TAG, user.as_str()))
            .tags(tag(CONNECTION_TAG, connection.as_str()))
            .send()
            .await
            .map_err(aws)?;
        Ok(name)
    }

    /// Replaces the secret's value (a refreshed token set), in one write.
    pub async fn put(&self, secret_id: &str, credentials: &Credentials) -> Result<(), VaultError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(credentials.to_secret_json().expose_secret())
            .send()
            .await
            .map_err(aws)?;
        Ok(())
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

    /// The name of a signing secret (a hook's, an automation's webhook steps'): under
    /// `{prefix}/signing/`, apart from the connection secrets.
    pub fn signing_secret_name(&self, user: &UserId, owner: &str) -> String {
        format!("{}/signing/{user}/{owner}", self.prefix)
    }

    /// Stores a new signing secret. `Ok(false)` if one exists already under that name (it is
    /// kept, and never shown again).
    pub async fn create_signing_secret(&self, name: &str, secret: &SigningSecret) -> Result<bool, VaultError> {
        let result = self
            .client
            .create_secret()
            .name(name)
            .description("Director of One webhook signing secret")
            .secret_string(secret.expose())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_exists_exception()) => Ok(false),
            Err(e) => Err(aws(e)),
        }
    }

    pub async fn read_signing_secret(&self, name: &str) -> Result<SigningSecret, VaultError> {
        let out = self.client.get_secret_value().secret_id(name).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                VaultError::NotFound
            } else {
                aws(e)
            }
        })?;
        SigningSecret::parse(out.secret_string().ok_or(VaultError::Unreadable)?).map_err(|_| VaultError::Unreadable)
    }

    /// Every connection secret of this deployment (the names under its prefix), page by page
    /// (ListSecrets with a name filter).
    pub async fn list(&self) -> Result<Vec<ListedSecret>, VaultError> {
        // Signing secrets are not connection secrets: their owners (hooks, automations) delete them.
        let signing = format!("{}/signing/", self.prefix);
        let all = self.list_under(format!("{}/", self.prefix)).await?;
        Ok(all.into_iter().filter(|s| !s.name.starts_with(&signing)).collect())
    }

    /// The user's secrets: its connections' (named `{prefix}/{userId}/…`) and its hooks' and
    /// automations' signing secrets (`{prefix}/signing/{userId}/…`); what the name filters find,
    /// not a listing of everyone's.
    pub async fn list_of(&self, user: &UserId) -> Result<Vec<ListedSecret>, VaultError> {
        let mut listed = self.list_under(format!("{}/{user}/", self.prefix)).await?;
        listed.extend(self.list_under(format!("{}/signing/{user}/", self.prefix)).await?);
        Ok(listed)
    }

    async fn list_under(&self, prefix: String) -> Result<Vec<ListedSecret>, VaultError> {
        let filter = Filter::builder().key(FilterNameStringType::Name).values(&prefix).build();
        let mut pages = self.client.list_secrets().filters(filter).max_results(100).into_paginator().send();
        let mut listed = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws)?;
            // The filter is a prefix match that AWS applies without regard to case.
            let ours = page.secret_list().iter().filter(|s| s.name().is_some_and(|n| n.starts_with(&prefix)));
            listed.extend(ours.map(|s| {
                let tag = |key: &str| s.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value());
                let user = tag(USER_TAG).and_then(|u| UserId::parse(u).ok());
                let connection = tag(CONNECTION_TAG).and_then(|c| ConnectionId::parse(c).ok());
                ListedSecret {
                    name: s.name().unwrap_or_default().to_owned(),
                    created: s.created_date().and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos())),
                    connection: user.zip(connection),
                }
            }));
        }
        Ok(listed)
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
    fn an_oauth_token_set_keeps_access_and_refresh_tokens_together() {
        let creds = Credentials::OAuth(TokenSet {
            access_token: SecretString::from("at"),
            refresh_token: Some(SecretString::from("rt")),
            expires_at: Some("2026-11-29T10:00:00Z".parse().unwrap()),
            scopes: vec!["a".into(), "b".into()],
        });
        let Credentials::OAuth(back) = Credentials::from_secret_json(creds.to_secret_json().expose_secret()).unwrap()
        else {
            panic!("expected oauth");
        };
        assert_eq!(back.access_token.expose_secret(), "at");
        assert_eq!(back.refresh_token.unwrap().expose_secret(), "rt");
        assert_eq!(back.scopes, ["a", "b"]);
        assert!(back.expires_at.is_some());
    }

    #[test]
    fn an_unknown_secret_format_is_reported_not_guessed() {
        assert!(matches!(Credentials::from_secret_json("{\"kind\":\"x\"}"), Err(VaultError::Unreadable)));
        assert!(matches!(Credentials::from_secret_json("not json"), Err(VaultError::Unreadable)));
    }
}
