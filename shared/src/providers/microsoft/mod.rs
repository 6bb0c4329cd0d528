//! Microsoft Graph: whose account an OAuth grant belongs to (`GET /me`), the sync of Teams
//! channel messages (`teams.rs`), and message bodies as plain text. Auth: the OAuth access token
//! as a bearer token.

use super::action::{ActionCall, ActionError, Performed, send_write};
use async_trait::async_trait;
use serde::Deserialize;

use super::{
    ActionSpec, Capabilities, ConnectorError, Param, Provider, ProviderError, RetryPolicy, Subscribed,
    SubscriptionCall, SyncConnector, VerifyError, bearer, field, read_json, send_with_retry, webhook,
};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::oauth::OAuthClient;
use crate::sync::{ConnectorConfig, RecordKind};
use crate::vault::Credentials;

pub mod teams;

/// The catalog's credential field of a token connection: a channel's incoming webhook URL.
const WEBHOOK_URL: &str = "webhookUrl";

/// Microsoft Teams: signed in through Microsoft Graph (channel messages to sync), or an incoming
/// webhook of one channel (posts only: nothing to sync).
pub struct MicrosoftTeams;

/// What automations can do in Teams: a card through the connection's incoming webhook, or a
/// channel message through Graph where the connection signed in.
static ACTIONS: [ActionSpec; 3] = [
    ActionSpec {
        id: "teams.postCard",
        receipt: "Posted a card in Teams",
        params: &[Param::required("title", "The card's title"), Param::required("text", "The card's text")],
        scope: None,
        calls: 1,
        minutes_saved: 2,
        premium: false,
    },
    ActionSpec {
        id: "teams.postChannelMessage",
        receipt: "Posted a message in a Teams channel",
        params: &[
            Param::required("teamId", "The team's id"),
            Param::required("channelId", "The channel's id"),
            Param::required("text", "The message"),
        ],
        scope: Some("ChannelMessage.Send"),
        calls: 1,
        minutes_saved: 2,
        premium: false,
    },
    ActionSpec {
        id: "teams.postAgenda",
        receipt: "Posted your day's agenda in Teams",
        params: &[Param::optional("intro", "A line before the agenda")],
        scope: None,
        calls: 1,
        minutes_saved: 10,
        premium: false,
    },
];

static CAPABILITIES: Capabilities = Capabilities {
    auth_modes: &[AuthMode::Oauth2, AuthMode::ApiKey],
    credential_fields: &[WEBHOOK_URL],
    record_kinds: &[RecordKind::Message],
    sync: &[AuthMode::Oauth2],
    realtime: true,
    actions: &ACTIONS,
    write_scopes: &[super::WriteScope {
        scope: "ChannelMessage.Send",
        allows: "post messages in your Microsoft Teams channels",
    }],
    // Teams service limits, per app per tenant: GET channel message 5 rps, POST channel
    // message 2 rps, and at most 4 requests a second on one team or channel. The posts' 2 a
    // second bind, with the channel's 4 as the burst:
    // https://learn.microsoft.com/graph/throttling-limits#microsoft-teams-service-limits
    budget: super::Budget { capacity: 4, refill: 2, per_seconds: 1 },
};

