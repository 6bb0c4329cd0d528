//! The Microsoft Teams connector against the fake Microsoft Graph, driven page by page as the engine does.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use fake_providers::{DemoSeed, FakeProviders, Fault, OAuthProvider, Provider, demo};
use integrations::providers::ProviderError;
use integrations::providers::microsoft::teams::TeamsConnector;
use integrations::sync::{Connector, KindFields, MessageFields, SyncMode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use common::{Run, config, continue_sync, demo_fakes, faults_served, ids, sync};

fn connector(fakes: &FakeProviders, page_size: u32) -> Connector {
    let config = config(fakes.base_url(Provider::MicrosoftGraph), page_size);
    Connector::new(TeamsConnector::new(config, demo::MICROSOFT_TOKEN))
}

/// The demo channels with their team: two teams, two channels each.
fn channels(seed: &DemoSeed) -> Vec<(String, String)> {
    seed.teams_channel_ids.iter().enumerate().map(|(i, ch)| (seed.teams_team_ids[i / 2].clone(), ch.clone())).collect()
}

/// `{team}:{channel}:{message}` of the demo messages, deleted ones (`true`) or the others.
fn message_ids(fakes: &FakeProviders, seed: &DemoSeed, deleted: bool) -> HashSet<String> {
    channels(seed)
        .into_iter()
        .flat_map(|(team, ch)| {
            let messages = fakes.state().channel_messages(&ch);
            messages
                .into_iter()
                .filter(move |m| m.deleted.is_some() == deleted)
                .map(move |m| format!("{team}:{ch}:{}", m.id))
        })
        .collect()
}

#[tokio::test]
async fn a_full_sync_returns_every_message_of_every_channel_exactly_once() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(run.records.len(), 4 * 29);
    assert_eq!(ids(&run.records), message_ids(&fakes, &seed, false));
    // Teams keeps deleted messages listed: each is reported as a deletion.
    assert_eq!(run.deleted.iter().cloned().collect::<HashSet<_>>(), message_ids(&fakes, &seed, true));
    assert_eq!(run.deleted.len(), 4);
    // The joined teams, each team's channels, and 30 messages 7 a page in each of 4 channels.
    assert_eq!(run.pages, 1 + 2 + 4 * 5);
    // Before them, the signed-in user, asked once.
    let requests = fakes.state().requests(Provider::MicrosoftGraph);
    assert_eq!(requests.len(), 1 + run.pages);
    assert_eq!(requests[0].path, "/me");
    assert_eq!(requests[1].path, "/me/joinedTeams");
    assert!(requests.iter().all(|r| r.credential.is_some() && !r.query.contains(demo::MICROSOFT_TOKEN)));
    let message_requests: Vec<_> = requests.iter().filter(|r| r.path.ends_with("/messages")).collect();
    assert_eq!(message_requests.len(), 20);
    assert!(message_requests.iter().all(|r| r.param("$top").as_deref() == Some("7")));
    // The replies come with their messages (next links keep the expansion).
    assert!(
        requests
            .iter()
            .filter(|r| r.path.contains("/messages"))
            .all(|r| r.param("$expand").as_deref() == Some("replies"))
    );
    let channel_state = run.state["since"].as_object().unwrap();
    assert_eq!(channel_state.len(), 4);

    let (team, channel) = channels(&seed).remove(0);
    let edited = fakes.state().channel_messages(&channel)[5].clone();
    let record = run.records.iter().find(|r| r.external_id == format!("{team}:{channel}:{}", edited.id)).unwrap();
    assert_eq!(record.title, "An edited fake message");
    assert_eq!(record.container.as_deref(), Some("Fake Product Team / General"));
    assert!(record.url.as_deref().is_some_and(|u| u.starts_with("https://teams.microsoft.com/l/message/")));
    assert_eq!(record.updated_at.map(|t| t.timestamp_millis()), Some(edited.last_modified.timestamp_millis()));
    assert_eq!(record.data["author"], "Bob (fake)");
    assert_eq!(record.data["channel"], "General");
    assert_eq!(record.data["text"], "An edited fake message");
    let plain = run.records.iter().find(|r| r.title == "General message 1").unwrap();
    assert_eq!(plain.data["author"], "Alice (fake)");
}

