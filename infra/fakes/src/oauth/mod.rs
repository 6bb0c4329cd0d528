//! OAuth 2.0 authorization servers (authorization code + PKCE, refresh, revoke) for Google,
//! the Microsoft identity platform, Slack, Asana and Notion, under `{url}/oauth/{provider}`.
//!
//! Access tokens issued here act, on this crate's data APIs, as the provider account the fake
//! user owns (see [`FakeState::attach_oauth_account`]); the registry lives in [`Data`].
//! `authorize.rs` serves the consent redirect, `token.rs` the token endpoint, `shapes.rs` each
//! provider's answers, `revoke.rs` the revocation endpoints and `control.rs` the HTTP routes.

mod authorize;
mod control;
mod revoke;
mod shapes;
mod token;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::demo;
use crate::state::{FakeState, normalized_name};
use crate::util::{mix, uuid_from};

pub(crate) use authorize::authorize;
pub(crate) use control::routes;
pub(crate) use revoke::{revoke_endpoint, slack_auth_revoke};
pub(crate) use token::token_endpoint;

/// An OAuth 2.0 authorization server faked under `{url}/oauth/{provider}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuthProvider {
    Google,
    Microsoft,
    Slack,
    Asana,
    Notion,
}

impl OAuthProvider {
    pub const ALL: [OAuthProvider; 5] = [
        OAuthProvider::Google,
        OAuthProvider::Microsoft,
        OAuthProvider::Slack,
        OAuthProvider::Asana,
        OAuthProvider::Notion,
    ];

    /// Lower-case name, as used in `/oauth/{provider}` and `/_fake/oauth/{provider}/…`.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthProvider::Google => "google",
            OAuthProvider::Microsoft => "microsoft",
            OAuthProvider::Slack => "slack",
            OAuthProvider::Asana => "asana",
            OAuthProvider::Notion => "notion",
        }
    }

    /// `/oauth/google`, …: the authorization server's base path on the fake server.
    pub fn base_path(self) -> String {
        format!("/oauth/{}", self.as_str())
    }

    /// The only client id this authorization server knows: `fake-<provider>-client-id`.
    pub fn client_id(self) -> &'static str {
        match self {
            OAuthProvider::Google => demo::GOOGLE_CLIENT_ID,
            OAuthProvider::Microsoft => demo::MICROSOFT_CLIENT_ID,
            OAuthProvider::Slack => demo::SLACK_CLIENT_ID,
            OAuthProvider::Asana => demo::ASANA_CLIENT_ID,
            OAuthProvider::Notion => demo::NOTION_CLIENT_ID,
        }
    }

    /// The client's secret: `fake-<provider>-client-secret`.
    pub fn client_secret(self) -> &'static str {
        match self {
            OAuthProvider::Google => demo::GOOGLE_CLIENT_SECRET,
            OAuthProvider::Microsoft => demo::MICROSOFT_CLIENT_SECRET,
            OAuthProvider::Slack => demo::SLACK_CLIENT_SECRET,
            OAuthProvider::Asana => demo::ASANA_CLIENT_SECRET,
            OAuthProvider::Notion => demo::NOTION_CLIENT_SECRET,
        }
    }

    /// Access token lifetime unless set with [`FakeState::set_token_lifetime`]: one hour;
    /// Notion documents no expiry (its token answer has no `expires_in`), so none.
    fn default_lifetime(self) -> Option<Duration> {
        match self {
            OAuthProvider::Notion => None,
            _ => Some(Duration::seconds(3600)),
        }
    }

    /// Whether a refresh answers a new refresh token and retires the old one.
    fn rotates_refresh_tokens(self) -> bool {
        matches!(self, OAuthProvider::Microsoft | OAuthProvider::Slack | OAuthProvider::Notion)
    }

    fn default_user(self) -> OAuthUser {
        let id = match self {
            OAuthProvider::Google => "100000000000000000001".to_owned(),
            OAuthProvider::Microsoft => uuid_from(mix(0x0A17_0001)),
            OAuthProvider::Slack => "U0FAKEOAUTH".to_owned(),
            OAuthProvider::Asana => "1208999999999001".to_owned(),
            OAuthProvider::Notion => uuid_from(mix(0x0A17_0005)),
        };
        OAuthUser { id, name: "Fake OAuth User".to_owned(), email: "oauth.user@example.com".to_owned() }
    }
}

impl fmt::Display for OAuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OAuthProvider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = normalized_name(s);
        OAuthProvider::ALL
            .into_iter()
            .find(|p| p.as_str() == wanted)
            .ok_or_else(|| format!("unknown OAuth provider `{s}` (google | microsoft | slack | asana | notion)"))
    }
}

