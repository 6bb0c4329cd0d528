//! Test support (feature `test-support`): an isolated table and secrets prefix per test on the
//! local AWS emulator, and dev tokens. Refuses to run against anything but a loopback endpoint.
//!
//! `make test` turns on IAM in the emulator (infra/local/scripts/emulator-iam.py): the harness
//! (tables, queues, seeding, cleanup) calls as an admin, and [`TestEnv::state_for`] gives a
//! function's code the state it has in AWS, calling as that function's role, whose policy is the
//! one template.yaml writes for it.

use std::sync::Arc;

use secrecy::SecretString;

use crate::auth::{Authenticator, issue_dev_token};
use crate::catalog::{Catalog, ProviderEndpoints};
use crate::config::{AppState, Function};
use crate::domain::{Plan, UserId};
use crate::queue::{AutomationQueue, HookQueue, SyncQueue};
use crate::store::Store;
use crate::store::table::create_table;
use crate::vault::Vault;

mod template_policy;
pub use template_policy::{Names, TemplatePolicy};

pub const TEST_JWT_SECRET: &str = "test-only-signing-secret";

/// The functions of template.yaml.
pub const FUNCTIONS: [Function; 10] = [
    Function::Catalog,
    Function::Connections,
    Function::SyncApi,
    Function::SyncWorker,
    Function::SyncScheduler,
    Function::AutomationsApi,
    Function::AutomationsRunner,
    Function::HooksApi,
    Function::HooksWorker,
    Function::Webhooks,
];

/// A function's logical id in template.yaml (the name of its role in the emulator).
pub fn logical_id(function: Function) -> &'static str {
    match function {
        Function::Catalog => "CatalogFunction",
        Function::Connections => "ConnectionsFunction",
        Function::SyncApi => "SyncApiFunction",
        Function::SyncWorker => "SyncWorkerFunction",
        Function::SyncScheduler => "SyncSchedulerFunction",
        Function::AutomationsApi => "AutomationsApiFunction",
        Function::AutomationsRunner => "AutomationsRunnerFunction",
        Function::HooksApi => "HooksApiFunction",
        Function::HooksWorker => "HooksWorkerFunction",
        Function::Webhooks => "WebhooksFunction",
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The emulator's SDK configuration, from `AWS_ENDPOINT_URL` (set by `make test`), calling as
/// the admin (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`; any key while IAM is off).
pub async fn emulator_config() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "these tests run against the local AWS emulator: run them with `make test`, or start it with \
         `make emulator` and set AWS_ENDPOINT_URL=http://127.0.0.1:4566 (got {endpoint:?})"
    );
    let key = env("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "test".into());
    let secret = env("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "test".into());
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(key, secret, None, None, "emulator-admin"))
        .load()
        .await
}

/// The credentials of a function's role in the emulator (`EMULATOR_ROLE_<LOGICAL ID>`, "<key id>
/// <secret> <session token>", exported by emulator-iam.py), if IAM is on.
fn role_credentials(function: Function) -> Option<aws_sdk_dynamodb::config::Credentials> {
    let id = logical_id(function);
    let value = env(&format!("EMULATOR_ROLE_{}", id.to_uppercase()))?;
    let mut parts = value.split_whitespace().map(str::to_owned);
    let (Some(key), Some(secret), Some(token)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("EMULATOR_ROLE_{} is not \"<key id> <secret> <session token>\"", id.to_uppercase());
    };
    Some(aws_sdk_dynamodb::config::Credentials::new(key, secret, Some(token), None, id))
}

/// Whether the emulator enforces the functions' policies: emulator-iam.py has given every
/// function its role.
pub fn iam_enforced() -> bool {
    FUNCTIONS.iter().all(|f| role_credentials(*f).is_some())
}

/// `aws` calling as a function's role; unchanged (the admin) while IAM is off.
pub fn function_config(aws: &aws_config::SdkConfig, function: Function) -> aws_config::SdkConfig {
    match role_credentials(function) {
        Some(credentials) => aws
            .to_builder()
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(credentials))
            .build(),
        None => aws.clone(),
    }
}

