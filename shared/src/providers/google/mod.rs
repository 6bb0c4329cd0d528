//! Google: whose account an OAuth grant belongs to (OpenID Connect userinfo), and the sync of
//! Calendar events (`calendar.rs`) and Drive files (`drive.rs`). Auth: the OAuth access token
//! as a bearer token.

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::action::{ActionCall, ActionError, Lookup, Performed};
use super::{
    ActionSpec, Capabilities, ConnectorError, GrantScope, Param, Provider, ProviderError, RetryPolicy, Revocation,
    RevokeError, Subscribed, SubscriptionCall, SyncConnector, VerifyError, bearer, send_with_retry,
};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::oauth::OAuthClient;
use crate::sync::{ConnectorConfig, RecordKind};
use crate::vault::{Credentials, TokenSet};

pub mod calendar;
mod calendar_actions;
mod channels;
pub mod drive;

/// Google Calendar and Google Drive sign in with one Google OAuth client (`GOOGLE_CLIENT_ID`).
const CLIENT_FAMILY: &str = "GOOGLE";

pub struct GoogleCalendar;
pub struct GoogleDrive;

/// What automations can do in Google Calendar: block time with an event.
static CALENDAR_ACTIONS: [ActionSpec; 1] = [ActionSpec {
    id: "calendar.insertEvent",
    receipt: "Created an event in Google Calendar",
    params: &[
        Param::required("summary", "The event's title"),
        Param::required("start", "Start, RFC 3339"),
        Param::required("end", "End, RFC 3339"),
        Param::optional("timeZone", "IANA time zone of start and end"),
        Param::optional("description", "The event's description"),
        Param::optional("calendarId", "The calendar (primary when left out)"),
    ],
    scope: Some("https://www.googleapis.com/auth/calendar.events"),
    calls: 2,
    minutes_saved: 3,
    premium: false,
}];

static CALENDAR: Capabilities = Capabilities {
    auth_modes: &[AuthMode::Oauth2],
    credential_fields: &[],
    record_kinds: &[RecordKind::Event],
    sync: &[AuthMode::Oauth2],
    realtime: true,
    actions: &CALENDAR_ACTIONS,
    write_scopes: &[super::WriteScope {
        scope: "https://www.googleapis.com/auth/calendar.events",
        allows: "create events in Google Calendar",
    }],
    // "Per minute per user per project: 600 requests" (a sliding window):
    // https://developers.google.com/workspace/calendar/api/guides/quota
    budget: super::Budget::per(600, 60),
};

static DRIVE: Capabilities = Capabilities {
    auth_modes: &[AuthMode::Oauth2],
    credential_fields: &[],
    record_kinds: &[RecordKind::File],
    sync: &[AuthMode::Oauth2],
    realtime: true,
    actions: &[],
    write_scopes: &[],
    // 12,000 queries per 60 seconds per user (the per-user request quota; projects created
    // since May 2026 count quota units instead, 325,000 a minute per user):
    // https://developers.google.com/drive/api/guides/limits
    budget: super::Budget::per(12_000, 60),
};

