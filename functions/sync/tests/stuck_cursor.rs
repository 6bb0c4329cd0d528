//! A provider whose cursor does not advance: each connector, against its fake behind a proxy
//! that drops the paging parameter (so every page is the first one again), ends its run with
//! the reason in words after a few requests, instead of reading the same page for ever.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use fake_providers::{FakeProviders, Provider, demo};
use integrations::catalog::AuthMode;
use integrations::config::Function;
use integrations::domain::{Account, ConnectionId, IntegrationId, SyncRun, SyncSettings, SyncStatus, Trigger, UserId};
use integrations::store::{ConnectOutcome, NewConnection};
use integrations::sync::{JobOutcome, SyncMode, run_job};
use integrations::testing::TestEnv;
use integrations::vault::{Credentials, TokenSet};
use secrecy::SecretString;
use support::{Ignore, Proxy};

/// Each connector, the fake it talks to, and the paging parameter its fake is made to ignore.
const CONNECTORS: [(&str, Provider, Ignore); 7] = [
    ("trello", Provider::Trello, Ignore { path: "/trello/1/boards/", parameter: "before" }),
    ("slack", Provider::Slack, Ignore { path: "/slack/api/conversations.", parameter: "cursor" }),
    ("asana", Provider::Asana, Ignore { path: "/asana/api/1.0/tasks", parameter: "offset" }),
    ("notion", Provider::Notion, Ignore { path: "/notion/v1/search", parameter: "start_cursor" }),
    ("google-calendar", Provider::GoogleCalendar, Ignore { path: "/google/calendar/v3/", parameter: "pageToken" }),
    ("google-drive", Provider::GoogleDrive, Ignore { path: "/google/drive/v3/files", parameter: "pageToken" }),
    ("microsoft-teams", Provider::MicrosoftGraph, Ignore { path: "/graph/v1.0/teams/", parameter: "$skiptoken" }),
];

fn user() -> UserId {
    UserId::parse("ada").unwrap()
}

/// The demo account's credential for an integration, as connect or a sign-in stores it.
fn credentials(integration: &str) -> (AuthMode, Credentials) {
    let oauth = |token: &str| {
        let tokens = TokenSet {
            access_token: SecretString::from(token.to_owned()),
            refresh_token: None,
            expires_at: None,
            scopes: Vec::new(),
        };
        (AuthMode::Oauth2, Credentials::OAuth(tokens))
    };
    match integration {
        "trello" => {
            let fields = BTreeMap::from([
                ("apiKey".to_owned(), SecretString::from(demo::TRELLO_KEY)),
                ("token".to_owned(), SecretString::from(demo::TRELLO_TOKEN)),
            ]);
            (AuthMode::ApiKey, Credentials::ApiKey(fields))
        }
        "slack" => oauth(demo::SLACK_TOKEN),
        "asana" => oauth(demo::ASANA_TOKEN),
        "notion" => oauth(demo::NOTION_TOKEN),
        "google-calendar" | "google-drive" => oauth(demo::GOOGLE_TOKEN),
        "microsoft-teams" => oauth(demo::MICROSOFT_TOKEN),
        other => panic!("no demo credential for {other}"),
    }
}

/// Stores a connection of the demo account, as connecting leaves it.
async fn connection(env: &TestEnv, integration: &str) -> ConnectionId {
    let (auth_kind, credentials) = credentials(integration);
    let connection_id = ConnectionId::generate();
    let secret_id = env.state.vault.create(&user(), &connection_id, &credentials).await.unwrap();
    let new = NewConnection {
        user_id: user(),
        connection_id: connection_id.clone(),
        integration_id: IntegrationId::parse(integration).unwrap(),
        auth_kind,
        secret_id,
        credential_hint: "••••demo".into(),
        account: Account { id: format!("demo-{integration}"), name: "Demo".into(), workspace: None },
        display_name: integration.into(),
        settings: SyncSettings::default(),
        plan: integrations::domain::Plan::Free,
        connection_limit: None,
    };
    match env.state.store.insert_connection(new).await.unwrap() {
        ConnectOutcome::Created(c) => c.connection_id,
        other => panic!("{integration} not connected: {other:?}"),
    }
}

#[tokio::test]
async fn every_connector_ends_its_run_when_the_provider_returns_the_same_page_again() {
    let fakes = FakeProviders::start().await;
    fakes.state().seed_demo();
    let proxy = Proxy::start(fakes.url(), CONNECTORS.iter().map(|(_, _, ignore)| *ignore).collect()).await;
    let mut env = TestEnv::new().await;
    env.state.sync.page_size = 3;
    for (integration, provider, _) in CONNECTORS {
        env.use_provider(integration, format!("{}{}", proxy.url, provider.base_path()));
    }

    for (integration, provider, _) in CONNECTORS {
        let name = env.state.catalog.find(integration).unwrap().name.clone();
        let connection = connection(&env, integration).await;
        let run = SyncRun::queued(
            user(),
            connection.clone(),
            IntegrationId::parse(integration).unwrap(),
            Trigger::Manual,
            SyncMode::Full,
            chrono::Utc::now(),
        );
        env.state.store.queue_run(&run, None, None).await.unwrap().unwrap();
        fakes.state().clear_requests();

        let outcome =
            tokio::time::timeout(Duration::from_secs(30), run_job(&env.state_for(Function::SyncWorker), &run.job()))
                .await
                .unwrap_or_else(|_| panic!("the {name} run does not end"))
                .unwrap();
        assert_eq!(outcome, JobOutcome::Finished(SyncStatus::Failed), "{name}");
        let ended = env.state.store.get_run(&user(), &connection, &run.sync_id).await.unwrap();
        assert_eq!(
            ended.error.as_deref(),
            Some(format!("{name} returned the same page twice; the sync was stopped.").as_str())
        );
        let requests = fakes.state().requests(provider).len();
        assert!(requests <= 12, "{name}: {requests} requests");
        let c = env.state.store.get_connection(&user(), &connection).await.unwrap();
        assert!(c.sync_in_flight.is_none(), "{name}");
    }
    env.cleanup().await;
}
