//! Trello: key + token auth, boards, lists, cards with id-based paging.

mod common;

use chrono::{Duration, Utc};
use common::{MAX_PAGES, assert_same_set, client, start};
use fake_providers::{Fault, Provider};
use serde_json::Value;

const KEY: &str = "test-key";
const TOKEN: &str = "test-token";

fn auth() -> [(&'static str, &'static str); 2] {
    [("key", KEY), ("token", TOKEN)]
}

#[tokio::test]
async fn paging_board_cards_with_limit_and_before_returns_every_card_exactly_once_newest_first() {
    let fake = start().await;
    let state = fake.state();
    state.add_trello_account(KEY, TOKEN, "tester");
    let board = state.add_trello_board(TOKEN, "Paging");
    let expected = state.add_trello_cards(&board, 23);
    let url = format!("{}/1/boards/{board}/cards", fake.base_url(Provider::Trello));

    let (mut seen, mut before, mut pages) = (Vec::<String>::new(), None::<String>, 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES, "paging did not terminate");
        let mut req = client().get(&url).query(&auth()).query(&[("limit", "5")]);
        if let Some(b) = &before {
            req = req.query(&[("before", b.as_str())]);
        }
        let cards: Vec<Value> = req.send().await.unwrap().json().await.unwrap();
        if cards.is_empty() {
            break;
        }
        let ids: Vec<String> = cards.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
        let mut sorted = ids.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(ids, sorted, "each page is newest first");
        before = ids.last().cloned();
        seen.extend(ids);
    }
    assert_eq!(pages, 6, "5 full-or-partial pages and one empty page");
    assert_eq!(seen.first(), expected.last(), "the newest card comes first");
    assert_same_set(seen, expected);
}

