//! Provider actions against the fakes: each sends its documented write once, says whether a
//! failed write may have landed, and (where the provider allows) finds what it made by marker.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use fake_providers::{FakeProviders, Fault, Provider as Fake, demo};
use integrations::automations::find_action;
use integrations::providers::{ActionCall, ActionError, Lookup, Performed, ProviderError, Registry};
use integrations::vault::Credentials;
use secrecy::SecretString;

use common::demo_fakes;

fn credentials(fields: &[(&str, &str)]) -> Credentials {
    Credentials::ApiKey(fields.iter().map(|(k, v)| (k.to_string(), SecretString::from(v.to_string()))).collect())
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Runs an action through its provider's module, as the runner does.
struct Act<'a> {
    action: &'a str,
    base: String,
    credentials: Credentials,
    params: BTreeMap<String, String>,
    marker: &'a str,
    http: reqwest::Client,
}

impl Act<'_> {
    fn call(&self) -> ActionCall<'_> {
        ActionCall {
            http: &self.http,
            base: &self.base,
            credentials: &self.credentials,
            params: &self.params,
            marker: self.marker,
            item: None,
        }
    }

    fn provider(
        &self,
    ) -> (&'static dyn integrations::providers::Provider, &'static integrations::providers::ActionSpec) {
        let action = find_action(self.action).expect("a declared action");
        (Registry::get().find(action.integration_id.expect("a provider's action")).unwrap(), action.spec)
    }

    async fn perform(&self) -> Result<Performed, ActionError> {
        let (provider, spec) = self.provider();
        provider.perform(spec, &self.call()).await
    }

    async fn find(&self) -> Result<Lookup, ProviderError> {
        let (provider, spec) = self.provider();
        provider.find_performed(spec, &self.call()).await
    }
}

