//! Each provider's token-endpoint answers: success bodies, error bodies, and the JWTs
//! (Microsoft access tokens, Google/Microsoft `id_token`s) — unsigned fakes with a real layout.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::token::{Issued, TokenError};
use super::{OAuthProvider, OAuthUser};
use crate::graph;
use crate::state::Inner;
use crate::util::{b64url_encode, json_response, mix, random_code, uuid_from};

/// Slack app id of the fake app.
const SLACK_APP_ID: &str = "A0FAKEAPP01";

fn jwt(claims: &Value, seed: u64) -> String {
    let header = json!({"alg": "RS256", "kid": "fake-signing-key", "typ": "JWT"});
    format!("{}.{}.{}", b64url_encode(&header.to_string()), b64url_encode(&claims.to_string()), random_code(seed, 86))
}

/// A Graph access token: a JWT whose claims look like Entra ID's (not validated by anyone).
pub(crate) fn graph_access_jwt(user: &OAuthUser, tenant: &str, scope: &str, exp: i64, uti: &str) -> String {
    let now = Utc::now().timestamp();
    let scp: Vec<&str> = scope
        .split(' ')
        .filter(|s| !s.is_empty() && !matches!(*s, "openid" | "profile" | "email" | "offline_access"))
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .collect();
    let claims = json!({
        "aud": "00000003-0000-0000-c000-000000000000", "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now, "nbf": now, "exp": exp, "name": user.name, "oid": user.id, "scp": scp.join(" "),
        "tid": tenant, "upn": user.email, "uti": uti, "ver": "1.0",
    });
    jwt(&claims, mix(exp as u64) ^ uti.len() as u64)
}

fn id_token(p: OAuthProvider, user: &OAuthUser, issued: &Issued) -> Option<String> {
    if !issued.scope.split([' ', ',']).any(|s| s == "openid") {
        return None;
    }
    let now = Utc::now().timestamp();
    let exp = now + 3600;
    let mut claims = match p {
        OAuthProvider::Google => json!({
            "iss": "https://accounts.google.com", "azp": p.client_id(), "aud": p.client_id(),
            "sub": user.id, "email": user.email, "email_verified": true, "name": user.name,
            "iat": now, "exp": exp,
        }),
        OAuthProvider::Microsoft => json!({
            "iss": format!("https://login.microsoftonline.com/{}/v2.0", graph::TENANT_ID),
            "aud": p.client_id(), "sub": user.id, "oid": user.id, "tid": graph::TENANT_ID,
            "preferred_username": user.email, "email": user.email, "name": user.name,
            "iat": now, "nbf": now, "exp": exp, "ver": "2.0",
        }),
        _ => return None,
    };
    if let Some(n) = &issued.nonce {
        claims["nonce"] = json!(n);
    }
    Some(jwt(&claims, mix(now as u64)))
}

pub(crate) fn success(s: &mut Inner, p: OAuthProvider, issued: &Issued) -> Response {
    let user = s.oauth.config(p).user.clone();
    let mut body = match p {
        OAuthProvider::Google => json!({
            "access_token": issued.access_token, "expires_in": issued.expires_in,
            "scope": issued.scope, "token_type": "Bearer",
        }),
        OAuthProvider::Microsoft => json!({
            "token_type": "Bearer", "scope": issued.scope, "expires_in": issued.expires_in,
            "ext_expires_in": issued.expires_in, "access_token": issued.access_token,
        }),
        OAuthProvider::Slack => slack_success(s, &user, issued),
        OAuthProvider::Asana => {
            let id = user.id.parse::<u64>().map_or_else(|_| json!(user.id), |n| json!(n));
            json!({
                "access_token": issued.access_token, "token_type": "bearer", "expires_in": issued.expires_in,
                "data": {"id": id, "gid": user.id, "name": user.name, "email": user.email},
            })
        }
        OAuthProvider::Notion => notion_success(s, &user, issued),
    };
    if let Some(r) = &issued.refresh_token {
        body["refresh_token"] = json!(r);
    }
    if let Some(t) = id_token(p, &user, issued) {
        body["id_token"] = json!(t);
    }
    json_response(StatusCode::OK, body)
}

fn slack_success(s: &Inner, user: &OAuthUser, issued: &Issued) -> Value {
    let account = s.slack.accounts.iter().find(|a| a.token == issued.account_token);
    let (team_id, team, bot_user_id) =
        account.map_or_else(Default::default, |a| (a.team_id.clone(), a.team.clone(), a.user_id.clone()));
    let mut authed_user = json!({"id": user.id});
    if let Some((token, scope)) = &issued.user_token {
        authed_user = json!({"id": user.id, "scope": scope, "access_token": token, "token_type": "user"});
    }
    json!({
        "ok": true, "app_id": SLACK_APP_ID, "authed_user": authed_user, "scope": issued.scope,
        "token_type": "bot", "access_token": issued.access_token, "bot_user_id": bot_user_id,
        "team": {"id": team_id, "name": team}, "enterprise": null, "is_enterprise_install": false,
        "expires_in": issued.expires_in,
    })
}