#[tokio::test]
async fn an_incremental_sync_returns_only_the_changes_with_deleted_messages_as_deletions() {
    let (fakes, seed) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let first = sync(&c, None).await.unwrap();
    let chans = channels(&seed);
    let key = |i: usize, message: &str| format!("{}:{}:{message}", chans[i].0, chans[i].1);
    let newest = |i: usize| fakes.state().channel_messages(&chans[i].1).last().unwrap().id.clone();

    tokio::time::sleep(Duration::from_millis(5)).await;
    let edited = newest(0);
    assert!(fakes.state().edit_channel_message(&chans[0].1, &edited, "<p>Edited <b>again</b> &amp; again</p>"));
    let deleted = newest(1);
    assert!(fakes.state().delete_channel_message(&chans[1].1, &deleted));
    let posted: Vec<String> = (1..=2)
        .map(|i| {
            fakes.state().add_channel_message_at(&chans[2].1, Utc::now(), "Carol (fake)", &format!("<p>New {i}</p>"))
        })
        .collect();
    let before = fakes.state().requests(Provider::MicrosoftGraph).len();

    let second = sync(&c, Some(&first.state)).await.unwrap();
    let expected = HashSet::from([key(0, &edited), key(2, &posted[0]), key(2, &posted[1])]);
    assert_eq!(ids(&second.records), expected);
    assert_eq!(second.deleted, vec![key(1, &deleted)]);
    let record = second.records.iter().find(|r| r.external_id == key(0, &edited)).unwrap();
    assert_eq!(record.title, "Edited again & again");
    // Each channel stops at its first message not newer than the last run's: one page each.
    // (After `/me`.)
    assert_eq!(fakes.state().requests(Provider::MicrosoftGraph).len(), before + 1 + 1 + 2 + 4);
    for (i, (_, channel)) in chans.iter().enumerate() {
        let changed = second.state["since"][channel] != first.state["since"][channel];
        assert_eq!(changed, i < 3, "channel {i}");
    }

    // Nothing changed since: nothing to report, the same state.
    let third = sync(&c, Some(&second.state)).await.unwrap();
    assert!(third.records.is_empty() && third.deleted.is_empty());
    assert_eq!(third.state, second.state);
}

#[tokio::test]
async fn an_account_without_teams_or_messages_gives_no_records_and_a_usable_state() {
    let fakes = FakeProviders::start().await;
    fakes.state().add_microsoft_account(demo::MICROSOFT_TOKEN, "Nobody", "nobody@example.com");
    let c = connector(&fakes, 7);

    let run = sync(&c, None).await.unwrap();
    assert!(run.records.is_empty() && run.deleted.is_empty());
    assert_eq!(run.state, json!({"since": {}}));
    assert_eq!(run.pages, 1);

    // A team with a channel without messages, and a team without channels.
    let team = fakes.state().add_team(demo::MICROSOFT_TOKEN, "Quiet Team");
    fakes.state().add_channel(&team, "General");
    fakes.state().add_team(demo::MICROSOFT_TOKEN, "Empty Team");
    let again = sync(&c, Some(&run.state)).await.unwrap();
    assert!(again.records.is_empty() && again.deleted.is_empty());
    assert_eq!(again.state, json!({"since": {}}));
    assert_eq!(again.pages, 1 + 2 + 1);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::MicrosoftGraph, "/teams/", Fault::RateLimited { retry_after_secs: 1 }, 1);
    let started = Instant::now();
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ids(&run.records), message_ids(&fakes, &seed, false));
    let limited = faults_served(&fakes, Provider::MicrosoftGraph, "rate_limited");
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_sync_completes() {
    let (fakes, seed) = demo_fakes().await;
    fakes.state().fail_next(Provider::MicrosoftGraph, "/me", Fault::ServerError, 1);
    fakes.state().fail_next(Provider::MicrosoftGraph, "/teams/", Fault::ServerError, 2);
    let run = sync(&connector(&fakes, 7), None).await.unwrap();

    assert_eq!(ids(&run.records), message_ids(&fakes, &seed, false));
    assert_eq!(fakes.state().requests(Provider::MicrosoftGraph).len(), 1 + 23 + 3);
}

