//! Configuration, read once from the environment at cold start, and the state every
//! function shares: the clients it uses, built once (see [`crate::clients`]).

use std::sync::Arc;

use axum::extract::FromRef;
use secrecy::SecretString;

use crate::auth::Authenticator;
use crate::catalog::{Catalog, ProviderEndpoints};
use crate::domain::SyncSettings;
use crate::hooks::target::TargetPolicy;
use crate::oauth::OAuthClients;
use crate::providers::RetryPolicy;
use crate::queue::{AutomationQueue, HookQueue, SyncQueue};
use crate::store::Store;
use crate::vault::Vault;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("the secret named by {name} could not be read")]
    Secret {
        name: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Client(#[from] crate::clients::ClientError),
}

/// The Lambda functions, each with the clients it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Catalog,
    Connections,
    SyncApi,
    SyncWorker,
    SyncScheduler,
    AutomationsApi,
    AutomationsRunner,
    HooksApi,
    HooksWorker,
    /// Incoming provider notifications (functions/webhooks).
    Webhooks,
}

/// What a process talks to besides its DynamoDB table (and Secrets Manager, whose client the
/// vault always holds; it connects on first use): only these clients are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    /// The sync queue (`SYNC_QUEUE_URL`).
    pub queue: bool,
    /// The automations queue (`AUTOMATIONS_QUEUE_URL`).
    pub automations: bool,
    /// The providers' APIs and OAuth endpoints: the OAuth clients (and their secret).
    pub providers: bool,
    /// The hook deliveries queue (`HOOKS_QUEUE_URL`).
    pub hooks: bool,
}

impl Uses {
    /// Everything: the local dev server, which runs every function in one process.
    pub const ALL: Uses = Uses { queue: true, automations: true, providers: true, hooks: true };
}

impl Function {
    pub fn uses(self) -> Uses {
        let (queue, automations, providers, hooks) = match self {
            Function::Catalog => (false, false, false, false),
            // A reconnect publishes the connection's return to health.
            Function::Connections => (false, false, true, true),
            Function::SyncApi => (true, false, false, false),
            // The worker queues the continuation of a run that reaches its invocation's deadline,
            // the automation runs its changes trigger, and the hook deliveries of its events.
            Function::SyncWorker => (true, true, true, true),
            // It queues the scheduled automations whose time has come, renews the providers'
            // subscriptions and refreshes idle grants (publishing a refused one's change of health).
            Function::SyncScheduler => (true, true, true, true),
            // A manual run is queued; the runner queues an event again to try it later, and the
            // hook deliveries of a run's end. A save that needs a scope the connection lacks
            // starts its re-consent (the OAuth clients).
            Function::AutomationsApi => (false, true, true, false),
            Function::AutomationsRunner => (false, true, true, true),
            // A redelivery is queued; the worker queues a delivery again to try it later.
            Function::HooksApi => (false, false, false, true),
            Function::HooksWorker => (false, false, false, true),
            // A notification queues its connection's sync; it makes no provider call, but its
            // verification secrets live with the OAuth clients.
            Function::Webhooks => (true, false, true, false),
        };
        Uses { queue, automations, providers, hooks }
    }
}

pub enum AuthConfig {
    /// `PLAN_CLAIM`: the claim that carries the plan (default `custom:plan`).
    ApiGateway {
        plan_claim: String,
    },
    Dev {
        secret: SecretString,
    },
}