fn calendar(fakes: &FakeProviders, marker: &'static str, summary: &str) -> Act<'static> {
    Act {
        action: "calendar.insertEvent",
        base: fakes.base_url(Fake::GoogleCalendar),
        credentials: credentials(&[("access_token", demo::GOOGLE_TOKEN)]),
        params: params(&[
            ("summary", summary),
            ("start", "2026-12-04T09:00:00Z"),
            ("end", "2026-12-04T10:00:00Z"),
            ("description", "Blocked for a Trello card"),
        ]),
        marker,
        http: integrations::providers::http_client(),
    }
}

#[tokio::test]
async fn a_calendar_block_is_made_once_and_found_again_by_its_marker() {
    let (fakes, _) = demo_fakes().await;
    let act = calendar(&fakes, "marker-1", "Focus: Q4 report");
    assert_eq!(act.find().await.unwrap(), Lookup::NotFound);
    let made = act.perform().await.unwrap();
    let id = made.id.clone().unwrap();
    assert!(made.url.is_some());
    let event = fakes.state().calendar_event(&id).unwrap();
    assert_eq!(event.summary, "Focus: Q4 report");
    assert_eq!(event.description.as_deref(), Some("Blocked for a Trello card"));
    assert_eq!(act.find().await.unwrap(), Lookup::Found(made));
    let other = calendar(&fakes, "marker-2", "Focus: Q4 report");
    assert_eq!(other.find().await.unwrap(), Lookup::NotFound, "another step's marker finds nothing");

    let mut bad = calendar(&fakes, "marker-3", "x");
    bad.params.insert("start".into(), "next tuesday".into());
    assert!(matches!(bad.perform().await, Err(ActionError::Param { name: "start", .. })));
    assert_eq!(fakes.state().calendar_events_named(demo::GOOGLE_TOKEN, "x").len(), 0, "nothing sent");
}

#[tokio::test]
async fn a_refused_write_is_not_done_and_a_lost_answer_is_uncertain() {
    let (fakes, _) = demo_fakes().await;
    let state = fakes.state();
    let path = "/calendars/primary/events";

    state.fail_next(Fake::GoogleCalendar, path, Fault::RateLimited { retry_after_secs: 7 }, 1);
    let limited = calendar(&fakes, "m-429", "Limited").perform().await;
    assert!(matches!(limited, Err(ActionError::NotDone(ProviderError::RateLimited(d))) if d == Duration::from_secs(7)));

    state.fail_next(Fake::GoogleCalendar, path, Fault::ServerError, 1);
    assert!(matches!(calendar(&fakes, "m-500", "Failed").perform().await, Err(ActionError::Uncertain(_))));

    // The fake makes the event, but answers after the client stopped waiting.
    state.fail_next(Fake::GoogleCalendar, path, Fault::LateAnswer { millis: 600 }, 1);
    let mut slow = calendar(&fakes, "m-timeout", "Slow");
    slow.http = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    assert!(matches!(
        slow.perform().await,
        Err(ActionError::Uncertain(ProviderError::Transport { timed_out: true, .. }))
    ));
    slow.http = integrations::providers::http_client();
    assert!(matches!(slow.find().await.unwrap(), Lookup::Found(_)), "the lookup finds what the lost answer made");
    assert_eq!(state.calendar_events_named(demo::GOOGLE_TOKEN, "Slow").len(), 1);
    assert_eq!(state.calendar_events_named(demo::GOOGLE_TOKEN, "Limited").len(), 0);
}

#[tokio::test]
async fn slack_posts_to_a_channel_the_bot_is_in() {
    let (fakes, seed) = demo_fakes().await;
    let general = seed.slack_channel_ids[0].clone();
    let announcements = seed.slack_channel_ids[3].clone();
    let post = |channel: &str| Act {
        action: "slack.postMessage",
        base: fakes.base_url(Fake::Slack),
        credentials: credentials(&[("token", demo::SLACK_TOKEN)]),
        params: params(&[("channel", channel), ("text", "Your day: 3 meetings, 2 cards due")]),
        marker: "m",
        http: integrations::providers::http_client(),
    };
    let made = post(&general).perform().await.unwrap();
    assert!(made.id.unwrap().starts_with(&general));
    let last = fakes.state().slack_messages(&general).into_iter().last().unwrap();
    assert_eq!(last.text, "Your day: 3 meetings, 2 cards due");
    let refused = post(&announcements).perform().await;
    assert!(
        matches!(refused, Err(ActionError::Refused(ProviderError::Unexpected(f))) if f.code.as_deref() == Some("not_in_channel"))
    );
    assert_eq!(post(&general).find().await.unwrap(), Lookup::NotOffered, "a post cannot be found again");
}

#[tokio::test]
async fn a_trello_card_carries_its_marker_and_is_found_moved_and_commented() {
    let (fakes, seed) = demo_fakes().await;
    let board = &seed.trello_board_ids[0];
    let lists = fakes.state().trello_lists(board);
    let (todo, done) = (lists[0].id.clone(), lists[lists.len() - 1].id.clone());
    let act = |action: &'static str, pairs: &[(&str, &str)]| Act {
        action,
        base: fakes.base_url(Fake::Trello),
        credentials: credentials(&[("apiKey", demo::TRELLO_KEY), ("token", demo::TRELLO_TOKEN)]),
        params: params(pairs),
        marker: "card-marker",
        http: integrations::providers::http_client(),
    };
    let create = act(
        "trello.createCard",
        &[("listId", &todo), ("name", "Follow up with Grace"), ("due", "2026-12-05T17:00:00Z")],
    );
    assert_eq!(create.find().await.unwrap(), Lookup::NotFound);
    let made = create.perform().await.unwrap();
    let card_id = made.id.clone().unwrap();
    let card = fakes.state().trello_card(&card_id).unwrap();
    assert_eq!((card.name.as_str(), card.id_list.as_str()), ("Follow up with Grace", todo.as_str()));
    assert!(card.due.is_some() && card.desc.ends_with("[director-of-one:card-marker]"));
    assert_eq!(create.find().await.unwrap(), Lookup::Found(made));

    act("trello.moveCard", &[("cardId", &card_id), ("listId", &done)]).perform().await.unwrap();
    assert_eq!(fakes.state().trello_card(&card_id).unwrap().id_list, done);
    let comment = act("trello.addComment", &[("cardId", &card_id), ("text", "Done by automation")]).perform().await;
    assert!(comment.unwrap().id.is_some());
}

#[tokio::test]
async fn teams_cards_and_zapier_hooks_are_posted_to_the_connections_webhook() {
    let fakes = FakeProviders::start().await;
    let teams = Act {
        action: "teams.postCard",
        base: String::new(),
        credentials: credentials(&[("webhookUrl", &format!("{}/hooks/teams-ops", fakes.url()))]),
        params: params(&[("title", "Card moved to Done"), ("text", "Q4 report")]),
        marker: "m",
        http: integrations::providers::http_client(),
    };
    teams.perform().await.unwrap();
    let posted = fakes.state().hook_posts("teams-ops");
    let card = &posted[0]["attachments"][0];
    assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(card["content"]["body"][0]["text"], "Card moved to Done");

    let zap = Act {
        action: "zapier.catchHook",
        base: String::new(),
        credentials: credentials(&[("webhookUrl", &format!("{}/hooks/zap", fakes.url()))]),
        params: params(&[("note", "new file")]),
        marker: "zap-marker",
        http: integrations::providers::http_client(),
    };
    zap.perform().await.unwrap();
    let sent = &fakes.state().hook_posts("zap")[0];
    assert_eq!((sent["note"].as_str(), sent["idempotencyKey"].as_str()), (Some("new file"), Some("zap-marker")));
}
