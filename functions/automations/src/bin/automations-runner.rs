use aws_lambda_events::event::sqs::SqsEvent;
use integrations::AppState;
use integrations::config::Function;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    integrations::config::init_tracing();
    let state = AppState::for_function(Function::AutomationsRunner).await?;
    let dlq_arn = std::env::var("AUTOMATIONS_DLQ_ARN").ok().filter(|v| !v.is_empty());
    let state = &state;
    let dlq_arn = dlq_arn.as_deref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(automations::handle_sqs_event(state, dlq_arn, event.payload).await)
    }))
    .await
}