pub struct Config {
    pub table_name: String,
    pub secrets_prefix: String,
    pub auth: AuthConfig,
    /// Only the functions that queue syncs need it.
    pub sync_queue_url: Option<String>,
    /// Only the functions that queue automation runs need it.
    pub automations_queue_url: Option<String>,
    /// Only the functions that queue hook deliveries need it.
    pub hooks_queue_url: Option<String>,
    /// Which hook targets may be reached (`HOOKS_ALLOW_LOOPBACK`).
    pub hook_targets: TargetPolicy,
    pub sync: SyncOptions,
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let auth = match required("AUTH_MODE")?.as_str() {
            "apigateway" => AuthConfig::ApiGateway {
                plan_claim: std::env::var("PLAN_CLAIM")
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| crate::auth::DEFAULT_PLAN_CLAIM.to_owned()),
            },
            "dev" => {
                let secret = required("DEV_JWT_SECRET")?;
                if secret.len() < 16 {
                    return Err(ConfigError::Invalid {
                        name: "DEV_JWT_SECRET",
                        reason: "use at least 16 characters".into(),
                    });
                }
                AuthConfig::Dev { secret: SecretString::from(secret) }
            }
            other => {
                return Err(ConfigError::Invalid {
                    name: "AUTH_MODE",
                    reason: format!("`{other}` is neither `apigateway` nor `dev`"),
                });
            }
        };
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            secrets_prefix: required("SECRETS_PREFIX")?,
            auth,
            sync_queue_url: std::env::var("SYNC_QUEUE_URL").ok().filter(|v| !v.is_empty()),
            automations_queue_url: std::env::var("AUTOMATIONS_QUEUE_URL").ok().filter(|v| !v.is_empty()),
            hooks_queue_url: std::env::var("HOOKS_QUEUE_URL").ok().filter(|v| !v.is_empty()),
            hook_targets: TargetPolicy::from_env(),
            sync: SyncOptions {
                page_size: match std::env::var("SYNC_PAGE_SIZE") {
                    Err(_) => 100,
                    Ok(raw) => raw.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or(ConfigError::Invalid {
                        name: "SYNC_PAGE_SIZE",
                        reason: "use a whole number from 1 to 1000".into(),
                    })?,
                },
                max_pages_per_run: match std::env::var("SYNC_MAX_PAGES") {
                    Err(_) => SyncOptions::default().max_pages_per_run,
                    Ok(raw) => {
                        raw.parse().ok().filter(|n| (1..=1_000_000).contains(n)).ok_or(ConfigError::Invalid {
                            name: "SYNC_MAX_PAGES",
                            reason: "use a whole number from 1 to 1000000".into(),
                        })?
                    }
                },
                polling_fallback_minutes: match std::env::var("POLLING_FALLBACK_MINUTES") {
                    Err(_) => SyncOptions::default().polling_fallback_minutes,
                    Ok(raw) => raw.parse().ok().filter(|n| SyncSettings::interval_is_valid(*n)).ok_or(
                        ConfigError::Invalid {
                            name: "POLLING_FALLBACK_MINUTES",
                            reason: "use a whole number of minutes from 15 to 1440".into(),
                        },
                    )?,
                },
                ..SyncOptions::default()
            },
        })
    }
}

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub catalog: &'static Catalog,
    pub store: Store,
    pub vault: Vault,
    pub http: reqwest::Client,
    pub endpoints: ProviderEndpoints,
    pub auth: Arc<Authenticator>,
    /// The sync queue (functions that queue syncs: sync-api, sync-scheduler, and sync-worker,
    /// which queues the continuation of a long run).
    pub queue: Option<SyncQueue>,
    /// The automations queue (functions that queue automation runs).
    pub automations: Option<AutomationQueue>,
    /// The hook deliveries queue (functions that publish hook events or retry deliveries).
    pub hooks: Option<HookQueue>,
    /// Which signed-webhook targets may be reached (hooks and `webhook.post`).
    pub hook_targets: TargetPolicy,
    pub sync: SyncOptions,
    /// OAuth clients of the integrations that sign in.
    pub oauth: OAuthClients,
    /// What incoming provider notifications are checked with (functions/webhooks), and the
    /// address subscriptions send them to.
    pub webhooks: WebhookKeys,
}

/// The secrets that verify providers' notifications, read like the OAuth clients (the
/// `OAUTH_CLIENTS_SECRET_ID` secret, or the environment): `SLACK_SIGNING_SECRET`,
/// `TRELLO_APP_SECRET`; and `WEBHOOK_BASE_URL`, the public origin of
/// `/api/v1/integrations/webhooks/{provider}` (Trello signs the callback URL too).
#[derive(Clone, Default)]
pub struct WebhookKeys {
    pub slack_signing_secret: Option<SecretString>,
    pub trello_app_secret: Option<SecretString>,
    pub base_url: Option<String>,
}