#[tokio::test]
async fn before_a_date_returns_only_cards_created_earlier() {
    let fake = start().await;
    let state = fake.state();
    state.add_trello_account(KEY, TOKEN, "tester");
    let board = state.add_trello_board(TOKEN, "Dates");
    let now = Utc::now();
    let old = state.add_trello_card_at(&board, "old", now - Duration::days(10));
    let _new = state.add_trello_card_at(&board, "new", now - Duration::days(1));
    let cutoff = (now - Duration::days(5)).to_rfc3339();

    let cards: Vec<Value> = client()
        .get(format!("{}/1/boards/{board}/cards", fake.base_url(Provider::Trello)))
        .query(&auth())
        .query(&[("before", cutoff.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = cards.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![old.as_str()]);
    assert!(old < _new, "ids sort by creation time");
}

#[tokio::test]
async fn a_revoked_token_is_refused_with_401_invalid_token_and_an_unknown_key_with_invalid_key() {
    let fake = start().await;
    fake.state().add_trello_account(KEY, TOKEN, "tester");
    let url = format!("{}/1/members/me", fake.base_url(Provider::Trello));

    let ok = client().get(&url).query(&auth()).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let me: Value = ok.json().await.unwrap();
    assert_eq!(me["username"], "tester");

    let bad_key = client().get(&url).query(&[("key", "nope"), ("token", TOKEN)]).send().await.unwrap();
    assert_eq!(bad_key.status(), 401);
    assert_eq!(bad_key.text().await.unwrap(), "invalid key");

    assert!(fake.state().revoke(Provider::Trello, TOKEN));
    let revoked = client().get(&url).query(&auth()).send().await.unwrap();
    assert_eq!(revoked.status(), 401);
    assert_eq!(revoked.text().await.unwrap(), "invalid token");
}

#[tokio::test]
async fn the_oauth_authorization_header_is_accepted_like_query_parameters() {
    let fake = start().await;
    fake.state().add_trello_account(KEY, TOKEN, "tester");
    let resp = client()
        .get(format!("{}/1/members/me", fake.base_url(Provider::Trello)))
        .header("Authorization", format!(r#"OAuth oauth_consumer_key="{KEY}", oauth_token="{TOKEN}""#))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let recorded = fake.state().requests(Provider::Trello);
    assert_eq!(recorded[0].credential.as_deref(), Some("test****"), "the token is masked");
}

#[tokio::test]
async fn a_rate_limit_fault_is_served_once_and_then_normal_answers_resume() {
    let fake = start().await;
    let state = fake.state();
    state.add_trello_account(KEY, TOKEN, "tester");
    state.fail_next(Provider::Trello, "/1/members", Fault::RateLimited { retry_after_secs: 3 }, 1);
    let url = format!("{}/1/members/me/boards", fake.base_url(Provider::Trello));

    let limited = client().get(&url).query(&auth()).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "API_TOKEN_LIMIT_EXCEEDED");

    let again = client().get(&url).query(&auth()).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(state.request_count(Provider::Trello, "/1/members"), 2);
}

#[tokio::test]
async fn member_boards_filter_open_hides_closed_boards_and_fields_limit_the_properties() {
    let fake = start().await;
    let state = fake.state();
    state.add_trello_account(KEY, TOKEN, "tester");
    let open = state.add_trello_board(TOKEN, "Open");
    let closed = state.add_trello_board(TOKEN, "Closed");
    state.update_trello_board(&closed, |b| b.closed = true);
    let url = format!("{}/1/members/me/boards", fake.base_url(Provider::Trello));

    let all: Vec<Value> = client().get(&url).query(&auth()).send().await.unwrap().json().await.unwrap();
    assert_eq!(all.len(), 2);
    let open_only: Vec<Value> = client()
        .get(&url)
        .query(&auth())
        .query(&[("filter", "open"), ("fields", "name,closed")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(open_only.len(), 1);
    assert_eq!(open_only[0]["id"], open.as_str());
    let keys: Vec<&String> = open_only[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "id, name and closed only: {keys:?}");
}

#[tokio::test]
async fn lists_and_cards_carry_the_documented_properties() {
    let fake = start().await;
    let state = fake.state();
    state.add_trello_account(KEY, TOKEN, "tester");
    let board = state.add_trello_board(TOKEN, "Props");
    let card = state.add_trello_card(&board, "A card");
    let base = fake.base_url(Provider::Trello);

    let lists: Vec<Value> = client()
        .get(format!("{base}/1/boards/{board}/lists"))
        .query(&auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lists.len(), 3);
    assert_eq!(lists[0]["idBoard"], board.as_str());

    let cards: Vec<Value> = client()
        .get(format!("{base}/1/boards/{board}/cards"))
        .query(&auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = &cards[0];
    assert_eq!(c["id"], card.as_str());
    for key in [
        "name",
        "desc",
        "idBoard",
        "idList",
        "due",
        "dueComplete",
        "closed",
        "url",
        "shortUrl",
        "labels",
        "dateLastActivity",
    ] {
        assert!(c.get(key).is_some(), "card has {key}");
    }
    assert_eq!(c["idList"], lists[0]["id"]);

    let before = c["dateLastActivity"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(state.touch_trello_card(&card));
    let after = state.trello_card(&card).unwrap().date_last_activity.to_rfc3339();
    assert!(after > before, "touching moves dateLastActivity forward");
}

#[tokio::test]
async fn bad_input_gets_trello_400_and_404_text_answers() {
    let fake = start().await;
    let state = fake.state();
    state.add_trello_account(KEY, TOKEN, "tester");
    let board = state.add_trello_board(TOKEN, "Errors");
    let base = fake.base_url(Provider::Trello);
    let get = |path: String, extra: &'static [(&'static str, &'static str)]| {
        client().get(format!("{base}{path}")).query(&auth()).query(extra).send()
    };

    let bad_limit = get(format!("/1/boards/{board}/cards"), &[("limit", "1001")]).await.unwrap();
    assert_eq!(bad_limit.status(), 400);
    assert_eq!(bad_limit.text().await.unwrap(), "invalid value for limit");

    let bad_id = get("/1/boards/not-an-id/cards".into(), &[]).await.unwrap();
    assert_eq!(bad_id.status(), 400);
    assert_eq!(bad_id.text().await.unwrap(), "invalid id");

    let missing = get("/1/boards/0123456789abcdef01234567/lists".into(), &[]).await.unwrap();
    assert_eq!(missing.status(), 404);

    let unknown = get("/1/nothing/here".into(), &[]).await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.text().await.unwrap(), "Cannot GET /1/nothing/here");
}
