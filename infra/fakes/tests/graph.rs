//! Microsoft Graph (Teams): /me, joined teams, channels, channel messages paged through
//! `@odata.nextLink`, edits and deletions, and Graph's error shapes.

mod common;

use common::{MAX_PAGES, assert_same_set, client, start};
use fake_providers::{FakeProviders, Fault, Provider};
use serde_json::Value;

const TOKEN: &str = "graph-test-token";

async fn get(url: &str) -> (u16, Value) {
    let resp = client().get(url).bearer_auth(TOKEN).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn seeded(fake: &FakeProviders, messages: usize) -> (String, String, Vec<String>) {
    let state = fake.state();
    state.add_microsoft_account(TOKEN, "Megan Bowen", "megan@example.com");
    let team = state.add_team(TOKEN, "Test Team");
    let channel = state.add_channel(&team, "General");
    let ids = state.add_channel_messages(&channel, messages);
    (team, channel, ids)
}

#[tokio::test]
async fn me_joined_teams_and_channels_answer_in_graph_shapes() {
    let fake = start().await;
    let (team, channel, _) = seeded(&fake, 0);
    fake.state().add_team("someone-else", "Not Mine");
    let base = fake.base_url(Provider::MicrosoftGraph);

    let (status, me) = get(&format!("{base}/me")).await;
    assert_eq!(status, 200);
    assert_eq!((me["displayName"].as_str(), me["mail"].as_str()), (Some("Megan Bowen"), Some("megan@example.com")));
    assert!(me["id"].is_string() && me["userPrincipalName"].is_string());

    let (_, teams) = get(&format!("{base}/me/joinedTeams")).await;
    assert!(teams["@odata.context"].is_string());
    let value = teams["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!((value[0]["id"].as_str(), value[0]["displayName"].as_str()), (Some(team.as_str()), Some("Test Team")));

    let (_, channels) = get(&format!("{base}/teams/{team}/channels")).await;
    assert_eq!(channels["value"][0]["id"], channel.as_str());
    assert_eq!(channels["value"][0]["membershipType"], "standard");
}

#[tokio::test]
async fn channel_messages_page_newest_first_through_the_odata_next_link() {
    let fake = start().await;
    let (team, channel, expected) = seeded(&fake, 23);
    let mut url =
        Some(format!("{}/teams/{team}/channels/{channel}/messages?$top=10", fake.base_url(Provider::MicrosoftGraph)));
    let (mut seen, mut pages) = (Vec::<String>::new(), 0);
    while let Some(next) = url {
        pages += 1;
        assert!(pages < MAX_PAGES, "paging did not terminate");
        assert!(next.starts_with(&fake.url()), "nextLink is absolute: {next}");
        let (status, body) = get(&next).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(body["value"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        url = body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    let mut newest_first = expected.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    assert_same_set(seen, expected);
}

#[tokio::test]
async fn edited_and_deleted_messages_show_their_dates_and_deleted_ones_have_no_body() {
    let fake = start().await;
    let (team, channel, ids) = seeded(&fake, 3);
    assert!(fake.state().edit_channel_message(&channel, &ids[0], "<p>Edited</p>"));
    assert!(fake.state().delete_channel_message(&channel, &ids[1]));
    let (_, body) =
        get(&format!("{}/teams/{team}/channels/{channel}/messages", fake.base_url(Provider::MicrosoftGraph))).await;
    let by_id = |id: &str| body["value"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap().clone();
    let edited = by_id(&ids[0]);
    assert_eq!(edited["body"]["content"], "<p>Edited</p>");
    assert!(edited["lastEditedDateTime"].is_string());
    let deleted = by_id(&ids[1]);
    assert!(deleted["deletedDateTime"].is_string());
    assert_eq!(deleted["body"]["content"], "");
    let plain = by_id(&ids[2]);
    assert_eq!((plain["messageType"].as_str(), plain["replyToId"].clone()), (Some("message"), Value::Null));
    assert_eq!(plain["body"]["contentType"], "html");
    assert!(plain["from"]["user"]["displayName"].is_string() && plain["webUrl"].is_string());
}

#[tokio::test]
async fn errors_come_in_graph_shapes_and_rate_limits_carry_retry_after() {
    let fake = start().await;
    let (team, channel, _) = seeded(&fake, 2);
    let base = fake.base_url(Provider::MicrosoftGraph);

    let resp = client().get(format!("{base}/me")).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["innerError"]["request-id"].is_string());

    let (status, body) = get(&format!("{base}/teams/00000000-0000-0000-0000-000000000000/channels")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NotFound")));
    let (status, _) = get(&format!("{base}/teams/{team}/channels/{channel}/messages?$top=51")).await;
    assert_eq!(status, 400);

    fake.state().fail_next(Provider::MicrosoftGraph, "/teams", Fault::RateLimited { retry_after_secs: 9 }, 1);
    let resp = client().get(format!("{base}/teams/{team}/channels")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "9");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "TooManyRequests");
    assert_eq!(get(&format!("{base}/teams/{team}/channels")).await.0, 200);
}
