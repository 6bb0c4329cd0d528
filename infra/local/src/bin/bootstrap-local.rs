//! `bootstrap-local`: creates the table and queues on the emulator and prints their names.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let resources = local_stack::bootstrap(&aws).await?;
    println!("table      {}", resources.table);
    println!("queue      {}", resources.queue_url);
    println!("dead-letter {}", resources.dlq_url);
    Ok(())
}
