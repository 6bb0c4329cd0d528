//! OAuth 2.0 connections: the authorization code flow with PKCE (S256) and a one-time state,
//! token refresh without races, and revocation. Protocol work is the `oauth2` crate's; this
//! module adds configuration, the providers' own quirks and storage.

mod flow;
mod tokens;

use std::collections::HashMap;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, StandardRevocableToken,
    TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub(crate) use flow::checked_return_url;
pub use flow::{
    CallbackError, CallbackOutcome, CallbackQuery, MAX_OPEN_SIGN_INS, OAuthStart, binding_cookie_name, complete_oauth,
    start_consent, start_oauth,
};
pub use tokens::{REFRESH_MARGIN, TokenError, fresh_credentials, refresh_now, revoke, revoke_unless_shared};

use crate::catalog::{Catalog, Integration};

/// Every field of a token response beyond the standard ones (Slack `team`, Asana `data`,
/// Notion `workspace_name`, …), kept to learn whose account it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderFields {
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl oauth2::ExtraTokenFields for ProviderFields {}

pub type TokenResponse = oauth2::StandardTokenResponse<ProviderFields, BasicTokenType>;

type Client = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// One integration's OAuth client, as configured for this deployment.
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub redirect_url: String,
    pub basic_auth: bool,
}

impl OAuthClient {
    fn client(&self) -> Result<Client, OAuthSetupError> {
        let bad = |what: &'static str| move |_| OAuthSetupError(what);
        let client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose_secret().to_owned()))
            .set_auth_uri(AuthUrl::new(self.authorize_url.clone()).map_err(bad("authorize URL"))?)
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(bad("token URL"))?)
            .set_redirect_uri(RedirectUrl::new(self.redirect_url.clone()).map_err(bad("redirect URL"))?)
            .set_auth_type(if self.basic_auth { AuthType::BasicAuth } else { AuthType::RequestBody });
        Ok(client)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the OAuth {0} is not a valid URL")]
