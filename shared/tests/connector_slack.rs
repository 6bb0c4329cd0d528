//! The Slack connector against the fake Slack Web API, driven page by page as the engine does.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fake_providers::{DemoSeed, FakeProviders, Fault, Provider, demo};
use integrations::providers::ProviderError;
use integrations::providers::slack::SlackConnector;
use integrations::sync::{Connector, KindFields, MessageFields, SyncMode};
use serde_json::{Value, json};

use common::{Run, config, continue_sync, demo_fakes, faults_served, ids, sync};

fn connector(fakes: &FakeProviders, page_size: u32) -> Connector {
    Connector::new(SlackConnector::new(config(fakes.base_url(Provider::Slack), page_size), demo::SLACK_TOKEN))
}

/// `{channel}:{ts}` of every message of these channels.
fn message_ids(fakes: &FakeProviders, channels: &[String]) -> HashSet<String> {
    channels
        .iter()
        .flat_map(|ch| fakes.state().slack_messages(ch).into_iter().map(move |m| format!("{ch}:{}", m.ts)))
        .collect()
}

/// general (250), random (30) and secret-project (40): the channels the demo bot is in.
fn member_channels(seed: &DemoSeed) -> Vec<String> {
    seed.slack_channel_ids[..3].to_vec()
}

fn history_requests(fakes: &FakeProviders) -> Vec<fake_providers::RecordedRequest> {
    fakes.state().requests(Provider::Slack).into_iter().filter(|r| r.path == "/conversations.history").collect()
}

#[tokio::test]
async fn a_full_sync_returns_every_message_of_the_member_channels_exactly_once() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 20), None).await.unwrap();

    assert_eq!(run.records.len(), 320);
    assert_eq!(ids(&run.records), message_ids(&fakes, &member_channels(&seed)));
    // 29 listed channels (archived ones left out), 20 a page; then 20 messages a page:
    // general 13 pages, random 2, secret-project 2. No channel the bot is not in is read.
    let state = fakes.state();
    assert_eq!(state.request_count(Provider::Slack, "/conversations.list"), 2);
    assert_eq!(state.request_count(Provider::Slack, "/conversations.history"), 17);
    assert_eq!(state.request_count(Provider::Slack, "/auth.test"), 1);
    assert_eq!(run.pages, 19);
    for request in history_requests(&fakes) {
        let channel = request.param("channel").unwrap();
        assert!(member_channels(&seed).contains(&channel));
        assert_eq!(request.param("oldest"), None);
    }
    for request in state.requests(Provider::Slack) {
        assert!(request.credential.is_some());
        assert!(!request.query.contains("token"));
    }

    let general = &seed.slack_channel_ids[0];
    let first = &state.slack_messages(general)[0];
    let record = run.records.iter().find(|r| r.external_id == format!("{general}:{}", first.ts)).unwrap();
    assert_eq!(record.title, "#general message 1");
    assert_eq!(record.container.as_deref(), Some("#general"));
    assert_eq!(record.data["user"], "U0FAKEALICE");
    assert_eq!(record.data["author"], "U0FAKEALICE");
    assert_eq!(record.data["channel"], "general");
    assert_eq!(record.data["text"], "#general message 1");
    assert_eq!(record.data["threadTs"], json!(first.ts));
    assert_eq!(record.data["replyCount"], 2);
    let secs: i64 = first.ts.split('.').next().unwrap().parse().unwrap();
    assert_eq!(record.updated_at.unwrap().timestamp(), secs);

    // The state holds the newest ts of each channel read.
    let newest = |ch: &String| state.slack_messages(ch).last().unwrap().ts.clone();
    let expected: serde_json::Map<String, Value> =
        member_channels(&seed).iter().map(|ch| (ch.clone(), Value::String(newest(ch)))).collect();
    assert_eq!(run.state, json!({ "oldest": expected }));
}

#[tokio::test]
async fn an_incremental_sync_returns_only_the_messages_posted_since_the_previous_one() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 20);
    let first = sync(&c, None).await.unwrap();

    let (general, secret) = (&seed.slack_channel_ids[0], &seed.slack_channel_ids[2]);
    let newest_before = first.state["oldest"][general].as_str().unwrap().to_owned();
    let state = fakes.state();
    let new = [
        format!("{general}:{}", state.add_slack_message(general, "U1", "one")),
        format!("{general}:{}", state.add_slack_message(general, "U2", "two")),
        format!("{secret}:{}", state.add_slack_message(secret, "U1", "three")),
    ];
    let asked_before = history_requests(&fakes).len();

    let second = sync(&c, Some(&first.state)).await.unwrap();
    assert_eq!(ids(&second.records), HashSet::from(new.clone()));
    let general_call = history_requests(&fakes)[asked_before..]
        .iter()
        .find(|r| r.param("channel").as_deref() == Some(general))
        .cloned()
        .unwrap();
    assert_eq!(general_call.param("oldest"), Some(newest_before));
    assert_eq!(second.state["oldest"][general], json!(new[1].split(':').nth(1).unwrap()));

    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert!(third.records.is_empty());
    assert_eq!(third.state, second.state);
}

#[tokio::test]
async fn a_workspace_without_channels_gives_no_records_and_a_usable_state() {
    let fakes = FakeProviders::start().await;
    fakes.state().add_slack_account(demo::SLACK_TOKEN, "Empty Workspace");
    let c = connector(&fakes, 20);

    let run = sync(&c, None).await.unwrap();
    assert!(run.records.is_empty());
    assert_eq!(run.state, json!({"oldest": {}}));
    let again = sync(&c, Some(&run.state)).await.unwrap();
    assert!(again.records.is_empty());
    // Each run: `auth.test`, then the (empty) channel list.
    assert_eq!(fakes.state().requests(Provider::Slack).len(), 4);
}

