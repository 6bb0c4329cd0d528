//! The `/_fake/` control API and the demo data set.

mod common;

use common::{MAX_PAGES, client, start};
use fake_providers::{FakeProviders, Provider, demo};
use serde_json::{Value, json};

async fn control(fake: &FakeProviders, path: &str, body: Value) -> Value {
    let resp = client().post(format!("{}/_fake{path}", fake.url())).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

async fn slack(fake: &FakeProviders, method: &str, params: &[(&str, &str)]) -> Value {
    client()
        .get(format!("{}/{method}", fake.base_url(Provider::Slack)))
        .bearer_auth(demo::SLACK_TOKEN)
        .query(params)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_seeded_demo_fills_several_pages_at_default_page_sizes() {
    let fake = start().await;
    let seeded = control(&fake, "/seed-demo", json!({})).await;
    let general = seeded["demo"]["slackChannelIds"][0].as_str().unwrap().to_owned();

    let (mut cursor, mut pages, mut messages) = (String::new(), 0, 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES);
        let mut params = vec![("channel", general.as_str())];
        if !cursor.is_empty() {
            params.push(("cursor", &cursor));
        }
        let body = slack(&fake, "conversations.history", &params).await;
        messages += body["messages"].as_array().unwrap().len();
        cursor = body["response_metadata"]["next_cursor"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!((pages, messages), (3, 250));

    let (mut cursor, mut pages, mut results) = (Value::Null, 0, 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES);
        let body: Value = client()
            .post(format!("{}/v1/search", fake.base_url(Provider::Notion)))
            .bearer_auth(demo::NOTION_TOKEN)
            .header("Notion-Version", demo::NOTION_VERSION)
            .json(&json!({"start_cursor": cursor}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        results += body["results"].as_array().unwrap().len();
        if body["has_more"] == false {
            break;
        }
        cursor = body["next_cursor"].clone();
    }
    assert_eq!((pages, results), (3, 227 + 4));

    let boards: Vec<Value> = client()
        .get(format!("{}/1/members/me/boards", fake.base_url(Provider::Trello)))
        .query(&[("key", demo::TRELLO_KEY), ("token", demo::TRELLO_TOKEN), ("filter", "open")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(boards.len(), 2);

    let me: Value = client()
        .get(format!("{}/users/me", fake.base_url(Provider::Asana)))
        .bearer_auth(demo::ASANA_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["workspaces"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn revoke_and_fault_endpoints_steer_a_running_server() {
    let fake = start().await;
    fake.state().seed_demo();

    control(&fake, "/slack/faults", json!({"pathPrefix": "/auth.test", "fault": "server_error", "times": 1})).await;
    let failed = client()
        .post(format!("{}/auth.test", fake.base_url(Provider::Slack)))
        .bearer_auth(demo::SLACK_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    assert_eq!(slack(&fake, "auth.test", &[]).await["ok"], true);

    let revoked = control(&fake, "/slack/revoke", json!({"token": demo::SLACK_TOKEN})).await;
    assert_eq!(revoked["revoked"], true);
    assert_eq!(slack(&fake, "auth.test", &[]).await["error"], "token_revoked");

    let bad = client()
        .post(format!("{}/_fake/slack/faults", fake.url()))
        .json(&json!({"fault": "explode"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let unknown =
        client().post(format!("{}/_fake/jira/revoke", fake.url())).json(&json!({"token": "x"})).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn recorded_requests_are_listed_with_the_credentials_masked() {
    let fake = start().await;
    fake.state().seed_demo();
    slack(&fake, "conversations.list", &[("limit", "5")]).await;
    client()
        .get(format!("{}/1/members/me", fake.base_url(Provider::Trello)))
        .query(&[("key", demo::TRELLO_KEY), ("token", demo::TRELLO_TOKEN)])
        .send()
        .await
        .unwrap();

    let listed: Vec<Value> =
        client().get(format!("{}/_fake/slack/requests", fake.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["path"], "/conversations.list");
    assert_eq!(listed[0]["status"], 200);
    assert_eq!(listed[0]["credential"], "xoxb****");

    let trello = fake.state().requests(Provider::Trello);
    assert_eq!(trello[0].param("key").as_deref(), Some("fake****"));
    assert!(!trello[0].query.contains(demo::TRELLO_TOKEN));
}

#[tokio::test]
async fn reset_forgets_every_account() {
    let fake = start().await;
    fake.state().seed_demo();
    control(&fake, "/reset", json!({})).await;
    assert_eq!(slack(&fake, "auth.test", &[]).await["error"], "invalid_auth");
    let health: Value =
        client().get(format!("{}/_fake/health", fake.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["ok"], true);
    let nowhere = client().get(format!("{}/jira/rest", fake.url())).send().await.unwrap();
    assert_eq!(nowhere.status(), 404);
}

#[tokio::test]
async fn the_seeded_demo_has_a_google_user_a_microsoft_user_and_oauth_users_attached_to_them() {
    let fake = start().await;
    let seeded = control(&fake, "/seed-demo", json!({})).await;
    assert_eq!(seeded["demo"]["calendarEventIds"].as_array().unwrap().len(), 40);
    assert_eq!(seeded["demo"]["driveFileIds"].as_array().unwrap().len(), 30);
    assert_eq!(seeded["demo"]["teamsChannelIds"].as_array().unwrap().len(), 4);

    let get = |url: String, token: &'static str| async move {
        client().get(url).bearer_auth(token).send().await.unwrap().json::<Value>().await.unwrap()
    };
    let events = get(
        format!("{}/calendars/primary/events?maxResults=2500", fake.base_url(Provider::GoogleCalendar)),
        demo::GOOGLE_TOKEN,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 38, "40 events, 2 of them cancelled");
    let files = get(
        format!("{}/files?q=trashed%3Dfalse&pageSize=1000", fake.base_url(Provider::GoogleDrive)),
        demo::GOOGLE_TOKEN,
    )
    .await;
    assert_eq!(files["files"].as_array().unwrap().len(), 28, "30 files, 2 of them trashed");

    let graph = fake.base_url(Provider::MicrosoftGraph);
    let teams = get(format!("{graph}/me/joinedTeams"), demo::MICROSOFT_TOKEN).await;
    let team = teams["value"][0]["id"].as_str().unwrap().to_owned();
    let channels = get(format!("{graph}/teams/{team}/channels"), demo::MICROSOFT_TOKEN).await;
    let channel = channels["value"][0]["id"].as_str().unwrap().to_owned();
    let messages =
        get(format!("{graph}/teams/{team}/channels/{channel}/messages?$top=50"), demo::MICROSOFT_TOKEN).await;
    assert_eq!(messages["value"].as_array().unwrap().len(), 30);

    for p in fake_providers::OAuthProvider::ALL {
        assert_eq!(fake.state().oauth_user(p).email, "demo.user@example.com", "{p}");
    }
    let asana = fake.state().oauth_user(fake_providers::OAuthProvider::Asana);
    assert_eq!(asana.id, seeded["demo"]["asanaUserGid"].as_str().unwrap());
}