impl WebhookKeys {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            slack_signing_secret: lookup("SLACK_SIGNING_SECRET").map(SecretString::from),
            trello_app_secret: lookup("TRELLO_APP_SECRET").map(SecretString::from),
            base_url: std::env::var("WEBHOOK_BASE_URL")
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| v.trim_end_matches('/').to_owned()),
        }
    }

    /// From the environment alone.
    pub fn from_env() -> Self {
        Self::from_lookup(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }
}

/// How the worker pages through providers.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Items asked for per provider request (`SYNC_PAGE_SIZE`, default 100).
    pub page_size: u32,
    pub retry: RetryPolicy,
    /// Minimum time between two manual syncs of one connection.
    pub manual_gap: chrono::Duration,
    /// Most provider pages one run reads (`SYNC_MAX_PAGES`, default 10,000): a backstop against
    /// a provider whose cursor never ends; the run fails past it.
    pub max_pages_per_run: u64,
    /// Time a worker keeps before its invocation's deadline to write the page in hand, save the
    /// cursor and queue the run's continuation.
    pub deadline_margin: std::time::Duration,
    /// The longest wait for the connection's API budget to refill that a run waits out in
    /// process, pacing its pages at the provider's rate; past it the run yields to a later
    /// message.
    pub max_budget_pause: std::time::Duration,
    /// How often a connection that auto-syncs is synced while it is `polling` (its provider
    /// subscription could not be made or renewed), if its own interval is longer
    /// (`POLLING_FALLBACK_MINUTES`, default 15, the shortest interval).
    pub polling_fallback_minutes: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            page_size: 100,
            retry: RetryPolicy::default(),
            manual_gap: chrono::Duration::seconds(60),
            max_pages_per_run: 10_000,
            deadline_margin: std::time::Duration::from_secs(15),
            max_budget_pause: std::time::Duration::from_secs(2),
            polling_fallback_minutes: SyncSettings::MIN_INTERVAL_MINUTES,
        }
    }
}

impl FromRef<AppState> for Arc<Authenticator> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl AppState {
    /// Every client, on `aws`: the local dev server and tests.
    pub fn new(config: &Config, aws: &aws_config::SdkConfig) -> Self {
        let clients = Clients {
            secrets: aws_sdk_secretsmanager::Client::new(aws),
            http: crate::providers::http_client(),
            oauth: OAuthClients::from_env(Catalog::get()),
            webhooks: WebhookKeys::from_env(),
        };
        Self::build(config, aws, Uses::ALL, clients)
    }

    fn build(config: &Config, aws: &aws_config::SdkConfig, uses: Uses, clients: Clients) -> Self {
        Self {
            catalog: Catalog::get(),
            store: Store::new(aws_sdk_dynamodb::Client::new(aws), &config.table_name),
            vault: Vault::new(clients.secrets, &config.secrets_prefix),
            http: clients.http,
            endpoints: ProviderEndpoints::from_env(Catalog::get()),
            auth: Arc::new(match &config.auth {
                AuthConfig::ApiGateway { plan_claim } => Authenticator::ApiGateway { plan_claim: plan_claim.clone() },
                AuthConfig::Dev { secret } => Authenticator::DevToken { secret: secret.clone() },
            }),
            queue: match uses.queue {
                true => config.sync_queue_url.as_ref().map(|url| SyncQueue::new(aws_sdk_sqs::Client::new(aws), url)),
                false => None,
            },
            automations: match uses.automations {
                true => config
                    .automations_queue_url
                    .as_ref()
                    .map(|url| AutomationQueue::new(aws_sdk_sqs::Client::new(aws), url)),
                false => None,
            },
            hooks: match uses.hooks {
                true => config.hooks_queue_url.as_ref().map(|url| HookQueue::new(aws_sdk_sqs::Client::new(aws), url)),
                false => None,
            },
            hook_targets: config.hook_targets,
            sync: config.sync,
            oauth: clients.oauth,
            webhooks: clients.webhooks,
        }
    }

