//! What the demo data set guarantees, relative to when it was seeded, read through the APIs in
//! the providers' shapes: tasks due soon and overdue, events this week, an unanswered mention,
//! a file changed by someone else.

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::{client, start};
use fake_providers::{FakeProviders, Provider, demo};
use serde_json::Value;

async fn get(fake: &FakeProviders, provider: Provider, path: &str, token: &str, query: &[(&str, &str)]) -> Value {
    let resp = client()
        .get(format!("{}{path}", fake.base_url(provider)))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn trello_has_open_cards_due_this_week_and_one_overdue_with_named_members() {
    let fake = start().await;
    let seeded = Utc::now();
    let seed = fake.state().seed_demo();
    let sprint = &seed.trello_board_ids[1];
    let auth = [("key", demo::TRELLO_KEY), ("token", demo::TRELLO_TOKEN)];
    let trello = |path: String, extra: &'static [(&'static str, &'static str)]| {
        let query: Vec<(&str, &str)> = auth.iter().chain(extra).copied().collect();
        let url = format!("{}{path}", fake.base_url(Provider::Trello));
        async move { client().get(url).query(&query).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let cards = trello(format!("/1/boards/{sprint}/cards"), &[("fields", "name,due,dueComplete,idMembers")]).await;
    let open_due: Vec<DateTime<Utc>> = cards
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["due"].is_null() && c["dueComplete"] == false)
        .map(|c| time(&c["due"]))
        .collect();
    let this_week = open_due.iter().filter(|d| **d > seeded && **d <= seeded + Duration::days(7)).count();
    assert!(this_week >= 2, "{open_due:?}");
    assert!(open_due.iter().any(|d| *d < seeded), "an overdue card");

    let board = trello(
        format!("/1/boards/{sprint}"),
        &[("fields", "id"), ("lists", "all"), ("list_fields", "id,name"), ("members", "all")],
    )
    .await;
    let names: Vec<&str> = board["lists"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["To Do", "Doing", "Done"]);
    let members = board["members"].as_array().unwrap();
    let full_names: Vec<&str> = members.iter().map(|m| m["fullName"].as_str().unwrap()).collect();
    assert_eq!(full_names, ["Fake demo-user", "Alice (fake)"]);
    let assigned: Vec<&Value> =
        cards.as_array().unwrap().iter().flat_map(|c| c["idMembers"].as_array().unwrap()).collect();
    assert!(members.iter().all(|m| assigned.contains(&&m["id"])), "both members have cards");
}

#[tokio::test]
async fn the_calendar_has_events_this_week_one_all_day_and_the_users_own_answers() {
    let fake = start().await;
    let seeded = Utc::now();
    fake.state().seed_demo();
    let events = get(&fake, Provider::GoogleCalendar, "/calendars/primary/events", demo::GOOGLE_TOKEN, &[]).await;
    let items = events["items"].as_array().unwrap();
    let week = seeded + Duration::days(7);
    let timed = items.iter().filter(|e| e["start"]["dateTime"].is_string()).map(|e| time(&e["start"]["dateTime"]));
    assert!(timed.filter(|t| *t > seeded && *t <= week).count() >= 2);
    let all_day = items.iter().filter_map(|e| e["start"]["date"].as_str()).map(|d| d.parse::<NaiveDate>().unwrap());
    assert!(all_day.into_iter().any(|d| d > seeded.date_naive() && d <= week.date_naive()));

    // Where the user is invited, its own entry says `self` and how it answered.
    let answers: Vec<&str> = items
        .iter()
        .filter_map(|e| e["attendees"].as_array())
        .map(|a| {
            let mine: Vec<&Value> = a.iter().filter(|x| x["self"] == true).collect();
            assert_eq!(mine.len(), 1, "{a:?}");
            assert_eq!(mine[0]["email"], "demo.user@example.com");
            mine[0]["responseStatus"].as_str().unwrap()
        })
        .collect();
    for answer in ["accepted", "needsAction", "tentative"] {
        assert!(answers.contains(&answer), "{answers:?}");
    }
    let by_alice = items.iter().find(|e| e["organizer"]["email"] == "alice@example.com").unwrap();
    assert!(by_alice["organizer"].get("self").is_none());
}

#[tokio::test]
async fn slack_has_an_unanswered_mention_of_the_tokens_user() {
    let fake = start().await;
    let seed = fake.state().seed_demo();
    let me = get(&fake, Provider::Slack, "/auth.test", demo::SLACK_TOKEN, &[]).await["user_id"].clone();
    assert_eq!(me, seed.slack_user_id.as_str());
    let me = me.as_str().unwrap();
    let general = &seed.slack_channel_ids[0];
    let history = get(
        &fake,
        Provider::Slack,
        "/conversations.history",
        demo::SLACK_TOKEN,
        &[("channel", general), ("limit", "20")],
    )
    .await;
    let messages = history["messages"].as_array().unwrap();
    let mentions: Vec<&Value> =
        messages.iter().filter(|m| m["text"].as_str().unwrap().contains(&format!("<@{me}>"))).collect();
    let replied = |m: &Value| m["reply_users"].as_array().is_some_and(|u| u.iter().any(|u| u == me));
    assert!(mentions.iter().any(|m| !replied(m)), "a mention the user has not answered");
    assert!(mentions.iter().any(|m| replied(m)), "a mention the user has answered");
    let answered = mentions.iter().find(|m| replied(m)).unwrap();
    assert_eq!(answered["reply_users_count"], answered["reply_users"].as_array().unwrap().len());
    assert_eq!(answered["thread_ts"], answered["ts"]);
}

#[tokio::test]
async fn drive_has_a_file_last_changed_by_someone_else() {
    let fake = start().await;
    fake.state().seed_demo();
    let fields = [("fields", "files(id,owners(displayName,me),lastModifyingUser(displayName,emailAddress,me))")];
    let files = get(&fake, Provider::GoogleDrive, "/files", demo::GOOGLE_TOKEN, &fields).await;
    let files = files["files"].as_array().unwrap();
    assert!(files.iter().all(|f| f["owners"][0]["me"] == true && f["owners"][0]["displayName"] == "Demo User"));
    let by_other = files.iter().find(|f| f["lastModifyingUser"]["me"] == false).unwrap();
    assert_eq!(by_other["lastModifyingUser"]["displayName"], "Alice Example");
    assert!(files.iter().any(|f| f["lastModifyingUser"]["me"] == true));
}

#[tokio::test]
async fn teams_has_a_mention_of_the_signed_in_user_and_a_reply_by_them() {
    let fake = start().await;
    let seed = fake.state().seed_demo();
    let me = get(&fake, Provider::MicrosoftGraph, "/me", demo::MICROSOFT_TOKEN, &[]).await["id"].clone();
    let path = format!("/teams/{}/channels/{}/messages", seed.teams_team_ids[0], seed.teams_channel_ids[0]);
    let page = get(&fake, Provider::MicrosoftGraph, &path, demo::MICROSOFT_TOKEN, &[("$expand", "replies")]).await;
    let messages = page["value"].as_array().unwrap();
    let mentioned = messages
        .iter()
        .find(|m| m["mentions"].as_array().unwrap().iter().any(|x| x["mentioned"]["user"]["id"] == me))
        .unwrap();
    assert!(mentioned["body"]["content"].as_str().unwrap().contains("<at id=\"0\">Demo User</at>"));
    assert!(mentioned["replies"].as_array().unwrap().is_empty());
    let answered = messages
        .iter()
        .find(|m| m["replies"].as_array().unwrap().iter().any(|r| r["from"]["user"]["id"] == me))
        .unwrap();
    let replies = answered["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 2);
    assert!(replies.iter().all(|r| r["replyToId"] == answered["id"]));
    // Without the expansion, no replies are listed.
    let plain = get(&fake, Provider::MicrosoftGraph, &path, demo::MICROSOFT_TOKEN, &[]).await;
    assert!(plain["value"][0].get("replies").is_none());
}
