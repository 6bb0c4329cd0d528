//! OAuth authorization code + PKCE: the round trip for every provider, each provider's token
//! answer, and what is refused (verifier, reused code, redirect_uri, client, missing PKCE, denial).

mod common;

use common::oauth::{REDIRECT, VERIFIER, authorize_params, authorize_with, code, exchange, get, tokens, whoami_url};
use common::{client, start};
use fake_providers::{OAuthProvider, Provider};
use serde_json::Value;

#[tokio::test]
async fn the_authorization_code_round_trip_with_pkce_gives_tokens_that_the_data_apis_accept() {
    let fake = start().await;
    fake.state().seed_demo();
    for p in OAuthProvider::ALL {
        let body = tokens(&fake, p).await;
        let access = body["access_token"].as_str().unwrap();
        let (status, me) = get(&whoami_url(&fake, p), access).await;
        assert_eq!(status, 200, "{p}: {me}");
        match p {
            OAuthProvider::Google => assert_eq!(me["email"], "demo.user@example.com"),
            OAuthProvider::Microsoft => assert_eq!(me["mail"], "demo.user@example.com"),
            OAuthProvider::Slack => assert_eq!(me["ok"], true, "{me}"),
            OAuthProvider::Asana => assert_eq!(me["data"]["workspaces"].as_array().unwrap().len(), 2),
            OAuthProvider::Notion => assert_eq!(me["type"], "bot"),
        }
    }
}

#[tokio::test]
async fn each_provider_answers_the_token_request_in_its_documented_shape() {
    let fake = start().await;
    let seed = fake.state().seed_demo();

    let google = tokens(&fake, OAuthProvider::Google).await;
    assert_eq!(google["token_type"], "Bearer");
    assert_eq!(google["expires_in"], 3600);
    assert!(google["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(google["refresh_token"].is_string(), "access_type=offline gives a refresh token");
    assert!(google["scope"].as_str().unwrap().contains("calendar.readonly"));
    assert_eq!(google["id_token"].as_str().unwrap().split('.').count(), 3, "openid gives an id_token");

    let microsoft = tokens(&fake, OAuthProvider::Microsoft).await;
    for key in ["token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token"] {
        assert!(!microsoft[key].is_null(), "microsoft answers {key}");
    }
    assert_eq!(microsoft["token_type"], "Bearer");

    let slack = tokens(&fake, OAuthProvider::Slack).await;
    assert_eq!(slack["ok"], true);
    assert_eq!(slack["token_type"], "bot");
    assert!(slack["access_token"].as_str().unwrap().starts_with("xoxb-"));
    assert!(slack["refresh_token"].as_str().unwrap().starts_with("xoxe-1-"));
    assert_eq!(slack["team"]["id"], seed.slack_team_id.as_str());
    assert_eq!(slack["enterprise"], Value::Null);
    assert_eq!(slack["authed_user"]["id"], "U0FAKEALICE");
    assert_eq!(slack["expires_in"], 3600);
    for key in ["scope", "bot_user_id", "app_id"] {
        assert!(slack[key].is_string(), "slack answers {key}");
    }

    let asana = tokens(&fake, OAuthProvider::Asana).await;
    assert_eq!(asana["token_type"], "bearer");
    assert_eq!(asana["expires_in"], 3600);
    assert!(asana["refresh_token"].is_string());
    assert_eq!(asana["data"]["gid"], seed.asana_user_gid.as_str());
    assert_eq!(asana["data"]["email"], "demo.user@example.com");

    let notion = tokens(&fake, OAuthProvider::Notion).await;
    assert_eq!(notion["token_type"], "bearer");
    assert_eq!(notion["bot_id"], seed.notion_bot_id.as_str());
    assert_eq!(notion["owner"]["type"], "user");
    assert_eq!(notion["owner"]["user"]["object"], "user");
    assert_eq!(notion["duplicated_template_id"], Value::Null);
    assert!(notion["workspace_id"].is_string() && notion["request_id"].is_string());
    assert!(notion.get("expires_in").is_none(), "Notion documents no expires_in");
}

#[tokio::test]
async fn a_wrong_verifier_a_reused_code_and_a_wrong_redirect_uri_are_refused() {
    let fake = start().await;
    fake.state().seed_demo();
    for p in OAuthProvider::ALL {
        let slack = p == OAuthProvider::Slack;
        let expect = |(status, body): (u16, Value), rfc: &[&str], slack_error: &str| {
            if slack {
                assert_eq!(
                    (status, body["ok"].clone(), body["error"].as_str()),
                    (200, Value::Bool(false), Some(slack_error))
                );
            } else {
                assert_eq!(status, 400, "{p}: {body}");
                assert!(rfc.contains(&body["error"].as_str().unwrap()), "{p}: {body}");
            }
        };
        let c = code(&fake, p).await;
        expect(
            exchange(&fake, p, &c, "not-the-verifier-not-the-verifier-not-the-verifier", REDIRECT).await,
            &["invalid_grant"],
            "invalid_code_verifier",
        );
        expect(
            exchange(&fake, p, &c, VERIFIER, "http://127.0.0.1:3000/elsewhere").await,
            &["invalid_grant", "redirect_uri_mismatch"],
            "bad_redirect_uri",
        );
        let (status, first) = exchange(&fake, p, &c, VERIFIER, REDIRECT).await;
        assert_eq!(status, 200, "{p}: the code still works after refused attempts: {first}");
        expect(exchange(&fake, p, &c, VERIFIER, REDIRECT).await, &["invalid_grant"], "invalid_code");
        expect(exchange(&fake, p, "no-such-code", VERIFIER, REDIRECT).await, &["invalid_grant"], "invalid_code");
    }
}

#[tokio::test]
async fn wrong_client_credentials_get_invalid_client_and_slack_says_bad_client_secret() {
    let fake = start().await;
    fake.state().seed_demo();
    for p in [OAuthProvider::Google, OAuthProvider::Asana, OAuthProvider::Microsoft, OAuthProvider::Slack] {
        let c = code(&fake, p).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", c.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", p.client_id()),
            ("client_secret", "wrong"),
        ];
        let resp = client().post(format!("{}/token", fake.oauth_url(p))).form(&form).send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        if p == OAuthProvider::Slack {
            assert_eq!((status, body["error"].as_str()), (200, Some("bad_client_secret")));
        } else {
            assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{p}");
        }
    }
    let microsoft = client()
        .post(format!("{}/token", fake.oauth_url(OAuthProvider::Microsoft)))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", "fake-microsoft-client-id")])
        .send()
        .await
        .unwrap();
    let body: Value = microsoft.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS"));
    assert!(body["error_codes"].is_array() && body["trace_id"].is_string());
}

