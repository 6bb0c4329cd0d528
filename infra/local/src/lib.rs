//! The local stack: all functions' routes on one origin, the dev token endpoint and the page,
//! as API Gateway would serve them, against the AWS emulator.

pub mod loops;
pub mod security_headers;

use std::path::PathBuf;

use axum::extract::State;
use axum::{Json, Router};
use integrations::AppState;
use integrations::auth::issue_dev_token;
use integrations::config::Function;
use integrations::domain::{Plan, UserId};
use integrations::http::{ApiJson, Problem, ProblemType, Routes, with_problem_fallbacks};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

pub const DEV_TOKEN_TTL_SECS: i64 = 12 * 3600;

#[derive(Clone)]
struct DevAuth {
    secret: SecretString,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenRequest {
    user_id: String,
    #[serde(default)]
    plan: Plan,
}

async fn issue_token(
    State(auth): State<DevAuth>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<Value>, Problem> {
    let user = UserId::parse(&request.user_id).map_err(|e| Problem::new(ProblemType::InvalidUser, e.to_string()))?;
    let token = issue_dev_token(&auth.secret, &user, request.plan, DEV_TOKEN_TTL_SECS);
    Ok(Json(json!({
        "token": token,
        "userId": user,
        "plan": request.plan,
        "expiresIn": DEV_TOKEN_TTL_SECS,
    })))
}

/// The API of the local origin: every function's routes, each on the state `state_of` gives its
/// function (the dev server gives all one state; the tests give each its role), `POST /dev/token`
/// and `GET /web-config.json`. What `app` serves besides these is the page.
pub fn api_routes(state_of: impl Fn(Function) -> AppState, dev_secret: SecretString) -> Routes {
    let dev = Routes::new()
        .post("/dev/token", issue_token)
        // The page reads how to sign in from here; in AWS the deployed web-config.json says oidc.
        .get("/web-config.json", || async { Json(json!({ "auth": { "mode": "dev" } })) })
        .with_state(DevAuth { secret: dev_secret });
    Routes::new()
        .merge(catalog::routes(state_of(Function::Catalog)))
        .merge(connections::routes(state_of(Function::Connections)))
        .merge(sync::routes(state_of(Function::SyncApi)))
        .merge(automations::routes(state_of(Function::AutomationsApi)))
        .merge(hooks::routes(state_of(Function::HooksApi)))
        .merge(webhooks::routes(state_of(Function::Webhooks)))
        .merge(dev)
}

/// The whole local origin: the API (`api_routes`), and the page from `web_dir` at `/` and
/// `/integrations`; every answer with the browser security headers CloudFront adds in AWS.
pub fn app(state_of: impl Fn(Function) -> AppState, dev_secret: SecretString, web_dir: Option<PathBuf>) -> Router {
    let mut router: Router = api_routes(state_of, dev_secret).into();
    if let Some(dir) = web_dir {
        let index = dir.join("index.html");
        router = router
            .route_service("/", tower_http::services::ServeFile::new(&index))
            .route_service("/integrations", tower_http::services::ServeFile::new(&index))
            .nest_service("/assets", tower_http::services::ServeDir::new(dir.join("assets")));
    }
    with_problem_fallbacks(router).layer(axum::middleware::map_response(security_headers::add))
}

/// Creates what template.yaml declares, on the emulator: the table (with its indexes and TTL),
/// the sync queue, the automations queue and the hooks queue, each with its dead-letter queue.
/// Safe to run again.
pub async fn bootstrap(aws: &aws_config::SdkConfig) -> anyhow::Result<LocalResources> {
    use anyhow::Context;
    let table = std::env::var("TABLE_NAME").context("TABLE_NAME is not set")?;
    integrations::store::table::ensure_table(&aws_sdk_dynamodb::Client::new(aws), &table)
        .await
        .context("creating the table on the emulator")?;
    let sqs = aws_sdk_sqs::Client::new(aws);
    let name = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let sync = queue_pair(
        &sqs,
        &name("SYNC_QUEUE_NAME", "director-of-one-sync"),
        &name("SYNC_DLQ_NAME", "director-of-one-sync-dlq"),
        "720",
    )
    .await?;
    let automations = queue_pair(
        &sqs,
        &name("AUTOMATIONS_QUEUE_NAME", "director-of-one-automations"),
        &name("AUTOMATIONS_DLQ_NAME", "director-of-one-automations-dlq"),
        "360",
    )
    .await?;
    let hooks = queue_pair(
        &sqs,
        &name("HOOKS_QUEUE_NAME", "director-of-one-hooks"),
        &name("HOOKS_DLQ_NAME", "director-of-one-hooks-dlq"),
        "720",
    )
    .await?;
    Ok(LocalResources {
        table,
        queue_arn: sync.queue_arn,
        queue_url: sync.queue_url,
        dlq_url: sync.dlq_url,
        dlq_arn: sync.dlq_arn,
        automations_queue_url: automations.queue_url,
        automations_queue_arn: automations.queue_arn,
        automations_dlq_url: automations.dlq_url,
        automations_dlq_arn: automations.dlq_arn,
        hooks_queue_url: hooks.queue_url,
        hooks_queue_arn: hooks.queue_arn,
    })
}

struct QueuePair {
    queue_url: String,
    queue_arn: String,
    dlq_url: String,
    dlq_arn: String,
}

/// A queue whose messages move to its dead-letter queue after five receives.
async fn queue_pair(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    dlq_name: &str,
    visibility: &str,
) -> anyhow::Result<QueuePair> {
    use anyhow::Context;
    use aws_sdk_sqs::types::QueueAttributeName;
    let arn = |url: String| async move {
        sqs.get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .with_context(|| format!("reading the ARN of {url}"))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .context("the emulator returned no queue ARN")
    };
    let dlq_url = sqs
        .create_queue()
        .queue_name(dlq_name)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility)
        .send()
        .await
        .with_context(|| format!("creating the queue {dlq_name}"))?
        .queue_url
        .context("the emulator returned no queue URL")?;
    let dlq_arn = arn(dlq_url.clone()).await?;
    let redrive = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5" }).to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility)
        .send()
        .await
        .with_context(|| format!("creating the queue {name}"))?
        .queue_url
        .context("the emulator returned no queue URL")?;
    let queue_arn = arn(queue_url.clone()).await?;
    Ok(QueuePair { queue_url, queue_arn, dlq_url, dlq_arn })
}

#[derive(Debug, Clone)]
pub struct LocalResources {
    pub table: String,
    pub queue_arn: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub dlq_arn: String,
    pub automations_queue_url: String,
    pub automations_queue_arn: String,
    pub automations_dlq_url: String,
    pub automations_dlq_arn: String,
    pub hooks_queue_url: String,
    pub hooks_queue_arn: String,
}
