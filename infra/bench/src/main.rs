//! `make bench`: measures, in one run,
//! - sync throughput for 10,000 records: the worker's path (BatchGetItem + BatchWriteItem in
//!   25s) against writing the same records one PutItem at a time, on the local emulator;
//! - a whole sync of 10,000 Trello cards through the engine, against the fake API;
//! - acknowledging a provider's notification in process (p99, less its AWS calls; and its AWS
//!   requests);
//! - the DynamoDB requests of GET /stats, /health, /plan and /recommendations for a user with 8
//!   connections and 1,000 automation runs;
//! - each Lambda binary's init (exec until its first poll of the Runtime API) and its RSS then.
//!
//! Numbers from the emulator measure our request pattern, not DynamoDB's latency.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use fake_providers::{FakeProviders, Provider};
use integrations::domain::{ConnectionId, IntegrationId, Plan, SyncId, UserId};
use integrations::sync::{Record, RecordKind, run_job};
use integrations::testing::TestEnv;

mod webhook;

const RECORDS: usize = 10_000;

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            kind: RecordKind::Task,
            external_id: format!("card-{i:05}"),
            title: format!("Follow up on item {i}"),
            url: Some(format!("https://trello.com/c/{i:08x}")),
            container: Some("Operations".into()),
            status: Some("open".into()),
            due_at: None,
            updated_at: Some(chrono::Utc::now()),
            data: Default::default(),
        })
        .collect()
}

async fn batch_writes(env: &TestEnv) -> anyhow::Result<f64> {
    let user = UserId::parse("bench-batch")?;
    let connection = ConnectionId::generate();
    let sync = SyncId::generate();
    let all = records(RECORDS);
    let started = Instant::now();
    for page in all.chunks(100) {
        env.state
            .store
            .upsert_records(&user, &connection, &IntegrationId::parse("trello")?, &sync, page, false)
            .await?;
    }
    Ok(RECORDS as f64 / started.elapsed().as_secs_f64())
}

async fn per_item_writes(env: &TestEnv) -> anyhow::Result<f64> {
    let client = env.dynamo();
    let all = records(RECORDS);
    let started = Instant::now();
    for r in &all {
        client
            .put_item()
            .table_name(&env.table)
            .item("PK", AttributeValue::S("USER#bench-single".into()))
            .item("SK", AttributeValue::S(format!("REC#x#task#{}", r.external_id)))
            .item("title", AttributeValue::S(r.title.clone()))
            .item("url", AttributeValue::S(r.url.clone().unwrap_or_default()))
            .item("container", AttributeValue::S("Operations".into()))
            .item("status", AttributeValue::S("open".into()))
            .send()
            .await?;
    }
    Ok(RECORDS as f64 / started.elapsed().as_secs_f64())
}

async fn whole_sync(env: &mut TestEnv) -> anyhow::Result<(f64, u64)> {
    let fakes = FakeProviders::start().await;
    let (key, token) = ("0123456789abcdef", "bench-token-0000000001");
    fakes.state().add_trello_account(key, token, "bench");
    let board = fakes.state().add_trello_board(token, "Bench");
    fakes.state().add_trello_cards(&board, RECORDS);
    env.use_provider("trello", fakes.base_url(Provider::Trello));
    env.add_queues(5).await;
    env.state.sync.page_size = 1000;
    env.state.sync.manual_gap = chrono::Duration::zero();
    let caller = integrations::auth::Caller { user_id: UserId::parse("bench-sync")?, plan: Plan::Premium };
    let request = serde_json::from_value(serde_json::json!({
        "integrationId": "trello", "credentials": { "apiKey": key, "token": token }
    }))?;
    let connection = integrations::connections::connect(&env.state, &caller, request)
        .await
        .context("connect")?
        .into_connection()
        .context("connected")?;
    let run = integrations::sync::trigger_sync(&env.state, &caller, &connection.connection_id, Default::default())
        .await
        .context("trigger")?;
    let started = Instant::now();
    run_job(&env.state, &run.job()).await.context("sync")?;
    let secs = started.elapsed().as_secs_f64();
    let done = env.state.store.get_run(&caller.user_id, &connection.connection_id, &run.sync_id).await?;
    Ok((done.counts.items() as f64 / secs, done.progress.pages))
}

