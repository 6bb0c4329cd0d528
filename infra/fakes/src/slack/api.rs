//! Slack Web API methods (`https://slack.com/api/{method}`): auth.test, conversations.list,
//! conversations.history, chat.postMessage, and the OAuth methods oauth.v2.access and auth.revoke (served by
//! `crate::oauth`). GET with a query string and POST with a form (or JSON) body both work.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Account, ChannelRec, micros_to_ts, ts_to_micros};
use crate::http::ApiRequest;
use crate::oauth::{OAuthProvider, Rejected};
use crate::state::FakeState;
use crate::util::{b64_decode, b64_encode, json_response, parse_pairs, truthy, with_retry_after};

fn error(code: &str) -> Response {
    json_response(StatusCode::OK, json!({"ok": false, "error": code}))
}

pub(crate) fn rate_limited(secs: u64) -> Response {
    let body = json!({"ok": false, "error": "ratelimited"});
    with_retry_after(json_response(StatusCode::TOO_MANY_REQUESTS, body), secs)
}

pub(crate) fn server_error() -> Response {
    json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"ok": false, "error": "internal_error"}))
}

/// Query parameters, then form or JSON body arguments (Slack accepts either).
struct Args(Vec<(String, String)>);

impl Args {
    fn of(req: &ApiRequest) -> Args {
        let mut args = req.query.clone();
        if req.is_form() {
            args.extend(parse_pairs(&req.body));
        } else if req.is_json()
            && let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&req.body)
        {
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                args.push((k, v));
            }
        }
        Args(args)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// `limit`: absent or 0 → default; above max → max; not a number → error.
    fn limit(&self, default: usize, max: usize) -> Result<usize, Response> {
        match self.get("limit").map(str::trim) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n <= 0 => Ok(default),
                Ok(n) => Ok((n as usize).min(max)),
                Err(_) => Err(error("invalid_limit")),
            },
        }
    }
}

pub(crate) fn handle(state: &FakeState, req: &ApiRequest) -> Response {
    let method = req.path.trim_start_matches('/').trim_end_matches('/');
    let args = Args::of(req);
    match method {
        "api.test" => {
            let echoed: serde_json::Map<String, Value> = args
                .0
                .iter()
                .filter(|(k, _)| k != "token")
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json_response(StatusCode::OK, json!({"ok": true, "args": echoed}))
        }
        "oauth.v2.access" => {
            crate::oauth::token_endpoint(state, OAuthProvider::Slack, &req.headers, &req.query, &req.body)
        }
        "auth.revoke" => {
            let token = req.bearer().or_else(|| args.get("token"));
            crate::oauth::slack_auth_revoke(state, token, truthy(args.get("test")))
        }
        "auth.test" | "conversations.list" | "conversations.history" | "chat.postMessage" => {
            let token = req.bearer().or_else(|| args.get("token"));
            state.with(|s| {
                let token = match token.map(|t| s.oauth.resolve(OAuthProvider::Slack, t)) {
                    None => None,
                    Some(Ok(t)) => Some(t),
                    Some(Err(Rejected::Expired)) => return error("token_expired"),
                    Some(Err(Rejected::Revoked)) => return error("token_revoked"),
                };
                let account = match token.as_deref() {
                    None => return error("not_authed"),
                    Some(t) => match s.slack.accounts.iter().find(|a| a.token == t) {
                        None => return error("invalid_auth"),
                        Some(a) if a.revoked => return error("token_revoked"),
                        Some(a) => a,
                    },
                };
                let reply = match method {
                    "auth.test" => Ok(auth_test(account)),
                    "conversations.list" => conversations_list(&s.slack.channels, account, &args),
                    "chat.postMessage" => post_message(&mut s.slack.channels, account, &args),
                    _ => conversations_history(&s.slack.channels, account, &args),
                };
                reply.unwrap_or_else(|e| e)
            })
        }
        _ => {
            json_response(StatusCode::NOT_FOUND, json!({"ok": false, "error": "unknown_method", "req_method": method}))
        }
    }
}

/// `chat.postMessage` as the token's bot: the message is added to the channel's history. Needs
/// `channel` (an id, or a name such as `#general`, as Slack accepts) and `text`; the bot must be
/// in the channel.
fn post_message(channels: &mut [ChannelRec], a: &Account, args: &Args) -> Result<Response, Response> {
    let rec = args
        .get("channel")
        .and_then(|c| {
            let name = c.strip_prefix('#').unwrap_or(c);
            channels.iter_mut().find(|r| (r.channel.id == c || r.channel.name == name) && r.team_id == a.team_id)
        })
        .ok_or_else(|| error("channel_not_found"))?;
    if !rec.channel.is_member {
        return Err(error("not_in_channel"));
    }
    let text = args.get("text").ok_or_else(|| error("no_text"))?;
    let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
    let micros = rec.messages.last().map_or(now, |(last, _)| now.max(last + 1));
    let ts = micros_to_ts(micros);
    let message = super::SlackMessage {
        ts: ts.clone(),
        user: a.bot_id.clone(),
        text: text.to_owned(),
        thread_ts: None,
        reply_count: None,
        reply_users: vec![],
    };
    rec.messages.push((micros, message));
    Ok(json_response(
        StatusCode::OK,
        json!({"ok": true, "channel": rec.channel.id, "ts": ts,
               "message": {"type": "message", "bot_id": a.bot_id, "text": text, "ts": ts}}),
    ))
}

fn auth_test(a: &Account) -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "ok": true, "url": format!("https://{}.slack.com/", a.domain), "team": a.team,
            "user": a.user, "team_id": a.team_id, "user_id": a.user_id, "bot_id": a.bot_id,
            "is_enterprise_install": false,
        }),
    )
}