#[tokio::test]
async fn a_channel_the_bot_left_during_the_run_is_skipped() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 20);
    let list = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();
    assert!(list.records.is_empty());

    let general = &seed.slack_channel_ids[0];
    fakes.state().update_slack_channel(general, |ch| ch.is_member = false);
    let run = continue_sync(&c, list.next.unwrap(), Run { pages: 1, ..Run::default() }).await.unwrap();
    assert_eq!(ids(&run.records), message_ids(&fakes, &seed.slack_channel_ids[1..3]));
    assert!(run.state["oldest"].get(general).is_none());
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::Slack, "/conversations.history", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    let run = sync(&connector(&fakes, 100), None).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ids(&run.records), message_ids(&fakes, &member_channels(&seed)));
    let limited = faults_served(&fakes, Provider::Slack, "rate_limited");
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::Slack, "/conversations.list", Fault::ServerError, 1);
    fakes.state().fail_next(Provider::Slack, "/conversations.history", Fault::ServerError, 2);
    let run = sync(&connector(&fakes, 100), None).await.unwrap();

    assert_eq!(ids(&run.records), message_ids(&fakes, &member_channels(&seed)));
    // auth.test, 1 list page and 3 + 1 + 1 history pages, plus the 3 failed attempts.
    assert_eq!(fakes.state().requests(Provider::Slack).len(), 1 + 6 + 3);
}

#[tokio::test]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 20);
    let page = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();

    assert!(fakes.state().revoke(Provider::Slack, demo::SLACK_TOKEN));
    let mid_run = c.fetch_page(page.next.as_ref().unwrap()).await;
    assert!(
        matches!(&mid_run, Err(ProviderError::Unauthorized(reason)) if reason.code.as_deref() == Some("token_revoked")),
        "{mid_run:?}"
    );
    let from_start = sync(&c, None).await;
    assert!(matches!(from_start, Err(ProviderError::Unauthorized(_))));
    let message = from_start.err().unwrap().to_string();
    assert!(!message.contains(demo::SLACK_TOKEN));
}

#[tokio::test]
async fn a_cursor_saved_as_json_text_resumes_the_run_where_it_stopped() {
    let (fakes, seed) = demo_fakes().await;
    let mut records = Vec::new();
    let saved: String;
    {
        let c = connector(&fakes, 20);
        let mut cursor = c.start(None, SyncMode::Full);
        for _ in 0..6 {
            let page = c.fetch_page(&cursor).await.unwrap();
            records.extend(page.records);
            cursor = page.next.unwrap();
        }
        saved = serde_json::to_string(&cursor).unwrap();
    }
    assert_eq!(records.len(), 100);
    assert!(!saved.contains(demo::SLACK_TOKEN));

    let c = connector(&fakes, 20);
    let cursor: Value = serde_json::from_str(&saved).unwrap();
    let run = continue_sync(&c, cursor, Run { records, pages: 6, ..Run::default() }).await.unwrap();
    assert_eq!(ids(&run.records), message_ids(&fakes, &member_channels(&seed)));
    assert_eq!(run.pages, 19);
    assert_eq!(fakes.state().requests(Provider::Slack).len(), 1 + 19);
}

#[tokio::test]
async fn messages_carry_their_author_channel_mentions_of_the_tokens_user_and_its_replies() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 100), None).await.unwrap();
    let general = &seed.slack_channel_ids[0];
    let messages = fakes.state().slack_messages(general);
    let fields = |i: usize| {
        let id = format!("{general}:{}", messages[i].ts);
        MessageFields::read(&run.records.iter().find(|r| r.external_id == id).unwrap().data)
    };

    // Message 247 mentions the token's user, who has not answered in its thread.
    assert_eq!(
        fields(246),
        MessageFields {
            author: Some("U0FAKEALICE".into()),
            channel: Some("general".into()),
            mentions_me: true,
            replied_by_me: false,
            reply_count: 1,
        }
    );
    // Message 241 mentions it too, and it answered.
    let answered = fields(240);
    assert!(answered.mentions_me && answered.replied_by_me);
    assert_eq!(answered.reply_count, 2);
    // Message 249 mentions someone else; a thread the user is not in.
    assert!(!fields(248).mentions_me);
    assert_eq!((fields(220).replied_by_me, fields(220).reply_count), (false, 2));
    // Only those two mention the token's user.
    let mentioning: Vec<&str> = run
        .records
        .iter()
        .filter(|r| MessageFields::read(&r.data).mentions_me)
        .map(|r| r.external_id.as_str())
        .collect();
    let expected = [240, 246].map(|i| format!("{general}:{}", messages[i].ts));
    assert_eq!(mentioning.into_iter().collect::<HashSet<_>>(), expected.iter().map(String::as_str).collect());
    let secret = run.records.iter().find(|r| r.external_id.starts_with(&seed.slack_channel_ids[2])).unwrap();
    assert_eq!(MessageFields::read(&secret.data).channel.as_deref(), Some("secret-project"));

    // `auth.test` is asked once in the run, and the user stays in the cursor.
    assert_eq!(fakes.state().request_count(Provider::Slack, "/auth.test"), 1);
}

#[tokio::test]
async fn a_resumed_run_does_not_ask_for_the_tokens_user_again() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 20);
    let first = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();
    let cursor = first.next.unwrap();
    assert_eq!(cursor["me"], json!(seed.slack_user_id));
    let run = continue_sync(&c, cursor, Run { pages: 1, ..Run::default() }).await.unwrap();
    assert_eq!(run.records.len(), 320);
    assert_eq!(fakes.state().request_count(Provider::Slack, "/auth.test"), 1);
}
