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

fn asana(fakes: &FakeProviders, project: &str, marker: &'static str, name: &str) -> Act<'static> {
    Act {
        action: "asana.createTask",
        base: fakes.base_url(Fake::Asana),
        credentials: credentials(&[("token", demo::ASANA_TOKEN)]),
        params: params(&[
            ("projectId", project),
            ("name", name),
            ("notes", "Follow-up from the Q4 review"),
            ("dueOn", "2026-12-09"),
            ("assignee", "me"),
        ]),
        marker,
        http: integrations::providers::http_client(),
    }
}

#[tokio::test]
async fn an_asana_task_carries_its_marker_in_its_notes_and_is_found_again() {
    let (fakes, seed) = demo_fakes().await;
    let project = &seed.asana_project_gids[0];
    let act = asana(&fakes, project, "asana-marker-1", "Send the Q4 numbers");
    assert_eq!(act.find().await.unwrap(), Lookup::NotFound);
    let made = act.perform().await.unwrap();
    let task = fakes.state().asana_task(made.id.as_deref().unwrap()).unwrap();
    assert_eq!(task.name, "Send the Q4 numbers");
    assert_eq!(task.project_gids, std::slice::from_ref(project));
    assert_eq!(task.assignee_gid.as_deref(), Some(seed.asana_user_gid.as_str()));
    assert_eq!(task.due_on.unwrap().to_string(), "2026-12-09");
    assert!(task.notes.starts_with("Follow-up from the Q4 review"), "{}", task.notes);
    assert!(task.notes.ends_with("[director-of-one:asana-marker-1]"), "{}", task.notes);
    assert!(made.url.as_deref().is_some_and(|u| u.contains(&task.gid)), "{made:?}");
    assert_eq!(act.find().await.unwrap(), Lookup::Found(made));
    let other = asana(&fakes, project, "asana-marker-2", "Send the Q4 numbers");
    assert_eq!(other.find().await.unwrap(), Lookup::NotFound, "another step's marker finds nothing");

    let mut both = asana(&fakes, project, "asana-marker-3", "Both dates");
    both.params.insert("dueAt".into(), "2026-12-09T17:00:00Z".into());
    assert!(matches!(both.perform().await, Err(ActionError::Param { name: "dueAt", .. })));
    let mut elsewhere = asana(&fakes, "1", "asana-marker-4", "Nowhere");
    elsewhere.params.remove("dueOn");
    assert!(matches!(elsewhere.perform().await, Err(ActionError::Refused(_))), "an unknown project is refused");
    let names: Vec<String> = fakes.state().asana_project_tasks(project).into_iter().map(|t| t.name).collect();
    assert_eq!(names.iter().filter(|n| *n == "Send the Q4 numbers").count(), 1);
    assert!(!names.iter().any(|n| n == "Both dates"), "nothing sent");
}

#[tokio::test]
async fn an_asana_task_whose_answer_was_lost_is_found_not_made_again() {
    let (fakes, seed) = demo_fakes().await;
    let project = &seed.asana_project_gids[1];
    fakes.state().fail_next(Fake::Asana, "/tasks", Fault::LateAnswer { millis: 600 }, 1);
    let mut slow = asana(&fakes, project, "asana-slow", "Slow task");
    slow.http = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    assert!(matches!(
        slow.perform().await,
        Err(ActionError::Uncertain(ProviderError::Transport { timed_out: true, .. }))
    ));
    slow.http = integrations::providers::http_client();
    let Lookup::Found(found) = slow.find().await.unwrap() else { panic!("the lookup finds what the lost answer made") };
    let tasks = fakes.state().asana_project_tasks(project);
    let slow_tasks: Vec<_> = tasks.iter().filter(|t| t.name == "Slow task").collect();
    assert_eq!(slow_tasks.len(), 1);
    assert_eq!(found.id.as_deref(), Some(slow_tasks[0].gid.as_str()));

    // Refused at the door: nothing was made.
    fakes.state().fail_next(Fake::Asana, "/tasks", Fault::RateLimited { retry_after_secs: 3 }, 1);
    let limited = asana(&fakes, project, "asana-429", "Limited").perform().await;
    assert!(matches!(limited, Err(ActionError::NotDone(ProviderError::RateLimited(_)))));
    assert!(fakes.state().asana_project_tasks(project).iter().all(|t| t.name != "Limited"));
}

fn notion(fakes: &FakeProviders, database: &str, title: &str) -> Act<'static> {
    Act {
        action: "notion.createPage",
        base: fakes.base_url(Fake::Notion),
        credentials: credentials(&[("token", demo::NOTION_TOKEN)]),
        params: params(&[("databaseId", database), ("title", title), ("content", "Made by an automation")]),
        marker: "notion-marker",
        http: integrations::providers::http_client(),
    }
}

#[tokio::test]
async fn a_notion_page_is_made_in_its_database_once_and_a_lost_answer_stays_unknown() {
    let (fakes, seed) = demo_fakes().await;
    let database = &seed.notion_database_ids[0];
    let before = fakes.state().notion_pages_in(database).len();
    let made = notion(&fakes, database, "Meeting notes: Q4 review").perform().await.unwrap();
    let page = fakes.state().notion_item(made.id.as_deref().unwrap()).unwrap();
    assert_eq!(page.title, "Meeting notes: Q4 review");
    assert_eq!(page.parent, fake_providers::NotionParent::Database(database.clone()));
    assert_eq!(made.url.as_deref(), Some(page.url.as_str()));
    assert_eq!(fakes.state().notion_pages_in(database).len(), before + 1);
    let sent = fakes.state().requests(Fake::Notion).into_iter().last().unwrap();
    assert_eq!(sent.path, "/v1/pages");

    // A database the integration cannot see is refused; a page cannot be found again.
    let hidden = notion(&fakes, "00000000-0000-0000-0000-000000000000", "x").perform().await;
    assert!(matches!(hidden, Err(ActionError::Refused(_))), "{hidden:?}");
    fakes.state().fail_next(Fake::Notion, "/v1/pages", Fault::LateAnswer { millis: 600 }, 1);
    let mut slow = notion(&fakes, database, "Slow page");
    slow.http = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    assert!(matches!(slow.perform().await, Err(ActionError::Uncertain(_))));
    assert_eq!(slow.find().await.unwrap(), Lookup::NotOffered, "never sent again blindly");
    assert_eq!(fakes.state().notion_pages_in(database).iter().filter(|p| p.title == "Slow page").count(), 1);
}