/// A minimal Lambda Runtime API: records when the first `GET …/invocation/next` arrives.
async fn runtime_api() -> anyhow::Result<(SocketAddr, tokio::sync::mpsc::Receiver<Instant>)> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let app = axum::Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        axum::routing::get(move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Instant::now()).await;
                // Hold the poll open, as Lambda does between invocations.
                tokio::time::sleep(Duration::from_secs(30)).await;
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, rx))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs per binary for the init figures (the median is reported).
const INIT_RUNS: usize = 20;
const FUNCTIONS: [&str; 10] = [
    "catalog",
    "connections",
    "sync-api",
    "sync-worker",
    "sync-scheduler",
    "automations-api",
    "automations-runner",
    "hooks-api",
    "hooks-worker",
    "webhooks",
];

/// One start of `binary`: the time from exec until its first poll of the Runtime API, and its
/// RSS then.
async fn cold_start(
    binary: &Path,
    runtime_api: SocketAddr,
    polls: &mut tokio::sync::mpsc::Receiver<Instant>,
) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AUTH_MODE", "apigateway")
        .env("TABLE_NAME", "bench-cold-start")
        .env("SECRETS_PREFIX", "bench/cold-start")
        .env("SYNC_QUEUE_URL", "http://127.0.0.1:1/000000000000/bench")
        .env("AUTOMATIONS_QUEUE_URL", "http://127.0.0.1:1/000000000000/bench-automations")
        .env("HOOKS_QUEUE_URL", "http://127.0.0.1:1/000000000000/bench-hooks")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let polled = tokio::time::timeout(Duration::from_secs(10), polls.recv())
        .await
        .with_context(|| format!("{} did not poll the Runtime API within 10 s", binary.display()))?
        .context("no poll")?;
    let rss = rss_kib(child.id()).unwrap_or(0);
    child.kill()?;
    child.wait()?;
    Ok((polled - started, rss))
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort_unstable();
    values[values.len() / 2]
}

/// Each function's init, median of [`INIT_RUNS`], and its RSS then. The binaries of `dirs` are
/// started in turn, round after round, so that a slower moment of the machine falls on all alike.
async fn cold_starts(dirs: &[&Path]) -> anyhow::Result<Vec<Vec<Option<(Duration, u64)>>>> {
    let (addr, mut polls) = runtime_api().await?;
    let mut samples: Vec<Vec<Vec<(Duration, u64)>>> = vec![vec![Vec::new(); FUNCTIONS.len()]; dirs.len()];
    for _ in 0..INIT_RUNS {
        for (d, dir) in dirs.iter().enumerate() {
            for (f, name) in FUNCTIONS.iter().enumerate() {
                let path = dir.join(name);
                if path.exists() {
                    samples[d][f].push(cold_start(&path, addr, &mut polls).await?);
                }
            }
        }
    }
    Ok(samples
        .into_iter()
        .map(|per_function| {
            per_function
                .into_iter()
                .map(|runs| {
                    (!runs.is_empty()).then(|| {
                        (median(runs.iter().map(|r| r.0).collect()), median(runs.iter().map(|r| r.1).collect()))
                    })
                })
                .collect()
        })
        .collect())
}

/// The agenda of a user with 10,000 items, 1 in 100 of them an open task due this week: what
/// it reads from DynamoDB against what it shows.
async fn agenda_of_a_busy_user(env: &TestEnv) -> anyhow::Result<(usize, integrations::store::ReadCost, Duration)> {
    let user = UserId::parse("bench-agenda")?;
    let now = chrono::Utc::now();
    let cards: Vec<Record> = records(RECORDS)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            if i % 100 == 0 {
                let due = now + chrono::Duration::days((i / 100 % 6) as i64) + chrono::Duration::hours(1);
                r.due_at = Some(due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
            r
        })
        .collect();
    let (connection, sync) = (ConnectionId::generate(), SyncId::generate());
    let trello = IntegrationId::parse("trello")?;
    for page in cards.chunks(1000) {
        env.state.store.upsert_records(&user, &connection, &trello, &sync, page, false).await?;
    }
    let caller = integrations::auth::Caller { user_id: user, plan: Plan::Free };
    let started = Instant::now();
    let agenda = integrations::items::agenda(&env.state, &caller, 7, chrono_tz::UTC).await?;
    let elapsed = started.elapsed();
    let shown = agenda.overdue.len() + agenda.days.iter().map(|d| d.tasks.len() + d.meetings.len()).sum::<usize>();
    Ok((shown, agenda.cost, elapsed))
}

