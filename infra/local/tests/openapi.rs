//! The OpenAPI document (`openapi.yaml` at the repository root) stays true to the code.
//!
//! Checked against the real dev-server app (`local_stack::app`, every function's routes on one
//! origin) on the local AWS emulator: every documented operation is routed and every route is
//! documented; secured operations refuse a request without a token; a method a documented path
//! does not list is a 405; the catalog, stats, recommendations and connections answer in their
//! documented shapes; and every documented problem `type` is one the code can produce.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use integrations::catalog::{AuthMode, Catalog};
use integrations::domain::{Account, ConnectionId, IntegrationId, SyncId, SyncSettings, UserId};
use integrations::store::{ConnectOutcome, NewConnection};
use integrations::testing::{TEST_JWT_SECRET, TestEnv};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

const DOCUMENT: &str = include_str!("../../../openapi.yaml");

/// Where the problem kinds of `POST /connect` come from: its error mapping, and the shared
/// extractors and helpers (token, JSON body, `not_found`, `unavailable`).
const CONNECTIONS_RS: &str = include_str!("../../../shared/src/connections.rs");
const HTTP_RS: &str = include_str!("../../../shared/src/http/mod.rs");

/// Every source that builds a problem some route can answer.
const PROBLEM_SOURCES: [&str; 7] = [
    CONNECTIONS_RS,
    HTTP_RS,
    include_str!("../../../shared/src/sync/trigger.rs"),
    include_str!("../../../functions/catalog/src/lib.rs"),
    include_str!("../../../functions/connections/src/lib.rs"),
    include_str!("../../../functions/sync/src/api.rs"),
    include_str!("../src/lib.rs"),
];

/// The sources that declare routes: the three functions' routers and the dev server's own.
const ROUTE_SOURCES: [(&str, &str); 4] = [
    ("functions/catalog/src/lib.rs", include_str!("../../../functions/catalog/src/lib.rs")),
    ("functions/connections/src/lib.rs", include_str!("../../../functions/connections/src/lib.rs")),
    ("functions/sync/src/api.rs", include_str!("../../../functions/sync/src/api.rs")),
    ("infra/local/src/lib.rs", include_str!("../src/lib.rs")),
];

/// The operations that need no bearer token: the OAuth callback and the dev server's routes.
const UNSECURED: [&str; 3] = ["GET /api/v1/integrations/oauth/callback", "GET /web-config.json", "POST /dev/token"];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_yaml::from_str(DOCUMENT).expect("openapi.yaml is valid YAML"))
}

/// Follows a local `$ref` (`#/components/...`), as often as it takes.
fn resolve(value: &Value) -> &Value {
    let mut value = value;
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} is not a local reference"));
        value = document().pointer(pointer).unwrap_or_else(|| panic!("{reference} points at nothing"));
    }
    value
}

struct Operation {
    method: Method,
    path: &'static str,
    spec: &'static Value,
    /// Parameters of the path item and of the operation, resolved.
    parameters: Vec<&'static Value>,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Secured unless the operation (or else the document) asks for no security requirement.
    fn is_secured(&self) -> bool {
        let security = self.spec.get("security").or_else(|| document().get("security"));
        security.and_then(Value::as_array).is_some_and(|requirements| !requirements.is_empty())
    }

    fn response(&self, status: u16) -> Option<&'static Value> {
        self.spec["responses"].get(status.to_string()).map(resolve)
    }

    fn documented_statuses(&self) -> Vec<u16> {
        let responses = self.spec["responses"].as_object().expect("responses");
        responses.keys().map(|code| code.parse().unwrap_or_else(|_| panic!("{}: status {code}", self.name()))).collect()
    }

    /// The path with each `{parameter}` replaced by the parameter's documented example, which
    /// must be what the code accepts: a ULID for connection and sync ids, a catalog id for
    /// integrations.
    fn sample_path(&self) -> String {
        let mut path = self.path.to_owned();
        for parameter in self.parameters.iter().filter(|p| p["in"] == "path") {
            let name = parameter["name"].as_str().expect("parameter name");
            let example = parameter["example"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: path parameter {name} needs an example", self.name()));
            let valid = match name {
                "connectionId" => ConnectionId::parse(example).is_ok(),
                "syncId" => SyncId::parse(example).is_ok(),
                "integrationId" => Catalog::get().find(example).is_some(),
                other => panic!("{}: no rule for the path parameter {other}", self.name()),
            };
            assert!(valid, "{}: the example {example:?} of {name} is not one the code accepts", self.name());
            path = path.replace(&format!("{{{name}}}"), example);
        }
        assert!(!path.contains('{'), "{}: a path parameter is not declared", self.name());
        path
    }
}

