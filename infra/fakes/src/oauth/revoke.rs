//! Token revocation: Google `POST /revoke`, Asana `POST /-/oauth_revoke`, Notion
//! `POST /v1/oauth/revoke` (all at `{base}/revoke` here) and Slack's `auth.revoke` Web API method.
//! Revoking any token of a grant revokes the whole grant (its access and refresh tokens).

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::token::{Params, check_client};
use super::{OAuthProvider, Rejected, shapes};
use crate::state::{FakeState, Inner};
use crate::util::{json_response, mask};

/// Whether `token` is an access or refresh token of a live (unrevoked) grant of `p`.
fn live(s: &Inner, p: OAuthProvider, token: &str) -> bool {
    let Some(id) = s.oauth.grant_of(p, token) else {
        return false;
    };
    let grant_live = s.oauth.grants.iter().any(|g| g.id == id && !g.revoked);
    let access_live = s.oauth.access.get(token).is_none_or(|a| !a.revoked);
    grant_live && access_live
}

fn revoke_recorded(s: &mut Inner, p: OAuthProvider, token: &str) {
    s.oauth.revoke_token(p, token);
    s.oauth.config(p).revocations.push(mask(token));
}

pub(crate) fn revoke_endpoint(
    state: &FakeState,
    p: OAuthProvider,
    headers: &HeaderMap,
    query: &[(String, String)],
    body: &Bytes,
) -> Response {
    let params = Params::of(headers, query, body);
    let missing = || {
        let body = json!({"error": "invalid_request", "error_description": "Missing required parameter: token"});
        json_response(StatusCode::BAD_REQUEST, body)
    };
    match p {
        OAuthProvider::Google => {
            let Some(token) = params.get("token") else {
                return missing();
            };
            state.with(|s| {
                let static_token = s.google.accounts.iter().any(|a| a.token == token && !a.revoked);
                if !(live(s, p, token) || static_token) {
                    let body = json!({"error": "invalid_token", "error_description": "Token expired or revoked"});
                    return json_response(StatusCode::BAD_REQUEST, body);
                }
                s.google.revoke(token);
                revoke_recorded(s, p, token);
                json_response(StatusCode::OK, json!({}))
            })
        }
        OAuthProvider::Asana | OAuthProvider::Notion => {
            if let Err(e) = check_client(p, headers, &params) {
                return shapes::error(p, &e);
            }
            let Some(token) = params.get("token") else {
                return missing();
            };
            // RFC 7009: an unknown token is not an error.
            state.with(|s| revoke_recorded(s, p, token));
            match p {
                OAuthProvider::Asana => StatusCode::OK.into_response(),
                _ => json_response(StatusCode::OK, json!({})),
            }
        }
        OAuthProvider::Microsoft | OAuthProvider::Slack => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "error_description": format!(
                "{p} has no revocation endpoint here (Slack: POST /slack/api/auth.revoke)"
            )}),
        ),
    }
}

/// Slack `auth.revoke`: revokes the calling token (`test=1`: only checks it).
pub(crate) fn slack_auth_revoke(state: &FakeState, token: Option<&str>, test: bool) -> Response {
    let ok = |revoked: bool| json_response(StatusCode::OK, json!({"ok": true, "revoked": revoked}));
    let err = |code: &str| json_response(StatusCode::OK, json!({"ok": false, "error": code}));
    let p = OAuthProvider::Slack;
    let Some(token) = token else {
        return err("not_authed");
    };
    state.with(|s| match s.oauth.resolve(p, token) {
        Err(Rejected::Expired) => err("token_expired"),
        Err(Rejected::Revoked) => err("token_revoked"),
        Ok(_) if s.oauth.grant_of(p, token).is_some() => {
            if !test {
                revoke_recorded(s, p, token);
            }
            ok(!test)
        }
        Ok(_) => match s.slack.accounts.iter().find(|a| a.token == token) {
            None => err("invalid_auth"),
            Some(a) if a.revoked => err("token_revoked"),
            Some(_) => {
                if !test {
                    s.slack.revoke(token);
                    s.oauth.config(p).revocations.push(mask(token));
                }
                ok(!test)
            }
        },
    })
}
