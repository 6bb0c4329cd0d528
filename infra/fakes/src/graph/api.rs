//! Microsoft Graph v1.0 (`https://graph.microsoft.com/v1.0`): `GET /me`, `/me/joinedTeams`,
//! `/teams/{id}/channels`, `/teams/{id}/channels/{id}/messages` (`$top`, `$expand=replies`,
//! `@odata.nextLink` with `$skiptoken`), `/teams/{id}/channels/{id}/messages/{id}` and its
//! `/replies`.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Account, ChannelRec, TENANT_ID, TeamsMention, TeamsMessage};
use crate::http::ApiRequest;
use crate::oauth::{OAuthProvider, Rejected};
use crate::state::{FakeState, Inner, Provider};
use crate::util::{
    b64url_decode, b64url_encode, iso_ms, json_response, mix, percent_decode, uuid_from, with_retry_after,
};

const DEFAULT_TOP: usize = 20;
const MAX_TOP: usize = 50;

type Reply = Result<Response, Response>;

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let now = Utc::now();
    let seed = now.timestamp_micros() as u64;
    let body = json!({"error": {"code": code, "message": message, "innerError": {
        "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": uuid_from(mix(seed)), "client-request-id": uuid_from(mix(seed ^ 1)),
    }}});
    json_response(status, body)
}

fn not_found(message: &str) -> Response {
    error(StatusCode::NOT_FOUND, "NotFound", message)
}

pub(crate) fn rate_limited(secs: u64) -> Response {
    let msg = "Application is over its MailboxConcurrency limit.";
    with_retry_after(error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", msg), secs)
}

pub(crate) fn server_error() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "An internal server error occurred.")
}

fn unauthorized(message: &str) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message);
    let value = HeaderValue::from_static(
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
         client_id=\"00000003-0000-0000-c000-000000000000\"",
    );
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    resp
}

fn authenticate<'a>(s: &'a Inner, req: &ApiRequest) -> Result<&'a Account, Response> {
    let Some(token) = req.bearer() else {
        return Err(unauthorized("Access token is empty."));
    };
    let token = match s.oauth.resolve(OAuthProvider::Microsoft, token) {
        Ok(t) => t,
        Err(Rejected::Expired) => return Err(unauthorized("Lifetime validation failed, the token is expired.")),
        Err(Rejected::Revoked) => return Err(unauthorized("Access token has been revoked.")),
    };
    s.graph
        .accounts
        .iter()
        .find(|a| a.token == token && !a.revoked)
        .ok_or_else(|| unauthorized("IDX14100: JWT is not well formed, there are no dots (.)."))
}

