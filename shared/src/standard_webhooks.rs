//! Signing per the Standard Webhooks spec (<https://www.standardwebhooks.com>): the symmetric
//! scheme. A message is sent with three headers:
//!
//! - `webhook-id`: the message's id, the same on every attempt (receivers deduplicate by it);
//! - `webhook-timestamp`: the attempt's time, in seconds since the epoch;
//! - `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed
//!   with the secret's bytes.
//!
//! Secrets are shown as `whsec_` and their base64; the value never appears in `Debug`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

const PREFIX: &str = "whsec_";
/// The spec asks for 24 to 64 random bytes.
const SECRET_BYTES: usize = 32;
/// How far a timestamp may be from now for [`verify`] (the reference libraries' tolerance).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A symmetric signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a signing secret is `whsec_` followed by base64")]
    Malformed,
    #[error("a signing secret has 24 to 64 bytes")]
    Length,
}

impl SigningSecret {
    /// A new random secret of 32 bytes.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// `whsec_<base64>` (the prefix may be left out, as the reference libraries allow).
    pub fn parse(shown: &str) -> Result<Self, SecretError> {
        let encoded = shown.strip_prefix(PREFIX).unwrap_or(shown);
        let bytes = BASE64.decode(encoded).map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Length);
        }
        Ok(Self(bytes))
    }

    /// The secret as it is shown once to its owner and stored: `whsec_<base64>`.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", BASE64.encode(&self.0))
    }

    /// The `webhook-signature` value of a message: `v1,<base64 signature>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        format!("v1,{}", BASE64.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &str) -> [u8; 32] {
        hmac_sha256(&self.0, format!("{id}.{timestamp}.{body}").as_bytes())
    }

    /// The three headers of a message sent at `timestamp`.
    pub fn headers(&self, id: &str, timestamp: i64, body: &str) -> [(&'static str, String); 3] {
        [
            (ID_HEADER, id.to_owned()),
            (TIMESTAMP_HEADER, timestamp.to_string()),
            (SIGNATURE_HEADER, self.sign(id, timestamp, body)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook headers are missing or malformed")]
    Headers,
    #[error("the timestamp is too far from now")]
    Timestamp,
    #[error("no signature matches")]
    Signature,
}

/// Checks a received message as a receiver does: the timestamp within [`TOLERANCE_SECONDS`] of
/// `now`, and one of the space-separated `v1` signatures matching (compared in constant time).
pub fn verify(
    secret: &SigningSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &str,
    now: i64,
) -> Result<(), VerifyError> {
    let at: i64 = timestamp.parse().map_err(|_| VerifyError::Headers)?;
    if id.is_empty() {
        return Err(VerifyError::Headers);
    }
    if (now - at).abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::Timestamp);
    }
    let expected = secret.mac(id, at, body);
    let found = signatures.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|s| {
        BASE64.decode(s).is_ok_and(|given| given.len() == expected.len() && constant_time_eq(&given, &expected))
    });
    if found { Ok(()) } else { Err(VerifyError::Signature) }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 (RFC 2104) on the SHA-256 the crate already uses.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example every reference library of the spec tests its signing with
    /// (standard-webhooks/standard-webhooks, libraries/*/tests: `test_sign_function`).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signing_the_specs_example_gives_its_published_signature() {
        let secret = SigningSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(secret.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
        let [id, ts, signature] = secret.headers(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(id, ("webhook-id", SPEC_ID.to_owned()));
        assert_eq!(ts, ("webhook-timestamp", "1614265330".to_owned()));
        assert_eq!(signature.1, SPEC_SIGNATURE);
    }

    #[test]
    fn hmac_matches_rfc_4231_including_a_key_longer_than_a_block() {
        // RFC 4231 test cases 2 and 6.
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_verifier_accepts_the_signature_and_refuses_changes_and_stale_timestamps() {
        let secret = SigningSecret::parse(SPEC_SECRET).unwrap();
        let now = SPEC_TIMESTAMP + 10;
        let ok = |sigs: &str, body: &str, now: i64| verify(&secret, SPEC_ID, "1614265330", sigs, body, now);
        assert_eq!(ok(SPEC_SIGNATURE, SPEC_BODY, now), Ok(()));
        // Several signatures, one matching (a key rotation).
        assert_eq!(ok(&format!("v1,AAAA {SPEC_SIGNATURE}"), SPEC_BODY, now), Ok(()));
        assert_eq!(ok(SPEC_SIGNATURE, r#"{"test": 2432232315}"#, now), Err(VerifyError::Signature));
        assert_eq!(ok(SPEC_SIGNATURE, SPEC_BODY, SPEC_TIMESTAMP + 301), Err(VerifyError::Timestamp));
        let other = SigningSecret::generate();
        assert_eq!(verify(&other, SPEC_ID, "1614265330", SPEC_SIGNATURE, SPEC_BODY, now), Err(VerifyError::Signature));
    }

    #[test]
    fn a_generated_secret_is_shown_as_whsec_and_reads_back() {
        let secret = SigningSecret::generate();
        let shown = secret.expose();
        assert!(shown.starts_with("whsec_"), "{shown}");
        assert_eq!(SigningSecret::parse(&shown).unwrap(), secret);
        assert_ne!(SigningSecret::generate(), secret);
        assert_eq!(format!("{secret:?}"), "SigningSecret(..)");
        assert_eq!(SigningSecret::parse("whsec_!!"), Err(SecretError::Malformed));
        assert_eq!(SigningSecret::parse("whsec_AAAA"), Err(SecretError::Length));
    }
}
