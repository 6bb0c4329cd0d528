//! `fake-providers [--addr 127.0.0.1:4010] [--empty]`: serves the provider fakes with the demo
//! data until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use fake_providers::{FakeProviders, FakeState, OAuthProvider, Provider, demo};

const USAGE: &str = "\
usage: fake-providers [--addr HOST:PORT] [--empty]

Serves local fakes of the Trello, Slack, Asana, Notion, Google Calendar/Drive and Microsoft Graph
APIs, and OAuth 2.0 servers for Google, Microsoft, Slack, Asana and Notion under /oauth/{provider}.
As Trello and Graph do, a subscription's callback is checked before it is made (Trello: a HEAD
answered 200; Graph: its validationToken echoed as text/plain within 10 s).
  --addr HOST:PORT  address to listen on (default 127.0.0.1:4010; env FAKE_PROVIDERS_ADDR)
  --empty           start without the demo data

Control API: POST /_fake/reset, POST /_fake/seed-demo, POST /_fake/{provider}/revoke {\"token\"},
POST /_fake/{provider}/faults {\"pathPrefix\",\"fault\":\"rate_limited|server_error|timeout|late_answer\",
\"retryAfterSecs\",\"millis\",\"times\"}, DELETE /_fake/{provider}/faults,
GET /_fake/{provider}/requests, POST /_fake/{provider}/touch {\"id\"}, GET /_fake/health,
GET /_fake/secrets (every credential issued or received, for the no-secrets-in-logs check);
OAuth: GET|POST /_fake/oauth/{p}/user {\"id\",\"name\",\"email\"}, POST /_fake/oauth/{p}/attach
{\"accountToken\"}, POST /_fake/oauth/{p}/deny-next, POST /_fake/oauth/{p}/lifetime {\"secs\"},
GET /_fake/oauth/{p}/token-requests, GET /_fake/oauth/{p}/revocations,
POST /_fake/oauth/{p}/revoke-grant {\"token\"}, POST /_fake/oauth/{p}/expire";

struct Options {
    addr: SocketAddr,
    seed: bool,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let default_addr = std::env::var("FAKE_PROVIDERS_ADDR").unwrap_or_else(|_| "127.0.0.1:4010".to_owned());
    let mut addr = default_addr;
    let mut seed = true;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            a if a.starts_with("--addr=") => addr = a["--addr=".len()..].to_owned(),
            "--empty" => seed = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let addr = addr.parse().map_err(|e| format!("invalid address `{addr}`: {e}"))?;
    Ok(Options { addr, seed })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("fake-providers: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let state = FakeState::new();
    // As Trello and Graph do, a subscription's callback is checked before it is made.
    state.check_callbacks(true);
    let fake = match FakeProviders::start_with(opts.addr, state).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake-providers: cannot listen on {}: {e}", opts.addr);
            return ExitCode::FAILURE;
        }
    };
    if opts.seed {
        fake.state().seed_demo();
    }
    println!("fake-providers listening on {}", fake.url());
    for p in Provider::ALL {
        println!("  {:<15} {}", p.as_str(), fake.base_url(p));
    }
    for p in OAuthProvider::ALL {
        println!(
            "  oauth {:<9} {} (client id {}, secret {})",
            p.as_str(),
            fake.oauth_url(p),
            p.client_id(),
            p.client_secret()
        );
    }
    if opts.seed {
        println!(
            "demo credentials: trello key={} token={}; slack {}; asana {}; notion {} (Notion-Version {}); \
             google {}; microsoft graph {}",
            demo::TRELLO_KEY,
            demo::TRELLO_TOKEN,
            demo::SLACK_TOKEN,
            demo::ASANA_TOKEN,
            demo::NOTION_TOKEN,
            demo::NOTION_VERSION,
            demo::GOOGLE_TOKEN,
            demo::MICROSOFT_TOKEN
        );
    }
    shutdown_signal().await;
    println!("fake-providers: shutting down");
    fake.shutdown().await;
    ExitCode::SUCCESS
}