fn operations() -> Vec<Operation> {
    let paths = document()["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        let shared: Vec<&Value> = item.get("parameters").and_then(Value::as_array).into_iter().flatten().collect();
        for method in METHODS {
            let Some(spec) = item.get(method) else { continue };
            let own = spec.get("parameters").and_then(Value::as_array).into_iter().flatten();
            operations.push(Operation {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method"),
                path,
                spec,
                parameters: shared.iter().copied().chain(own).map(resolve).collect(),
            });
        }
    }
    operations
}

fn operation(method: Method, path: &str) -> Operation {
    operations()
        .into_iter()
        .find(|op| op.method == method && op.path == path)
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
}

/// The `type` values a documented problem schema allows (`const` or `enum` of `type`, also
/// inside `allOf`).
fn problem_types(schema: &Value) -> Vec<String> {
    let schema = resolve(schema);
    let mut types = Vec::new();
    if let Some(member) = schema.pointer("/properties/type") {
        let member = resolve(member);
        types.extend(member.get("const").and_then(Value::as_str).map(str::to_owned));
        let listed = member.get("enum").and_then(Value::as_array).into_iter().flatten();
        types.extend(listed.filter_map(Value::as_str).map(str::to_owned));
    }
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        types.extend(problem_types(part));
    }
    types
}

fn kind_of(problem_type: &str) -> &str {
    problem_type.strip_prefix("/problems/").unwrap_or_else(|| panic!("{problem_type} is not /problems/{{kind}}"))
}

/// Does the kind occur as a string literal in one of the sources?
fn kind_in(sources: &[&str], kind: &str) -> bool {
    sources.iter().any(|source| source.contains(&format!("\"{kind}\"")))
}