#[tokio::test]
async fn notion_takes_a_json_body_with_http_basic_client_auth_only() {
    let fake = start().await;
    fake.state().seed_demo();
    let p = OAuthProvider::Notion;
    let c = code(&fake, p).await;
    let body = serde_json::json!({"grant_type": "authorization_code", "code": c, "redirect_uri": REDIRECT,
                                  "code_verifier": VERIFIER});
    let url = format!("{}/v1/oauth/token", fake.base_url(Provider::Notion));
    let in_body = client().post(&url).json(&serde_json::json!({"client_id": p.client_id(), "client_secret": p.client_secret(), "grant_type": "authorization_code", "code": c})).send().await.unwrap();
    assert_eq!(in_body.status(), 401);
    let basic =
        client().post(&url).basic_auth(p.client_id(), Some(p.client_secret())).json(&body).send().await.unwrap();
    assert_eq!(basic.status(), 200);
    let answer: Value = basic.json().await.unwrap();
    assert!(answer["access_token"].as_str().unwrap().starts_with("ntn_"));
    assert!(answer["refresh_token"].is_string());
}

#[tokio::test]
async fn slack_oauth_v2_access_is_served_under_the_web_api_with_http_basic_too() {
    let fake = start().await;
    fake.state().seed_demo();
    let p = OAuthProvider::Slack;
    let c = code(&fake, p).await;
    let resp = client()
        .post(format!("{}/oauth.v2.access", fake.base_url(Provider::Slack)))
        .basic_auth(p.client_id(), Some(p.client_secret()))
        .form(&[("code", c.as_str()), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["ok"], true, "{body}");

    let recorded = fake.state().requests(Provider::Slack);
    let access = recorded.iter().find(|r| r.path == "/oauth.v2.access").unwrap();
    let text = access.body.clone().unwrap();
    assert!(!text.contains(&c) && !text.contains(VERIFIER), "codes and verifiers are masked: {text}");
    assert_eq!(fake.state().token_requests(p).len(), 1);
    assert_eq!(fake.state().token_requests(p)[0].grant_type, "authorization_code");
}

#[tokio::test]
async fn authorize_requires_pkce_s256_and_never_redirects_for_an_unknown_client() {
    let fake = start().await;
    let p = OAuthProvider::Google;
    let without_pkce: Vec<(&str, String)> =
        authorize_params(p).into_iter().filter(|(k, _)| !k.starts_with("code_challenge")).collect();
    let back = authorize_with(&fake, p, &without_pkce).await;
    assert_eq!((back["error"].as_str(), back["state"].as_str()), ("invalid_request", "st4te"));
    assert!(!back.contains_key("code"));

    let mut plain = authorize_params(p);
    plain.retain(|(k, _)| *k != "code_challenge_method");
    plain.push(("code_challenge_method", "plain".to_owned()));
    assert_eq!(authorize_with(&fake, p, &plain).await["error"], "invalid_request");

    let mut stranger = authorize_params(p);
    stranger.retain(|(k, _)| *k != "client_id");
    stranger.push(("client_id", "someone-else".to_owned()));
    let resp =
        common::no_redirects().get(format!("{}/authorize", fake.oauth_url(p))).query(&stranger).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn a_denied_consent_redirects_with_access_denied_and_the_state_once() {
    let fake = start().await;
    for p in OAuthProvider::ALL {
        fake.state().deny_next_consent(p);
        let denied = authorize_with(&fake, p, &authorize_params(p)).await;
        assert_eq!(denied["error"], "access_denied", "{p}");
        assert_eq!(denied["state"], "st4te");
        assert!(!denied["error_description"].is_empty() && !denied.contains_key("code"));
        let next = authorize_with(&fake, p, &authorize_params(p)).await;
        assert!(next.contains_key("code"), "{p}: only the next consent is denied");
    }
}

#[tokio::test]
async fn without_an_attached_account_the_first_exchange_creates_one_for_the_oauth_user() {
    let fake = start().await;
    let p = OAuthProvider::Microsoft;
    let user = fake.state().oauth_user(p);
    let body = tokens(&fake, p).await;
    let (status, me) = get(&whoami_url(&fake, p), body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["id"].as_str(), me["displayName"].as_str()), (Some(user.id.as_str()), Some(user.name.as_str())));
}
