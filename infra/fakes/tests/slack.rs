//! Slack: bearer auth, auth.test, conversations.list and conversations.history with cursors.

mod common;

use std::time::{Duration, Instant};

use common::{MAX_PAGES, assert_same_set, client, start};
use fake_providers::{FakeProviders, Fault, Provider};
use serde_json::Value;

const TOKEN: &str = "xoxb-test";

async fn call(fake: &FakeProviders, method: &str, params: &[(&str, &str)]) -> Value {
    client()
        .get(format!("{}/{method}", fake.base_url(Provider::Slack)))
        .bearer_auth(TOKEN)
        .query(params)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Follows `response_metadata.next_cursor` until it is empty; returns the items of `key`.
async fn all_pages(fake: &FakeProviders, method: &str, key: &str, params: &[(&str, &str)]) -> (Vec<Value>, usize) {
    let (mut items, mut cursor, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES, "paging did not terminate");
        let mut p = params.to_vec();
        if !cursor.is_empty() {
            p.push(("cursor", cursor.as_str()));
        }
        let body = call(fake, method, &p).await;
        assert_eq!(body["ok"], true, "{body}");
        items.extend(body[key].as_array().unwrap().iter().cloned());
        cursor = body["response_metadata"]["next_cursor"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            return (items, pages);
        }
    }
}

#[tokio::test]
async fn conversations_list_pages_through_every_visible_channel_exactly_once() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    let mut expected: Vec<String> = (0..12).map(|i| state.add_slack_channel(TOKEN, &format!("c{i}"))).collect();
    let hidden_private = state.add_slack_channel(TOKEN, "not-mine");
    state.update_slack_channel(&hidden_private, |c| {
        c.is_private = true;
        c.is_member = false;
    });
    let mine = state.add_slack_channel(TOKEN, "mine");
    state.update_slack_channel(&mine, |c| c.is_private = true);
    expected.push(mine);

    let (channels, pages) = all_pages(
        &fake,
        "conversations.list",
        "channels",
        &[("limit", "5"), ("types", "public_channel,private_channel")],
    )
    .await;
    assert_eq!(pages, 3);
    let ids = channels.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_same_set(ids, expected);
    assert_eq!(channels[0]["is_channel"], true);
}

#[tokio::test]
async fn history_pages_newest_first_and_returns_every_message_exactly_once() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    let channel = state.add_slack_channel(TOKEN, "general");
    let expected = state.add_slack_messages(&channel, 17);

    let (messages, pages) =
        all_pages(&fake, "conversations.history", "messages", &[("channel", channel.as_str()), ("limit", "4")]).await;
    assert_eq!(pages, 5);
    let ts: Vec<String> = messages.iter().map(|m| m["ts"].as_str().unwrap().to_owned()).collect();
    let mut newest_first = expected.clone();
    newest_first.reverse();
    assert_eq!(ts, newest_first);
    assert_same_set(ts, expected);
    assert_eq!(messages[0]["type"], "message");
}