/// The user who consents on the fake authorization server. Reported in token answers (Slack
/// `authed_user.id`, Asana `data`, Notion `owner.user`, Google/Microsoft `id_token`) and used
/// for the account created for the grant when none is attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthUser {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// One call of a token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token`, or what the client sent.
    pub grant_type: String,
    pub at: DateTime<Utc>,
    /// The HTTP status answered (Slack answers errors with 200).
    pub status: u16,
    /// The error code answered (`invalid_grant`, Slack's `invalid_refresh_token`, …).
    pub error: Option<String>,
}

pub(crate) struct Config {
    pub user: OAuthUser,
    /// Data-API credential of the account the fake user's grants act as.
    pub account_token: Option<String>,
    pub deny_next: bool,
    pub lifetime: Option<Duration>,
    /// Grants issue no refresh token (Slack without token rotation and an expiry, say).
    pub no_refresh: bool,
    pub token_requests: Vec<TokenRequest>,
    pub revocations: Vec<String>,
}

impl Config {
    fn new(p: OAuthProvider) -> Config {
        Config {
            user: p.default_user(),
            account_token: None,
            deny_next: false,
            lifetime: p.default_lifetime(),
            no_refresh: false,
            token_requests: Vec::new(),
            revocations: Vec::new(),
        }
    }
}

/// An authorization code, valid for ten minutes and once.
pub(crate) struct Code {
    pub code: String,
    pub provider: OAuthProvider,
    pub redirect_uri: String,
    pub scope: String,
    pub user_scope: Option<String>,
    pub challenge: String,
    /// Google `access_type=offline`: only then is a refresh token issued.
    pub offline: bool,
    pub nonce: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// What the user consented to; refresh tokens belong to it.
pub(crate) struct Grant {
    pub id: u64,
    pub provider: OAuthProvider,
    pub refresh_token: Option<String>,
    pub scope: String,
    pub nonce: Option<String>,
    pub account_token: String,
    pub revoked: bool,
}

pub(crate) struct Access {
    pub provider: OAuthProvider,
    pub grant_id: u64,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// Why a data API refuses an access token issued here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    Expired,
    Revoked,
}

#[derive(Default)]
pub(crate) struct Data {
    configs: BTreeMap<OAuthProvider, Config>,
    pub codes: Vec<Code>,
    pub grants: Vec<Grant>,
    pub access: HashMap<String, Access>,
}

impl Data {
    pub(crate) fn config(&mut self, p: OAuthProvider) -> &mut Config {
        self.configs.entry(p).or_insert_with(|| Config::new(p))
    }

    fn grant_mut(&mut self, id: u64) -> Option<&mut Grant> {
        self.grants.iter_mut().find(|g| g.id == id)
    }

    /// The data-API credential `token` stands for: the attached account's token for an access
    /// token issued here, `token` itself for any other (static) credential.
    pub(crate) fn resolve(&self, p: OAuthProvider, token: &str) -> Result<String, Rejected> {
        let Some(access) = self.access.get(token).filter(|a| a.provider == p) else {
            return Ok(token.to_owned());
        };
        let grant = self.grants.iter().find(|g| g.id == access.grant_id);
        match grant {
            Some(g) if !access.revoked && !g.revoked => {}
            _ => return Err(Rejected::Revoked),
        }
        if access.expires_at.is_some_and(|at| Utc::now() >= at) {
            return Err(Rejected::Expired);
        }
        Ok(grant.map(|g| g.account_token.clone()).unwrap_or_default())
    }

    /// The grant an access or refresh token of `p` belongs to.
    pub(crate) fn grant_of(&self, p: OAuthProvider, token: &str) -> Option<u64> {
        if let Some(a) = self.access.get(token).filter(|a| a.provider == p) {
            return Some(a.grant_id);
        }
        self.grants.iter().find(|g| g.provider == p && g.refresh_token.as_deref() == Some(token)).map(|g| g.id)
    }

    /// Revokes the grant of an access or refresh token (and so all its tokens).
    pub(crate) fn revoke_token(&mut self, p: OAuthProvider, token: &str) -> bool {
        let Some(id) = self.grant_of(p, token) else {
            return false;
        };
        if let Some(g) = self.grant_mut(id) {
            g.revoked = true;
        }
        for a in self.access.values_mut().filter(|a| a.grant_id == id) {
            a.revoked = true;
        }
        true
    }
}

impl FakeState {
    /// The user who consents on `p`'s authorization server.
    pub fn oauth_user(&self, p: OAuthProvider) -> OAuthUser {
        self.with(|s| s.oauth.config(p).user.clone())
    }

    /// Replaces the user who consents on `p`'s authorization server.
    pub fn set_oauth_user(&self, p: OAuthProvider, user: OAuthUser) {
        self.with(|s| s.oauth.config(p).user = user);
    }

