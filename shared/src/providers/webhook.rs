//! Incoming webhooks (Microsoft Teams, Zapier Catch Hooks): a URL that is itself the secret.
//! It is checked by its form (the catalog's field pattern); posting to it would post a message
//! into the user's channel, so connect does not.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::action::{ActionError, Performed, send_write};
use crate::domain::Account;

pub fn account(url: &str) -> Account {
    let digest = Sha256::digest(url.as_bytes());
    let id: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    Account { id, name: "Incoming webhook".into(), workspace: Some(host) }
}

/// Posts a JSON body to an incoming webhook URL, once. A webhook answers with no id: what was
/// posted cannot be looked up.
pub async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Result<Performed, ActionError> {
    send_write(http.post(url).json(body)).await?;
    Ok(Performed::default())
}

/// A Teams incoming-webhook message: one Adaptive Card with a title and a text.
pub fn adaptive_card(title: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true},
                    {"type": "TextBlock", "text": text, "wrap": true}
                ]
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_webhook_url_is_the_same_account_and_the_url_is_not_revealed() {
        let url = "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi";
        let a = account(url);
        assert_eq!(a, account(url));
        assert!(!a.id.contains("abc"));
        assert_eq!(a.workspace.as_deref(), Some("contoso.webhook.office.com"));
    }
}
