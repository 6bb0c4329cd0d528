//! A forged or stale notification is counted in the `Webhook` `VerificationFailures` metric of
//! its provider (what the dashboard graphs), and one for a provider with no secret configured is
//! not. Metric lines are written only with `METRICS_FORMAT=emf`, read once per process, so the
//! requests are sent by an ignored test that this one runs in a child process with it set, and
//! the child's standard output is read as CloudWatch would.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use integrations::config::{Function, WebhookKeys};
use integrations::testing::TestEnv;
use integrations::webhooks::verify::slack_signature;
use secrecy::SecretString;
use serde_json::Value;
use tower::ServiceExt;

#[tokio::test]
#[ignore = "run by refused_notifications_are_counted_per_provider, with METRICS_FORMAT=emf"]
async fn send_refused_notifications() {
    let mut env = TestEnv::new().await;
    env.state.webhooks = WebhookKeys {
        slack_signing_secret: Some(SecretString::from("slack-signing-secret")),
        trello_app_secret: None,
        base_url: Some("https://hooks.example.test".into()),
    };
    let router = webhooks::router(env.state_for(Function::Webhooks));
    let body = r#"{"type":"event_callback","team_id":"T1","event_id":"Ev1"}"#;
    let now = Utc::now().timestamp();
    let old = now - 600;
    let requests = [
        // Slack, forged: signed with another secret.
        ("slack", Some((now, slack_signature(b"guess", now, body.as_bytes())))),
        // Slack, stale: rightly signed ten minutes ago.
        ("slack", Some((old, slack_signature(b"slack-signing-secret", old, body.as_bytes())))),
        // Trello with no app secret here: refused, but not counted.
        ("trello", None),
    ];
    for (provider, signed) in requests {
        let mut request = Request::post(format!("/api/v1/integrations/webhooks/{provider}"));
        if let Some((at, signature)) = signed {
            request =
                request.header("x-slack-request-timestamp", at.to_string()).header("x-slack-signature", signature);
        }
        let answer = router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    }
    env.cleanup().await;
}

#[test]
fn refused_notifications_are_counted_per_provider() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["send_refused_notifications", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("METRICS_FORMAT", "emf")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let failures: Vec<Value> = stdout
        .lines()
        // The harness prints the test's name before its first line.
        .filter_map(|line| serde_json::from_str::<Value>(&line[line.find('{')?..]).ok())
        .filter(|line| line["MetricSet"] == "Webhook")
        .collect();
    assert_eq!(failures.len(), 2, "{stdout}");
    for line in &failures {
        assert_eq!(line["Provider"], "slack");
        assert_eq!(line["VerificationFailures"], 1.0);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], integrations::metrics::NAMESPACE);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "VerificationFailures");
    }
    let reasons: Vec<&str> = failures.iter().filter_map(|l| l["reason"].as_str()).collect();
    assert_eq!(reasons, ["BadSignature", "Stale"]);
}
