//! Notion: bearer auth, Notion-Version, users/me and POST /v1/search with cursors.

mod common;

use common::{MAX_PAGES, assert_same_set, client, start};
use fake_providers::{FakeProviders, Fault, Provider};
use serde_json::{Value, json};

const TOKEN: &str = "secret_test";
const VERSION: &str = "2022-06-28";

async fn search(fake: &FakeProviders, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/search", fake.base_url(Provider::Notion)))
        .bearer_auth(TOKEN)
        .header("Notion-Version", VERSION)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn search_pages_through_every_shared_item_exactly_once() {
    let fake = start().await;
    let state = fake.state();
    state.add_notion_account(TOKEN, "Test WS");
    let mut expected = state.add_notion_pages(TOKEN, 20);
    expected.push(state.add_notion_database(TOKEN, "A database"));
    state.add_notion_account("secret_other", "Other WS");
    state.add_notion_page("secret_other", "Not shared with us");
    let trashed = state.add_notion_page(TOKEN, "Trashed");
    state.trash_notion_page(&trashed);

    let (mut seen, mut cursor, mut pages) = (Vec::<String>::new(), Value::Null, 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES, "paging did not terminate");
        let body: Value = search(&fake, json!({"page_size": 6, "start_cursor": cursor})).await.json().await.unwrap();
        assert_eq!(body["object"], "list");
        assert_eq!(body["type"], "page_or_database");
        seen.extend(body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        if body["has_more"] == false {
            assert_eq!(body["next_cursor"], Value::Null);
            break;
        }
        cursor = body["next_cursor"].clone();
    }
    assert_eq!(pages, 4);
    assert_same_set(seen, expected);
}

#[tokio::test]
async fn search_sorts_by_last_edited_time_and_filters_by_object() {
    let fake = start().await;
    let state = fake.state();
    state.add_notion_account(TOKEN, "Test WS");
    let pages = state.add_notion_pages(TOKEN, 3);
    let db = state.add_notion_database(TOKEN, "Tasks");
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    for (i, id) in pages.iter().chain([&db]).enumerate() {
        state.update_notion_item(id, |p| p.last_edited_time = base + chrono::Duration::minutes(i as i64));
    }
    state.touch_notion_page(&pages[0]);

    let sort = |direction| json!({"sort": {"direction": direction, "timestamp": "last_edited_time"}});
    let ids = |body: &Value| -> Vec<String> {
        body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    let desc: Value = search(&fake, sort("descending")).await.json().await.unwrap();
    assert_eq!(ids(&desc), vec![pages[0].clone(), db.clone(), pages[2].clone(), pages[1].clone()]);
    let asc: Value = search(&fake, sort("ascending")).await.json().await.unwrap();
    assert_eq!(ids(&asc), vec![pages[1].clone(), pages[2].clone(), db.clone(), pages[0].clone()]);

    let only_db: Value =
        search(&fake, json!({"filter": {"property": "object", "value": "database"}})).await.json().await.unwrap();
    assert_eq!(ids(&only_db), vec![db.clone()]);
    assert_eq!(only_db["results"][0]["object"], "database");

    let titled: Value = search(&fake, json!({"query": "page 2"})).await.json().await.unwrap();
    assert_eq!(ids(&titled), vec![pages[1].clone()]);
    let title = &titled["results"][0]["properties"]["title"]["title"][0]["plain_text"];
    assert_eq!(title, "Page 2");
}

#[tokio::test]
async fn users_me_returns_the_bot_user_of_the_integration() {
    let fake = start().await;
    let bot = fake.state().add_notion_account(TOKEN, "Test WS");
    let body: Value = client()
        .get(format!("{}/v1/users/me", fake.base_url(Provider::Notion)))
        .bearer_auth(TOKEN)
        .header("Notion-Version", VERSION)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "user");
    assert_eq!(body["id"], bot.as_str());
    assert_eq!(body["type"], "bot");
    assert_eq!(body["bot"]["owner"], json!({"type": "workspace", "workspace": true}));
    assert_eq!(body["bot"]["workspace_name"], "Test WS");
}

#[tokio::test]
async fn a_missing_notion_version_or_bad_body_gets_notion_400_errors() {
    let fake = start().await;
    fake.state().add_notion_account(TOKEN, "Test WS");
    let url = format!("{}/v1/search", fake.base_url(Provider::Notion));

    let no_version = client().post(&url).bearer_auth(TOKEN).json(&json!({})).send().await.unwrap();
    assert_eq!(no_version.status(), 400);
    assert_eq!(no_version.json::<Value>().await.unwrap()["code"], "missing_version");

    let too_big = search(&fake, json!({"page_size": 101})).await;
    assert_eq!(too_big.status(), 400);
    let body: Value = too_big.json().await.unwrap();
    assert_eq!(body["code"], "validation_error");
    assert_eq!(body["object"], "error");
    assert_eq!(body["status"], 400);

    let garbage = client()
        .post(&url)
        .bearer_auth(TOKEN)
        .header("Notion-Version", VERSION)
        .header("Content-Type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert_eq!(garbage.json::<Value>().await.unwrap()["code"], "invalid_json");

    let bad_cursor = search(&fake, json!({"start_cursor": "nope"})).await;
    assert_eq!(bad_cursor.json::<Value>().await.unwrap()["code"], "validation_error");

    let unknown = client()
        .get(format!("{}/v1/nothing", fake.base_url(Provider::Notion)))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], "invalid_request_url");
}

#[tokio::test]
async fn a_revoked_token_gets_401_unauthorized() {
    let fake = start().await;
    fake.state().add_notion_account(TOKEN, "Test WS");
    assert_eq!(search(&fake, json!({})).await.status(), 200);
    fake.state().revoke(Provider::Notion, TOKEN);
    let resp = search(&fake, json!({})).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    assert_eq!(body["message"], "API token is invalid.");
}

#[tokio::test]
async fn a_rate_limit_fault_is_served_once_then_search_answers_again() {
    let fake = start().await;
    fake.state().add_notion_account(TOKEN, "Test WS");
    fake.state().fail_next(Provider::Notion, "/v1/search", Fault::RateLimited { retry_after_secs: 2 }, 1);
    let limited = search(&fake, json!({})).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "2");
    assert_eq!(limited.json::<Value>().await.unwrap()["code"], "rate_limited");
    assert_eq!(search(&fake, json!({})).await.status(), 200);
}

#[tokio::test]
async fn newer_api_versions_list_databases_as_data_sources() {
    let fake = start().await;
    fake.state().add_notion_account(TOKEN, "Test WS");
    fake.state().add_notion_database(TOKEN, "Tasks");
    let body: Value = client()
        .post(format!("{}/v1/search", fake.base_url(Provider::Notion)))
        .bearer_auth(TOKEN)
        .header("Notion-Version", "2025-09-03")
        .json(&json!({"filter": {"property": "object", "value": "data_source"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["type"], "page_or_data_source");
    assert_eq!(body["results"][0]["object"], "data_source");
}
