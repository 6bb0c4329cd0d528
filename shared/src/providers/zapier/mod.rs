//! Zapier: a Catch Hook URL of the user's Zap, which automations post to. It has nothing to
//! sync.

use super::action::{ActionCall, ActionError, Performed};
use async_trait::async_trait;

use super::{ActionSpec, Capabilities, Param, Provider, VerifyError, field, webhook};
use crate::catalog::AuthMode;
use crate::domain::Account;
use crate::vault::Credentials;

/// The catalog's credential field: the Catch Hook URL.
const WEBHOOK_URL: &str = "webhookUrl";

pub struct Zapier;

/// What automations can do with Zapier: send the trigger's item to a Catch Hook.
static ACTIONS: [ActionSpec; 1] = [ActionSpec {
    id: "zapier.catchHook",
    receipt: "Sent to your Zapier hook",
    params: &[Param::optional("note", "A line sent with the item")],
    scope: None,
    calls: 1,
    minutes_saved: 2,
    premium: true,
}];

static CAPABILITIES: Capabilities = Capabilities {
    auth_modes: &[AuthMode::ApiKey],
    credential_fields: &[WEBHOOK_URL],
    record_kinds: &[],
    sync: &[],
    realtime: false,
    actions: &ACTIONS,
    write_scopes: &[],
    // Webhooks into Zapier are throttled at 30 a second and 10,000 per 5 minutes (33 a second):
    // the first binds. https://docs.zapier.com/platform/build/operating-constraints
    budget: super::Budget::per(30, 1),
};

#[async_trait]
impl Provider for Zapier {
    fn id(&self) -> &'static str {
        "zapier"
    }

    fn capabilities(&self) -> &'static Capabilities {
        &CAPABILITIES
    }

    /// Checked by its form (the catalog's pattern): posting to it would start the user's Zap.
    async fn verify(
        &self,
        _http: &reqwest::Client,
        _base: &str,
        credentials: &Credentials,
    ) -> Result<Account, VerifyError> {
        Ok(webhook::account(field(credentials, WEBHOOK_URL)?))
    }

    /// Sends the trigger's item (and a note) to the Catch Hook, once.
    async fn perform(&self, action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
        if action.id != "zapier.catchHook" {
            return Err(ActionError::Unsupported(action.id));
        }
        let url = field(call.credentials, WEBHOOK_URL).map_err(|_| ActionError::Unsupported(action.id))?;
        let body = serde_json::json!({"item": call.item, "note": call.optional("note"), "idempotencyKey": call.marker});
        webhook::post(call.http, url, &body).await
    }
}
