use std::time::{Instant, SystemTime};

use aws_lambda_events::event::sqs::SqsEvent;
use integrations::AppState;
use integrations::config::Function;
use lambda_runtime::{LambdaEvent, service_fn};

/// The invocation's deadline (Lambda gives it as wall-clock time) on the monotonic clock.
fn deadline_of(context: &lambda_runtime::Context) -> Instant {
    Instant::now() + context.deadline().duration_since(SystemTime::now()).unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    integrations::config::init_tracing();
    let state = AppState::for_function(Function::SyncWorker).await?;
    let dlq_arn = std::env::var("SYNC_DLQ_ARN").ok().filter(|v| !v.is_empty());
    let state = &state;
    let dlq_arn = dlq_arn.as_deref();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = deadline_of(&event.context);
        Ok::<_, lambda_runtime::Error>(sync::handle_sqs_event(state, dlq_arn, event.payload, deadline).await)
    }))
    .await
}
