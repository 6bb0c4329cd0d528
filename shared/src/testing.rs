//! Test support (feature `test-support`): an isolated table and secrets prefix per test on the
//! local AWS emulator, and dev tokens. Refuses to run against anything but a loopback endpoint.

use std::sync::Arc;

use secrecy::SecretString;

use crate::auth::{Authenticator, issue_dev_token};
use crate::catalog::{Catalog, ProviderEndpoints};
use crate::config::AppState;
use crate::domain::{Plan, UserId};
use crate::store::Store;
use crate::store::table::create_table;
use crate::vault::Vault;

pub const TEST_JWT_SECRET: &str = "test-only-signing-secret";

/// The emulator's SDK configuration, from `AWS_ENDPOINT_URL` (set by `make test`).
pub async fn emulator_config() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "these tests run against the local AWS emulator: run them with `make test`, or start it with \
         `make emulator` and set AWS_ENDPOINT_URL=http://127.0.0.1:4566 (got {endpoint:?})"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

/// One test's own AWS resources and the state built on them.
pub struct TestEnv {
    pub state: AppState,
    pub aws: aws_config::SdkConfig,
    pub table: String,
    pub secrets_prefix: String,
    pub queues: Option<TestQueues>,
}

/// A sync queue and its dead-letter queue, made for one test.
#[derive(Debug, Clone)]
pub struct TestQueues {
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

impl TestEnv {
    pub async fn new() -> Self {
        let aws = emulator_config().await;
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let table = format!("test-{id}");
        let secrets_prefix = format!("test/{id}");
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        create_table(&dynamo, &table).await.expect("create the test table on the emulator");
        let state = AppState {
            catalog: Catalog::get(),
            store: Store::new(dynamo, &table),
            vault: Vault::new(aws_sdk_secretsmanager::Client::new(&aws), &secrets_prefix),
            http: crate::providers::http_client(),
            endpoints: ProviderEndpoints::default(),
            auth: Arc::new(Authenticator::DevToken { secret: SecretString::from(TEST_JWT_SECRET) }),
            queue: None,
            sync: crate::config::SyncOptions::default(),
            oauth: crate::oauth::OAuthClients::default(),
        };
        Self { state, aws, table, secrets_prefix, queues: None }
    }

    /// Gives the state a sync queue whose messages move to a dead-letter queue after
    /// `max_receives` receives.
    pub async fn add_queues(&mut self, max_receives: u32) -> TestQueues {
        use aws_sdk_sqs::types::QueueAttributeName;
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let name = self.table.clone();
        let arn_of = |url: String| {
            let sqs = sqs.clone();
            async move {
                let out = sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .expect("queue attributes");
                out.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().expect("queue arn")
            }
        };
        let dlq_url =
            sqs.create_queue().queue_name(format!("{name}-dlq")).send().await.expect("dlq").queue_url.unwrap();
        let dlq_arn = arn_of(dlq_url.clone()).await;
        let redrive =
            serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string() });
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .expect("queue")
            .queue_url
            .unwrap();
        let queue_arn = arn_of(queue_url.clone()).await;
        self.state.queue = Some(crate::queue::SyncQueue::new(sqs, &queue_url));
        let queues = TestQueues { queue_url, queue_arn, dlq_url, dlq_arn };
        self.queues = Some(queues.clone());
        queues
    }

    /// The sync jobs waiting on the test queue (received and deleted).
    pub async fn take_jobs(&self) -> Vec<crate::domain::SyncJob> {
        let queues = self.queues.as_ref().expect("add_queues first");
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let mut jobs = Vec::new();
        loop {
            let out = sqs
                .receive_message()
                .queue_url(&queues.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            if out.messages().is_empty() {
                return jobs;
            }
            for m in out.messages() {
                jobs.push(serde_json::from_str(m.body().unwrap_or_default()).expect("a sync job"));
                sqs.delete_message()
                    .queue_url(&queues.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// Points an integration's connector at a fake.
    pub fn use_provider(&mut self, integration: &str, base_url: impl Into<String>) {
        let endpoints = std::mem::take(&mut self.state.endpoints);
        self.state.endpoints = endpoints.with_override(integration, base_url);
    }

    pub fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.aws)
    }

    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.aws)
    }

    pub fn token(&self, user: &str, plan: Plan) -> String {
        issue_dev_token(
            &SecretString::from(TEST_JWT_SECRET),
            &UserId::parse(user).expect("valid test user id"),
            plan,
            600,
        )
    }

    /// Names of the secrets under this test's prefix.
    pub async fn secret_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut pages = self.secrets().list_secrets().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.expect("list secrets");
            names.extend(
                page.secret_list()
                    .iter()
                    .filter_map(|s| s.name())
                    .filter(|n| n.starts_with(&format!("{}/", self.secrets_prefix)))
                    .map(str::to_owned),
            );
        }
        names
    }

    /// Deletes the table and the secrets this test made.
    pub async fn cleanup(self) {
        for name in self.secret_names().await {
            let _ = self.secrets().delete_secret().secret_id(name).force_delete_without_recovery(true).send().await;
        }
        let _ = self.dynamo().delete_table().table_name(&self.table).send().await;
        if let Some(q) = &self.queues {
            let sqs = aws_sdk_sqs::Client::new(&self.aws);
            for url in [&q.queue_url, &q.dlq_url] {
                let _ = sqs.delete_queue().queue_url(url).send().await;
            }
        }
    }
}
