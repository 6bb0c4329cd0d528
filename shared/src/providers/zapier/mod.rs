//! Zapier: a Catch Hook URL of the user's Zap, which automations post to. It has nothing to
//! sync.

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
}