#[tokio::test]
async fn history_with_oldest_excludes_that_message_and_everything_before_it() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    let channel = state.add_slack_channel(TOKEN, "general");
    let ts = state.add_slack_messages(&channel, 10);

    let body = call(&fake, "conversations.history", &[("channel", &channel), ("oldest", &ts[6])]).await;
    let got: Vec<&str> = body["messages"].as_array().unwrap().iter().map(|m| m["ts"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ts[9].as_str(), ts[8].as_str(), ts[7].as_str()]);
    assert_eq!(body["has_more"], false);
    assert_eq!(body["response_metadata"]["next_cursor"], "");

    let inclusive =
        call(&fake, "conversations.history", &[("channel", &channel), ("oldest", &ts[6]), ("inclusive", "true")]).await;
    assert_eq!(inclusive["messages"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn form_encoded_posts_are_answered_like_get_requests() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    let channel = state.add_slack_channel(TOKEN, "general");
    state.add_slack_messages(&channel, 3);

    let body: Value = client()
        .post(format!("{}/conversations.history", fake.base_url(Provider::Slack)))
        .bearer_auth(TOKEN)
        .form(&[("channel", channel.as_str()), ("limit", "2")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(body["has_more"], true);
}

#[tokio::test]
async fn auth_errors_are_http_200_with_ok_false_as_slack_answers_them() {
    let fake = start().await;
    let state = fake.state();
    let team = state.add_slack_account(TOKEN, "Test Team");
    let url = format!("{}/auth.test", fake.base_url(Provider::Slack));

    let me = call(&fake, "auth.test", &[]).await;
    assert_eq!(me["ok"], true);
    assert_eq!(me["team_id"], team.as_str());
    for key in ["url", "team", "user", "user_id", "bot_id"] {
        assert!(me[key].is_string(), "auth.test has {key}");
    }

    let none = client().post(&url).send().await.unwrap();
    assert_eq!(none.status(), 200);
    assert_eq!(none.json::<Value>().await.unwrap()["error"], "not_authed");

    let wrong = client().post(&url).bearer_auth("xoxb-wrong").send().await.unwrap();
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_auth");

    state.revoke(Provider::Slack, TOKEN);
    let revoked = client().post(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    let body: Value = revoked.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"ok": false, "error": "token_revoked"}));
}

#[tokio::test]
async fn history_of_unknown_or_unjoined_channels_gives_slack_errors() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    let outside = state.add_slack_channel(TOKEN, "outside");
    state.update_slack_channel(&outside, |c| c.is_member = false);

    let body = call(&fake, "conversations.history", &[("channel", &outside)]).await;
    assert_eq!(body["error"], "not_in_channel");
    let body = call(&fake, "conversations.history", &[("channel", "C0NOPE")]).await;
    assert_eq!(body["error"], "channel_not_found");
    let body = call(&fake, "conversations.history", &[("channel", &outside), ("cursor", "garbage")]).await;
    assert_eq!(body["error"], "not_in_channel");
    let body = call(&fake, "conversations.list", &[("cursor", "garbage")]).await;
    assert_eq!(body["error"], "invalid_cursor");

    let unknown = client()
        .get(format!("{}/chat.nothing", fake.base_url(Provider::Slack)))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"], "unknown_method");
}

#[tokio::test]
async fn a_rate_limit_fault_answers_429_with_retry_after_once_then_normally() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    state.fail_next(Provider::Slack, "/conversations.", Fault::RateLimited { retry_after_secs: 7 }, 1);
    let url = format!("{}/conversations.list", fake.base_url(Provider::Slack));

    let first = client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "7");
    assert_eq!(first.json::<Value>().await.unwrap()["error"], "ratelimited");

    let second = client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.json::<Value>().await.unwrap()["ok"], true);
    let faults: Vec<Option<String>> = state.requests(Provider::Slack).into_iter().map(|r| r.fault).collect();
    assert_eq!(faults, vec![Some("rate_limited".to_owned()), None]);
}

#[tokio::test]
async fn a_timeout_fault_delays_the_answer_and_then_answers_normally() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    state.fail_next(Provider::Slack, "/auth.test", Fault::Timeout { millis: 300 }, 1);

    let started = Instant::now();
    let body = call(&fake, "auth.test", &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(body["ok"], true);

    let started = Instant::now();
    call(&fake, "auth.test", &[]).await;
    assert!(started.elapsed() < Duration::from_millis(300), "the fault was consumed");
}

#[tokio::test]
async fn a_message_is_posted_to_a_channel_named_as_slack_accepts() {
    let fake = start().await;
    let state = fake.state();
    state.add_slack_account(TOKEN, "Test Team");
    let general = state.add_slack_channel(TOKEN, "general");
    for channel in [general.as_str(), "#general", "general"] {
        let body = call(&fake, "chat.postMessage", &[("channel", channel), ("text", "Your day")]).await;
        assert_eq!((body["ok"].as_bool(), body["channel"].as_str()), (Some(true), Some(general.as_str())), "{body}");
    }
    let history = call(&fake, "conversations.history", &[("channel", &general)]).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 3, "{history}");
    let body = call(&fake, "chat.postMessage", &[("channel", "#nope"), ("text", "Your day")]).await;
    assert_eq!(body["error"], "channel_not_found");
}
