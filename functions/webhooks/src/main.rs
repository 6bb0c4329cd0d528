use integrations::AppState;
use integrations::config::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    integrations::config::init_tracing();
    let state = AppState::for_function(Function::Webhooks).await?;
    lambda_http::run(webhooks::router(state)).await
}
