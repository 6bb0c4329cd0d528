//! The signature checks the providers document, each in constant time.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Slack refuses to count a request older than this as fresh, and so do we.
pub const SLACK_MAX_AGE_SECS: i64 = 5 * 60;

/// Why a request was not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the request is not signed")]
    Unsigned,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the request is too old (or from the future)")]
    Stale,
    #[error("the channel token or client state does not match")]
    BadSecret,
    #[error("notifications from this provider are not verified on this service (no secret configured)")]
    NotConfigured,
}

/// Slack's v0 signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing
/// secret; a timestamp more than five minutes from `now` is refused whatever its signature.
pub fn slack(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else { return Err(Refusal::Unsigned) };
    let at: i64 = timestamp.trim().parse().map_err(|_| Refusal::Stale)?;
    if (now - at).abs() > SLACK_MAX_AGE_SECS {
        return Err(Refusal::Stale);
    }
    let tag = signature.strip_prefix("v0=").and_then(decode_hex).ok_or(Refusal::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut message = Vec::with_capacity(body.len() + timestamp.len() + 4);
    message.extend_from_slice(b"v0:");
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b':');
    message.extend_from_slice(body);
    hmac::verify(&key, &message, &tag).map_err(|_| Refusal::BadSignature)
}

/// Slack's signature of `body` at `timestamp` (what the fakes and tests send).
pub fn slack_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut message = format!("v0:{timestamp}:").into_bytes();
    message.extend_from_slice(body);
    format!("v0={}", hex(hmac::sign(&key, &message).as_ref()))
}

/// Trello's `X-Trello-Webhook`: base64 HMAC-SHA1 of the body followed by the callback URL the
/// webhook was created with, keyed with the app's secret.
pub fn trello(secret: &[u8], signature: Option<&str>, body: &[u8], callback_url: &str) -> Result<(), Refusal> {
    let signature = signature.ok_or(Refusal::Unsigned)?;
    let tag = base64::engine::general_purpose::STANDARD.decode(signature.trim()).map_err(|_| Refusal::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mut message = Vec::with_capacity(body.len() + callback_url.len());
    message.extend_from_slice(body);
    message.extend_from_slice(callback_url.as_bytes());
    hmac::verify(&key, &message, &tag).map_err(|_| Refusal::BadSignature)
}

/// Trello's signature of `body` sent to `callback_url`.
pub fn trello_signature(secret: &[u8], body: &[u8], callback_url: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mut message = body.to_vec();
    message.extend_from_slice(callback_url.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, &message).as_ref())
}

/// A per-subscription secret (Google channel token, Graph clientState) as stored: its SHA-256.
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether `received` is the secret whose hash is `stored`, compared in constant time.
pub fn secret_matches(stored: Option<&str>, received: Option<&str>) -> Result<(), Refusal> {
    let (Some(stored), Some(received)) = (stored, received) else { return Err(Refusal::BadSecret) };
    constant_time::verify_slices_are_equal(stored.as_bytes(), secret_hash(received).as_bytes())
        .map_err(|_| Refusal::BadSecret)
}

/// A fresh random secret for a new subscription (URL-safe, 43 characters).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(raw: &str) -> Option<Vec<u8>> {
    if !raw.len().is_multiple_of(2) {
        return None;
    }
    (0..raw.len()).step_by(2).map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_signatures_are_checked_with_their_timestamp() {
        let body = br#"{"type":"event_callback"}"#;
        let signature = slack_signature(b"secret", 1_000, body);
        assert_eq!(slack(b"secret", Some("1000"), Some(&signature), body, 1_100), Ok(()));
        assert_eq!(slack(b"other", Some("1000"), Some(&signature), body, 1_100), Err(Refusal::BadSignature));
        assert_eq!(slack(b"secret", Some("1001"), Some(&signature), body, 1_100), Err(Refusal::BadSignature));
        assert_eq!(slack(b"secret", Some("1000"), Some(&signature), b"{}", 1_100), Err(Refusal::BadSignature));
        assert_eq!(slack(b"secret", Some("1000"), Some(&signature), body, 1_301), Err(Refusal::Stale));
        assert_eq!(slack(b"secret", Some("1000"), None, body, 1_000), Err(Refusal::Unsigned));
        assert_eq!(slack(b"secret", Some("1000"), Some("v0=zz"), body, 1_000), Err(Refusal::BadSignature));
    }

    #[test]
    fn slack_documents_this_example() {
        // api.slack.com/authentication/verifying-requests-from-slack
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        assert_eq!(
            slack_signature(secret, 1_531_420_618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn trello_signatures_cover_the_callback_url() {
        let body = br#"{"action":{}}"#;
        let url = "https://example.com/api/v1/integrations/webhooks/trello?s=abc";
        let signature = trello_signature(b"app-secret", body, url);
        assert_eq!(trello(b"app-secret", Some(&signature), body, url), Ok(()));
        assert_eq!(
            trello(b"app-secret", Some(&signature), body, "https://example.com/other"),
            Err(Refusal::BadSignature)
        );
        assert_eq!(trello(b"wrong", Some(&signature), body, url), Err(Refusal::BadSignature));
        assert_eq!(trello(b"app-secret", None, body, url), Err(Refusal::Unsigned));
        assert_eq!(trello(b"app-secret", Some("not base64!"), body, url), Err(Refusal::BadSignature));
    }

    #[test]
    fn per_subscription_secrets_are_kept_hashed() {
        let secret = new_secret();
        let stored = secret_hash(&secret);
        assert!(!stored.contains(&secret));
        assert_eq!(secret_matches(Some(&stored), Some(&secret)), Ok(()));
        assert_eq!(secret_matches(Some(&stored), Some("guess")), Err(Refusal::BadSecret));
        assert_eq!(secret_matches(Some(&stored), None), Err(Refusal::BadSecret));
        assert_ne!(new_secret(), secret);
    }
}
