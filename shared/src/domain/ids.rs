//! Identifiers: parsed once at the edge, trusted everywhere after.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {reason}")]
pub struct InvalidId {
    pub what: &'static str,
    pub reason: &'static str,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let check: fn(&str) -> Result<String, &'static str> = $check;
                let canonical = check(raw).map_err(|reason| InvalidId { what: $what, reason })?;
                Ok(Self(canonical))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// ULIDs in their canonical (upper-case) spelling, so `01abc…` and `01ABC…` name the same thing.
fn ulid_text(raw: &str) -> Result<String, &'static str> {
    let ulid = ulid::Ulid::from_string(raw).map_err(|_| "must be a 26-character ULID")?;
    let canonical = ulid.to_string();
    // A first character above 7 overflows 128 bits: refuse it rather than wrap around.
    if !canonical.eq_ignore_ascii_case(raw) {
        return Err("must be a 26-character ULID");
    }
    Ok(canonical)
}

string_id!(
    /// The caller: the `sub` claim of a verified token. Also part of DynamoDB keys, secret names
    /// and secret tags, so it is restricted to characters that are safe in all three (never `#`,
    /// the keys' separator, nor white space or control characters). Identity providers' subjects
    /// such as `auth0|abc123` or `google-oauth2|1234` are common, but Secrets Manager allows no
    /// `|`: it is kept as `/`, which a subject may not contain ([`UserId::from_subject`]), so no
    /// two subjects become one id. This parse reads the stored spelling, and takes `|` as well.
    UserId,
    "user id",
    |raw| {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.@+=|/".contains(c);
        if raw.is_empty() || raw.len() > 128 {
            Err("must be 1 to 128 characters")
        } else if !raw.chars().all(ok_char) {
            Err("may only contain letters, digits and - _ . @ + = |")
        } else {
            Ok(raw.replace('|', "/"))
        }
    }
);

impl UserId {
    /// The caller named by a verified token's subject (`sub`), which may not contain `/`.
    pub fn from_subject(sub: &str) -> Result<Self, InvalidId> {
        if sub.contains('/') {
            return Err(InvalidId { what: "user id", reason: "may only contain letters, digits and - _ . @ + = |" });
        }
        Self::parse(sub)
    }

    /// The subject as the identity provider spells it (`auth0|abc123`).
    pub fn subject(&self) -> String {
        self.0.replace('/', "|")
    }
}

string_id!(
    /// A catalog id such as `trello` or `google-calendar`.
    IntegrationId,
    "integration id",
    |raw| {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(ok_char) {
            Err("must be lower-case letters, digits and dashes")
        } else {
            Ok(raw.to_owned())
        }
    }
);

string_id!(
    /// A connection, as a ULID.
    ConnectionId,
    "connection id",
    ulid_text
);

string_id!(
    /// A sync run, as a ULID (so runs sort by the time they were queued).
    SyncId,
    "sync id",
    ulid_text
);

string_id!(
    /// An automation, as a ULID.
    AutomationId,
    "automation id",
    ulid_text
);

string_id!(
    /// A REST hook (an outbound subscription), as a ULID.
    HookId,
    "hook id",
    ulid_text
);

string_id!(
    /// One event's delivery to one hook, as a ULID (so deliveries sort by time).
    DeliveryId,
    "delivery id",
    ulid_text
);

impl HookId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
}

impl DeliveryId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
}

impl AutomationId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
}

impl ConnectionId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
}

impl SyncId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::new().to_string())
    }
}

impl IntegrationId {
    /// `google-calendar` + `API_BASE_URL` → `GOOGLE_CALENDAR_API_BASE_URL`.
    pub fn env_var(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.0.to_ascii_uppercase().replace('-', "_"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_reject_key_separators_white_space_and_control_characters() {
        assert!(UserId::from_subject("3f2a1c9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b").is_ok());
        assert!(UserId::from_subject("demo-user").is_ok());
        for bad in ["", "a#b", "a/b", "a b", "a\tb", "a\u{0}b", "a\u{202E}b", "é", "a:b", &"x".repeat(129)] {
            assert!(UserId::from_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn identity_provider_subjects_are_user_ids_safe_in_secret_names() {
        for (subject, stored) in [("auth0|abc123", "auth0/abc123"), ("google-oauth2|1234", "google-oauth2/1234")] {
            let id = UserId::from_subject(subject).unwrap();
            assert_eq!(id.as_str(), stored);
            assert_eq!(id.subject(), subject);
            assert_eq!(UserId::parse(id.as_str()).unwrap(), id, "the stored spelling reads back");
            let secret_name_chars = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
            assert!(id.as_str().chars().all(secret_name_chars), "{id}");
        }
        assert!(UserId::from_subject("auth0/abc123").is_err(), "would be the same id as auth0|abc123");
    }

    #[test]
    fn connection_ids_must_be_ulids() {
        let id = ConnectionId::generate();
        assert_eq!(ConnectionId::parse(id.as_str()).unwrap(), id);
        assert!(ConnectionId::parse("not-a-ulid").is_err());
        assert_eq!(ConnectionId::parse(&id.as_str().to_lowercase()).unwrap(), id, "case does not matter");
        assert!(ConnectionId::parse("ZZZZZZZZZZZZZZZZZZZZZZZZZZ").is_err(), "overflows 128 bits");
        assert!(ConnectionId::parse("01HZZZZZZZZZZZZZZZZZZZZZZZ#").is_err());
    }

    #[test]
    fn env_var_names_follow_the_integration_id() {
        let id = IntegrationId::parse("microsoft-teams").unwrap();
        assert_eq!(id.env_var("API_BASE_URL"), "MICROSOFT_TEAMS_API_BASE_URL");
    }
}
