//! Trello REST API (https://developer.atlassian.com/cloud/trello/rest/).
//! Auth: API key + token in the `Authorization: OAuth …` header, so neither lands in a URL.

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    Capabilities, ConnectorError, Provider, RetryPolicy, SyncConnector, VerifyError, field, read_json, send_with_retry,
};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::sync::{ConnectorConfig, RecordKind};
use crate::vault::Credentials;

mod sync;
pub use sync::TrelloConnector;

/// The catalog's credential fields of a Trello connection.
const API_KEY: &str = "apiKey";
const TOKEN: &str = "token";

pub struct Trello;

static CAPABILITIES: Capabilities = Capabilities {
    auth_modes: &[AuthMode::ApiKey],
    credential_fields: &[API_KEY, TOKEN],
    record_kinds: &[RecordKind::Task],
    sync: &[AuthMode::ApiKey],
    realtime: false,
    actions: &[],
};

#[async_trait]
impl Provider for Trello {
    fn id(&self) -> &'static str {
        "trello"
    }

    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    async fn verify(
        &self,
        http: &reqwest::Client,
        base: &str,
        credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        verify(http, base, field(credentials, API_KEY)?, field(credentials, TOKEN)?).await
    }

    fn connector(
        &self,
        config: ConnectorConfig,
        credentials: &Credentials,
    ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
        Ok(Box::new(TrelloConnector::new(config, field(credentials, API_KEY)?, field(credentials, TOKEN)?)))
    }
}

pub(crate) fn auth_header(key: &str, token: &str) -> String {
    format!("OAuth oauth_consumer_key=\"{key}\", oauth_token=\"{token}\"")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    id: String,
    username: String,
    #[serde(default)]
    full_name: Option<String>,
}

/// `GET /1/members/me`: whose token this is.
pub async fn verify(http: &reqwest::Client, base: &str, key: &str, token: &str) -> Result<Account, VerifyError> {
    let url = format!("{base}/1/members/me");
    let response = send_with_retry(&RetryPolicy::default(), || {
        http.get(&url)
            .query(&[("fields", "id,username,fullName")])
            .header(reqwest::header::AUTHORIZATION, auth_header(key, token))
    })
    .await?;
    if response.status() == reqwest::StatusCode::BAD_REQUEST {
        return Err(VerifyError::Rejected("Trello did not accept the API key or token".into()));
    }
    let member: Member = read_json(response, "Trello", "member").await?;
    Ok(Account {
        id: member.id,
        name: member.full_name.filter(|n| !n.is_empty()).unwrap_or_else(|| member.username.clone()),
        workspace: Some(format!("@{}", member.username)),
    })
}