/// One test's own AWS resources and the state built on them.
pub struct TestEnv {
    pub state: AppState,
    pub aws: aws_config::SdkConfig,
    pub table: String,
    pub secrets_prefix: String,
    pub queues: Option<TestQueues>,
    /// The automations queue and its dead-letter queue, when the test made them.
    pub automation_queues: Option<TestQueues>,
    /// The hook deliveries queue and its dead-letter queue, when the test made them.
    pub hook_queues: Option<TestQueues>,
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
            automations: None,
            hooks: None,
            // The tests' receivers are local fakes.
            hook_targets: crate::hooks::target::TargetPolicy { allow_loopback: true },
            sync: crate::config::SyncOptions::default(),
            oauth: crate::oauth::OAuthClients::default(),
            webhooks: crate::config::WebhookKeys::default(),
        };
        Self { state, aws, table, secrets_prefix, queues: None, automation_queues: None, hook_queues: None }
    }

    /// Gives the state a sync queue whose messages move to a dead-letter queue after
    /// `max_receives` receives.
    pub async fn add_queues(&mut self, max_receives: u32) -> TestQueues {
        let (queues, sqs) = self.queue_pair("sync", max_receives).await;
        self.state.queue = Some(SyncQueue::new(sqs, &queues.queue_url));
        self.queues = Some(queues.clone());
        queues
    }

    /// An automations queue and its dead-letter queue for this test (named as emulator-iam.py
    /// expects of AutomationsQueue and AutomationsDeadLetterQueue).
    pub async fn add_automation_queues(&mut self, max_receives: u32) -> TestQueues {
        let (queues, sqs) = self.queue_pair("automations", max_receives).await;
        self.state.automations = Some(AutomationQueue::new(sqs, &queues.queue_url));
        self.automation_queues = Some(queues.clone());
        queues
    }

    /// A hook deliveries queue and its dead-letter queue for this test (named as emulator-iam.py
    /// expects of HooksQueue and HooksDeadLetterQueue).
    pub async fn add_hook_queues(&mut self, max_receives: u32) -> TestQueues {
        let (queues, sqs) = self.queue_pair("hooks", max_receives).await;
        self.state.hooks = Some(HookQueue::new(sqs, &queues.queue_url));
        self.hook_queues = Some(queues.clone());
        queues
    }

    /// The hook deliveries waiting on the test's hooks queue (received and deleted).
    pub async fn take_hook_deliveries(&self) -> Vec<crate::hooks::HookDelivery> {
        match &self.hook_queues {
            Some(queues) => self.take_messages(&queues.queue_url).await,
            None => Vec::new(),
        }
    }

    /// `{table}-{suffix}` and its dead-letter queue `{table}-{suffix}-dlq`, which takes what was
    /// received `max_receives` times (the names emulator-iam.py gives the template's queues).
    async fn queue_pair(&self, suffix: &str, max_receives: u32) -> (TestQueues, aws_sdk_sqs::Client) {
        use aws_sdk_sqs::types::QueueAttributeName;
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let arn_of = async |url: &str| {
            let out = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .expect("queue attributes");
            out.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().expect("queue arn")
        };
        let name = format!("{}-{suffix}", self.table);
        let dlq_url =
            sqs.create_queue().queue_name(format!("{name}-dlq")).send().await.expect("dlq").queue_url.unwrap();
        let dlq_arn = arn_of(&dlq_url).await;
        let redrive =
            serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string() });
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .expect("queue")
            .queue_url
            .unwrap();
        let queue_arn = arn_of(&queue_url).await;
        (TestQueues { queue_url, queue_arn, dlq_url, dlq_arn }, sqs)
    }

    /// The automation jobs waiting on the test's automations queue (received and deleted).
    pub async fn take_automation_jobs(&self) -> Vec<crate::automations::AutomationJob> {
        match &self.automation_queues {
            Some(queues) => self.take_messages(&queues.queue_url).await,
            None => Vec::new(),
        }
    }

    /// The sync jobs waiting on the test queue (received and deleted).
    pub async fn take_jobs(&self) -> Vec<crate::domain::SyncJob> {
        self.take_messages(&self.queues.as_ref().expect("add_queues first").queue_url).await
    }

    /// Every message waiting on the test's sync queue, jobs and notified connections' pending
    /// syncs alike (received and deleted).
    pub async fn take_sync_messages(&self) -> Vec<crate::queue::SyncMessage> {
        self.take_messages(&self.queues.as_ref().expect("add_queues first").queue_url).await
    }

    /// Every message waiting on a queue, read as JSON (received and deleted).
    async fn take_messages<T: serde::de::DeserializeOwned>(&self, queue_url: &str) -> Vec<T> {
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let mut taken = Vec::new();
        loop {
            let out =
                sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await.expect("receive");
            if out.messages().is_empty() {
                return taken;
            }
            for m in out.messages() {
                taken.push(serde_json::from_str(m.body().unwrap_or_default()).expect("a job this test queued"));
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// The state a function has in AWS: this test's state (table, secrets prefix, queue, options),
    /// allowed what template.yaml gives the function and nothing else. Give it to the function's
    /// code (router, handler); the harness seeds and checks through `state` (the admin).
    ///
    /// Its AWS clients call as the function's role in the emulator (which checks the actions), and
    /// check each request against the template's policy resolved to this test's table, secrets
    /// and queues first ([`TemplatePolicy`]: the resources, and what a transaction or a tagged
    /// secret needs, which the emulator does not check).
    pub fn state_for(&self, function: Function) -> AppState {
        let aws = function_config(&self.aws, function);
        let names = Names {
            table: self.state.store.table().to_owned(),
            secrets_prefix: self.secrets_prefix.clone(),
            queue_arn: self.queues.as_ref().map(|q| q.queue_arn.clone()),
            dlq_arn: self.queues.as_ref().map(|q| q.dlq_arn.clone()),
            automations_arn: self.automation_queues.as_ref().map(|q| q.queue_arn.clone()),
            automations_dlq_arn: self.automation_queues.as_ref().map(|q| q.dlq_arn.clone()),
            hooks_arn: self.hook_queues.as_ref().map(|q| q.queue_arn.clone()),
            hooks_dlq_arn: self.hook_queues.as_ref().map(|q| q.dlq_arn.clone()),
        };
        let policy = TemplatePolicy::new(logical_id(function), &names);
        let dynamo = aws_sdk_dynamodb::config::Builder::from(&aws).interceptor(policy.clone()).build();
        let secrets = aws_sdk_secretsmanager::config::Builder::from(&aws).interceptor(policy.clone()).build();
        let sqs = aws_sdk_sqs::config::Builder::from(&aws).interceptor(policy).build();
        let mut state = self.state.clone();
        state.store = Store::new(aws_sdk_dynamodb::Client::from_conf(dynamo), self.state.store.table());
        state.vault = Vault::new(aws_sdk_secretsmanager::Client::from_conf(secrets), &self.secrets_prefix);
        let sqs = aws_sdk_sqs::Client::from_conf(sqs);
        state.queue = self.state.queue.as_ref().map(|q| SyncQueue::new(sqs.clone(), q.url()));
        state.automations = self.state.automations.as_ref().map(|q| AutomationQueue::new(sqs.clone(), q.url()));
        state.hooks = self.state.hooks.as_ref().map(|q| HookQueue::new(sqs, q.url()));
        state
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
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        for q in [&self.queues, &self.automation_queues, &self.hook_queues].into_iter().flatten() {
            for url in [&q.queue_url, &q.dlq_url] {
                let _ = sqs.delete_queue().queue_url(url).send().await;
            }
        }
    }
}