    /// Reads the environment and builds every client (see [`AppState::for_function`]).
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_using(Uses::ALL).await
    }

    /// What a function's `main` calls: reads the environment and builds the clients `function`
    /// uses, all on the process's one TLS configuration. A function that queues syncs needs
    /// `SYNC_QUEUE_URL`.
    pub async fn for_function(function: Function) -> Result<Self, ConfigError> {
        let uses = function.uses();
        if uses.queue && std::env::var("SYNC_QUEUE_URL").map_or(true, |url| url.is_empty()) {
            return Err(ConfigError::Missing("SYNC_QUEUE_URL"));
        }
        if uses.automations && std::env::var("AUTOMATIONS_QUEUE_URL").map_or(true, |url| url.is_empty()) {
            return Err(ConfigError::Missing("AUTOMATIONS_QUEUE_URL"));
        }
        if uses.hooks && std::env::var("HOOKS_QUEUE_URL").map_or(true, |url| url.is_empty()) {
            return Err(ConfigError::Missing("HOOKS_QUEUE_URL"));
        }
        Self::from_env_using(uses).await
    }

    /// Reads the environment and builds the clients of `uses` (the queue if `SYNC_QUEUE_URL`
    /// is set).
    pub async fn from_env_using(uses: Uses) -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let aws = crate::clients::aws_config().await;
        // The vault and the HTTP client are not optional fields: a function that does not use
        // them gets clients that make no connection and load no certificate (the SDK's HTTP
        // client connects on first use; reqwest is on the shared TLS configuration).
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        let (oauth, webhooks) = match uses.providers {
            false => (OAuthClients::default(), WebhookKeys::from_env()),
            true => Self::oauth_clients(&secrets).await?,
        };
        let clients = Clients { secrets, http: crate::clients::provider_http()?, oauth, webhooks };
        Ok(Self::build(&config, &aws, uses, clients))
    }

    /// The OAuth clients of the integrations that sign in, and the webhook verification
    /// secrets. In AWS they live in one secret (only the functions that sign users in, refresh
    /// tokens or verify notifications are given it).
    async fn oauth_clients(
        secrets: &aws_sdk_secretsmanager::Client,
    ) -> Result<(OAuthClients, WebhookKeys), ConfigError> {
        const NAME: &str = "OAUTH_CLIENTS_SECRET_ID";
        let Some(secret_id) = std::env::var(NAME).ok().filter(|id| !id.is_empty()) else {
            return Ok((OAuthClients::from_env(Catalog::get()), WebhookKeys::from_env()));
        };
        let out = secrets
            .get_secret_value()
            .secret_id(&secret_id)
            .send()
            .await
            .map_err(|e| ConfigError::Secret { name: NAME, source: Box::new(e) })?;
        let json: serde_json::Value = serde_json::from_str(out.secret_string().unwrap_or("{}"))
            .map_err(|e| ConfigError::Secret { name: NAME, source: Box::new(e) })?;
        if !json.is_object() {
            return Err(ConfigError::Invalid { name: NAME, reason: "the secret is not a JSON object".into() });
        }
        let webhooks = WebhookKeys::from_lookup(&|name| {
            json.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .or_else(|| std::env::var(name).ok().filter(|v| !v.is_empty()))
        });
        Ok((OAuthClients::from_json_and_env(Catalog::get(), &json), webhooks))
    }
}

/// The clients of an [`AppState`] that depend on what the function uses.
struct Clients {
    secrets: aws_sdk_secretsmanager::Client,
    http: reqwest::Client,
    oauth: OAuthClients,
    webhooks: WebhookKeys,
}

/// Structured logs; JSON when Lambda asks for it (`AWS_LAMBDA_LOG_FORMAT=JSON`).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().without_time().init();
    } else {
        builder.init();
    }
}
