//! OAuth tokens after the exchange: refresh and rotation, expiry on the data APIs, revocation,
//! the inspection methods and the `/_fake/oauth/` control API.

mod common;

use std::time::Duration;

use common::oauth::{get, refresh, tokens, whoami_url};
use common::{client, start};
use fake_providers::{OAuthProvider, Provider};
use serde_json::{Value, json};

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[tokio::test]
async fn google_and_asana_refreshes_answer_a_new_access_token_and_keep_the_refresh_token() {
    let fake = start().await;
    fake.state().seed_demo();
    for p in [OAuthProvider::Google, OAuthProvider::Asana] {
        let first = tokens(&fake, p).await;
        let rt = str_of(&first, "refresh_token");
        let (status, again) = refresh(&fake, p, rt).await;
        assert_eq!(status, 200, "{again}");
        assert!(again.get("refresh_token").is_none(), "{p}: no new refresh token");
        assert_ne!(again["access_token"], first["access_token"]);
        let (status, _) = refresh(&fake, p, rt).await;
        assert_eq!(status, 200, "{p}: the refresh token keeps working");
        let (status, _) = get(&whoami_url(&fake, p), str_of(&again, "access_token")).await;
        assert_eq!(status, 200);
    }
    let grants: Vec<String> =
        fake.state().token_requests(OAuthProvider::Google).into_iter().map(|r| r.grant_type).collect();
    assert_eq!(grants, ["authorization_code", "refresh_token", "refresh_token"]);
}

#[tokio::test]
async fn microsoft_slack_and_notion_rotate_refresh_tokens_and_the_old_one_stops_working() {
    let fake = start().await;
    fake.state().seed_demo();
    for p in [OAuthProvider::Microsoft, OAuthProvider::Slack, OAuthProvider::Notion] {
        let first = tokens(&fake, p).await;
        let old = str_of(&first, "refresh_token");
        let (status, rotated) = refresh(&fake, p, old).await;
        assert_eq!(status, 200, "{p}: {rotated}");
        let new = str_of(&rotated, "refresh_token");
        assert_ne!(new, old, "{p}");
        let (status, refused) = refresh(&fake, p, old).await;
        if p == OAuthProvider::Slack {
            assert_eq!((status, refused["error"].as_str()), (200, Some("invalid_refresh_token")));
        } else {
            assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")), "{p}");
        }
        let (status, _) = refresh(&fake, p, new).await;
        assert_eq!(status, 200, "{p}: the new refresh token works");
        let (status, _) = get(&whoami_url(&fake, p), str_of(&first, "access_token")).await;
        assert_eq!(status, 200, "{p}: earlier access tokens live until they expire");
    }
}

#[tokio::test]
async fn an_expired_access_token_is_refused_by_each_data_api_in_its_own_shape() {
    let fake = start().await;
    fake.state().seed_demo();
    for p in OAuthProvider::ALL {
        let body = tokens(&fake, p).await;
        let access = str_of(&body, "access_token");
        assert_eq!(fake.state().expire_access_tokens(p), 1);
        let (status, answer) = get(&whoami_url(&fake, p), access).await;
        match p {
            OAuthProvider::Slack => assert_eq!((status, answer), (200, json!({"ok": false, "error": "token_expired"}))),
            OAuthProvider::Google => assert_eq!((status, &answer["error"]), (401, &json!("invalid_request"))),
            OAuthProvider::Microsoft => {
                assert_eq!((status, &answer["error"]["code"]), (401, &json!("InvalidAuthenticationToken")));
            }
            OAuthProvider::Asana => {
                assert_eq!((status, &answer["errors"][0]["message"]), (401, &json!("Not Authorized")))
            }
            OAuthProvider::Notion => assert_eq!((status, &answer["code"]), (401, &json!("unauthorized"))),
        }
        let (status, refreshed) = refresh(&fake, p, str_of(&body, "refresh_token")).await;
        assert_eq!(status, 200, "{p}: refreshing still works: {refreshed}");
        let (status, _) = get(&whoami_url(&fake, p), str_of(&refreshed, "access_token")).await;
        assert_eq!(status, 200);
    }
    let body = tokens(&fake, OAuthProvider::Google).await;
    fake.state().expire_access_tokens(OAuthProvider::Google);
    let events = format!("{}/calendars/primary/events", fake.base_url(Provider::GoogleCalendar));
    let (status, answer) = get(&events, str_of(&body, "access_token")).await;
    assert_eq!((status, &answer["error"]["status"]), (401, &json!("UNAUTHENTICATED")));
}

