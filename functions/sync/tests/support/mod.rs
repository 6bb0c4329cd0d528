//! What the sync tests share beyond the provider fakes: a Trello board too large to seed into
//! the fake, a proxy that makes a fake ignore its paging parameters or hold a request, and a
//! look at what a user's partition holds.

// Each test file includes this module with `mod support;` and so compiles it into its own test
// binary: a helper that one file does not use would be reported as dead code in that binary.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use integrations::testing::TestEnv;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    url
}

/// A Trello API with one open board of `cards` cards, made as they are asked for (the fake's
/// seeding of that many takes minutes). Cards page newest first by id, with `before` and
/// `limit`, as Trello's do. Any credential is accepted. Returns the base URL.
pub async fn large_trello_board(cards: u64) -> String {
    const BOARD: &str = "5f0000000000000000000001";
    const LIST: &str = "5f0000000000000000000002";
    let card_id = |n: u64| format!("{n:024x}");
    let boards = || async { axum::Json(json!([{ "id": BOARD, "name": "Everything", "dateLastActivity": null }])) };
    let board =
        || async { axum::Json(json!({ "id": BOARD, "lists": [{ "id": LIST, "name": "To do" }], "members": [] })) };
    let page = move |Query(query): Query<Vec<(String, String)>>| async move {
        let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let limit: u64 = param("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
        let below = param("before").and_then(|b| u64::from_str_radix(&b, 16).ok()).unwrap_or(cards + 1);
        let newest = below.saturating_sub(1).min(cards);
        let page: Vec<Value> = (1..=newest)
            .rev()
            .take(limit as usize)
            .map(|n| {
                json!({
                    "id": card_id(n), "name": format!("Card {n}"), "desc": "", "idList": LIST, "idMembers": [],
                    "due": null, "dueComplete": false, "closed": false, "labels": [],
                    "url": format!("https://trello.com/c/{n}"), "dateLastActivity": "2026-01-01T00:00:00.000Z",
                })
            })
            .collect();
        axum::Json(Value::Array(page))
    };
    let app = Router::new()
        .route("/1/members/me/boards", get(boards))
        .route("/1/boards/{id}", get(board))
        .route("/1/boards/{id}/cards", get(page));
    serve(app).await
}

/// What a proxy does to the requests whose path starts with `path`: `parameter` is left out of
/// the query and of a JSON body, so the provider behind answers as if it had not been sent.
#[derive(Debug, Clone, Copy)]
pub struct Ignore {
    pub path: &'static str,
    pub parameter: &'static str,
}

/// A proxy in front of the provider fakes at `upstream` (same paths): drops the paging
/// parameters it is told to ignore, puts its own address in place of the fake's in answers (so
/// next-page links lead back through it), and can hold requests until the test lets them go.
pub struct Proxy {
    pub url: String,
    shared: Arc<Shared>,
}

/// Which requests (by the URL they are sent on to) a proxy holds.
type Matcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

struct Shared {
    upstream: String,
    url: Mutex<String>,
    ignore: Vec<Ignore>,
    http: reqwest::Client,
    hold: Mutex<Option<Matcher>>,
    held: Notify,
    gate: Semaphore,
}

impl Proxy {
    pub async fn start(upstream: String, ignore: Vec<Ignore>) -> Proxy {
        let shared = Arc::new(Shared {
            upstream,
            url: Mutex::new(String::new()),
            ignore,
            http: integrations::providers::http_client(),
            hold: Mutex::new(None),
            held: Notify::new(),
            gate: Semaphore::new(0),
        });
        let url = serve(Router::new().fallback(forward).with_state(shared.clone())).await;
        *shared.url.lock().unwrap() = url.clone();
        Proxy { url, shared }
    }

    /// From now on, requests whose path and query satisfy `matches` wait until [`Proxy::release`].
    pub fn hold(&self, matches: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *self.shared.hold.lock().unwrap() = Some(Box::new(matches));
    }

    /// Waits until a request is being held.
    pub async fn held(&self) {
        self.shared.held.notified().await;
    }

    /// Lets every held request (and those to come) through.
    pub fn release(&self) {
        *self.shared.hold.lock().unwrap() = None;
        self.shared.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let ignored: Vec<&str> = shared.ignore.iter().filter(|i| path.starts_with(i.path)).map(|i| i.parameter).collect();
    let is_ignored = |key: &str| ignored.iter().any(|p| *p == key || *p == key.replace("%24", "$"));
    let query: Vec<&str> = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_ignored(pair.split('=').next().unwrap_or_default()))
        .collect();
    let target = format!("{}{path}?{}", shared.upstream, query.join("&"));
    let held = shared.hold.lock().unwrap().as_ref().is_some_and(|matches| matches(&target));
    if held {
        shared.held.notify_one();
        let _pass = shared.gate.acquire().await.expect("the gate stays open");
    }
    let (parts, body) = request.into_parts();
    let mut body = axum::body::to_bytes(body, usize::MAX).await.expect("request body").to_vec();
    if let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&body)
        && ignored.iter().any(|p| fields.contains_key(*p))
    {
        fields.retain(|name, _| !ignored.contains(&name.as_str()));
        body = serde_json::to_vec(&fields).unwrap();
    }
    let mut headers = parts.headers.clone();
    headers.remove(HOST);
    headers.remove(CONTENT_LENGTH);
    let answer = shared.http.request(parts.method, &target).headers(headers).body(body).send().await;
    let answer = answer.expect("the fake answers");
    let status = answer.status();
    let content_type = answer.headers().get(CONTENT_TYPE).cloned();
    let own_url = shared.url.lock().unwrap().clone();
    let text = answer.text().await.expect("the fake's answer").replace(&shared.upstream, &own_url);
    let mut response = (status, Body::from(text)).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

/// The sort keys of every item in a user's partition, read consistently.
pub async fn partition_keys(env: &TestEnv, user: &str) -> Vec<String> {
    let items = env
        .dynamo()
        .query()
        .table_name(&env.table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user}")))
        .projection_expression("SK")
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    items
        .into_iter()
        .map(|item| item.expect("query").get("SK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default())
        .collect()
}

/// How many items of a user's partition have a sort key starting with `prefix`.
pub async fn count_items(env: &TestEnv, user: &str, prefix: &str) -> usize {
    let mut count = 0;
    let mut start = None;
    loop {
        let out = env
            .dynamo()
            .query()
            .table_name(&env.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user}")))
            .expression_attribute_values(":prefix", aws_sdk_dynamodb::types::AttributeValue::S(prefix.into()))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("count");
        count += out.count() as usize;
        match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return count,
        }
    }
}