/// What the two Google integrations share: the OAuth client, the account from userinfo,
/// revocation, which ends the whole grant, and push notification channels (`$watch`).
macro_rules! google_provider {
    ($provider:ident, $id:literal, $capabilities:ident, $connector:ty, $actions:ident, $watch:path) => {
        #[async_trait]
        impl Provider for $provider {
            fn id(&self) -> &'static str {
                $id
            }

            fn capabilities(&self) -> &'static Capabilities {
                &$capabilities
            }

            fn oauth_client_family(&self) -> Option<&'static str> {
                Some(CLIENT_FAMILY)
            }

            fn grant_scope(&self) -> GrantScope {
                GrantScope::Family
            }

            /// Google keeps earlier grants only when asked to: "include_granted_scopes=true"
            /// (https://developers.google.com/identity/protocols/oauth2/web-server#incrementalAuth).
            fn incremental_consent(&self) -> &'static [(&'static str, &'static str)] {
                &[("include_granted_scopes", "true")]
            }

            async fn oauth_account(
                &self,
                http: &reqwest::Client,
                _base: &str,
                client: &OAuthClient,
                credentials: &Credentials,
            ) -> Result<Account, VerifyError> {
                let url = client.userinfo_url.as_deref().ok_or(VerifyError::Unsupported($id))?;
                userinfo(http, url, bearer(credentials, "access_token")?).await
            }

            async fn revoke(
                &self,
                http: &reqwest::Client,
                client: &OAuthClient,
                tokens: &TokenSet,
            ) -> Result<Revocation, RevokeError> {
                revoke(http, client, tokens).await
            }

            async fn subscribe(&self, call: &SubscriptionCall<'_>) -> Result<Option<Subscribed>, ProviderError> {
                $watch(call).await.map(Some)
            }

            async fn unsubscribe(&self, call: &SubscriptionCall<'_>, remote_id: &str) -> Result<(), ProviderError> {
                channels::stop(call, remote_id).await
            }

            fn connector(
                &self,
                config: ConnectorConfig,
                credentials: &Credentials,
            ) -> Result<Box<dyn SyncConnector>, ConnectorError> {
                Ok(Box::new(<$connector>::new(config, bearer(credentials, "access_token")?)))
            }

            async fn perform(
                &self,
                action: &'static ActionSpec,
                call: &ActionCall<'_>,
            ) -> Result<Performed, ActionError> {
                $actions::perform(action, call).await
            }

            async fn find_performed(
                &self,
                action: &'static ActionSpec,
                call: &ActionCall<'_>,
            ) -> Result<Lookup, ProviderError> {
                $actions::find_performed(action, call).await
            }
        }
    };
}

/// Drive offers no actions yet.
mod no_actions {
    use crate::providers::action::{ActionCall, ActionError, Lookup, Performed};
    use crate::providers::{ActionSpec, ProviderError};

    pub(super) async fn perform(action: &'static ActionSpec, _call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        Err(ActionError::Unsupported(action.id))
    }

    pub(super) async fn find_performed(
        _action: &'static ActionSpec,
        _call: &ActionCall<'_>,
    ) -> Result<Lookup, ProviderError> {
        Ok(Lookup::NotOffered)
    }
}

google_provider!(
    GoogleCalendar,
    "google-calendar",
    CALENDAR,
    calendar::CalendarConnector,
    calendar_actions,
    channels::watch_calendar
);
google_provider!(GoogleDrive, "google-drive", DRIVE, drive::DriveConnector, no_actions, channels::watch_drive);

/// RFC 7009 style: revoking the refresh token ends the whole grant, for every integration.
async fn revoke(http: &reqwest::Client, client: &OAuthClient, tokens: &TokenSet) -> Result<Revocation, RevokeError> {
    let Some(url) = &client.revoke_url else { return Ok(Revocation::NotOffered) };
    let token = tokens.refresh_token.as_ref().unwrap_or(&tokens.access_token);
    let response =
        http.post(url).form(&[("token", token.expose_secret())]).send().await.map_err(RevokeError::transport)?;
    match response.status() {
        status if status.is_success() => Ok(Revocation::Revoked),
        status => Err(RevokeError::Status(status)),
    }
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `GET {userinfo}` with the access token: the account's stable `sub` and its email.
pub async fn userinfo(http: &reqwest::Client, url: &str, token: &str) -> Result<Account, VerifyError> {
    let response = send_with_retry(&RetryPolicy::default(), || http.get(url).bearer_auth(token)).await?;
    let info: UserInfo = read_json(response, "userinfo").await?;
    Ok(Account {
        name: info.email.clone().or(info.name).unwrap_or_else(|| info.sub.clone()),
        workspace: info.email.and_then(|e| e.split_once('@').map(|(_, domain)| domain.to_owned())),
        id: info.sub,
    })
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, ProviderError> {
    crate::providers::read_json(response, "Google", what).await
}