#[async_trait]
impl Provider for MicrosoftTeams {
    fn id(&self) -> &'static str {
        "microsoft-teams"
    }

    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    /// `MICROSOFT_CLIENT_ID` and the rest serve it (as the fakes' settings and the README say).
    fn oauth_client_family(&self) -> Option<&'static str> {
        Some("MICROSOFT")
    }

    /// An incoming webhook is checked by its form (the catalog's pattern): posting to it to
    /// check it would post into the user's channel.
    async fn verify(
        &self,
        _http: &reqwest::Client,
        _base: &str,
        credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        Ok(webhook::account(field(credentials, WEBHOOK_URL)?))
    }

    async fn oauth_account(
        &self,
        http: &reqwest::Client,
        base: &str,
        _client: &OAuthClient,
        credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        me(http, base, bearer(credentials, "access_token")?).await
    }

    /// A Graph subscription to the channel messages of the user's teams (`POST
    /// /subscriptions`), with its lifecycle notifications to the same URL. Only a signed-in
    /// connection has one.
    async fn subscribe(&self, call: &SubscriptionCall<'_>) -> Result<Option<Subscribed>, ProviderError> {
        let Credentials::OAuth(_) = call.credentials else { return Ok(None) };
        let token =
            bearer(call.credentials, "access_token").map_err(|e| ProviderError::Unexpected(e.to_string().into()))?;
        let url = format!("{}/subscriptions", call.base);
        let body = serde_json::json!({
            "changeType": "created,updated,deleted",
            "notificationUrl": call.callback_url,
            "lifecycleNotificationUrl": call.callback_url,
            "resource": "/teams/getAllMessages",
            "expirationDateTime": graph_time(call.now + SUBSCRIPTION_LIFETIME),
            "clientState": call.secret,
        });
        let response =
            send_with_retry(&RetryPolicy::default(), || call.http.post(&url).bearer_auth(token).json(&body)).await?;
        let made: GraphSubscription = read_json(response, "Microsoft Graph", "subscription").await?;
        Ok(Some(made.subscribed()))
    }

    /// `PATCH /subscriptions/{id}` with a new expiry.
    async fn renew(&self, call: &SubscriptionCall<'_>, remote_id: &str) -> Result<Subscribed, ProviderError> {
        let token =
            bearer(call.credentials, "access_token").map_err(|e| ProviderError::Unexpected(e.to_string().into()))?;
        let url = format!("{}/subscriptions/{remote_id}", call.base);
        let body = serde_json::json!({ "expirationDateTime": graph_time(call.now + SUBSCRIPTION_LIFETIME) });
        let response =
            send_with_retry(&RetryPolicy::default(), || call.http.patch(&url).bearer_auth(token).json(&body)).await?;
        let renewed: GraphSubscription = read_json(response, "Microsoft Graph", "subscription").await?;
        Ok(renewed.subscribed())
    }

    /// `DELETE /subscriptions/{id}`.
    async fn unsubscribe(&self, call: &SubscriptionCall<'_>, remote_id: &str) -> Result<(), ProviderError> {
        let token =
            bearer(call.credentials, "access_token").map_err(|e| ProviderError::Unexpected(e.to_string().into()))?;
        let url = format!("{}/subscriptions/{remote_id}", call.base);
        let response = send_with_retry(&RetryPolicy::default(), || call.http.delete(&url).bearer_auth(token)).await?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(ProviderError::Unexpected(super::Failure::http(
            status,
            format!("Microsoft Graph answered HTTP {status} to the subscription delete"),
        )))
    }

    fn connector(
        &self,
        config: ConnectorConfig,
        credentials: &Credentials,
    ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
        match credentials {
            Credentials::OAuth(tokens) => {
                use secrecy::ExposeSecret;
                Ok(Box::new(teams::TeamsConnector::new(config, tokens.access_token.expose_secret())))
            }
            Credentials::ApiKey(_) => Err(ConnectorError::NothingToSync),
        }
    }

    /// A card through the connection's incoming webhook, or a channel message through Graph.
    async fn perform(&self, action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        match action.id {
            "teams.postCard" | "teams.postAgenda" => {
                let url = field(call.credentials, WEBHOOK_URL).map_err(|_| ActionError::Unsupported(action.id))?;
                let title = call.optional("title").unwrap_or("Your day");
                webhook::post(call.http, url, &webhook::adaptive_card(title, call.param("text")?)).await
            }
            "teams.postChannelMessage" => {
                let token =
                    bearer(call.credentials, "access_token").map_err(|_| ActionError::Unsupported(action.id))?;
                let url = format!(
                    "{}/teams/{}/channels/{}/messages",
                    call.base,
                    path_segment(call.param("teamId")?),
                    path_segment(call.param("channelId")?)
                );
                let body = serde_json::json!({"body": {"contentType": "text", "content": call.param("text")?}});
                let response = send_write(call.http.post(url).bearer_auth(token).json(&body)).await?;
                #[derive(serde::Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Message {
                    id: String,
                    #[serde(default)]
                    web_url: Option<String>,
                }
                let message: Message =
                    read_json(response, "Microsoft Teams", "channel message").await.map_err(ActionError::Uncertain)?;
                Ok(Performed { id: Some(message.id), url: message.web_url, title: None })
            }
            other => Err(ActionError::Unsupported(other)),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    user_principal_name: Option<String>,
    #[serde(default)]
    mail: Option<String>,
}

/// How long a Graph subscription is asked to last: Teams messages allow at most an hour without
/// resource data; the scheduler renews it before.
const SUBSCRIPTION_LIFETIME: chrono::Duration = chrono::Duration::minutes(60);

fn graph_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphSubscription {
    id: String,
    expiration_date_time: chrono::DateTime<chrono::Utc>,
}

impl GraphSubscription {
    fn subscribed(self) -> Subscribed {
        Subscribed {
            key: self.id.clone(),
            remote_id: Some(self.id),
            expires_on: Some(self.expiration_date_time),
            uses_secret: true,
        }
    }
}

pub async fn me(http: &reqwest::Client, graph_base: &str, token: &str) -> Result<Account, VerifyError> {
    let url = format!("{graph_base}/me");
    let response = send_with_retry(&RetryPolicy::default(), || http.get(&url).bearer_auth(token)).await?;
    let me: Me = read_json(response, "Microsoft Graph", "me").await?;
    let login = me.mail.or(me.user_principal_name);
    Ok(Account {
        name: me.display_name.or_else(|| login.clone()).unwrap_or_else(|| me.id.clone()),
        workspace: login.and_then(|l| l.split_once('@').map(|(_, domain)| domain.to_owned())),
        id: me.id,
    })
}

/// The text of an HTML body: tags dropped (block ends become spaces), the common entities
/// decoded, whitespace collapsed.
pub(crate) fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close].trim_start_matches('/').to_ascii_lowercase();
        let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default();
        if matches!(name, "br" | "p" | "div" | "li" | "tr" | "td" | "th" | "blockquote" | "h1" | "h2" | "h3" | "hr") {
            text.push(' ');
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    decode_entities(&text).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity = after.find(';').filter(|&end| end <= 10).and_then(|end| Some((entity(&after[..end])?, end)));
        match entity {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let code = name.strip_prefix('#')?;
            let code = match code.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => code.parse().ok()?,
            };
            char::from_u32(code)?
        }
    })
}

/// An id as one URL path segment.
fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies_become_plain_text() {
        let html = "<p>Hello <b>team</b>,</p><p>ship it&nbsp;&amp; tell me&#33;</p>";
        assert_eq!(plain_text(html), "Hello team, ship it & tell me!");
        assert_eq!(plain_text("a<br/>b &lt;c&gt; &unknown; & d"), "a b <c> &unknown; & d");
        assert_eq!(plain_text("<div>unclosed <span"), "unclosed");
    }
}