pub(crate) fn handle(state: &FakeState, req: &ApiRequest) -> Response {
    state.with(|s| {
        let base = match &s.base_url {
            Some(u) => format!("{u}{}", Provider::MicrosoftGraph.base_path()),
            None => Provider::MicrosoftGraph.real_base_url().to_owned(),
        };
        let account = match authenticate(s, req) {
            Ok(a) => a,
            Err(r) => return r,
        };
        if req.path.trim_matches('/').starts_with("subscriptions") {
            return subscriptions(s, req);
        }
        if req.method != Method::GET {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request_BadRequest",
                "Specified HTTP method is not allowed.",
            );
        }
        let segments: Vec<String> = req.path.trim_matches('/').split('/').map(percent_decode).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let reply = match segments[..] {
            ["me"] => Ok(ok(json!({
                "@odata.context": format!("{base}/$metadata#users/$entity"),
                "businessPhones": [], "displayName": account.display_name, "givenName": null,
                "jobTitle": null, "mail": account.mail, "mobilePhone": null, "officeLocation": null,
                "preferredLanguage": "en-US", "surname": null, "userPrincipalName": account.mail,
                "id": account.id,
            }))),
            ["me", "joinedTeams"] => {
                let teams: Vec<Value> = account
                    .team_ids
                    .iter()
                    .filter_map(|id| s.graph.teams.iter().find(|t| &t.id == id))
                    .map(|t| {
                        json!({"id": t.id, "displayName": t.display_name, "description": t.description,
                                    "isArchived": false, "tenantId": TENANT_ID, "visibility": null, "webUrl": null})
                    })
                    .collect();
                Ok(ok(json!({"@odata.context": format!("{base}/$metadata#teams"), "@odata.count": teams.len(),
                             "value": teams})))
            }
            ["teams", team, "channels", ..] => channels_route(s, account, &base, req, team, &segments[3..]),
            _ => {
                let segment = segments.first().copied().unwrap_or_default();
                Err(error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("Resource not found for the segment '{segment}'."),
                ))
            }
        };
        reply.unwrap_or_else(|e| e)
    })
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn channels_route(s: &Inner, account: &Account, base: &str, req: &ApiRequest, team: &str, rest: &[&str]) -> Reply {
    if !s.graph.teams.iter().any(|t| t.id == team) {
        return Err(not_found(&format!("No team found with Group Id {team}")));
    }
    if !account.team_ids.iter().any(|t| t == team) {
        return Err(error(StatusCode::FORBIDDEN, "Forbidden", "Forbidden"));
    }
    let in_team = |id: &str| s.graph.channels.iter().find(|c| c.channel.id == id && c.channel.team_id == team);
    let channel_missing = |id: &str| not_found(&format!("Channel {id} not found in team {team}."));
    match rest {
        [] => {
            let value: Vec<Value> = s
                .graph
                .channels
                .iter()
                .filter(|c| c.channel.team_id == team)
                .map(|c| {
                    let ch = &c.channel;
                    json!({"id": ch.id, "createdDateTime": null, "displayName": ch.display_name,
                           "description": ch.description, "isFavoriteByDefault": null, "email": "",
                           "tenantId": TENANT_ID, "membershipType": ch.membership_type,
                           "webUrl": format!("https://teams.microsoft.com/l/channel/{}/{}?groupId={team}&tenantId={TENANT_ID}",
                                             ch.id, ch.display_name.replace(' ', "%20"))})
                })
                .collect();
            Ok(ok(json!({"@odata.context": format!("{base}/$metadata#teams('{team}')/channels"),
                         "@odata.count": value.len(), "value": value})))
        }
        [channel, "messages"] => match in_team(channel) {
            Some(rec) => messages(rec, base, req),
            None => Err(channel_missing(channel)),
        },
        [channel, "messages", id] => match in_team(channel) {
            Some(rec) => match rec.messages.iter().find(|m| m.id == *id) {
                Some(m) => {
                    let mut v = message_json(m, None, rec);
                    if expand_replies(req)? {
                        add_replies(&mut v, m, rec);
                    }
                    Ok(ok(v))
                }
                None => Err(not_found(&format!("Message {id} not found."))),
            },
            None => Err(channel_missing(channel)),
        },
        [channel, "messages", id, "replies"] => match in_team(channel) {
            Some(rec) => match rec.messages.iter().find(|m| m.id == *id) {
                Some(m) => {
                    let value: Vec<Value> = m.replies.iter().map(|r| message_json(r, Some(&m.id), rec)).collect();
                    Ok(ok(json!({"@odata.count": value.len(), "value": value})))
                }
                None => Err(not_found(&format!("Message {id} not found."))),
            },
            None => Err(channel_missing(channel)),
        },
        _ => Err(error(StatusCode::BAD_REQUEST, "BadRequest", "Resource not found for the segment 'channels'.")),
    }
}

/// Newest first; `$skiptoken` names the last message of the previous page.
fn messages(rec: &ChannelRec, base: &str, req: &ApiRequest) -> Reply {
    let top = match req.param("$top").filter(|v| !v.is_empty()) {
        None => DEFAULT_TOP,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_TOP).contains(&n) => n,
            _ => {
                let msg = format!("Invalid page size specified: '{v}'. Must be between 1 and {MAX_TOP} inclusive.");
                return Err(error(StatusCode::BAD_REQUEST, "BadRequest", &msg));
            }
        },
    };
    let after = match req.param("$skiptoken").filter(|v| !v.is_empty()) {
        None => None,
        Some(t) => {
            let parsed = b64url_decode(t).and_then(|d| d.strip_prefix("after:").and_then(|n| n.parse::<i64>().ok()));
            Some(parsed.ok_or_else(|| error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid skip token."))?)
        }
    };
    let expand = expand_replies(req)?;
    let ch = &rec.channel;
    let matching: Vec<&TeamsMessage> = rec
        .messages
        .iter()
        .rev()
        .filter(|m| after.is_none_or(|a| m.id.parse::<i64>().is_ok_and(|id| id < a)))
        .collect();
    let value: Vec<Value> = matching
        .iter()
        .take(top)
        .map(|m| {
            let mut v = message_json(m, None, rec);
            if expand {
                add_replies(&mut v, m, rec);
            }
            v
        })
        .collect();
    let path = format!("{base}/teams/{}/channels/{}/messages", ch.team_id, ch.id);
    let mut body = json!({"@odata.context": format!("{base}/$metadata#teams('{}')/channels('{}')/messages", ch.team_id, ch.id),
                          "@odata.count": value.len(), "value": value});
    if matching.len() > top
        && let Some(last) = matching.get(top - 1)
    {
        let token = b64url_encode(&format!("after:{}", last.id));
        let expand = if expand { "&$expand=replies" } else { "" };
        body["@odata.nextLink"] = json!(format!("{path}?$top={top}{expand}&$skiptoken={token}"));
    }
    Ok(ok(body))
}

/// `$expand=replies` (the only expansion of channel messages).
fn expand_replies(req: &ApiRequest) -> Result<bool, Response> {
    match req.param("$expand").map(str::trim) {
        None | Some("") => Ok(false),
        Some("replies") => Ok(true),
        Some(other) => Err(error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Parsing OData Select and Expand failed: Could not find a property named '{other}'."),
        )),
    }
}

