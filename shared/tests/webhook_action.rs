//! The `webhook.post` automation step against the emulator and a local receiver: its signing
//! secret is made when the automation is saved and shown that once; the POST is signed per the
//! Standard Webhooks spec with the action's idempotency key as `webhook-id`; a redelivered event
//! sends nothing twice; a receiver's 500 is tried again with the same id; a private address is
//! refused.

use chrono::Utc;
use fake_providers::FakeProviders;
use integrations::auth::Caller;
use integrations::automations::service;
use integrations::automations::webhook::message_id;
use integrations::automations::{AutomationSpec, RunResult, TriggerEvent, run_automation};
use integrations::config::Function;
use integrations::domain::{Plan, UserId};
use integrations::standard_webhooks::{SigningSecret, verify};
use integrations::store::{ActionKey, ActionStatus, Automation};
use integrations::testing::TestEnv;

fn spec(url: &str) -> AutomationSpec {
    serde_json::from_value(serde_json::json!({
        "name": "Tell my server about new cards",
        "enabled": true,
        "trigger": {"type": "item.created", "kind": "task"},
        "steps": [{"action": "webhook.post", "params": {"url": url}}]
    }))
    .unwrap()
}

fn card(key: &str) -> TriggerEvent {
    TriggerEvent { key: key.into(), item: Some(serde_json::json!({"title": "Q4 report", "kind": "task"})) }
}

struct Setup {
    env: TestEnv,
    fakes: FakeProviders,
    caller: Caller,
}

async fn setup() -> Setup {
    let fakes = FakeProviders::start().await;
    let env = TestEnv::new().await;
    let caller = Caller { user_id: UserId::parse("webhook-user").unwrap(), plan: Plan::Premium };
    Setup { env, fakes, caller }
}

impl Setup {
    /// Saves the automation as the API does; returns it with the secret shown.
    async fn save(&self, url: &str) -> (Automation, Option<SigningSecret>) {
        let api = self.env.state_for(Function::AutomationsApi);
        let saved = service::create(&api, &self.caller, spec(url)).await.unwrap();
        (saved.automation, saved.signing_secret)
    }

    async fn run(&self, automation: &Automation, event: &TriggerEvent) -> RunResult {
        let runner = self.env.state_for(Function::AutomationsRunner);
        run_automation(&runner, automation, event, Utc::now()).await.unwrap()
    }
}

#[tokio::test]
async fn a_webhook_step_sends_one_signed_post_that_a_verifier_accepts_even_when_redelivered() {
    let s = setup().await;
    let (automation, secret) = s.save(&format!("{}/receivers/mine", s.fakes.url())).await;
    let secret = secret.expect("the secret is shown when the automation is saved");

    let event = card("card-1@1");
    let RunResult::Finished(receipts) = s.run(&automation, &event).await else { panic!("the run should finish") };
    assert_eq!(receipts[0].status, ActionStatus::Done, "{receipts:?}");
    assert_eq!(receipts[0].summary, "Sent a signed webhook");
    // The redelivered event finds the claim done: nothing is sent again.
    assert_eq!(s.run(&automation, &event).await, RunResult::Finished(receipts));

    let received = s.fakes.state().signed_deliveries("mine");
    assert_eq!(received.len(), 1);
    let got = &received[0];
    let key = ActionKey { automation_id: automation.automation_id.clone(), event: event.key.clone(), step: 1 };
    assert_eq!(got.webhook_id, message_id(&key), "webhook-id is the action's idempotency key");
    verify(&secret, &got.webhook_id, &got.webhook_timestamp, &got.webhook_signature, &got.body, Utc::now().timestamp())
        .expect("the signature verifies with the secret shown at save");
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["type"], "automation.webhook");
    assert_eq!(body["data"]["item"]["title"], "Q4 report");

    // Saved again: the secret stays, and is not shown again.
    let api = s.env.state_for(Function::AutomationsApi);
    let replaced = service::replace(&api, &s.caller, &automation.automation_id, automation.spec.clone()).await.unwrap();
    assert!(replaced.signing_secret.is_none());
    s.env.cleanup().await;
}

#[tokio::test]
async fn a_receiver_answering_500_gets_the_same_message_again_and_it_is_done_once() {
    let s = setup().await;
    let (automation, secret) = s.save(&format!("{}/receivers/flaky", s.fakes.url())).await;
    s.fakes.state().answer_next("flaky", &[500]);
    let event = card("card-2@1");
    assert!(matches!(s.run(&automation, &event).await, RunResult::RetryLater(_)));
    let RunResult::Finished(receipts) = s.run(&automation, &event).await else { panic!("the retry should finish") };
    assert_eq!(receipts[0].status, ActionStatus::Done);
    let received = s.fakes.state().signed_deliveries("flaky");
    assert_eq!(received.iter().map(|r| r.answered).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(received[0].webhook_id, received[1].webhook_id, "one message id: the receiver deduplicates");
    let (secret, last) = (secret.unwrap(), &received[1]);
    verify(
        &secret,
        &last.webhook_id,
        &last.webhook_timestamp,
        &last.webhook_signature,
        &last.body,
        Utc::now().timestamp(),
    )
    .unwrap();
    s.env.cleanup().await;
}

#[tokio::test]
async fn a_private_address_is_refused_and_nothing_is_sent() {
    let s = setup().await;
    let (automation, _) = s.save("https://10.0.0.7/hook").await;
    let RunResult::Finished(receipts) = s.run(&automation, &card("card-3@1")).await else { panic!("it should end") };
    assert_eq!(receipts[0].status, ActionStatus::Failed);
    assert!(receipts[0].error.as_deref().unwrap_or_default().contains("private"), "{receipts:?}");
    s.env.cleanup().await;
}

#[tokio::test]
async fn removing_the_automation_removes_its_secret() {
    let s = setup().await;
    let (automation, _) = s.save("https://example.com/hook").await;
    assert_eq!(s.env.secret_names().await.len(), 1);
    let api = s.env.state_for(Function::AutomationsApi);
    service::delete(&api, &s.caller, &automation.automation_id).await.unwrap();
    assert!(s.env.secret_names().await.is_empty());
    s.env.cleanup().await;
}
