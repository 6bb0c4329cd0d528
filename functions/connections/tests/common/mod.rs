//! What the OAuth tests share: the connections router on the emulator, with every OAuth client
//! pointed at the fake authorization servers, and a browser that signs in through them.
#![allow(dead_code)] // each test crate uses its own part

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use fake_providers::{FakeProviders, OAuthProvider, Provider};
use http_body_util::BodyExt;
use integrations::catalog::Catalog;
use integrations::config::Function;
use integrations::domain::{ConnectionId, Plan, UserId};
use integrations::oauth::{OAuthClient, OAuthClients};
use integrations::testing::TestEnv;
use integrations::vault::Credentials;
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const REDIRECT: &str = "http://127.0.0.1:3000/api/v1/integrations/oauth/callback";

pub struct App {
    pub env: TestEnv,
    pub fakes: FakeProviders,
}

/// The shipped catalog, with Asana and Notion open (they are coming soon in the product, but
/// their sign-in is built and tested).
pub fn catalog_with_everything_open() -> &'static Catalog {
    let json = include_str!("../../../../shared/catalog.json").replace("\"coming-soon\"", "\"available\"");
    Box::leak(Box::new(Catalog::parse(&json).unwrap()))
}

pub fn client(fakes: &FakeProviders, p: OAuthProvider) -> OAuthClient {
    let base = fakes.oauth_url(p);
    let (authorize_url, token_url, revoke_url, userinfo_url) = match p {
        OAuthProvider::Google => (
            format!("{base}/authorize"),
            format!("{base}/token"),
            Some(format!("{base}/revoke")),
            Some(format!("{}/userinfo", fakes.base_url(Provider::GoogleUserinfo))),
        ),
        OAuthProvider::Microsoft => {
            (format!("{base}/common/oauth2/v2.0/authorize"), format!("{base}/common/oauth2/v2.0/token"), None, None)
        }
        OAuthProvider::Slack => (
            format!("{base}/authorize"),
            format!("{}/oauth.v2.access", fakes.base_url(Provider::Slack)),
            Some(format!("{}/auth.revoke", fakes.base_url(Provider::Slack))),
            None,
        ),
        OAuthProvider::Asana => {
            (format!("{base}/authorize"), format!("{base}/token"), Some(format!("{base}/revoke")), None)
        }
        OAuthProvider::Notion => (format!("{base}/authorize"), format!("{base}/token"), None, None),
    };
    OAuthClient {
        client_id: p.client_id().to_owned(),
        client_secret: SecretString::from(p.client_secret().to_owned()),
        authorize_url,
        token_url,
        revoke_url,
        userinfo_url,
        redirect_url: REDIRECT.into(),
        basic_auth: p == OAuthProvider::Notion,
    }
}

impl App {
    pub async fn start() -> App {
        let fakes = FakeProviders::start().await;
        fakes.state().seed_demo();
        let mut env = TestEnv::new().await;
        env.state.catalog = catalog_with_everything_open();
        let clients = OAuthClients::default()
            .with_client("google-calendar", client(&fakes, OAuthProvider::Google))
            .with_client("google-drive", client(&fakes, OAuthProvider::Google))
            .with_client("microsoft-teams", client(&fakes, OAuthProvider::Microsoft))
            .with_client("slack", client(&fakes, OAuthProvider::Slack))
            .with_client("asana", client(&fakes, OAuthProvider::Asana))
            .with_client("notion", client(&fakes, OAuthProvider::Notion));
        env.state.oauth = clients;
        for (integration, provider) in [
            ("google-calendar", Provider::GoogleCalendar),
            ("google-drive", Provider::GoogleDrive),
            ("microsoft-teams", Provider::MicrosoftGraph),
            ("slack", Provider::Slack),
            ("asana", Provider::Asana),
            ("notion", Provider::Notion),
        ] {
            env.use_provider(integration, fakes.base_url(provider));
        }
        App { env, fakes }
    }

    pub fn router(&self) -> Router {
        connections::router(self.env.state_for(Function::Connections))
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = self.router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// `POST /connect` without credentials: the authorize URL and the flow's cookie.
    pub async fn start_sign_in(&self, user: &str, body: Value) -> (String, String) {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/integrations/connect")
            .header("authorization", format!("Bearer {}", self.env.token(user, Plan::Free)))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, headers, body) = self.send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
        (body["authorizationUrl"].as_str().unwrap().to_owned(), cookie)
    }

    /// The user's browser at the provider: consent, and the redirect back with code and state.
    pub async fn consent(&self, authorize_url: &str) -> String {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = http.get(authorize_url).send().await.unwrap();
        assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        location[REDIRECT.len()..].to_owned()
    }

    /// The browser arriving at the callback; returns the status and where it is sent.
    pub async fn callback(&self, query: &str, cookie: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::builder()
            .uri(format!("/api/v1/integrations/oauth/callback{query}"))
            .header("accept", "application/json");
        if let Some(c) = cookie {
            request = request.header(header::COOKIE, c);
        }
        let (status, headers, body) = self.send(request.body(Body::empty()).unwrap()).await;
        let location =
            headers.get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned()).unwrap_or(body.to_string());
        (status, location)
    }

    /// The whole sign-in; returns the new (or restored) connection id.
    pub async fn sign_in(&self, user: &str, body: Value) -> ConnectionId {
        let (url, cookie) = self.start_sign_in(user, body).await;
        let query = self.consent(&url).await;
        let (status, location) = self.callback(&query, Some(&cookie)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        let connected = location.split("connected=").nth(1).expect(&location).split('&').next().unwrap();
        ConnectionId::parse(connected).unwrap()
    }

    pub async fn connections(&self, user: &str) -> Vec<integrations::domain::Connection> {
        self.env.state.store.list_connections(&UserId::parse(user).unwrap()).await.unwrap()
    }

    pub async fn tokens(&self, user: &str, id: &ConnectionId) -> integrations::vault::TokenSet {
        let c = self.env.state.store.get_connection(&UserId::parse(user).unwrap(), id).await.unwrap();
        match self.env.state.vault.read(&c.secret_id).await.unwrap() {
            Credentials::OAuth(t) => t,
            Credentials::ApiKey(_) => panic!("expected OAuth tokens"),
        }
    }
}

impl App {
    /// `DELETE /{id}` as `user`.
    pub async fn disconnect(&self, user: &str, id: &ConnectionId) -> StatusCode {
        let request = Request::builder()
            .method(Method::DELETE)
            .uri(format!("/api/v1/integrations/{id}"))
            .header("authorization", format!("Bearer {}", self.env.token(user, Plan::Free)))
            .body(Body::empty())
            .unwrap();
        self.send(request).await.0
    }

    /// The whole sign-in, up to where the browser is sent back to the page.
    pub async fn sign_in_outcome(&self, user: &str, integration: &str) -> String {
        let (url, cookie) = self.start_sign_in(user, json!({ "integrationId": integration })).await;
        let query = self.consent(&url).await;
        let (status, location) = self.callback(&query, Some(&cookie)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        location
    }

    /// Makes the next connection of `user` fail to store (the counter it adds to is not a number).
    pub async fn break_connection_counter(&self, user: &str) {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.env
            .dynamo()
            .put_item()
            .table_name(&self.env.table)
            .item("PK", AttributeValue::S(format!("USER#{user}")))
            .item("SK", AttributeValue::S("PROFILE".into()))
            .item("connectionCount", AttributeValue::S("not a number".into()))
            .send()
            .await
            .unwrap();
    }
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
