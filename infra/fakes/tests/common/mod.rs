//! Helpers shared by the integration tests.
#![allow(dead_code)]

use fake_providers::FakeProviders;

/// Upper bound on pages fetched by any pagination loop, so a bug cannot loop forever.
pub const MAX_PAGES: usize = 200;

pub async fn start() -> FakeProviders {
    FakeProviders::start().await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().expect("reqwest client")
}

/// Asserts that `ids` has no duplicates and equals `expected` as a set.
pub fn assert_same_set(mut ids: Vec<String>, mut expected: Vec<String>) {
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "an item was returned more than once");
    expected.sort();
    assert_eq!(ids, expected);
}

/// A client that does not follow redirects (to read the authorization server's `Location`).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

pub mod oauth {
    use std::collections::HashMap;

    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use fake_providers::{FakeProviders, OAuthProvider};
    use serde_json::Value;
    use sha2::{Digest, Sha256};

    pub const REDIRECT: &str = "http://127.0.0.1:3000/oauth/callback";
    pub const VERIFIER: &str = "a-fake-pkce-code-verifier-that-is-long-enough-0123456789";

    pub fn challenge(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }

    /// The scopes a typical client asks each provider for (Google offline, Microsoft offline_access).
    pub fn authorize_params(p: OAuthProvider) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("response_type", "code".to_owned()),
            ("client_id", p.client_id().to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("state", "st4te".to_owned()),
            ("code_challenge", challenge(VERIFIER)),
            ("code_challenge_method", "S256".to_owned()),
        ];
        let scope = match p {
            OAuthProvider::Google => "openid email https://www.googleapis.com/auth/calendar.readonly",
            OAuthProvider::Microsoft => "offline_access User.Read Team.ReadBasic.All ChannelMessage.Read.All",
            OAuthProvider::Slack => "channels:read,channels:history",
            OAuthProvider::Asana => "users:read tasks:read",
            OAuthProvider::Notion => "",
        };
        params.push(("scope", scope.to_owned()));
        if p == OAuthProvider::Google {
            params.push(("access_type", "offline".to_owned()));
            params.push(("prompt", "consent".to_owned()));
        }
        params
    }

    /// Follows `GET /authorize` once; returns the redirect's query parameters.
    pub async fn authorize_with(
        fake: &FakeProviders,
        p: OAuthProvider,
        params: &[(&str, String)],
    ) -> HashMap<String, String> {
        let resp =
            super::no_redirects().get(format!("{}/authorize", fake.oauth_url(p))).query(params).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{p}: authorize redirects");
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        url::Url::parse(&location).unwrap().query_pairs().into_owned().collect()
    }

    /// A fresh authorization code (the user consents at once).
    pub async fn code(fake: &FakeProviders, p: OAuthProvider) -> String {
        let back = authorize_with(fake, p, &authorize_params(p)).await;
        assert_eq!(back["state"], "st4te");
        back["code"].clone()
    }

    /// `POST /token` with `form`, the client's credentials in the body (HTTP Basic for Notion).
    pub async fn token(fake: &FakeProviders, p: OAuthProvider, form: &[(&str, &str)]) -> (u16, Value) {
        let mut req = super::client().post(format!("{}/token", fake.oauth_url(p)));
        let mut form: Vec<(&str, &str)> = form.to_vec();
        if p == OAuthProvider::Notion {
            let basic = STANDARD.encode(format!("{}:{}", p.client_id(), p.client_secret()));
            req = req.header("authorization", format!("Basic {basic}"));
        } else {
            form.push(("client_id", p.client_id()));
            form.push(("client_secret", p.client_secret()));
        }
        let resp = req.form(&form).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn exchange(
        fake: &FakeProviders,
        p: OAuthProvider,
        code: &str,
        verifier: &str,
        redirect: &str,
    ) -> (u16, Value) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
        ];
        token(fake, p, &form).await
    }

    pub async fn refresh(fake: &FakeProviders, p: OAuthProvider, refresh_token: &str) -> (u16, Value) {
        token(fake, p, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Authorizes and exchanges the code; returns the token answer.
    pub async fn tokens(fake: &FakeProviders, p: OAuthProvider) -> Value {
        let code = code(fake, p).await;
        let (status, body) = exchange(fake, p, &code, VERIFIER, REDIRECT).await;
        assert_eq!(status, 200, "{p}: {body}");
        body
    }

    /// `(status, body)` of a GET on a provider's data API with a bearer token.
    pub async fn get(url: &str, token: &str) -> (u16, Value) {
        let resp = super::client()
            .get(url)
            .bearer_auth(token)
            .header("Notion-Version", fake_providers::demo::NOTION_VERSION)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The "who am I" call of the data API that `p`'s tokens are for.
    pub fn whoami_url(fake: &FakeProviders, p: OAuthProvider) -> String {
        use fake_providers::Provider;
        match p {
            OAuthProvider::Google => format!("{}/userinfo", fake.base_url(Provider::GoogleUserinfo)),
            OAuthProvider::Microsoft => format!("{}/me", fake.base_url(Provider::MicrosoftGraph)),
            OAuthProvider::Slack => format!("{}/auth.test", fake.base_url(Provider::Slack)),
            OAuthProvider::Asana => format!("{}/users/me", fake.base_url(Provider::Asana)),
            OAuthProvider::Notion => format!("{}/v1/users/me", fake.base_url(Provider::Notion)),
        }
    }
}
