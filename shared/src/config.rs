//! Configuration, read once from the environment at cold start, and the state every
//! function shares: SDK clients and the HTTP client, built once.

use std::sync::Arc;

use axum::extract::FromRef;
use secrecy::SecretString;

use crate::auth::Authenticator;
use crate::catalog::{Catalog, ProviderEndpoints};
use crate::oauth::OAuthClients;
use crate::providers::RetryPolicy;
use crate::queue::SyncQueue;
use crate::store::Store;
use crate::vault::Vault;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub enum AuthConfig {
    ApiGateway,
    Dev { secret: SecretString },
}

pub struct Config {
    pub table_name: String,
    pub secrets_prefix: String,
    pub auth: AuthConfig,
    /// Only the functions that queue syncs need it.
    pub sync_queue_url: Option<String>,
    pub sync: SyncOptions,
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let auth = match required("AUTH_MODE")?.as_str() {
            "apigateway" => AuthConfig::ApiGateway,
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
            sync: SyncOptions {
                page_size: match std::env::var("SYNC_PAGE_SIZE") {
                    Err(_) => 100,
                    Ok(raw) => raw.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or(ConfigError::Invalid {
                        name: "SYNC_PAGE_SIZE",
                        reason: "use a whole number from 1 to 1000".into(),
                    })?,
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
    /// The sync queue (functions that queue syncs: sync-api, sync-scheduler).
    pub queue: Option<SyncQueue>,
    pub sync: SyncOptions,
    /// OAuth clients of the integrations that sign in.
    pub oauth: OAuthClients,
}

/// How the worker pages through providers.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Items asked for per provider request (`SYNC_PAGE_SIZE`, default 100).
    pub page_size: u32,
    pub retry: RetryPolicy,
    /// Minimum time between two manual syncs of one connection.
    pub manual_gap: chrono::Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self { page_size: 100, retry: RetryPolicy::default(), manual_gap: chrono::Duration::seconds(60) }
    }
}

impl FromRef<AppState> for Arc<Authenticator> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl AppState {
    pub fn new(config: &Config, aws: &aws_config::SdkConfig) -> Self {
        Self {
            catalog: Catalog::get(),
            store: Store::new(aws_sdk_dynamodb::Client::new(aws), &config.table_name),
            vault: Vault::new(aws_sdk_secretsmanager::Client::new(aws), &config.secrets_prefix),
            http: crate::providers::http_client(),
            endpoints: ProviderEndpoints::from_env(Catalog::get()),
            auth: Arc::new(match &config.auth {
                AuthConfig::ApiGateway => Authenticator::ApiGateway,
                AuthConfig::Dev { secret } => Authenticator::DevToken { secret: secret.clone() },
            }),
            queue: config.sync_queue_url.as_ref().map(|url| SyncQueue::new(aws_sdk_sqs::Client::new(aws), url)),
            sync: config.sync,
            oauth: OAuthClients::from_env(Catalog::get()),
        }
    }

    /// Reads the environment and builds the clients; what every function's `main` calls.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut state = Self::new(&config, &aws);
        // In AWS the OAuth client ids and secrets live in one secret (only the functions that
        // sign users in or refresh tokens are given it).
        if let Ok(secret_id) = std::env::var("OAUTH_CLIENTS_SECRET_ID")
            && !secret_id.is_empty()
        {
            let out = aws_sdk_secretsmanager::Client::new(&aws)
                .get_secret_value()
                .secret_id(&secret_id)
                .send()
                .await
                .map_err(|e| ConfigError::Invalid { name: "OAUTH_CLIENTS_SECRET_ID", reason: e.to_string() })?;
            let json: serde_json::Value =
                serde_json::from_str(out.secret_string().unwrap_or("{}")).map_err(|_| ConfigError::Invalid {
                    name: "OAUTH_CLIENTS_SECRET_ID",
                    reason: "the secret is not a JSON object".into(),
                })?;
            state.oauth = OAuthClients::from_json_and_env(state.catalog, &json);
        }
        Ok(state)
    }
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
