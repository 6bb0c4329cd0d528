use integrations::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    integrations::config::init_tracing();
    let state = AppState::from_env().await?;
    lambda_http::run(sync::router(state)).await
}
