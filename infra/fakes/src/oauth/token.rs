//! `POST {base}/token`: `authorization_code` (single-use code, same `redirect_uri`, PKCE S256
//! verifier, client secret) and `refresh_token` grants. The answers' shapes are in `shapes.rs`.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Access, Grant, OAuthProvider, TokenRequest, shapes};
use crate::state::{FakeState, Inner};
use crate::util::{b64_decode, parse_pairs, percent_decode, random_code};
use crate::{asana, google, graph, notion, slack};

/// Why a token request is refused; `shapes::error` words it the provider's way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    MissingClient,
    UnknownClient,
    BadSecret,
    UnsupportedGrantType(String),
    MissingParam(&'static str),
    BadCode,
    CodeUsed,
    RedirectMismatch,
    VerifierMissing,
    VerifierMismatch,
    BadRefresh,
    RevokedRefresh,
}

/// What a successful exchange issued.
pub(crate) struct Issued {
    pub access_token: String,
    /// The refresh token to put in the answer (a new one, or none when the grant keeps its own).
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    pub scope: String,
    /// Slack `user_scope`: the user token and its scopes.
    pub user_token: Option<(String, String)>,
    pub nonce: Option<String>,
    pub account_token: String,
}

/// Request parameters: the query string, then a form or JSON body.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn of(headers: &HeaderMap, query: &[(String, String)], body: &Bytes) -> Params {
        let mut pairs = query.to_vec();
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if content_type.starts_with("application/json") || (content_type.is_empty() && looks_json) {
            if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
                for (k, v) in map {
                    match v {
                        Value::String(s) => pairs.push((k, s)),
                        Value::Null => {}
                        other => pairs.push((k, other.to_string())),
                    }
                }
            }
        } else {
            pairs.extend(parse_pairs(body));
        }
        Params(pairs)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

/// `Authorization: Basic base64(client_id:client_secret)` (each part form-encoded, RFC 6749 §2.3.1).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = b64_decode(encoded)?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(&id.replace('+', " ")), percent_decode(&secret.replace('+', " "))))
}

/// Checks the client's credentials (HTTP Basic, or `client_id`/`client_secret` parameters;
/// Notion takes HTTP Basic only).
pub(crate) fn check_client(p: OAuthProvider, headers: &HeaderMap, params: &Params) -> Result<(), TokenError> {
    let (id, secret) = match basic_credentials(headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None if p == OAuthProvider::Notion => return Err(TokenError::MissingClient),
        None => (params.get("client_id").map(str::to_owned), params.get("client_secret").map(str::to_owned)),
    };
    match (id, secret) {
        (None, _) => Err(TokenError::MissingClient),
        (Some(id), _) if id != p.client_id() => Err(TokenError::UnknownClient),
        (Some(_), Some(secret)) if secret == p.client_secret() => Ok(()),
        (Some(_), _) => Err(TokenError::BadSecret),
    }
}

pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub(crate) fn token_endpoint(
    state: &FakeState,
    p: OAuthProvider,
    headers: &HeaderMap,
    query: &[(String, String)],
    body: &Bytes,
) -> Response {
    let params = Params::of(headers, query, body);
    let grant_type = match params.get("grant_type") {
        Some(g) => g.to_owned(),
        // Slack's grant_type is optional; a code means authorization_code.
        None if p == OAuthProvider::Slack && params.get("code").is_some() => "authorization_code".to_owned(),
        None => String::new(),
    };
    state.with(|s| {
        let result = check_client(p, headers, &params).and_then(|()| match grant_type.as_str() {
            "authorization_code" => redeem_code(s, p, &params),
            "refresh_token" => refresh(s, p, &params),
            other => Err(TokenError::UnsupportedGrantType(other.to_owned())),
        });
        let (resp, error) = match result {
            Ok(issued) => (shapes::success(s, p, &issued), None),
            Err(e) => (shapes::error(p, &e), Some(shapes::error_code(p, &e).to_owned())),
        };
        let status = resp.status().as_u16();
        s.oauth.config(p).token_requests.push(TokenRequest { grant_type, at: Utc::now(), status, error });
        resp
    })
}

fn redeem_code(s: &mut Inner, p: OAuthProvider, params: &Params) -> Result<Issued, TokenError> {
    let code = params.get("code").ok_or(TokenError::MissingParam("code"))?;
    let idx = s.oauth.codes.iter().position(|c| c.provider == p && c.code == code).ok_or(TokenError::BadCode)?;
    let c = &s.oauth.codes[idx];
    if c.used {
        return Err(TokenError::CodeUsed);
    }
    if c.expires_at <= Utc::now() {
        return Err(TokenError::BadCode);
    }
    if params.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
        return Err(TokenError::RedirectMismatch);
    }
    let verifier = params.get("code_verifier").ok_or(TokenError::VerifierMissing)?;
    if s256(verifier) != c.challenge {
        return Err(TokenError::VerifierMismatch);
    }
    s.oauth.codes[idx].used = true;
    let c = &s.oauth.codes[idx];
    let (scope, user_scope, offline, nonce) = (c.scope.clone(), c.user_scope.clone(), c.offline, c.nonce.clone());

    let account_token = bind_account(s, p);
    let grant_id = s.next_seq();
    let refresh_token = (offline && !s.oauth.config(p).no_refresh).then(|| new_refresh_token(s, p));
    s.oauth.grants.push(Grant {
        id: grant_id,
        provider: p,
        refresh_token: refresh_token.clone(),
        scope: scope.clone(),
        nonce: nonce.clone(),
        account_token: account_token.clone(),
        revoked: false,
    });
    let (access_token, expires_in) = new_access_token(s, p, grant_id, &scope, false);
    let user_token = user_scope.map(|us| (new_access_token(s, p, grant_id, &us, true).0, us));
    Ok(Issued { access_token, refresh_token, expires_in, scope, user_token, nonce, account_token })
}

