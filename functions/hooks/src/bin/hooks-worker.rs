use aws_lambda_events::event::sqs::SqsEvent;
use integrations::AppState;
use integrations::config::Function;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    integrations::config::init_tracing();
    let state = AppState::for_function(Function::HooksWorker).await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(hooks::handle_sqs_event(state, event.payload).await)
    }))
    .await
}
