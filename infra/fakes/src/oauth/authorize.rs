//! `GET {base}/authorize`: the fake user consents at once and is redirected back with a code.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde_json::json;

use super::{Code, OAuthProvider};
use crate::state::FakeState;
use crate::util::{json_response, random_code, redirect};

/// How long an authorization code can be exchanged.
const CODE_LIFETIME_MINUTES: i64 = 10;

struct Query<'a>(&'a [(String, String)]);

impl Query<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

/// `redirect_uri` with `pairs` appended to its query string.
fn back_to(redirect_uri: &url::Url, pairs: &[(&str, &str)]) -> Response {
    let mut url = redirect_uri.clone();
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    redirect(url.as_str())
}

/// Errors that must not redirect (RFC 6749 §4.1.2.1): an unknown client or a bad redirect URI.
fn error_page(error: &str, description: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": error, "error_description": description}))
}

fn code_for(p: OAuthProvider, seq: u64) -> String {
    let body = random_code(seq, 40);
    match p {
        OAuthProvider::Google => format!("4/0Afake{body}"),
        OAuthProvider::Microsoft => format!("0.AXfake{body}"),
        OAuthProvider::Slack => format!("{seq}.{}.{body}", 4_000_000 + seq),
        OAuthProvider::Asana => format!("1/{seq}:{body}"),
        OAuthProvider::Notion => format!("03fake{body}"),
    }
}

pub(crate) fn authorize(state: &FakeState, p: OAuthProvider, query: &[(String, String)]) -> Response {
    let q = Query(query);
    if q.get("client_id") != Some(p.client_id()) {
        return error_page("invalid_client", "The OAuth client was not found.");
    }
    let redirect_uri = match q.get("redirect_uri").map(url::Url::parse) {
        Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => u,
        _ => return error_page("invalid_request", "Missing or invalid parameter: redirect_uri"),
    };
    let client_state = q.get("state").unwrap_or_default();
    let fail = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if !client_state.is_empty() {
            pairs.push(("state", client_state));
        }
        back_to(&redirect_uri, &pairs)
    };
    if q.get("response_type") != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let Some(challenge) = q.get("code_challenge") else {
        return fail("invalid_request", "Missing required parameter: code_challenge (PKCE is required)");
    };
    if q.get("code_challenge_method") != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    let well_formed =
        challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if !well_formed {
        return fail("invalid_request", "code_challenge must be the base64url SHA-256 of the code_verifier");
    }
    if state.with(|s| std::mem::take(&mut s.oauth.config(p).deny_next)) {
        let description = match p {
            OAuthProvider::Microsoft => "AADSTS65004: User declined to consent to access the app.",
            _ => "The user denied access to the application.",
        };
        return fail("access_denied", description);
    }
    let code = state.with(|s| {
        let seq = s.next_seq();
        let code = code_for(p, seq);
        s.oauth.codes.retain(|c| c.expires_at > Utc::now());
        s.oauth.codes.push(Code {
            code: code.clone(),
            provider: p,
            redirect_uri: q.get("redirect_uri").unwrap_or_default().to_owned(),
            scope: q.get("scope").unwrap_or_default().to_owned(),
            user_scope: q.get("user_scope").map(str::to_owned),
            challenge: challenge.to_owned(),
            offline: match p {
                OAuthProvider::Google => q.get("access_type") == Some("offline"),
                OAuthProvider::Microsoft => {
                    q.get("scope").unwrap_or_default().split(' ').any(|s| s == "offline_access")
                }
                _ => true,
            },
            nonce: q.get("nonce").map(str::to_owned),
            expires_at: Utc::now() + Duration::minutes(CODE_LIFETIME_MINUTES),
            used: false,
        });
        code
    });
    let mut pairs = vec![("code", code.as_str())];
    if !client_state.is_empty() {
        pairs.push(("state", client_state));
    }
    back_to(&redirect_uri, &pairs)
}