fn refresh(s: &mut Inner, p: OAuthProvider, params: &Params) -> Result<Issued, TokenError> {
    let token = params.get("refresh_token").ok_or(TokenError::MissingParam("refresh_token"))?;
    let grant = s
        .oauth
        .grants
        .iter()
        .find(|g| g.provider == p && g.refresh_token.as_deref() == Some(token))
        .ok_or(TokenError::BadRefresh)?;
    if grant.revoked {
        return Err(TokenError::RevokedRefresh);
    }
    let (grant_id, scope, nonce, account_token) =
        (grant.id, grant.scope.clone(), grant.nonce.clone(), grant.account_token.clone());
    let rotated = p.rotates_refresh_tokens().then(|| new_refresh_token(s, p));
    if let Some(new) = &rotated
        && let Some(g) = s.oauth.grants.iter_mut().find(|g| g.id == grant_id)
    {
        g.refresh_token = Some(new.clone());
    }
    let (access_token, expires_in) = new_access_token(s, p, grant_id, &scope, false);
    Ok(Issued { access_token, refresh_token: rotated, expires_in, scope, user_token: None, nonce, account_token })
}

fn new_refresh_token(s: &mut Inner, p: OAuthProvider) -> String {
    let seq = s.next_seq();
    let body = random_code(seq, 48);
    let token = match p {
        OAuthProvider::Google => format!("1//0fake{body}"),
        OAuthProvider::Microsoft => format!("0.ARfake{body}{}", random_code(seq ^ 7, 40)),
        OAuthProvider::Slack => format!("xoxe-1-{seq}-{body}"),
        OAuthProvider::Asana => format!("2/{}/{seq}:{}", s.oauth.config(p).user.id, &body[..32]),
        OAuthProvider::Notion => format!("nrt_{body}"),
    };
    s.saw_secret(&token);
    token
}

/// Registers a new access token of the grant; returns it with its `expires_in`.
fn new_access_token(s: &mut Inner, p: OAuthProvider, grant_id: u64, scope: &str, user: bool) -> (String, Option<i64>) {
    let seq = s.next_seq();
    let body = random_code(seq, 43);
    let lifetime = s.oauth.config(p).lifetime;
    let expires_at = lifetime.map(|d| Utc::now() + d);
    let token = match p {
        OAuthProvider::Google => format!("ya29.a0fake{body}"),
        OAuthProvider::Microsoft => {
            let user = s.oauth.config(p).user.clone();
            let exp = expires_at.unwrap_or_else(Utc::now).timestamp();
            shapes::graph_access_jwt(&user, graph::TENANT_ID, scope, exp, &body)
        }
        OAuthProvider::Slack if user => format!("xoxp-{seq}-{}", &body[..24]),
        OAuthProvider::Slack => format!("xoxb-{seq}-{}", &body[..24]),
        OAuthProvider::Asana => format!("2/{}/{seq}:{}", s.oauth.config(p).user.id, &body[..32]),
        OAuthProvider::Notion => format!("ntn_{body}"),
    };
    s.oauth.access.insert(token.clone(), Access { provider: p, grant_id, expires_at, revoked: false });
    s.saw_secret(&token);
    (token, lifetime.map(|d| d.num_seconds()))
}

/// The data-API credential of the account the fake user's grants act as; creates the account
/// (for the OAuth user) when none is attached or the attached one no longer exists.
fn bind_account(s: &mut Inner, p: OAuthProvider) -> String {
    let attached = s.oauth.config(p).account_token.clone();
    let exists = |s: &Inner, t: &str| match p {
        OAuthProvider::Slack => s.slack.accounts.iter().any(|a| a.token == t),
        OAuthProvider::Asana => s.asana.accounts.iter().any(|a| a.token == t),
        OAuthProvider::Notion => s.notion.accounts.iter().any(|a| a.token == t),
        OAuthProvider::Google => s.google.accounts.iter().any(|a| a.token == t),
        OAuthProvider::Microsoft => s.graph.accounts.iter().any(|a| a.token == t),
    };
    if let Some(t) = attached
        && exists(s, &t)
    {
        return t;
    }
    let user = s.oauth.config(p).user.clone();
    let token = format!("oauth-account-{}-{}", p.as_str(), s.next_seq());
    match p {
        OAuthProvider::Slack => {
            slack::new_account(s, &token, "Fake OAuth Workspace");
        }
        OAuthProvider::Asana => {
            asana::new_account(s, &token, Some(&user.id), &user.name, &user.email);
            asana::new_workspace(s, &token, "Fake OAuth Workspace");
        }
        OAuthProvider::Notion => {
            notion::new_account(s, &token, &format!("{}'s Notion", user.name));
        }
        OAuthProvider::Google => {
            google::new_account(s, &token, Some(&user.id), &user.email, &user.name);
        }
        OAuthProvider::Microsoft => {
            graph::new_account(s, &token, Some(&user.id), &user.name, &user.email);
        }
    }
    s.oauth.config(p).account_token = Some(token.clone());
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_the_rfc_7636_example() {
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", crate::util::b64_encode("fake-notion-client-id:s%3Acret"));
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert_eq!(basic_credentials(&headers), Some(("fake-notion-client-id".into(), "s:cret".into())));
    }
}