#[tokio::test]
async fn a_short_token_lifetime_is_reported_in_expires_in_and_enforced() {
    let fake = start().await;
    fake.state().seed_demo();
    fake.state().set_token_lifetime(OAuthProvider::Microsoft, Duration::from_secs(1));
    let body = tokens(&fake, OAuthProvider::Microsoft).await;
    assert_eq!((body["expires_in"].as_i64(), body["ext_expires_in"].as_i64()), (Some(1), Some(1)));
    let me = whoami_url(&fake, OAuthProvider::Microsoft);
    assert_eq!(get(&me, str_of(&body, "access_token")).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, answer) = get(&me, str_of(&body, "access_token")).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["message"], "Lifetime validation failed, the token is expired.");
}

#[tokio::test]
async fn revoking_at_google_stops_both_tokens_and_an_unknown_token_gets_invalid_token() {
    let fake = start().await;
    fake.state().seed_demo();
    let p = OAuthProvider::Google;
    let body = tokens(&fake, p).await;
    let revoke = format!("{}/revoke", fake.oauth_url(p));
    let resp = client().post(&revoke).form(&[("token", str_of(&body, "access_token"))]).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({}));
    assert_eq!(get(&whoami_url(&fake, p), str_of(&body, "access_token")).await.0, 401);
    let (status, refused) = refresh(&fake, p, str_of(&body, "refresh_token")).await;
    assert_eq!((status, str_of(&refused, "error")), (400, "invalid_grant"));

    let unknown = client().post(&revoke).form(&[("token", "ya29.never-issued")]).send().await.unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"], "invalid_token");
    assert_eq!(fake.state().revocations(p), vec!["ya29****".to_owned()]);
}

#[tokio::test]
async fn slack_auth_revoke_revokes_the_calling_token_and_asana_revoke_answers_200() {
    let fake = start().await;
    fake.state().seed_demo();
    let slack = tokens(&fake, OAuthProvider::Slack).await;
    let access = str_of(&slack, "access_token");
    let url = format!("{}/auth.revoke", fake.base_url(Provider::Slack));
    let tested: Value =
        client().post(&url).bearer_auth(access).form(&[("test", "1")]).send().await.unwrap().json().await.unwrap();
    assert_eq!(tested, json!({"ok": true, "revoked": false}));
    let revoked: Value = client().post(&url).bearer_auth(access).send().await.unwrap().json().await.unwrap();
    assert_eq!(revoked, json!({"ok": true, "revoked": true}));
    let (_, after) = get(&whoami_url(&fake, OAuthProvider::Slack), access).await;
    assert_eq!(after["error"], "token_revoked");
    assert_eq!(fake.state().revocations(OAuthProvider::Slack), vec!["xoxb****".to_owned()]);

    let p = OAuthProvider::Asana;
    let asana = tokens(&fake, p).await;
    let form = [
        ("client_id", p.client_id()),
        ("client_secret", p.client_secret()),
        ("token", str_of(&asana, "refresh_token")),
    ];
    let resp = client().post(format!("{}/revoke", fake.oauth_url(p))).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(refresh(&fake, p, str_of(&asana, "refresh_token")).await.0, 400);
    assert_eq!(get(&whoami_url(&fake, p), str_of(&asana, "access_token")).await.0, 401);
}