/// A dry run of "Block focus time for cards due this week" over 10,000 items, in process: the
/// conditions are evaluated for every item and the steps filled in for the first matches.
fn dry_run_over_many_items() -> anyhow::Result<(usize, Duration)> {
    let now = chrono::Utc::now();
    let connection = ConnectionId::generate();
    let trello = IntegrationId::parse("trello")?;
    let items: Vec<integrations::items::Item> = records(RECORDS)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            if i % 100 == 0 {
                let due = now + chrono::Duration::days((i / 100 % 10) as i64) + chrono::Duration::hours(1);
                r.due_at = Some(due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
            let stored = integrations::store::StoredRecord {
                connection_id: connection.clone(),
                integration_id: trello.clone(),
                record: r,
            };
            integrations::items::Item::from(&stored)
        })
        .collect();
    let spec: integrations::automations::AutomationSpec = serde_json::from_value(serde_json::json!({
        "name": "Block focus time for cards due this week",
        "trigger": {"type": "item.created", "kind": "task"},
        "conditions": {"rules": [
            {"field": "dueAt", "op": "before", "days": 7},
            {"field": "dueAt", "op": "after"},
            {"field": "task.done", "op": "equals", "value": false}
        ]},
        "steps": [{
            "action": "calendar.insertEvent",
            "connectionId": connection.to_string(),
            "params": {"summary": "Focus: {{ item.title }}", "start": "{{ item.dueAt }}", "end": "{{ item.dueAt }}"}
        }]
    }))?;
    let mut times = Vec::new();
    let mut matching = 0;
    for _ in 0..21 {
        let started = Instant::now();
        let run = integrations::automations::dry_run(&spec, &items, now);
        times.push(started.elapsed());
        matching = run.matching_items.len();
    }
    Ok((matching, median(times)))
}