fn notion_success(s: &Inner, user: &OAuthUser, issued: &Issued) -> Value {
    let account = s.notion.accounts.iter().find(|a| a.token == issued.account_token);
    let (bot_id, workspace_id, workspace_name) =
        account.map_or_else(Default::default, |a| (a.bot_id.clone(), a.workspace_id.clone(), a.workspace_name.clone()));
    json!({
        "access_token": issued.access_token, "token_type": "bearer", "bot_id": bot_id,
        "workspace_name": workspace_name, "workspace_icon": null, "workspace_id": workspace_id,
        "owner": {"type": "user", "user": {
            "object": "user", "id": user.id, "name": user.name, "avatar_url": null,
            "type": "person", "person": {"email": user.email},
        }},
        "duplicated_template_id": null, "request_id": uuid_from(mix(Utc::now().timestamp_micros() as u64)),
    })
}

/// The error code (`invalid_grant`, Slack's `invalid_code`, …) answered for `e`.
pub(crate) fn error_code(p: OAuthProvider, e: &TokenError) -> &'static str {
    use TokenError::*;
    match (p, e) {
        (OAuthProvider::Slack, MissingClient | UnknownClient) => "invalid_client_id",
        (OAuthProvider::Slack, BadSecret) => "bad_client_secret",
        (OAuthProvider::Slack, UnsupportedGrantType(_)) => "invalid_grant_type",
        (OAuthProvider::Slack, MissingParam("refresh_token") | BadRefresh | RevokedRefresh) => "invalid_refresh_token",
        (OAuthProvider::Slack, MissingParam(_) | BadCode | CodeUsed) => "invalid_code",
        (OAuthProvider::Slack, RedirectMismatch) => "bad_redirect_uri",
        (OAuthProvider::Slack, VerifierMissing | VerifierMismatch) => "invalid_code_verifier",
        (OAuthProvider::Google, MissingClient) => "invalid_request",
        (OAuthProvider::Google, RedirectMismatch) => "redirect_uri_mismatch",
        (OAuthProvider::Microsoft, UnknownClient) => "unauthorized_client",
        (_, MissingClient | UnknownClient | BadSecret) => "invalid_client",
        (_, UnsupportedGrantType(_)) => "unsupported_grant_type",
        (_, MissingParam(_)) => "invalid_request",
        (_, _) => "invalid_grant",
    }
}

fn description(p: OAuthProvider, e: &TokenError) -> String {
    use TokenError::*;
    let google = p == OAuthProvider::Google;
    match e {
        MissingClient if google => "Could not determine client ID from request.".into(),
        MissingClient => "Client authentication failed: no client credentials were sent.".into(),
        UnknownClient => "The OAuth client was not found.".into(),
        BadSecret if google => "Unauthorized".into(),
        BadSecret => "Client authentication failed: invalid client secret.".into(),
        UnsupportedGrantType(g) => format!("Invalid grant_type: {g}"),
        MissingParam(n) => format!("Missing required parameter: {n}"),
        BadCode if google => "Malformed auth code.".into(),
        BadCode => "The authorization code is invalid or expired.".into(),
        CodeUsed | RedirectMismatch if google => "Bad Request".into(),
        CodeUsed => "The authorization code has already been used.".into(),
        RedirectMismatch => "redirect_uri does not match the one of the authorization request.".into(),
        VerifierMissing => "Missing code verifier.".into(),
        VerifierMismatch => "Invalid code verifier.".into(),
        BadRefresh | RevokedRefresh if google => "Token has been expired or revoked.".into(),
        BadRefresh => "The refresh token is invalid.".into(),
        RevokedRefresh => "The refresh token has been revoked.".into(),
    }
}

/// Microsoft identity platform: `AADSTS` code and message.
fn aadsts(e: &TokenError) -> (u32, String) {
    use TokenError::*;
    match e {
        MissingClient => (900144, "The request body must contain the following parameter: 'client_id'.".into()),
        UnknownClient => (700016, "Application with the given client_id was not found in the directory.".into()),
        BadSecret => (7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into()),
        UnsupportedGrantType(g) => (70003, format!("The app requested an unsupported grant type '{g}'.")),
        MissingParam(n) => (900144, format!("The request body must contain the following parameter: '{n}'.")),
        BadCode => (70000, "The provided value for the 'code' parameter is not valid.".into()),
        CodeUsed => (54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.".into()),
        RedirectMismatch => (500112, "The reply address does not match the reply address provided when requesting Authorization code.".into()),
        VerifierMissing => (50148, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.".into()),
        VerifierMismatch => (501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.".into()),
        BadRefresh => (70000, "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.".into()),
        RevokedRefresh => (50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed.".into()),
    }
}

pub(crate) fn error(p: OAuthProvider, e: &TokenError) -> Response {
    let code = error_code(p, e);
    if p == OAuthProvider::Slack {
        return json_response(StatusCode::OK, json!({"ok": false, "error": code}));
    }
    let status = if code == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
    let body = match p {
        OAuthProvider::Microsoft => {
            let (n, message) = aadsts(e);
            let now = Utc::now();
            let seed = now.timestamp_micros() as u64;
            let (trace, correlation) = (uuid_from(mix(seed)), uuid_from(mix(seed ^ 0xC0)));
            let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
            json!({
                "error": code,
                "error_description": format!(
                    "AADSTS{n}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}"
                ),
                "error_codes": [n], "timestamp": timestamp, "trace_id": trace, "correlation_id": correlation,
                "error_uri": format!("https://login.microsoftonline.com/error?code={n}"),
            })
        }
        _ => json!({"error": code, "error_description": description(p, e)}),
    };
    json_response(status, body)
}