/// The value against a documented schema: JSON types, `const`/`enum`, required members, and no
/// member the schema does not document (unless it allows `additionalProperties`). Recurses into
/// members and array items; enough to keep the document's shapes honest without a validator.
fn check_shape(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        check_shape(part, value, at, errors);
    }
    if let Some(declared) = schema.get("type") {
        let allowed: Vec<&str> = match declared {
            Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        let matches = |t: &str| match t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("{at}: unknown JSON type {other}"),
        };
        if !allowed.iter().any(|t| matches(t)) {
            errors.push(format!("{at}: documented as {allowed:?}, answered {value}"));
            return;
        }
    }
    if let Some(constant) = schema.get("const").filter(|c| *c != value) {
        errors.push(format!("{at}: documented as {constant}, answered {value}"));
    }
    if let Some(listed) = schema.get("enum").and_then(Value::as_array).filter(|listed| !listed.contains(value)) {
        errors.push(format!("{at}: {value} is not one of the documented {}", Value::Array(listed.clone())));
    }
    match value {
        Value::Object(members) => {
            for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let name = required.as_str().expect("required names");
                if !members.contains_key(name) {
                    errors.push(format!("{at}: the required member `{name}` is missing"));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let in_all_of = |name: &str| {
                let parts = schema.get("allOf").and_then(Value::as_array).into_iter().flatten();
                parts.map(resolve).any(|part| part.pointer(&format!("/properties/{name}")).is_some())
            };
            for (name, member) in members {
                let at = format!("{at}.{name}");
                match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                    (Some(member_schema), _) => check_shape(member_schema, member, &at, errors),
                    (None, Some(Value::Bool(true))) => {}
                    (None, Some(extra @ Value::Object(_))) => check_shape(extra, member, &at, errors),
                    (None, _) if in_all_of(name) => {}
                    (None, _) => errors.push(format!("{at}: answered but not documented")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_shape(item_schema, item, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// The dev-server app on a free port, on this test's own table and secrets prefix.
struct Stack {
    env: TestEnv,
    url: String,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    media_type: Option<String>,
    body: Value,
}

impl Stack {
    async fn start() -> Stack {
        let env = TestEnv::new().await;
        // Dev tokens from POST /dev/token are signed with the secret the state verifies.
        let app = local_stack::app(env.state.clone(), SecretString::from(TEST_JWT_SECRET), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the app serves") });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
        Stack { env, url, http }
    }

    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the app answers");
        let status = response.status().as_u16();
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned());
        let bytes = response.bytes().await.expect("a body");
        let body = match serde_json::from_slice(&bytes) {
            Ok(json) => json,
            Err(_) if bytes.is_empty() => Value::Null,
            Err(_) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        };
        Answer { status, media_type, body }
    }

    async fn dev_token(&self, user: &str) -> String {
        let answer = self.send(Method::POST, "/dev/token", None, Some(json!({ "userId": user }))).await;
        assert_eq!(answer.status, 200, "POST /dev/token: {}", answer.body);
        answer.body["token"].as_str().expect("a token").to_owned()
    }
}

/// Fails with every failure at once, after the test's AWS resources are cleaned up.
async fn finish(env: TestEnv, failures: Vec<String>) {
    env.cleanup().await;
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_only_the_callback_and_dev_routes_go_without_a_token() {
    let stack = Stack::start().await;
    let mut failures = Vec::new();
    let mut unsecured = Vec::new();
    for op in operations() {
        let name = op.name();
        let answer = stack.send(op.method.clone(), &op.sample_path(), None, None).await;
        let (status, body) = (answer.status, &answer.body);
        if status == 405 || (status == 404 && body["detail"] == "There is no such resource.") {
            failures.push(format!("{name}: not routed ({status} {body})"));
            continue;
        }
        match op.response(status) {
            None => failures.push(format!("{name}: answered {status}, which is not documented ({body})")),
            Some(response) => {
                let documented = response.get("content").and_then(Value::as_object);
                if let Some(media_type) = answer.media_type.as_deref().filter(|_| !body.is_null())
                    && !documented.is_some_and(|content| content.contains_key(media_type))
                {
                    failures.push(format!("{name}: {status} answered as {media_type}, which is not documented"));
                }
            }
        }
        if op.is_secured() {
            let refused = status == 401
                && answer.media_type.as_deref() == Some("application/problem+json")
                && body["type"] == "/problems/unauthorized";
            if !refused {
                failures.push(format!("{name}: without a token expected a 401 problem, got {status} {body}"));
            }
        } else {
            unsecured.push(name.clone());
            if status == 401 {
                failures.push(format!("{name}: documented without security, but answered 401"));
            }
            let is_dev = op.spec["tags"].as_array().is_some_and(|tags| tags.contains(&json!("dev")));
            if is_dev == op.path.starts_with("/api/") {
                failures.push(format!("{name}: the `dev` tag is for exactly the dev server's own routes"));
            }
        }
    }
    unsecured.sort();
    if unsecured != UNSECURED {
        failures.push(format!("the operations without a token are {unsecured:?}, expected {UNSECURED:?}"));
    }
    finish(stack.env, failures).await;
}

#[tokio::test]
async fn a_method_that_a_documented_path_does_not_list_is_answered_405() {
    let stack = Stack::start().await;
    let mut failures = Vec::new();
    let operations = operations();
    let paths: BTreeSet<&str> = operations.iter().map(|op| op.path).collect();
    // HEAD is left out: a GET route answers HEAD too, as HTTP asks.
    let probes = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];
    for path in paths {
        let listed: Vec<&Operation> = operations.iter().filter(|op| op.path == path).collect();
        let sample = listed[0].sample_path();
        for method in probes.iter().filter(|m| !listed.iter().any(|op| op.method == **m)) {
            let answer = stack.send(method.clone(), &sample, None, None).await;
            let is_405_problem = answer.status == 405
                && answer.media_type.as_deref() == Some("application/problem+json")
                && answer.body["type"] == "/problems/method-not-allowed";
            if !is_405_problem {
                failures
                    .push(format!("{method} {path}: expected a 405 problem, got {} {}", answer.status, answer.body));
            }
        }
    }
    finish(stack.env, failures).await;
}

#[tokio::test]
async fn the_catalog_stats_recommendations_and_connections_answer_in_their_documented_shapes() {
    let stack = Stack::start().await;
    let user = "openapi-ada";
    let token = stack.dev_token(user).await;
    let connection_id = ConnectionId::generate();
    let outcome = stack
        .env
        .state
        .store
        .insert_connection(NewConnection {
            user_id: UserId::parse(user).unwrap(),
            connection_id: connection_id.clone(),
            integration_id: IntegrationId::parse("trello").unwrap(),
            auth_kind: AuthMode::ApiKey,
            secret_id: "unused".into(),
            credential_hint: "••••oken".into(),
            account: Account { id: "member-1".into(), name: "Ada".into(), workspace: Some("Boards".into()) },
            display_name: "Team boards".into(),
            settings: SyncSettings { auto_sync: true, sync_interval_minutes: 60 },
            connection_limit: None,
        })
        .await
        .expect("the connection is stored");
    assert!(matches!(outcome, ConnectOutcome::Created(_)));

    let reads = [
        ("/api/v1/integrations/available", "/api/v1/integrations/available".to_owned()),
        ("/api/v1/integrations/available", "/api/v1/integrations/available?category=task-management".to_owned()),
        ("/api/v1/integrations/available/{integrationId}", "/api/v1/integrations/available/slack".to_owned()),
        ("/api/v1/integrations/stats", "/api/v1/integrations/stats".to_owned()),
        ("/api/v1/integrations/recommendations", "/api/v1/integrations/recommendations".to_owned()),
        ("/api/v1/integrations/connected", "/api/v1/integrations/connected".to_owned()),
        ("/api/v1/integrations/{connectionId}", format!("/api/v1/integrations/{connection_id}")),
        ("/api/v1/integrations/{connectionId}/syncs", format!("/api/v1/integrations/{connection_id}/syncs")),
    ];
    let mut failures = Vec::new();
    for (documented, path) in reads {
        let op = operation(Method::GET, documented);
        let answer = stack.send(Method::GET, &path, Some(&token), None).await;
        if answer.status != 200 {
            failures.push(format!("GET {path}: expected 200, got {} {}", answer.status, answer.body));
            continue;
        }
        let schema = op.response(200).and_then(|r| r.pointer("/content/application~1json/schema"));
        let schema = schema.unwrap_or_else(|| panic!("GET {documented}: no documented JSON 200"));
        check_shape(schema, &answer.body, &format!("GET {path}"), &mut failures);
        if documented.ends_with("/connected") && answer.body["connections"].as_array().map_or(0, Vec::len) != 1 {
            failures.push(format!("GET {path}: the stored connection is not listed: {}", answer.body));
        }
    }

    let token_answer = stack.send(Method::POST, "/dev/token", None, Some(json!({ "userId": user }))).await;
    let schema = operation(Method::POST, "/dev/token")
        .response(200)
        .and_then(|r| r.pointer("/content/application~1json/schema"));
    check_shape(schema.expect("a documented 200"), &token_answer.body, "POST /dev/token", &mut failures);
    finish(stack.env, failures).await;
}

#[test]
fn every_problem_kind_documented_for_connect_is_one_the_code_produces() {
    let connect = operation(Method::POST, "/api/v1/integrations/connect");
    let mut checked = 0;
    for status in connect.documented_statuses().into_iter().filter(|s| *s >= 400) {
        let response = connect.response(status).expect("documented");
        let schema = response.pointer("/content/application~1problem+json/schema");
        let schema = schema.unwrap_or_else(|| panic!("POST /connect {status}: not documented as problem+json"));
        let types = problem_types(schema);
        assert!(!types.is_empty(), "POST /connect {status}: the problem kinds are not listed");
        for problem_type in types {
            let kind = kind_of(&problem_type);
            assert!(
                kind_in(&[CONNECTIONS_RS, HTTP_RS], kind),
                "POST /connect {status}: `{kind}` occurs neither in shared/src/connections.rs nor in shared/src/http.rs"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} kinds documented for POST /connect");
}

#[test]
fn every_problem_kind_that_connect_can_produce_is_documented_for_connect() {
    let start = CONNECTIONS_RS.find("impl From<ConnectError> for Problem").expect("the connect error mapping");
    let block = &CONNECTIONS_RS[start..];
    let block = &block[..block.find("\n}\n").expect("the end of the mapping")];
    // String literals alternate with the code between them: a kind is a lower-case literal
    // followed directly by the title literal, as in `Problem::conflict("coming-soon", "Not …"`.
    let pieces: Vec<&str> = block.split('"').collect();
    let mut kinds: BTreeSet<&str> = (1..pieces.len().saturating_sub(2))
        .step_by(2)
        .filter(|&i| pieces[i + 1].trim() == ",")
        .map(|i| pieces[i])
        .filter(|literal| !literal.is_empty() && literal.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect();
    for (helper, kind) in [("Problem::not_found(", "not-found"), ("Problem::unavailable(", "unavailable")] {
        if block.contains(helper) {
            kinds.insert(kind);
        }
    }
    // What the route adds around the mapping: the token and the JSON body extractor.
    kinds.extend(["unauthorized", "malformed-json", "invalid-body", "unsupported-media-type"]);
    assert!(kinds.len() >= 15, "the mapping was not read: {kinds:?}");

    let connect = operation(Method::POST, "/api/v1/integrations/connect");
    let documented: BTreeSet<String> = connect
        .documented_statuses()
        .into_iter()
        .filter_map(|status| connect.response(status)?.pointer("/content/application~1problem+json/schema"))
        .flat_map(problem_types)
        .map(|t| kind_of(&t).to_owned())
        .collect();
    let missing: Vec<&&str> = kinds.iter().filter(|kind| !documented.contains(**kind)).collect();
    assert!(missing.is_empty(), "POST /connect can answer {missing:?}, which openapi.yaml does not document");
}

#[test]
fn every_error_response_is_a_problem_whose_kinds_the_code_produces() {
    for op in operations() {
        for status in op.documented_statuses().into_iter().filter(|s| *s >= 400) {
            let name = format!("{} {status}", op.name());
            let response = op.response(status).expect("documented");
            let schema = response.pointer("/content/application~1problem+json/schema");
            let schema = schema.unwrap_or_else(|| panic!("{name}: not documented as application/problem+json"));
            let refers_to_problem = schema.get("$ref").is_some_and(|r| r == "#/components/schemas/Problem")
                || schema["allOf"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["$ref"] == "#/components/schemas/Problem");
            assert!(refers_to_problem, "{name}: the schema does not build on the shared Problem");
            let types = problem_types(schema);
            assert!(!types.is_empty(), "{name}: the problem kinds are not listed");
            for problem_type in types {
                let kind = kind_of(&problem_type);
                assert!(kind_in(&PROBLEM_SOURCES, kind), "{name}: no code produces the kind `{kind}`");
            }
        }
    }
}

#[test]
fn the_routes_in_the_code_are_exactly_the_documented_operations() {
    let mut routed = BTreeSet::new();
    for (file, source) in ROUTE_SOURCES {
        let mut rest = source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap_or_else(|| panic!("{file}: an unclosed .route("));
            let call = &rest[..end];
            let (path, handlers) = call
                .trim_start()
                .strip_prefix('"')
                .and_then(|c| c.split_once('"'))
                .unwrap_or_else(|| panic!("{file}: a .route( without a literal path"));
            let mut methods = Vec::new();
            for method in ["get", "post", "put", "patch", "delete"] {
                let pattern = format!("{method}(");
                let called = handlers
                    .match_indices(&pattern)
                    .any(|(i, _)| !handlers[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
                if called {
                    methods.push(method);
                }
            }
            assert!(!methods.is_empty(), "{file}: no method for {path}");
            for method in methods {
                routed.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let documented: BTreeSet<String> = operations().iter().map(Operation::name).collect();
    assert_eq!(routed, documented, "the routes of the code (left) and the operations of openapi.yaml (right)");
}

#[test]
fn the_document_is_openapi_3_1_and_every_operation_is_described_and_every_reference_resolves() {
    let doc = document();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "openapi: {}", doc["openapi"]);
    assert!(DOCUMENT.starts_with("# openapi.yaml"), "the document starts with a comment saying what it is");

    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(members) => {
                found.extend(members.get("$ref").and_then(Value::as_str));
                members.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    references(doc, &mut found);
    for reference in found {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{reference} points at nothing");
    }

    let mut ids = BTreeSet::new();
    for op in operations() {
        let name = op.name();
        for member in ["summary", "operationId"] {
            assert!(op.spec[member].as_str().is_some_and(|s| !s.is_empty()), "{name}: no {member}");
        }
        assert!(ids.insert(op.spec["operationId"].as_str().unwrap()), "{name}: operationId used twice");
        assert!(op.spec["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tag");
        for parameter in &op.parameters {
            assert!(parameter["schema"].is_object(), "{name}: parameter {} has no schema", parameter["name"]);
            if parameter["in"] == "path" {
                assert!(op.path.contains(&format!("{{{}}}", parameter["name"].as_str().unwrap())));
            }
        }
        op.sample_path();
        if op.is_secured() {
            assert!(op.response(401).is_some(), "{name}: a secured operation documents its 401");
        }
        if op.spec.get("requestBody").is_some() {
            let content = op.spec["requestBody"]["content"].as_object().expect("request content");
            assert!(content.contains_key("application/json"), "{name}: the body is JSON");
        }
    }
}