    /// Makes the grants of `p` act, on the data APIs, as the account reachable with
    /// `account_token` (e.g. [`demo::SLACK_TOKEN`] or the token given to `add_slack_account`).
    /// Without one, the first token exchange creates an account for the OAuth user.
    pub fn attach_oauth_account(&self, p: OAuthProvider, account_token: &str) {
        self.with(|s| s.oauth.config(p).account_token = Some(account_token.to_owned()));
    }

    /// The next authorization request of `p` is denied by the user (`error=access_denied`).
    pub fn deny_next_consent(&self, p: OAuthProvider) {
        self.with(|s| s.oauth.config(p).deny_next = true);
    }

    /// Lifetime (`expires_in`) of access tokens issued from now on by `p` (default one hour).
    pub fn set_token_lifetime(&self, p: OAuthProvider, lifetime: std::time::Duration) {
        let lifetime = Duration::from_std(lifetime).unwrap_or(Duration::days(3650));
        self.with(|s| s.oauth.config(p).lifetime = Some(lifetime));
    }

    /// Whether grants of `p` made from now on come with a refresh token (they do by default).
    pub fn set_refresh_tokens(&self, p: OAuthProvider, issued: bool) {
        self.with(|s| s.oauth.config(p).no_refresh = !issued);
    }

    /// Every call of `p`'s token endpoint, oldest first.
    pub fn token_requests(&self, p: OAuthProvider) -> Vec<TokenRequest> {
        self.with(|s| s.oauth.config(p).token_requests.clone())
    }

    /// Tokens revoked through `p`'s revocation endpoint, masked (`ya29****`), oldest first.
    pub fn revocations(&self, p: OAuthProvider) -> Vec<String> {
        self.with(|s| s.oauth.config(p).revocations.clone())
    }

    /// Revokes the grant of a refresh (or access) token, as when the user removes the app:
    /// its access tokens stop working and the next refresh gets `invalid_grant`.
    pub fn revoke_grant(&self, p: OAuthProvider, token: &str) -> bool {
        self.with(|s| s.oauth.revoke_token(p, token))
    }

    /// Revokes every grant `p` has issued, as when the user removes the app from their account
    /// at the provider: their access tokens stop working and refreshes get `invalid_grant`. A
    /// new consent makes a new grant for the same account. Returns how many were live.
    pub fn revoke_all_grants(&self, p: OAuthProvider) -> usize {
        self.with(|s| {
            let ids: Vec<_> = s.oauth.grants.iter().filter(|g| g.provider == p && !g.revoked).map(|g| g.id).collect();
            for g in s.oauth.grants.iter_mut().filter(|g| ids.contains(&g.id)) {
                g.revoked = true;
            }
            for a in s.oauth.access.values_mut().filter(|a| ids.contains(&a.grant_id)) {
                a.revoked = true;
            }
            ids.len()
        })
    }

    /// Expires every access token `p` has issued; returns how many were still valid.
    pub fn expire_access_tokens(&self, p: OAuthProvider) -> usize {
        let past = Utc::now() - Duration::seconds(1);
        self.with(|s| {
            let mut n = 0;
            for a in s.oauth.access.values_mut().filter(|a| a.provider == p) {
                if a.expires_at.is_none_or(|at| at > past) {
                    a.expires_at = Some(past);
                    n += 1;
                }
            }
            n
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_provider_names_parse_case_insensitively() {
        assert_eq!("Google".parse::<OAuthProvider>(), Ok(OAuthProvider::Google));
        assert!("trello".parse::<OAuthProvider>().is_err());
    }

    #[test]
    fn unknown_tokens_resolve_to_themselves_and_revoked_grants_are_rejected() {
        let mut data = Data::default();
        assert_eq!(data.resolve(OAuthProvider::Slack, "xoxb-static"), Ok("xoxb-static".to_owned()));
        data.grants.push(Grant {
            id: 1,
            provider: OAuthProvider::Slack,
            refresh_token: Some("xoxe-1-r".into()),
            scope: String::new(),
            nonce: None,
            account_token: "acct".into(),
            revoked: false,
        });
        let access = Access { provider: OAuthProvider::Slack, grant_id: 1, expires_at: None, revoked: false };
        data.access.insert("xoxb-a".into(), access);
        assert_eq!(data.resolve(OAuthProvider::Slack, "xoxb-a"), Ok("acct".to_owned()));
        assert!(data.revoke_token(OAuthProvider::Slack, "xoxe-1-r"));
        assert_eq!(data.resolve(OAuthProvider::Slack, "xoxb-a"), Err(Rejected::Revoked));
    }
}
