use integrations::AppState;
use integrations::config::Function;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    integrations::config::init_tracing();
    let state = AppState::for_function(Function::SyncScheduler).await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        sync::handle_scheduler_event(state, &event.payload).await
    }))
    .await
}
