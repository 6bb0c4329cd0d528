//! Incoming webhooks (Microsoft Teams, Zapier Catch Hooks): a URL that is itself the secret.
//! It is checked by its form (the catalog's field pattern); posting to it would post a message
//! into the user's channel, so connect does not.

use sha2::{Digest, Sha256};

use crate::domain::Account;

pub fn account(url: &str) -> Account {
    let digest = Sha256::digest(url.as_bytes());
    let id: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    Account { id, name: "Incoming webhook".into(), workspace: Some(host) }
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