#[tokio::test]
async fn revoke_grant_makes_the_next_refresh_invalid_grant_as_when_the_user_removes_the_app() {
    let fake = start().await;
    fake.state().seed_demo();
    for p in OAuthProvider::ALL {
        let body = tokens(&fake, p).await;
        assert!(fake.state().revoke_grant(p, str_of(&body, "refresh_token")));
        let (status, refused) = refresh(&fake, p, str_of(&body, "refresh_token")).await;
        let error = str_of(&refused, "error");
        match p {
            OAuthProvider::Slack => assert_eq!((status, error), (200, "invalid_refresh_token")),
            _ => assert_eq!((status, error), (400, "invalid_grant"), "{p}"),
        }
        let (status, answer) = get(&whoami_url(&fake, p), str_of(&body, "access_token")).await;
        match p {
            OAuthProvider::Slack => assert_eq!(answer["error"], "token_revoked"),
            _ => assert_eq!(status, 401, "{p}: the grant's access tokens stop too"),
        }
    }
    assert!(!fake.state().revoke_grant(OAuthProvider::Google, "1//never-issued"));
}

#[tokio::test]
async fn every_concurrent_refresh_reaching_the_fake_is_counted() {
    let fake = start().await;
    fake.state().seed_demo();
    let p = OAuthProvider::Google;
    let rt = str_of(&tokens(&fake, p).await, "refresh_token").to_owned();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (url, rt) = (fake.oauth_url(p), rt.clone());
        set.spawn(async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", p.client_id()),
                ("client_secret", p.client_secret()),
            ];
            client().post(format!("{url}/token")).form(&form).send().await.unwrap().status().as_u16()
        });
    }
    while let Some(status) = set.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let requests = fake.state().token_requests(p);
    let refreshes = requests.iter().filter(|r| r.grant_type == "refresh_token").count();
    assert_eq!((requests.len(), refreshes), (21, 20));
    assert!(requests.iter().all(|r| r.status == 200 && r.error.is_none()));
}

#[tokio::test]
async fn the_oauth_control_api_steers_a_running_server() {
    let fake = start().await;
    fake.state().seed_demo();
    let control = |path: &str, body: Value| {
        let url = format!("{}/_fake/oauth{path}", fake.url());
        async move { client().post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(control("/microsoft/lifetime", json!({"secs": 120})).await["ok"], true);
    let body = tokens(&fake, OAuthProvider::Microsoft).await;
    assert_eq!(body["expires_in"], 120);
    assert_eq!(control("/microsoft/expire", json!({})).await["expired"], 1);
    let revoked = control("/microsoft/revoke-grant", json!({"token": str_of(&body, "refresh_token")})).await;
    assert_eq!(revoked["revoked"], true);
    assert_eq!(refresh(&fake, OAuthProvider::Microsoft, str_of(&body, "refresh_token")).await.0, 400);

    let listed: Vec<Value> = client()
        .get(format!("{}/_fake/oauth/microsoft/token-requests", fake.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants: Vec<&str> = listed.iter().map(|r| r["grantType"].as_str().unwrap()).collect();
    assert_eq!(grants, ["authorization_code", "refresh_token"]);
    assert_eq!(listed[1]["error"], "invalid_grant");

    assert_eq!(control("/slack/deny-next", json!({})).await["ok"], true);
    let denied = common::oauth::authorize_with(
        &fake,
        OAuthProvider::Slack,
        &common::oauth::authorize_params(OAuthProvider::Slack),
    )
    .await;
    assert_eq!(denied["error"], "access_denied");

    let user = control("/notion/user", json!({"name": "Nora Notion"})).await;
    assert_eq!(user["user"]["name"], "Nora Notion");
    assert_eq!(fake.state().oauth_user(OAuthProvider::Notion).email, "demo.user@example.com");
    let unknown = client().post(format!("{}/_fake/oauth/jira/expire", fake.url())).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}