fn channel_json(rec: &ChannelRec, a: &Account) -> Value {
    let c = &rec.channel;
    json!({
        "id": c.id, "name": c.name, "name_normalized": c.name, "is_channel": true,
        "is_group": false, "is_im": false, "is_mpim": false, "is_private": c.is_private,
        "created": c.created, "updated": c.created * 1000, "creator": a.user_id,
        "is_archived": c.is_archived, "is_general": c.name == "general", "unlinked": 0,
        "is_shared": false, "is_org_shared": false, "is_ext_shared": false,
        "is_pending_ext_shared": false, "pending_shared": [], "context_team_id": a.team_id,
        "parent_conversation": null, "is_member": c.is_member, "previous_names": [],
        "num_members": 3,
        "topic": {"value": c.topic, "creator": "", "last_set": 0},
        "purpose": {"value": c.purpose, "creator": "", "last_set": 0},
    })
}

fn conversations_list(channels: &[ChannelRec], a: &Account, args: &Args) -> Result<Response, Response> {
    let limit = args.limit(100, 1000)?;
    let (mut public, mut private) = (false, false);
    for t in args.get("types").unwrap_or("public_channel").split(',') {
        match t.trim() {
            "public_channel" => public = true,
            "private_channel" => private = true,
            "im" | "mpim" => {}
            _ => return Err(error("invalid_types")),
        }
    }
    let exclude_archived = truthy(args.get("exclude_archived"));
    let visible: Vec<&ChannelRec> = channels
        .iter()
        .filter(|r| r.team_id == a.team_id)
        .filter(|r| {
            let c = &r.channel;
            (if c.is_private { private && c.is_member } else { public }) && !(exclude_archived && c.is_archived)
        })
        .collect();
    let start = match args.get("cursor") {
        None => 0,
        Some(cursor) => {
            let id = b64_decode(cursor).and_then(|d| d.strip_prefix("team:").map(str::to_owned));
            match id.and_then(|id| visible.iter().position(|r| r.channel.id == id)) {
                Some(i) => i,
                None => return Err(error("invalid_cursor")),
            }
        }
    };
    let page: Vec<Value> = visible.iter().skip(start).take(limit).map(|r| channel_json(r, a)).collect();
    let next_cursor =
        visible.get(start + limit).map(|r| b64_encode(&format!("team:{}", r.channel.id))).unwrap_or_default();
    Ok(json_response(
        StatusCode::OK,
        json!({"ok": true, "channels": page, "response_metadata": {"next_cursor": next_cursor}}),
    ))
}

fn message_json(m: &super::SlackMessage, team_id: &str) -> Value {
    let mut v = json!({"type": "message", "user": m.user, "text": m.text, "ts": m.ts, "team": team_id});
    if let Some(t) = &m.thread_ts {
        v["thread_ts"] = json!(t);
    }
    if let Some(n) = m.reply_count {
        v["reply_count"] = json!(n);
        v["reply_users_count"] = json!(m.reply_users.len());
        v["reply_users"] = json!(m.reply_users.iter().take(5).collect::<Vec<_>>());
        if let Some(parent) = ts_to_micros(&m.ts).filter(|_| n > 0) {
            // The fake keeps no replies: the latest one is said to be a minute after the parent.
            v["latest_reply"] = json!(micros_to_ts(parent + 60_000_000));
        }
    }
    v
}

fn conversations_history(channels: &[ChannelRec], a: &Account, args: &Args) -> Result<Response, Response> {
    let rec = args
        .get("channel")
        .and_then(|id| channels.iter().find(|r| r.channel.id == id && r.team_id == a.team_id))
        .ok_or_else(|| error("channel_not_found"))?;
    if !rec.channel.is_member {
        return Err(error("not_in_channel"));
    }
    let limit = args.limit(100, 999)?;
    let inclusive = truthy(args.get("inclusive"));
    let oldest = match args.get("oldest") {
        None => None,
        Some(v) => Some(ts_to_micros(v).ok_or_else(|| error("invalid_ts_oldest"))?),
    };
    let latest = match args.get("latest") {
        None => None,
        Some(v) => Some(ts_to_micros(v).ok_or_else(|| error("invalid_ts_latest"))?),
    };
    let cursor = match args.get("cursor") {
        None => None,
        Some(c) => {
            let parsed = b64_decode(c).and_then(|d| d.strip_prefix("next_ts:").and_then(|n| n.parse::<u64>().ok()));
            Some(parsed.ok_or_else(|| error("invalid_cursor"))?)
        }
    };
    // Newest first; `oldest` and `latest` are exclusive unless `inclusive`.
    let matching: Vec<&(u64, super::SlackMessage)> = rec
        .messages
        .iter()
        .rev()
        .filter(|(m, _)| match oldest {
            Some(o) if inclusive => *m >= o,
            Some(o) => *m > o,
            None => true,
        })
        .filter(|(m, _)| match latest {
            Some(l) if inclusive => *m <= l,
            Some(l) => *m < l,
            None => true,
        })
        .filter(|(m, _)| cursor.is_none_or(|c| *m <= c))
        .collect();
    let page: Vec<Value> = matching.iter().take(limit).map(|(_, m)| message_json(m, &a.team_id)).collect();
    let next = matching.get(limit).map(|(m, _)| *m);
    let next_cursor =
        next.map(|m| b64_encode(&format!("next_ts:{}", micros_to_ts(m).replace('.', "")))).unwrap_or_default();
    Ok(json_response(
        StatusCode::OK,
        json!({
            "ok": true, "messages": page, "has_more": next.is_some(), "pin_count": 0,
            "channel_actions_ts": null, "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }),
    ))
}