fn add_replies(v: &mut Value, m: &TeamsMessage, rec: &ChannelRec) {
    let replies: Vec<Value> = m.replies.iter().map(|r| message_json(r, Some(&m.id), rec)).collect();
    v["replies@odata.count"] = json!(replies.len());
    v["replies"] = Value::Array(replies);
}

fn mention_json(mention: &TeamsMention) -> Value {
    json!({
        "id": mention.id, "mentionText": mention.mention_text,
        "mentioned": {"application": null, "device": null, "conversation": null, "user": {
            "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": mention.user_id,
            "displayName": mention.user_name, "userIdentityType": "aadUser", "tenantId": TENANT_ID,
        }},
    })
}

fn message_json(m: &TeamsMessage, reply_to: Option<&str>, rec: &ChannelRec) -> Value {
    let ch = &rec.channel;
    let mentions: Vec<Value> = m.mentions.iter().map(mention_json).collect();
    let parent = reply_to.unwrap_or(&m.id);
    json!({
        "id": m.id, "replyToId": reply_to, "etag": m.last_modified.timestamp_millis().to_string(),
        "messageType": "message", "createdDateTime": iso_ms(&m.created),
        "lastModifiedDateTime": iso_ms(&m.last_modified),
        "lastEditedDateTime": m.last_edited.as_ref().map(iso_ms),
        "deletedDateTime": m.deleted.as_ref().map(iso_ms), "subject": m.subject, "summary": null,
        "chatId": null, "importance": m.importance, "locale": "en-us",
        "webUrl": format!("https://teams.microsoft.com/l/message/{}/{}?groupId={}&tenantId={TENANT_ID}&createdTime={}&parentMessageId={}",
                          ch.id, m.id, ch.team_id, m.id, parent),
        "policyViolation": null, "eventDetail": null,
        "from": {"application": null, "device": null, "user": {
            "@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": m.from_id,
            "displayName": m.from_name, "userIdentityType": "aadUser", "tenantId": TENANT_ID,
        }},
        "body": {"contentType": m.content_type, "content": m.content},
        "channelIdentity": {"teamId": ch.team_id, "channelId": ch.id},
        "attachments": [], "mentions": mentions, "reactions": [],
    })
}

/// `POST /subscriptions`, `PATCH /subscriptions/{id}` (a new `expirationDateTime`) and `DELETE
/// /subscriptions/{id}`, as Graph answers them (an expiry more than 3 days ahead is refused).
/// The validation request to the notification URL is `crate::callbacks`'.
fn subscriptions(s: &mut Inner, req: &ApiRequest) -> Response {
    let id = req.path.trim_matches('/').strip_prefix("subscriptions").unwrap_or_default().trim_matches('/').to_owned();
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let expiration = || {
        let at = body["expirationDateTime"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok())?;
        let at = at.with_timezone(&Utc);
        (at > Utc::now() && at <= Utc::now() + chrono::Duration::days(3)).then_some(at)
    };
    let view = |sub: &super::GraphSubscription| {
        json!({"id": sub.id, "resource": sub.resource, "changeType": "created,updated,deleted",
               "notificationUrl": sub.notification_url, "clientState": sub.client_state,
               "expirationDateTime": sub.expiration.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
    };
    match (req.method.clone(), id.is_empty()) {
        (Method::POST, true) => {
            let (Some(url), Some(resource), Some(at)) =
                (body["notificationUrl"].as_str(), body["resource"].as_str(), expiration())
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "notificationUrl, resource and a valid expirationDateTime are required.",
                );
            };
            let sub = super::GraphSubscription {
                id: uuid_from(mix(s.next_seq()) ^ 0x5B5C),
                resource: resource.to_owned(),
                notification_url: url.to_owned(),
                client_state: body["clientState"].as_str().map(str::to_owned),
                expiration: at,
            };
            let answer = view(&sub);
            s.graph.subscriptions.push(sub);
            (StatusCode::CREATED, axum::Json(answer)).into_response()
        }
        (Method::PATCH, false) => {
            let Some(at) = expiration() else {
                return error(StatusCode::BAD_REQUEST, "InvalidRequest", "A valid expirationDateTime is required.");
            };
            match s.graph.subscriptions.iter_mut().find(|sub| sub.id == id) {
                Some(sub) => {
                    sub.expiration = at;
                    ok(view(sub))
                }
                None => error(StatusCode::NOT_FOUND, "ResourceNotFound", "The object was not found."),
            }
        }
        (Method::DELETE, false) => {
            let before = s.graph.subscriptions.len();
            s.graph.subscriptions.retain(|sub| sub.id != id);
            if s.graph.subscriptions.len() == before {
                return error(StatusCode::NOT_FOUND, "ResourceNotFound", "The object was not found.");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "Request_BadRequest", "Specified HTTP method is not allowed."),
    }
}
