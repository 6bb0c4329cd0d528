//! End to end through the real dev-server process: a Trello connection is made against a fake
//! of Trello's API, listed, changed and disconnected; the AWS SDK then finds neither the item
//! nor the secret on the emulator.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use fake_providers::{FakeProviders, Provider};
use integrations::testing::emulator_config;
use serde_json::{Value, json};

struct DevServer {
    child: Child,
    url: String,
    table: String,
    prefix: String,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_dev_server(fakes: &FakeProviders) -> DevServer {
    let id = ulid::Ulid::new().to_string().to_lowercase();
    let port = free_port();
    let table = format!("e2e-{id}");
    let prefix = format!("e2e/{id}");
    let child = Command::new(env!("CARGO_BIN_EXE_dev-server"))
        .env("TABLE_NAME", &table)
        .env("SECRETS_PREFIX", &prefix)
        .env("SYNC_QUEUE_NAME", format!("e2e-{id}"))
        .env("SYNC_DLQ_NAME", format!("e2e-{id}-dlq"))
        .env("AUTH_MODE", "dev")
        .env("DEV_JWT_SECRET", "end-to-end-test-signing-secret")
        .env("DEV_SERVER_ADDR", format!("127.0.0.1:{port}"))
        .env("TRELLO_API_BASE_URL", fakes.base_url(Provider::Trello))
        .env_remove("WEB_DIR")
        .stdout(Stdio::null())
        .spawn()
        .expect("start dev-server");
    let server = DevServer { child, url: format!("http://127.0.0.1:{port}"), table, prefix };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{}/web-config.json", server.url)).send().await.is_ok() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the dev server did not start");
}

#[tokio::test]
async fn a_trello_connection_is_made_listed_changed_and_disconnected_through_the_dev_server() {
    let fakes = FakeProviders::start().await;
    fakes.state().seed_demo();
    let server = start_dev_server(&fakes).await;
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1/integrations", server.url);

    let token: Value = http
        .post(format!("{}/dev/token", server.url))
        .json(&json!({ "userId": "e2e-user" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_owned();

    let response = http
        .post(format!("{api}/connect"))
        .bearer_auth(&token)
        .json(&json!({
            "integrationId": "trello",
            "credentials": { "apiKey": fake_providers::demo::TRELLO_KEY, "token": fake_providers::demo::TRELLO_TOKEN },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["connectionId"].as_str().unwrap().to_owned();

    let aws = emulator_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let secret_name = format!("{}/e2e-user/{id}", server.prefix);
    let stored = secrets.get_secret_value().secret_id(&secret_name).send().await.unwrap();
    assert!(stored.secret_string().unwrap().contains(fake_providers::demo::TRELLO_TOKEN));

    let listed: Value =
        http.get(format!("{api}/connected")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["connections"][0]["connectionId"], id.as_str());

    let changed: Value = http
        .patch(format!("{api}/{id}"))
        .bearer_auth(&token)
        .json(&json!({ "displayName": "Boards", "autoSync": true, "syncIntervalMinutes": 15 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["displayName"], "Boards");

    let deleted = http.delete(format!("{api}/{id}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status(), 204);

    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let item = dynamo
        .get_item()
        .table_name(&server.table)
        .key("PK", AttributeValue::S("USER#e2e-user".into()))
        .key("SK", AttributeValue::S(format!("CONN#{id}")))
        .send()
        .await
        .unwrap();
    assert!(item.item().is_none(), "the connection item is gone");
    let gone = secrets.get_secret_value().secret_id(&secret_name).send().await;
    assert!(gone.is_err(), "the secret is gone");

    let _ = dynamo.delete_table().table_name(&server.table).send().await;
}