pub struct OAuthSetupError(&'static str);

/// The OAuth clients of this deployment, by integration id.
#[derive(Clone, Default)]
pub struct OAuthClients {
    clients: HashMap<String, OAuthClient>,
    /// For token calls: never follows redirects.
    http: Option<reqwest::Client>,
}

impl OAuthClients {
    /// Reads each OAuth integration's client from `lookup` (the environment, or the JSON secret
    /// named by `OAUTH_CLIENTS_SECRET_ID`): `{INTEGRATION}_CLIENT_ID` / `_CLIENT_SECRET`, falling
    /// back to the provider's (`GOOGLE_CLIENT_ID` serves Calendar and Drive); endpoints from the
    /// catalog unless `{INTEGRATION or PROVIDER}_AUTHORIZE_URL`, `_TOKEN_URL`, `_REVOKE_URL`,
    /// `_USERINFO_URL` say otherwise. `OAUTH_REDIRECT_URL` is the callback's public URL.
    pub fn from_lookup(catalog: &Catalog, lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let Some(redirect_url) = lookup("OAUTH_REDIRECT_URL") else {
            return Self::default();
        };
        let mut clients = HashMap::new();
        for integration in catalog.integrations() {
            let Some(endpoints) = &integration.oauth else { continue };
            // `GOOGLE_CLIENT_ID` serves every integration of the provider's OAuth client family.
            let family = integration.provider().oauth_client_family();
            let var = |suffix: &str| {
                lookup(&integration.id.env_var(suffix))
                    .or_else(|| family.and_then(|f| lookup(&format!("{f}_{suffix}"))))
            };
            let (Some(client_id), Some(client_secret)) = (var("CLIENT_ID"), var("CLIENT_SECRET")) else { continue };
            clients.insert(
                integration.id.to_string(),
                OAuthClient {
                    client_id,
                    client_secret: SecretString::from(client_secret),
                    authorize_url: var("AUTHORIZE_URL").unwrap_or_else(|| endpoints.authorize_url.clone()),
                    token_url: var("TOKEN_URL").unwrap_or_else(|| endpoints.token_url.clone()),
                    revoke_url: var("REVOKE_URL").or_else(|| endpoints.revoke_url.clone()),
                    userinfo_url: var("USERINFO_URL").or_else(|| endpoints.userinfo_url.clone()),
                    redirect_url: redirect_url.clone(),
                    basic_auth: endpoints.client_auth == "basic",
                },
            );
        }
        Self { clients, http: Some(no_redirects_client()) }
    }

    pub fn from_env(catalog: &Catalog) -> Self {
        Self::from_lookup(catalog, &|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Clients from a JSON object of the same names (the `OAUTH_CLIENTS_SECRET_ID` secret),
    /// with the environment filling what it does not say.
    pub fn from_json_and_env(catalog: &Catalog, json: &Value) -> Self {
        Self::from_lookup(catalog, &|name| {
            json.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| std::env::var(name).ok().filter(|v| !v.is_empty()))
        })
    }

    pub fn with_client(mut self, integration: &str, client: OAuthClient) -> Self {
        self.clients.insert(integration.to_owned(), client);
        self.http.get_or_insert_with(no_redirects_client);
        self
    }

    pub fn get(&self, integration: &Integration) -> Option<&OAuthClient> {
        self.clients.get(integration.id.as_str())
    }

    pub(crate) fn http(&self) -> reqwest::Client {
        self.http.clone().unwrap_or_else(no_redirects_client)
    }
}

/// For token calls: never follows redirects; on the process's one TLS configuration.
fn no_redirects_client() -> reqwest::Client {
    crate::clients::token_http().expect("the HTTP client configuration is valid")
}

/// The `oauth2` crate's HTTP client: ours, returning owned futures (so they are `Send`).
fn http_client(
    http: reqwest::Client,
) -> impl Fn(
    oauth2::HttpRequest,
) -> std::pin::Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>> {
    move |request| {
        let http = http.clone();
        Box::pin(async move { send(&http, request).await })
    }
}

/// One token call, sent once (a code or a refresh token may be spent even when no answer comes
/// back), within what remains of the request's deadline ([`crate::deadline`]).
async fn send(http: &reqwest::Client, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let mut request = http.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body);
    if let Some(timeout) = crate::deadline::timeout(Some(crate::clients::TOKEN_TIMEOUT)) {
        request = request.timeout(timeout);
    }
    let response = request.send().await?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?;
    Ok(builder.body(body.to_vec()).expect("a response rebuilt from a valid one"))
}

/// Scopes as the provider wrote them (space- or comma-separated).
fn split_scopes(raw: &str) -> Vec<String> {
    raw.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_client_serves_all_its_integrations_and_urls_can_be_overridden() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("OAUTH_REDIRECT_URL", "http://127.0.0.1:3000/api/v1/integrations/oauth/callback"),
            ("GOOGLE_CLIENT_ID", "gid"),
            ("GOOGLE_CLIENT_SECRET", "gsecret"),
            ("GOOGLE_DRIVE_TOKEN_URL", "http://127.0.0.1:9/token"),
        ]);
        let clients = OAuthClients::from_lookup(Catalog::get(), &|k| vars.get(k).map(|v| (*v).to_owned()));
        let calendar = clients.get(Catalog::get().find("google-calendar").unwrap()).unwrap();
        let drive = clients.get(Catalog::get().find("google-drive").unwrap()).unwrap();
        assert_eq!(calendar.client_id, "gid");
        assert_eq!(calendar.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(drive.token_url, "http://127.0.0.1:9/token");
        assert!(clients.get(Catalog::get().find("slack").unwrap()).is_none(), "Slack has no client configured");
    }

    #[test]
    fn without_a_redirect_url_no_client_is_configured() {
        let clients = OAuthClients::from_lookup(Catalog::get(), &|k| (k == "GOOGLE_CLIENT_ID").then(|| "x".into()));
        assert!(clients.get(Catalog::get().find("google-calendar").unwrap()).is_none());
    }

    #[test]
    fn scopes_split_on_spaces_and_commas() {
        assert_eq!(split_scopes("a b,c"), ["a", "b", "c"]);
    }
}
