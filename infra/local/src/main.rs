//! `dev-server`: the API and the page on http://127.0.0.1:3000 against the local emulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use integrations::AppState;
use integrations::auth::issue_dev_token;
use integrations::config::Config;
use integrations::domain::{Plan, UserId};
use secrecy::SecretString;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    integrations::config::init_tracing();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let resources =
        local_stack::bootstrap(&aws).await.context("setting up the emulator (is it running? `make dev` starts it)")?;
    let mut config = Config::from_env().context("configuration")?;
    config.sync_queue_url = Some(resources.queue_url.clone());
    config.automations_queue_url = Some(resources.automations_queue_url.clone());
    config.hooks_queue_url = Some(resources.hooks_queue_url.clone());
    let state = AppState::new(&config, &aws);

    // The sync worker and the scheduler run in-process, on the same code Lambda runs.
    let secs = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(default))
    };
    let visibility = secs("SYNC_VISIBILITY_SECONDS", 10);
    let every = secs("SCHEDULER_INTERVAL_SECONDS", 15);
    tokio::spawn(local_stack::loops::run_worker(
        state.clone(),
        aws_sdk_sqs::Client::new(&aws),
        resources.clone(),
        visibility,
    ));
    tokio::spawn(local_stack::loops::run_automations(
        state.clone(),
        aws_sdk_sqs::Client::new(&aws),
        resources.clone(),
        visibility,
    ));
    tokio::spawn(local_stack::loops::run_hooks(
        state.clone(),
        aws_sdk_sqs::Client::new(&aws),
        resources.clone(),
        visibility,
    ));
    tokio::spawn(local_stack::loops::run_scheduler(state.clone(), every));
    let secret = SecretString::from(std::env::var("DEV_JWT_SECRET").context("DEV_JWT_SECRET is not set")?);

    let addr: SocketAddr = std::env::var("DEV_SERVER_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()
        .context("DEV_SERVER_ADDR")?;
    let web_dir = std::env::var("WEB_DIR").map(PathBuf::from).ok().filter(|d| d.join("index.html").exists());
    let app = local_stack::app(|_| state.clone(), secret.clone(), web_dir.clone());

    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let user = UserId::parse("demo-user").expect("valid");
    let token = issue_dev_token(&secret, &user, Plan::Free, local_stack::DEV_TOKEN_TTL_SECS);
    println!("Director of One — Integrations, local stack");
    println!("  API:   http://{addr}/api/v1/integrations/available");
    if web_dir.is_some() {
        println!("  Page:  http://{addr}/integrations");
    }
    println!(
        "  Sync worker polling {} (redelivery after {}s); scheduler every {}s",
        resources.queue_url,
        visibility.as_secs(),
        every.as_secs()
    );
    println!("  Token for demo-user (free plan, 12 h):");
    println!("  export TOKEN={token}");
    println!("  (POST http://{addr}/dev/token {{\"userId\":\"…\",\"plan\":\"premium\"}} makes others)");

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