#[tokio::test]
async fn a_revoked_token_is_reported_as_unauthorized() {
    let (fakes, _) = demo_fakes().await;
    let c = connector(&fakes, 7);
    let page = c.fetch_page(&c.start(None, SyncMode::Full)).await.unwrap();

    assert!(fakes.state().revoke(Provider::MicrosoftGraph, demo::MICROSOFT_TOKEN));
    let mid_run = c.fetch_page(page.next.as_ref().unwrap()).await;
    assert!(matches!(mid_run, Err(ProviderError::Unauthorized(_))), "{mid_run:?}");
    let from_start = sync(&c, None).await;
    assert!(matches!(from_start, Err(ProviderError::Unauthorized(_))));
    assert!(!from_start.err().unwrap().to_string().contains(demo::MICROSOFT_TOKEN));
}

/// An access token from the fake Microsoft identity platform (authorization code with PKCE).
async fn oauth_access_token(fakes: &FakeProviders) -> String {
    let p = OAuthProvider::Microsoft;
    let (verifier, redirect) = ("a-fake-pkce-code-verifier-that-is-long-enough-0123456789", "http://127.0.0.1:3000/cb");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let query = [
        ("response_type", "code"),
        ("client_id", p.client_id()),
        ("redirect_uri", redirect),
        ("scope", "offline_access User.Read Team.ReadBasic.All Channel.ReadBasic.All ChannelMessage.Read.All"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let consent = http.get(format!("{}/authorize", fakes.oauth_url(p))).query(&query).send().await.unwrap();
    let location = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier),
        ("redirect_uri", redirect),
        ("client_id", p.client_id()),
        ("client_secret", p.client_secret()),
    ];
    let tokens: Value =
        http.post(format!("{}/token", fakes.oauth_url(p))).form(&form).send().await.unwrap().json().await.unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_expired_access_token_is_reported_as_unauthorized() {
    let (fakes, seed) = demo_fakes().await;
    let token = oauth_access_token(&fakes).await;
    let config = config(fakes.base_url(Provider::MicrosoftGraph), 50);
    let c = Connector::new(TeamsConnector::new(config, &token));
    let run = sync(&c, None).await.unwrap();
    assert_eq!(ids(&run.records), message_ids(&fakes, &seed, false));

    assert!(fakes.state().expire_access_tokens(OAuthProvider::Microsoft) > 0);
    let expired = sync(&c, None).await;
    assert!(matches!(expired, Err(ProviderError::Unauthorized(_))), "{expired:?}");
}

#[tokio::test]
async fn a_next_link_to_another_address_is_refused_and_never_called() {
    let (fakes, _) = demo_fakes().await;
    // Graph answers with links on 127.0.0.1; this connector was configured with `localhost`.
    let elsewhere = fakes.base_url(Provider::MicrosoftGraph).replace("127.0.0.1", "localhost");
    let c = Connector::new(TeamsConnector::new(config(elsewhere, 7), demo::MICROSOFT_TOKEN));
    let refused = sync(&c, None).await;
    assert!(matches!(refused, Err(ProviderError::Unexpected(_))), "{refused:?}");
    let requests = fakes.state().requests(Provider::MicrosoftGraph);
    assert_eq!(requests.len(), 4, "me, joined teams, channels, the first page of messages");
    assert!(requests.iter().all(|r| r.param("$skiptoken").is_none()));

    // A cursor whose next link leaves the base URL is refused before any request.
    let c = connector(&fakes, 7);
    let mut cursor = c.start(None, SyncMode::Full);
    let link = loop {
        let page = c.fetch_page(&cursor).await.unwrap();
        cursor = page.next.unwrap();
        if let Some(link) = cursor["nextLink"].as_str() {
            break link.to_owned();
        }
    };
    let base = fakes.base_url(Provider::MicrosoftGraph);
    let before = fakes.state().requests(Provider::MicrosoftGraph).len();
    for foreign in
        [link.replace(&base, "https://evil.example/graph/v1.0"), link.replace(&base, &format!("{base}.evil"))]
    {
        cursor["nextLink"] = json!(foreign);
        let refused = c.fetch_page(&cursor).await;
        assert!(matches!(refused, Err(ProviderError::Unexpected(_))), "{foreign}: {refused:?}");
    }
    assert_eq!(fakes.state().requests(Provider::MicrosoftGraph).len(), before);
}

#[tokio::test]
async fn a_cursor_saved_as_json_text_resumes_the_run_where_it_stopped() {
    let (fakes, seed) = demo_fakes().await;
    let mut cursor;
    let mut records = Vec::new();
    let mut deleted = Vec::new();
    let saved: String;
    {
        let c = connector(&fakes, 7);
        cursor = c.start(None, SyncMode::Full);
        for _ in 0..6 {
            let page = c.fetch_page(&cursor).await.unwrap();
            records.extend(page.records);
            deleted.extend(page.deleted.into_iter().map(|k| k.external_id));
            cursor = page.next.unwrap();
        }
        saved = serde_json::to_string(&cursor).unwrap();
    }
    assert!(!records.is_empty());
    assert!(saved.contains("nextLink") && !saved.contains(demo::MICROSOFT_TOKEN));

    // A new process picks the run up from the stored text.
    let c = connector(&fakes, 7);
    let cursor: Value = serde_json::from_str(&saved).unwrap();
    let run = continue_sync(&c, cursor, Run { records, deleted, pages: 6, ..Run::default() }).await.unwrap();
    assert_eq!(ids(&run.records), message_ids(&fakes, &seed, false));
    assert_eq!(run.deleted.len(), 4);
    assert_eq!(run.pages, 23);
    assert_eq!(fakes.state().requests(Provider::MicrosoftGraph).len(), 1 + 23);
}

#[tokio::test]
async fn messages_carry_their_author_channel_mentions_of_the_signed_in_user_and_its_replies() {
    let (fakes, seed) = demo_fakes().await;
    let run = sync(&connector(&fakes, 50), None).await.unwrap();
    let (team, channel) = channels(&seed).remove(0);
    let messages = fakes.state().channel_messages(&channel);
    let fields = |i: usize| {
        let id = format!("{team}:{channel}:{}", messages[i].id);
        MessageFields::read(&run.records.iter().find(|r| r.external_id == id).unwrap().data)
    };

    // Message 28 mentions the demo user, who has not replied.
    let mention = MessageFields {
        author: Some("Bob (fake)".into()),
        channel: Some("General".into()),
        mentions_me: true,
        replied_by_me: false,
        reply_count: 0,
    };
    assert_eq!(fields(27), mention);
    // Message 26 mentions Alice: not the user.
    assert!(!fields(25).mentions_me);
    // Message 21: two replies, one by the user; message 23: one, by Bob.
    assert_eq!((fields(20).reply_count, fields(20).replied_by_me), (2, true));
    assert_eq!((fields(22).reply_count, fields(22).replied_by_me), (1, false));
    // In all, the two General channels each have the one mention.
    let mentioning = run.records.iter().filter(|r| MessageFields::read(&r.data).mentions_me).count();
    assert_eq!(mentioning, 2);
    let roadmap = run.records.iter().find(|r| r.external_id.contains(&seed.teams_channel_ids[1])).unwrap();
    assert_eq!(MessageFields::read(&roadmap.data).channel.as_deref(), Some("Roadmap"));
    assert_eq!(fakes.state().request_count(Provider::MicrosoftGraph, "/me/joinedTeams"), 1);
    assert_eq!(fakes.state().requests(Provider::MicrosoftGraph).iter().filter(|r| r.path == "/me").count(), 1);
}