/// Counts the requests a client sends.
#[derive(Debug, Clone, Default)]
struct CountRequests(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// Hook fan-out: `events` events published to a user with `hooks` hooks listening; returns the
/// deliveries queued, the SQS requests and the DynamoDB requests it took.
async fn hook_fan_out(env: &mut TestEnv, hooks: usize, events: usize) -> anyhow::Result<(usize, usize, usize)> {
    use integrations::hooks::{EventType, HookEvent};
    let user = UserId::parse("bench-hooks")?;
    env.add_hook_queues(3).await;
    for _ in 0..hooks {
        let hook = integrations::store::Hook {
            hook_id: integrations::domain::HookId::generate(),
            user_id: None,
            target_url: "https://example.com/hook".into(),
            events: vec![EventType::ItemCreated],
            created_at: chrono::Utc::now(),
        };
        env.state.store.insert_hook(&user, &hook).await?;
    }
    let (sends, reads) = (CountRequests::default(), CountRequests::default());
    let mut state = env.state.clone();
    let sqs = aws_sdk_sqs::config::Builder::from(&env.aws).interceptor(sends.clone()).build();
    let url = env.state.hooks.as_ref().context("a hooks queue")?.url().to_owned();
    state.hooks = Some(integrations::queue::HookQueue::new(aws_sdk_sqs::Client::from_conf(sqs), url));
    let dynamo = aws_sdk_dynamodb::config::Builder::from(&env.aws).interceptor(reads.clone()).build();
    state.store = integrations::store::Store::new(aws_sdk_dynamodb::Client::from_conf(dynamo), env.state.store.table());
    let events: Vec<HookEvent> = (0..events)
        .map(|i| HookEvent {
            kind: EventType::ItemCreated,
            key: format!("item-{i}@1"),
            occurred_at: chrono::Utc::now(),
            data: serde_json::json!({"title": format!("Item {i}")}),
        })
        .collect();
    let unsent = integrations::hooks::publish(&state, &user, &events).await?;
    anyhow::ensure!(unsent == 0, "{unsent} deliveries were not queued");
    let load = |c: &CountRequests| c.0.load(std::sync::atomic::Ordering::SeqCst);
    Ok((hooks * events.len(), load(&sends), load(&reads)))
}

/// The DynamoDB requests of the insight reads (GET /stats, /health, /plan, /recommendations)
/// for a user with 8 connections and 1,000 automation runs, each read on its own counting client.
async fn insight_reads(env: &TestEnv) -> anyhow::Result<[(&'static str, usize, usize); 4]> {
    use integrations::automations::{AutomationSpec, StepReceipt};
    use integrations::catalog::AuthMode;
    use integrations::domain::{Account, SyncSettings};
    use integrations::store::{ActionStatus, ConnectOutcome, NewConnection, RunRecord};
    let user = UserId::parse("bench-insights")?;
    let integrations =
        ["trello", "asana", "notion", "slack", "google-calendar", "google-drive", "microsoft-teams", "zapier"];
    for integration in integrations {
        let connection_id = ConnectionId::generate();
        let new = NewConnection {
            user_id: user.clone(),
            connection_id,
            integration_id: IntegrationId::parse(integration)?,
            auth_kind: AuthMode::ApiKey,
            secret_id: format!("bench/{integration}"),
            credential_hint: "••••".into(),
            account: Account { id: format!("bench-{integration}"), name: "Bench".into(), workspace: None },
            display_name: integration.into(),
            settings: SyncSettings::default(),
            connection_limit: None,
            plan: Plan::Premium,
        };
        let ConnectOutcome::Created(_) = env.state.store.insert_connection(new).await? else {
            anyhow::bail!("the bench connection was not stored");
        };
    }
    let spec: AutomationSpec = serde_json::from_value(serde_json::json!({
        "name": "Tell my server", "enabled": true, "trigger": {"type": "item.created", "kind": "task"},
        "steps": [{"action": "webhook.post", "params": {"url": "https://example.com/in"}}],
    }))?;
    let automation = env
        .state
        .store
        .insert_automation(&user, spec, Plan::Premium, None)
        .await?
        .map_err(|_| anyhow::anyhow!("the bench automation was not stored"))?;
    let runs: Vec<RunRecord> = (0..1000)
        .map(|i| RunRecord {
            trigger: format!("card-{i}@1"),
            finished_at: chrono::Utc::now(),
            steps: vec![StepReceipt {
                step: 1,
                action: "webhook.post".into(),
                status: ActionStatus::Done,
                summary: "Sent".into(),
                provider_id: None,
                url: None,
                error: None,
                minutes_saved: 2,
            }],
            minutes_saved: 2,
        })
        .collect();
    // One at a time: the emulator's transactions do not bear concurrency.
    for run in &runs {
        env.state.store.record_run(&user, &automation, run).await?;
    }
    let caller = integrations::auth::Caller { user_id: user, plan: Plan::Premium };
    let counting = || {
        let count = CountRequests::default();
        let mut state = env.state.clone();
        let dynamo = aws_sdk_dynamodb::config::Builder::from(&env.aws).interceptor(count.clone()).build();
        state.store =
            integrations::store::Store::new(aws_sdk_dynamodb::Client::from_conf(dynamo), env.state.store.table());
        (state, count)
    };
    let load = |c: &CountRequests| c.0.load(std::sync::atomic::Ordering::SeqCst);
    let (state, stats) = counting();
    let shown = integrations::insights::stats(&state, &caller).await?;
    anyhow::ensure!(shown.connected == 8 && shown.automations.actions == 1000, "the bench user is not as set up");
    let stats = load(&stats);
    let (state, health) = counting();
    integrations::provider_status::report(&state, chrono::Utc::now()).await?;
    let (state, plan) = counting();
    integrations::plan::plan(&state, &caller).await?;
    let (state, recommendations) = counting();
    integrations::insights::recommendations(&state, &caller).await?;
    Ok([
        ("GET /stats", stats, 1),
        ("GET /health", load(&health), 1),
        ("GET /plan", load(&plan), 1),
        ("GET /recommendations", load(&recommendations), 2),
    ])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The webhook figures (`--webhooks-only` prints just these).
async fn print_webhooks() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await;
    let hooks = webhook::acknowledge(&mut env).await?;
    env.cleanup().await;
    println!(
        "a provider notification acknowledged in process ({} Trello notifications, each its whole path); aim p99 ≤ 5 ms",
        hooks.notifications
    );
    println!("  time less AWS calls, p50:                       {:>8.2} ms", ms(hooks.p50));
    println!("  time less AWS calls, p99:                       {:>8.2} ms", ms(hooks.p99));
    println!("  DynamoDB requests per notification:             {:>8.2}", hooks.dynamo_per_notification);
    println!("  SQS requests per notification:                  {:>8.2}\n", hooks.sqs_per_notification);

    Ok(())
}

/// The insight figures (`--insights-only` prints just these).
async fn print_insights() -> anyhow::Result<()> {
    let env = TestEnv::new().await;
    let reads = insight_reads(&env).await;
    env.cleanup().await;
    println!("insight reads of a user with 8 connections and 1,000 automation runs: DynamoDB requests");
    for (route, requests, aim) in reads? {
        println!("  {route:<22} {requests:>3} (aim ≤ {aim})");
    }
    println!();
    Ok(())
}

/// `bench [BIN_DIR] [--baseline DIR] [--cold-start-only | --webhooks-only | --insights-only]`: with `--baseline`, the binaries of
/// DIR (another build) are started alongside, and both sets of figures are shown.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut bin_dir = PathBuf::from("target/release");
    let mut baseline: Option<PathBuf> = None;
    let mut cold_start_only = false;
    let mut webhooks_only = false;
    let mut insights_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--baseline" => baseline = Some(args.next().context("--baseline needs a directory")?.into()),
            "--cold-start-only" => cold_start_only = true,
            "--webhooks-only" => webhooks_only = true,
            "--insights-only" => insights_only = true,
            _ => bin_dir = arg.into(),
        }
    }
    println!("Director of One — Integrations: benchmark ({RECORDS} records, local emulator)\n");

    if webhooks_only {
        return print_webhooks().await;
    }
    if insights_only {
        return print_insights().await;
    }
    if !cold_start_only {
        let mut env = TestEnv::new().await;
        let batched = batch_writes(&env).await?;
        let single = per_item_writes(&env).await?;
        println!("record writes, 10,000 records");
        println!("  BatchGetItem + BatchWriteItem (25 per request): {batched:>8.0} records/s");
        println!("  one PutItem per record:                         {single:>8.0} records/s");
        println!("  batched / per-item:                             {:>8.1}×\n", batched / single);

        let (rate, pages) = whole_sync(&mut env).await?;
        println!("whole sync through the engine (fake Trello, pages of 1000)");
        println!("  10,000 cards in {pages} pages:                    {rate:>8.0} records/s\n");

        let (shown, cost, elapsed) = agenda_of_a_busy_user(&env).await?;
        println!("the week of a user with 10,000 items (GET /agenda)");
        println!("  items shown:                                    {shown:>8}");
        println!("  items read from DynamoDB:                       {:>8}", cost.items_read);
        println!("  DynamoDB requests:                              {:>8}", cost.requests);
        println!("  time on the emulator:                           {:>8.1} ms\n", ms(elapsed));

        let (deliveries, sends, reads) = hook_fan_out(&mut env, 25, 40).await?;
        println!("hook fan-out: 40 events to a user with 25 hooks; aim 1 SendMessageBatch per 10 deliveries");
        println!("  deliveries queued:                              {deliveries:>8}");
        println!("  SQS requests (SendMessageBatch):                {sends:>8}");
        println!("  DynamoDB requests (the hooks, one Query):       {reads:>8}\n");
        env.cleanup().await;

        print_webhooks().await?;
        print_insights().await?;

        let (matching, elapsed) = dry_run_over_many_items()?;
        println!("an automation's dry run over 10,000 items, in process (median of 21); aim ≤ 50 ms");
        println!("  items matching:                                 {matching:>8}");
        println!("  time:                                           {:>8.1} ms\n", ms(elapsed));
    }

    println!("Lambda init (exec → first Runtime API poll, clients built), median of {INIT_RUNS}; RSS then; aim ≤ 8 ms");
    let mut dirs = vec![bin_dir.as_path()];
    if let Some(baseline) = &baseline {
        dirs.push(baseline.as_path());
        println!(
            "  {:<18} {:>9} {:>10}   {:>9} {:>10}   (baseline: {})",
            "",
            "init",
            "RSS",
            "baseline",
            "RSS",
            baseline.display()
        );
    }
    let results = cold_starts(&dirs).await?;
    for (f, name) in FUNCTIONS.iter().enumerate() {
        let Some((init, rss)) = results[0][f] else {
            println!("  {name:<18} not built ({})", bin_dir.join(name).display());
            continue;
        };
        let mut line = format!("  {name:<18} {:>6.1} ms {:>6.1} MiB", ms(init), mib(rss));
        if let Some(Some((base_init, base_rss))) = results.get(1).map(|r| r[f]) {
            line += &format!("   {:>6.1} ms {:>6.1} MiB", ms(base_init), mib(base_rss));
        }
        println!("{line}");
    }
    Ok(())
}
