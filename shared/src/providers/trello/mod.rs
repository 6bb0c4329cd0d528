//! Trello REST API (https://developer.atlassian.com/cloud/trello/rest/).
//! Auth: API key + token in the `Authorization: OAuth …` header, so neither lands in a URL.

use super::ProviderError;
use super::action::{ActionCall, ActionError, Lookup, Performed};
use async_trait::async_trait;
use serde::Deserialize;

use super::{
    ActionSpec, Capabilities, ConnectorError, Param, Provider, RetryPolicy, Subscribed, SubscriptionCall,
    SyncConnector, VerifyError, field, read_json, send_with_retry,
};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::sync::{ConnectorConfig, RecordKind};
use crate::vault::Credentials;

mod actions;
mod sync;
pub use sync::TrelloConnector;

/// The catalog's credential fields of a Trello connection.
const API_KEY: &str = "apiKey";
const TOKEN: &str = "token";

pub struct Trello;

/// What automations can do in Trello (a token connected with write access).
static ACTIONS: [ActionSpec; 3] = [
    ActionSpec {
        id: "trello.createCard",
        receipt: "Created a card in Trello",
        params: &[
            Param::required("listId", "The list the card goes in"),
            Param::required("name", "The card's name"),
            Param::optional("due", "Due date and time, RFC 3339"),
            Param::optional("desc", "The card's description"),
        ],
        scope: Some("write"),
        calls: 1,
        minutes_saved: 3,
        premium: false,
    },
    ActionSpec {
        id: "trello.addComment",
        receipt: "Commented on a Trello card",
        params: &[Param::required("cardId", "The card"), Param::required("text", "The comment")],
        scope: Some("write"),
        calls: 1,
        minutes_saved: 1,
        premium: false,
    },
    ActionSpec {
        id: "trello.moveCard",
        receipt: "Moved a Trello card",
        params: &[Param::required("cardId", "The card"), Param::required("listId", "The list it moves to")],
        scope: Some("write"),
        calls: 1,
        minutes_saved: 1,
        premium: false,
    },
];

static CAPABILITIES: Capabilities = Capabilities {
    auth_modes: &[AuthMode::ApiKey],
    credential_fields: &[API_KEY, TOKEN],
    record_kinds: &[RecordKind::Task],
    sync: &[AuthMode::ApiKey],
    realtime: true,
    actions: &ACTIONS,
    write_scopes: &[],
    // "100 requests per 10 second interval for each token" (and 300 per 10 s per API key):
    // https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits
    budget: super::Budget::per(100, 10),
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

    /// A webhook on the member's model (`POST /1/webhooks`): Trello sends it what happens on
    /// the boards the member is on. Its callback URL names the subscription (`?s=`), and is
    /// signed with the body.
    async fn subscribe(&self, call: &SubscriptionCall<'_>) -> Result<Option<Subscribed>, ProviderError> {
        let auth = trello_auth(call.credentials)?;
        let url = format!("{}/1/webhooks", call.base);
        let body = serde_json::json!({
            "callbackURL": format!("{}?s={}", call.callback_url, call.key),
            "idModel": call.account.id,
            "description": "Director of One",
        });
        let response = send_with_retry(&RetryPolicy::default(), || {
            call.http.post(&url).header("Authorization", &auth).json(&body)
        })
        .await?;
        let made: TrelloWebhook = read_json(response, "Trello", "webhook").await?;
        Ok(Some(Subscribed {
            key: call.key.to_owned(),
            remote_id: Some(made.id),
            expires_on: None,
            uses_secret: false,
        }))
    }

    /// `DELETE /1/webhooks/{id}`.
    async fn unsubscribe(&self, call: &SubscriptionCall<'_>, remote_id: &str) -> Result<(), ProviderError> {
        let auth = trello_auth(call.credentials)?;
        let url = format!("{}/1/webhooks/{remote_id}", call.base);
        let response =
            send_with_retry(&RetryPolicy::default(), || call.http.delete(&url).header("Authorization", &auth)).await?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(ProviderError::Unexpected(super::Failure::http(
            status,
            format!("Trello answered HTTP {status} to the webhook delete"),
        )))
    }

    fn connector(
        &self,
        config: ConnectorConfig,
        credentials: &Credentials,
    ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
        Ok(Box::new(TrelloConnector::new(config, field(credentials, API_KEY)?, field(credentials, TOKEN)?)))
    }

    async fn perform(&self, action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        actions::perform(action, call).await
    }

    async fn find_performed(
        &self,
        action: &'static ActionSpec,
        call: &ActionCall<'_>,
    ) -> Result<Lookup, ProviderError> {
        actions::find_performed(action, call).await
    }
}

#[derive(Deserialize)]
struct TrelloWebhook {
    id: String,
}

fn trello_auth(credentials: &Credentials) -> Result<String, ProviderError> {
    let missing = |e: ConnectorError| ProviderError::Unexpected(e.to_string().into());
    Ok(auth_header(field(credentials, API_KEY).map_err(missing)?, field(credentials, TOKEN).map_err(missing)?))
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
