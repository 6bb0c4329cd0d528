//! The OpenAPI document (`openapi.yaml` at the repository root) stays true to the code.
//!
//! Checked against the running code, never its source text: the route table of the dev-server
//! API (`local_stack::api_routes`) is exactly the documented operations, and each of them
//! answers through the real app (`local_stack::app`, every function's routes on one origin, on
//! the local AWS emulator); secured operations refuse a request without a token; a method a
//! documented path does not list is a 405; the catalog, stats, recommendations, connections,
//! sync runs, items and the agenda answer in their documented shapes (every required member, no
//! undocumented one);
//! the documented problem types are exactly `ProblemType::ALL`, each under its own status; and
//! the documented ids, categories and sync intervals are the ones the code accepts.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use fake_providers::{FakeProviders, Provider};
use integrations::catalog::{AuthMode, Catalog};
use integrations::domain::{Account, ConnectionId, IntegrationId, SyncId, SyncSettings, UserId};
use integrations::http::ProblemType;
use integrations::items::ItemId;
use integrations::store::{ConnectOutcome, NewConnection};
use integrations::sync::{
    EventFields, FileFields, KindFields, MessageFields, PageFields, Record, RecordKind, TaskFields,
};
use integrations::testing::{TEST_JWT_SECRET, TestEnv};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

const DOCUMENT: &str = include_str!("../../../openapi.yaml");

/// The operations that need no bearer token: the OAuth callback, the providers' notifications
/// (verified by their signatures instead) and the dev server's routes.
const UNSECURED: [&str; 5] = [
    "GET /api/v1/integrations/oauth/callback",
    "GET /api/v1/integrations/webhooks/{provider}",
    "GET /web-config.json",
    "POST /api/v1/integrations/webhooks/{provider}",
    "POST /dev/token",
];

const PROBLEM: &str = "#/components/schemas/Problem";

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

fn schema(name: &str) -> &'static Value {
    document().pointer(&format!("/components/schemas/{name}")).unwrap_or_else(|| panic!("no schema {name}"))
}

/// The strings a schema's `enum` lists.
fn listed(schema: &Value) -> Vec<&str> {
    let values = resolve(schema)["enum"].as_array().unwrap_or_else(|| panic!("no enum in {schema}"));
    values.iter().map(|v| v.as_str().expect("string values")).collect()
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
                "automationId" => integrations::domain::AutomationId::parse(example).is_ok(),
                "hookId" => integrations::domain::HookId::parse(example).is_ok(),
                "deliveryId" => integrations::domain::DeliveryId::parse(example).is_ok(),
                "integrationId" => Catalog::get().find(example).is_some(),
                "itemId" => ItemId::parse(example).is_ok(),
                "provider" => integrations::webhooks::PROVIDERS.contains(&example),
                other => panic!("{}: no rule for the path parameter {other}", self.name()),
            };
            assert!(valid, "{}: the example {example:?} of {name} is not one the code accepts", self.name());
            path = path.replace(&format!("{{{name}}}"), example);
        }
        assert!(!path.contains('{'), "{}: a path parameter is not declared", self.name());
        path
    }

    /// The answer against this operation's documentation: its status is documented, its media
    /// type is documented for that status, and its body has the documented shape.
    fn check(&self, answer: &Answer, at: &str, failures: &mut Vec<String>) {
        let (status, body) = (answer.status, &answer.body);
        let Some(response) = self.response(status) else {
            failures.push(format!("{at}: answered {status}, which {} does not document ({body})", self.name()));
            return;
        };
        let Some(media_type) = answer.media_type.as_deref().filter(|_| !body.is_null()) else {
            if response.get("content").is_some() {
                failures.push(format!("{at}: {status} answered without a body, documented with one"));
            }
            return;
        };
        match response.pointer(&format!("/content/{}", media_type.replace('/', "~1"))) {
            None => failures.push(format!("{at}: {status} answered as {media_type}, which is not documented")),
            Some(content) => {
                if let Some(schema) = content.get("schema") {
                    check_shape(schema, body, &format!("{at} {status}"), failures);
                }
            }
        }
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

/// The `type` values a documented problem response allows (`const` or `enum` of `type`, also
/// inside `allOf`), leaving out the shared `Problem` schema, which lists them all.
fn problem_types(schema: &Value) -> Vec<String> {
    if schema["$ref"] == PROBLEM {
        return Vec::new();
    }
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

/// The problem type whose `type` URI this is.
fn problem_type(uri: &str) -> Option<ProblemType> {
    ProblemType::ALL.iter().copied().find(|kind| uri == format!("/problems/{}", kind.slug()))
}

/// One character of a pattern: a class of ranges (a literal is the range of itself), or `\S`.
#[derive(Clone)]
enum Atom {
    Ranges(Vec<(char, char)>),
    NotSpace,
}

impl Atom {
    fn accepts(&self, c: char) -> bool {
        match self {
            Atom::Ranges(ranges) => ranges.iter().any(|(from, to)| (*from..=*to).contains(&c)),
            Atom::NotSpace => !c.is_whitespace(),
        }
    }
}

/// Does `value` match `pattern`? Enough of the regular expression syntax for the document's
/// patterns — `^`, `$`, literals, `\S`, `[…]` classes with ranges, `{n}` — and a panic for
/// anything else, so a new pattern cannot pass unchecked.
fn matches_pattern(pattern: &str, value: &str) -> bool {
    let (anchored_start, rest) = pattern.strip_prefix('^').map_or((false, pattern), |rest| (true, rest));
    let (anchored_end, rest) = rest.strip_suffix('$').map_or((false, rest), |rest| (true, rest));
    let mut atoms: Vec<Atom> = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                let mut ranges = Vec::new();
                loop {
                    let from = chars.next().unwrap_or_else(|| panic!("{pattern}: an unclosed class"));
                    if from == ']' {
                        break;
                    }
                    assert!(from != '\\' && from != '^', "{pattern}: the test does not read `{from}` in a class");
                    let to = if chars.next_if_eq(&'-').is_some() {
                        chars.next().unwrap_or_else(|| panic!("{pattern}: an unclosed range"))
                    } else {
                        from
                    };
                    ranges.push((from, to));
                }
                atoms.push(Atom::Ranges(ranges));
            }
            '\\' => match chars.next() {
                Some('S') => atoms.push(Atom::NotSpace),
                other => panic!("{pattern}: the test does not read the escape {other:?}"),
            },
            '{' => {
                let count: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let count: usize = count.parse().unwrap_or_else(|_| panic!("{pattern}: the test reads only {{n}}"));
                let atom = atoms.pop().unwrap_or_else(|| panic!("{pattern}: {{n}} repeats nothing"));
                atoms.extend(std::iter::repeat_n(atom, count));
            }
            '(' | ')' | '|' | '*' | '+' | '?' | '.' => panic!("{pattern}: the test does not read `{c}`"),
            literal => atoms.push(Atom::Ranges(vec![(literal, literal)])),
        }
    }
    let value: Vec<char> = value.chars().collect();
    let fits_at = |start: usize| {
        value.len() >= start + atoms.len() && atoms.iter().zip(&value[start..]).all(|(atom, c)| atom.accepts(*c))
    };
    let last_start = value.len().saturating_sub(atoms.len());
    match (anchored_start, anchored_end) {
        (true, true) => value.len() == atoms.len() && fits_at(0),
        (true, false) => fits_at(0),
        (false, true) => fits_at(last_start),
        (false, false) => (0..=last_start).any(fits_at),
    }
}

/// The value against a documented schema: JSON types, `const`/`enum`, `pattern`, bounds,
/// required members, and no member that neither the schema nor a part of its `allOf`
/// documents (unless one of them allows `additionalProperties`; leaving it out means `false`).
/// Recurses into `allOf`/`oneOf`, members and array items; enough to keep the document's
/// shapes honest without a validator.
fn check_shape(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    check_schema(schema, value, at, true, errors);
}

/// The `properties` of a schema and of the parts of its `allOf`, and whether one of them
/// allows any other member.
fn documented_members(schema: &Value) -> (BTreeSet<&str>, Option<&Value>) {
    let schema = resolve(schema);
    let mut names: BTreeSet<&str> =
        schema.get("properties").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k.as_str()).collect();
    let mut extra = schema.get("additionalProperties").filter(|a| *a != false);
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        let (part_names, part_extra) = documented_members(part);
        names.extend(part_names);
        extra = extra.or(part_extra);
    }
    (names, extra)
}

fn check_schema(schema: &Value, value: &Value, at: &str, judge_members: bool, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        check_schema(part, value, at, false, errors);
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let fitting = choices.iter().filter(|choice| {
            let mut choice_errors = Vec::new();
            check_shape(choice, value, at, &mut choice_errors);
            choice_errors.is_empty()
        });
        let fitting = fitting.count();
        if fitting != 1 {
            errors.push(format!("{at}: fits {fitting} of the documented `oneOf` choices, not one: {value}"));
        }
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
    if let (Some(pattern), Some(text)) = (schema.get("pattern").and_then(Value::as_str), value.as_str())
        && !matches_pattern(pattern, text)
    {
        errors.push(format!("{at}: {value} does not match the documented pattern {pattern}"));
    }
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema.get("minimum").and_then(Value::as_f64).filter(|m| number < *m) {
            errors.push(format!("{at}: {value} is below the documented minimum {minimum}"));
        }
        if let Some(maximum) = schema.get("maximum").and_then(Value::as_f64).filter(|m| number > *m) {
            errors.push(format!("{at}: {value} is above the documented maximum {maximum}"));
        }
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
            // A `oneOf` judges the members in the choice that fits.
            let judge_members = judge_members && schema.get("oneOf").is_none();
            let (documented, extra) = documented_members(schema);
            for (name, member) in members {
                let at = format!("{at}.{name}");
                match (properties.and_then(|p| p.get(name)), extra) {
                    (Some(member_schema), _) => check_shape(member_schema, member, &at, errors),
                    (None, _) if !judge_members || documented.contains(name.as_str()) => {}
                    (None, Some(extra)) if extra.is_object() => check_shape(extra, member, &at, errors),
                    (None, Some(_)) => {}
                    (None, None) => errors.push(format!("{at}: answered but not documented")),
                }
            }
        }
        Value::Array(items) => {
            let count = items.len() as u64;
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64).filter(|min| count < *min) {
                errors.push(format!("{at}: {count} items, documented at least {min}"));
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64).filter(|max| count > *max) {
                errors.push(format!("{at}: {count} items, documented at most {max}"));
            }
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
    /// A test environment with a sync queue, served.
    async fn start() -> Stack {
        Stack::serve(Stack::env().await).await
    }

    async fn env() -> TestEnv {
        let mut env = TestEnv::new().await;
        env.add_queues(5).await;
        env
    }

    async fn serve(env: TestEnv) -> Stack {
        // Dev tokens from POST /dev/token are signed with the secret the state verifies.
        let app = local_stack::app(|f| env.state_for(f), SecretString::from(TEST_JWT_SECRET), None);
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

    /// Sends `method path` with the token, and checks the answer against the documentation of
    /// the operation `method documented` (`path` is `documented` with its parameters filled in).
    async fn call(
        &self,
        (method, documented): (Method, &str),
        path: &str,
        token: &str,
        body: Option<Value>,
        failures: &mut Vec<String>,
    ) -> Answer {
        let op = operation(method.clone(), documented);
        let answer = self.send(method.clone(), path, Some(token), body).await;
        op.check(&answer, &format!("{method} {path}"), failures);
        answer
    }

    async fn dev_token(&self, user: &str, plan: &str) -> String {
        let body = json!({ "userId": user, "plan": plan });
        let answer = self.send(Method::POST, "/dev/token", None, Some(body)).await;
        assert_eq!(answer.status, 200, "POST /dev/token: {}", answer.body);
        answer.body["token"].as_str().expect("a token").to_owned()
    }

    /// Stores a connection directly, as a connect would have.
    async fn insert_connection(&self, user: &str, integration: &str) -> ConnectionId {
        let connection_id = ConnectionId::generate();
        let outcome = self
            .env
            .state
            .store
            .insert_connection(NewConnection {
                user_id: UserId::parse(user).unwrap(),
                connection_id: connection_id.clone(),
                integration_id: IntegrationId::parse(integration).unwrap(),
                auth_kind: AuthMode::ApiKey,
                secret_id: "unused".into(),
                credential_hint: "••••oken".into(),
                account: Account { id: "member-1".into(), name: "Ada".into(), workspace: Some("Boards".into()) },
                display_name: format!("Ada's {integration}"),
                settings: SyncSettings::default(),
                plan: integrations::domain::Plan::Free,
                connection_limit: None,
            })
            .await
            .expect("the connection is stored");
        assert!(matches!(outcome, ConnectOutcome::Created(_)));
        connection_id
    }
}

/// Fails with every failure at once, after the test's AWS resources are cleaned up.
async fn finish(env: TestEnv, failures: Vec<String>) {
    env.cleanup().await;
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn the_routes_the_app_serves_are_exactly_the_documented_operations() {
    let env = TestEnv::new().await;
    let routes = local_stack::api_routes(|f| env.state_for(f), SecretString::from(TEST_JWT_SECRET));
    let served: Vec<String> = routes.table().iter().map(|(method, path)| format!("{method} {path}")).collect();
    let served_set: BTreeSet<String> = served.iter().cloned().collect();
    let documented: BTreeSet<String> = operations().iter().map(Operation::name).collect();
    env.cleanup().await;

    assert_eq!(served.len(), served_set.len(), "a route is served twice: {served:?}");
    let undocumented: Vec<&String> = served_set.difference(&documented).collect();
    let unserved: Vec<&String> = documented.difference(&served_set).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}; in openapi.yaml but not served: {unserved:?}"
    );
}

#[tokio::test]
async fn every_documented_operation_answers_and_only_the_callback_and_dev_routes_go_without_a_token() {
    let stack = Stack::start().await;
    let mut failures = Vec::new();
    let mut unsecured = Vec::new();
    for op in operations() {
        let name = op.name();
        let answer = stack.send(op.method.clone(), &op.sample_path(), None, None).await;
        let (status, body) = (answer.status, &answer.body);
        let fallback = (status == 404 && body["detail"] == "There is no such resource.")
            || (status == 405 && body["type"] == "/problems/method-not-allowed");
        if fallback {
            failures.push(format!("{name}: not routed, the app's fallback answered ({status} {body})"));
            continue;
        }
        op.check(&answer, &format!("{name} without a token"), &mut failures);
        if op.is_secured() {
            let refused = status == 401
                && answer.media_type.as_deref() == Some("application/problem+json")
                && body["type"] == "/problems/unauthorized";
            if !refused {
                failures.push(format!("{name}: without a token expected a 401 problem, got {status} {body}"));
            }
        } else {
            unsecured.push(name.clone());
            // A provider's notification is verified by its signature: unsigned, it is a 401.
            let signed = op.spec["tags"].as_array().is_some_and(|tags| tags.contains(&json!("webhooks")));
            if status == 401 && !signed {
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
async fn the_catalog_stats_recommendations_connections_and_sync_runs_answer_in_their_documented_shapes() {
    let fakes = FakeProviders::start().await;
    fakes.state().seed_demo();
    let mut env = Stack::env().await;
    env.use_provider("trello", fakes.base_url(Provider::Trello));
    let stack = Stack::serve(env).await;
    let user = "openapi-ada";
    let token = stack.dev_token(user, "free").await;
    let mut failures = Vec::new();

    let connect = json!({
        "integrationId": "trello",
        "credentials": { "apiKey": fake_providers::demo::TRELLO_KEY, "token": fake_providers::demo::TRELLO_TOKEN },
        "settings": { "displayName": "Team boards", "autoSync": true, "syncIntervalMinutes": 30 },
    });
    let created = stack
        .call(
            (Method::POST, "/api/v1/integrations/connect"),
            "/api/v1/integrations/connect",
            &token,
            Some(connect),
            &mut failures,
        )
        .await;
    assert_eq!(created.status, 201, "POST /connect: {}", created.body);
    let id = created.body["connectionId"].as_str().expect("a connection id").to_owned();
    assert_eq!(created.body["canSync"], true, "a Trello connection can sync: {}", created.body);

    let connection = "/api/v1/integrations/{connectionId}";
    let rename = json!({ "displayName": "Boards", "syncIntervalMinutes": 15 });
    let renamed = stack
        .call((Method::PATCH, connection), &format!("/api/v1/integrations/{id}"), &token, Some(rename), &mut failures)
        .await;
    assert_eq!(renamed.status, 200, "PATCH: {}", renamed.body);

    let sync = "/api/v1/integrations/{connectionId}/sync";
    let queued =
        stack.call((Method::POST, sync), &format!("/api/v1/integrations/{id}/sync"), &token, None, &mut failures).await;
    assert_eq!(queued.status, 202, "POST /sync: {}", queued.body);
    let sync_id = queued.body["syncId"].as_str().expect("a sync id").to_owned();

    let reads = [
        ("/api/v1/integrations/available", "/api/v1/integrations/available".to_owned()),
        ("/api/v1/integrations/available", "/api/v1/integrations/available?category=task-management".to_owned()),
        ("/api/v1/integrations/available/{integrationId}", "/api/v1/integrations/available/slack".to_owned()),
        ("/api/v1/integrations/available/{integrationId}", "/api/v1/integrations/available/zapier".to_owned()),
        ("/api/v1/integrations/stats", "/api/v1/integrations/stats".to_owned()),
        ("/api/v1/integrations/recommendations", "/api/v1/integrations/recommendations".to_owned()),
        ("/api/v1/integrations/connected", "/api/v1/integrations/connected".to_owned()),
        (connection, format!("/api/v1/integrations/{id}")),
        (connection, format!("/api/v1/integrations/{}", id.to_lowercase())),
        ("/api/v1/integrations/{connectionId}/syncs", format!("/api/v1/integrations/{id}/syncs")),
        ("/api/v1/integrations/{connectionId}/syncs/{syncId}", format!("/api/v1/integrations/{id}/syncs/{sync_id}")),
        ("/api/v1/integrations/audit", "/api/v1/integrations/audit".to_owned()),
        (
            "/api/v1/integrations/audit",
            format!("/api/v1/integrations/audit?connectionId={id}&action=connected&limit=5"),
        ),
        ("/api/v1/integrations/plan", "/api/v1/integrations/plan".to_owned()),
        ("/api/v1/integrations/export", "/api/v1/integrations/export".to_owned()),
    ];
    for (documented, path) in reads {
        let answer = stack.call((Method::GET, documented), &path, &token, None, &mut failures).await;
        if answer.status != 200 {
            failures.push(format!("GET {path}: expected 200, got {} {}", answer.status, answer.body));
        }
        if documented.ends_with("/connected") && answer.body["connections"].as_array().map_or(0, Vec::len) != 1 {
            failures.push(format!("GET {path}: the connection is not listed: {}", answer.body));
        }
        if documented.ends_with("/audit") && answer.body["entries"].as_array().map_or(0, Vec::len) == 0 {
            failures.push(format!("GET {path}: the connect is not in the audit trail: {}", answer.body));
        }
        if documented.ends_with("/syncs") && answer.body["syncs"].as_array().map_or(0, Vec::len) != 1 {
            failures.push(format!("GET {path}: the queued run is not listed: {}", answer.body));
        }
    }
    let available = stack.send(Method::GET, "/api/v1/integrations/available", Some(&token), None).await;
    assert_eq!(
        available.body["syncIntervals"],
        json!(SyncSettings::intervals()),
        "GET /available tells the intervals the code accepts"
    );

    let me = "/api/v1/integrations/me";
    let deleted = stack.call((Method::DELETE, me), me, &token, None, &mut failures).await;
    assert_eq!(deleted.status, 200, "DELETE /me: {}", deleted.body);

    let token_answer = stack.send(Method::POST, "/dev/token", None, Some(json!({ "userId": user }))).await;
    operation(Method::POST, "/dev/token").check(&token_answer, "POST /dev/token", &mut failures);
    fakes.shutdown().await;
    finish(stack.env, failures).await;
}

#[tokio::test]
async fn the_items_and_the_agenda_answer_in_their_documented_shapes() {
    let stack = Stack::start().await;
    let user = "openapi-katherine";
    let token = stack.dev_token(user, "free").await;
    let mut failures = Vec::new();

    // One record of each kind, as the sync worker writes them, where the agenda shows them:
    // tasks due on a day (one overdue), an all-day event, a mention and a file changed by
    // someone else.
    let now = integrations::store::attrs::now();
    let today = now.date_naive();
    let (tomorrow, yesterday) = (today.succ_opt().expect("a tomorrow"), today.pred_opt().expect("a yesterday"));
    let (after_tomorrow, before_yesterday) = (tomorrow.succ_opt().unwrap(), yesterday.pred_opt().unwrap());
    let record =
        |kind: RecordKind, id: &str, due_at: Option<String>, fields: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut data = serde_json::Map::new();
            fields(&mut data);
            Record {
                kind,
                external_id: id.into(),
                title: format!("A {} for the week", kind.as_str()),
                url: Some(format!("https://example.test/{id}")),
                container: Some("Operations".into()),
                status: Some("open".into()),
                due_at,
                updated_at: Some(now),
                data,
            }
        };
    let records = [
        record(RecordKind::Task, "t1", Some(tomorrow.to_string()), &|d| {
            TaskFields { labels: vec!["budget".into()], ..Default::default() }.write(d)
        }),
        record(RecordKind::Task, "t2", Some(before_yesterday.to_string()), &|d| TaskFields::default().write(d)),
        record(RecordKind::Event, "e1", Some(after_tomorrow.to_string()), &|d| {
            EventFields { attendee_count: 3, ..Default::default() }.write(d)
        }),
        record(RecordKind::Message, "m1", None, &|d| {
            MessageFields { mentions_me: true, ..Default::default() }.write(d)
        }),
        record(RecordKind::File, "f1", None, &|d| {
            FileFields { last_modified_by: Some("Grace".into()), ..Default::default() }.write(d)
        }),
        record(RecordKind::Page, "p1", None, &|d| PageFields::default().write(d)),
    ];
    stack
        .env
        .state
        .store
        .upsert_records(
            &UserId::parse(user).unwrap(),
            &ConnectionId::generate(),
            &IntegrationId::parse("trello").unwrap(),
            &SyncId::generate(),
            &records,
            false,
        )
        .await
        .expect("the records are stored");

    let items = "/api/v1/integrations/items";
    let listed = stack.call((Method::GET, items), items, &token, None, &mut failures).await;
    let listed = listed.body["items"].as_array().cloned().unwrap_or_default();
    if listed.len() != records.len() {
        failures.push(format!("GET {items}: {} items, {} stored", listed.len(), records.len()));
    }
    let due = format!("{items}?kind=task&dueFrom={before_yesterday}&dueTo={after_tomorrow}&sort=due&limit=1");
    let page = stack.call((Method::GET, items), &due, &token, None, &mut failures).await;
    if page.body["nextCursor"].is_null() {
        failures.push(format!("GET {due}: two tasks are due this week, one a page: {}", page.body));
    }
    for item in &listed {
        let id = item["itemId"].as_str().unwrap_or_default();
        let path = format!("{items}/{id}");
        let one =
            stack.call((Method::GET, "/api/v1/integrations/items/{itemId}"), &path, &token, None, &mut failures).await;
        if one.status != 200 || one.body != *item {
            failures.push(format!("GET {path}: expected the listed item, got {} {}", one.status, one.body));
        }
    }
    let agenda = stack
        .call(
            (Method::GET, "/api/v1/integrations/agenda"),
            "/api/v1/integrations/agenda?days=7&tz=Europe/Paris",
            &token,
            None,
            &mut failures,
        )
        .await;
    let in_agenda = ["tasks", "meetings", "mentions", "files"].map(|list| {
        agenda.body["days"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|day| day[list].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    });
    if in_agenda.contains(&0) || agenda.body["overdue"].as_array().is_none_or(Vec::is_empty) {
        failures.push(format!(
            "GET /agenda: expected a task, a meeting, a mention, a file and an overdue task: {}",
            agenda.body
        ));
    }
    finish(stack.env, failures).await;
}

#[tokio::test]
async fn a_connection_that_cannot_sync_answers_409_nothing_to_sync_as_documented() {
    let stack = Stack::start().await;
    let user = "openapi-grace";
    let token = stack.dev_token(user, "premium").await;
    let mut failures = Vec::new();
    // A Zapier connection only receives posts: it has nothing to sync.
    let id = stack.insert_connection(user, "zapier").await;
    let connection = "/api/v1/integrations/{connectionId}";

    let read =
        stack.call((Method::GET, connection), &format!("/api/v1/integrations/{id}"), &token, None, &mut failures).await;
    assert_eq!((read.status, &read.body["canSync"]), (200, &json!(false)), "GET: {}", read.body);

    let hook = "https://hooks.zapier.com/hooks/catch/123456/abcdef/";
    let refusals = [
        (Method::PATCH, connection, format!("/api/v1/integrations/{id}"), Some(json!({ "autoSync": true }))),
        (Method::POST, "/api/v1/integrations/{connectionId}/sync", format!("/api/v1/integrations/{id}/sync"), None),
        (
            Method::POST,
            "/api/v1/integrations/connect",
            "/api/v1/integrations/connect".to_owned(),
            Some(json!({
                "integrationId": "zapier",
                "credentials": { "webhookUrl": hook },
                "settings": { "autoSync": true },
            })),
        ),
    ];
    for (method, documented, path, body) in refusals {
        let answer = stack.call((method.clone(), documented), &path, &token, body, &mut failures).await;
        if (answer.status, &answer.body["type"]) != (409, &json!("/problems/nothing-to-sync")) {
            failures
                .push(format!("{method} {path}: expected 409 nothing-to-sync, got {} {}", answer.status, answer.body));
        }
    }
    finish(stack.env, failures).await;
}

#[test]
fn the_documented_problem_types_are_exactly_the_problem_types_of_the_code() {
    let documented: Vec<&str> = listed(&schema("Problem")["properties"]["type"]);
    let unique: BTreeSet<&str> = documented.iter().copied().collect();
    assert_eq!(unique.len(), documented.len(), "Problem.type lists a type twice: {documented:?}");
    let code: BTreeSet<String> = ProblemType::ALL.iter().map(|kind| format!("/problems/{}", kind.slug())).collect();
    assert_eq!(code.len(), ProblemType::ALL.len(), "two problem types share a slug");
    let code: BTreeSet<&str> = code.iter().map(String::as_str).collect();
    let undocumented: Vec<&&str> = code.difference(&unique).collect();
    let unknown: Vec<&&str> = unique.difference(&code).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "ProblemType has {undocumented:?}, which Problem.type does not list; Problem.type lists {unknown:?}, \
         which ProblemType does not have"
    );
}

#[test]
fn every_error_response_is_a_problem_whose_types_have_its_status() {
    let mut checked = 0;
    for op in operations() {
        for status in op.documented_statuses().into_iter().filter(|s| *s >= 400) {
            let name = format!("{} {status}", op.name());
            let response = op.response(status).expect("documented");
            let schema = response.pointer("/content/application~1problem+json/schema");
            let schema = schema.unwrap_or_else(|| panic!("{name}: not documented as application/problem+json"));
            let refers_to_problem = schema["$ref"] == PROBLEM
                || schema["allOf"].as_array().into_iter().flatten().any(|p| p["$ref"] == PROBLEM);
            assert!(refers_to_problem, "{name}: the schema does not build on the shared Problem");
            let types = problem_types(schema);
            assert!(!types.is_empty(), "{name}: the problem types are not listed");
            for uri in types {
                let kind = problem_type(&uri).unwrap_or_else(|| panic!("{name}: `{uri}` is not a ProblemType"));
                assert_eq!(
                    kind.status().as_u16(),
                    status,
                    "{name}: lists `{uri}`, which the code answers with {}",
                    kind.status()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 50, "only {checked} problem types checked");
}

#[test]
fn the_documented_ids_categories_and_intervals_are_those_the_code_accepts() {
    let catalog = Catalog::get();
    let ids: Vec<&str> = catalog.integrations().iter().map(|i| i.id.as_str()).collect();
    assert_eq!(listed(schema("IntegrationId")), ids, "IntegrationId lists the catalog's integrations");
    let categories: Vec<&str> = catalog.categories().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(listed(schema("CategoryId")), categories, "CategoryId lists the catalog's categories");

    // Every path and body id is the schema that says what the code accepts.
    let parameters = &document()["components"]["parameters"];
    assert_eq!(parameters["ConnectionId"]["schema"]["$ref"], "#/components/schemas/UlidInput");
    assert_eq!(parameters["SyncId"]["schema"]["$ref"], "#/components/schemas/UlidInput");
    assert_eq!(parameters["IntegrationId"]["schema"]["$ref"], "#/components/schemas/IntegrationId");
    assert_eq!(parameters["Category"]["schema"]["$ref"], "#/components/schemas/CategoryId");
    the_connect_request_of_each_integration_is_its_catalog_entry(catalog);

    // The ULID patterns against the parser, one character at a time: each position of a real
    // id replaced by every printable ASCII character, in both cases, and the wrong lengths.
    let accepted = schema("UlidInput")["pattern"].as_str().expect("a pattern");
    let answered = schema("Ulid")["pattern"].as_str().expect("a pattern");
    let id = ConnectionId::generate().to_string();
    let mut samples = vec![id.clone(), id.to_lowercase(), id[1..].to_owned(), format!("{id}0")];
    for at in 0..id.len() {
        for c in '!'..='~' {
            samples.push(format!("{}{c}{}", &id[..at], &id[at + 1..]));
        }
    }
    for sample in &samples {
        let parsed = ConnectionId::parse(sample);
        assert_eq!(matches_pattern(accepted, sample), parsed.is_ok(), "UlidInput and ConnectionId on {sample:?}");
        assert_eq!(
            matches_pattern(accepted, sample),
            SyncId::parse(sample).is_ok(),
            "UlidInput and SyncId on {sample:?}"
        );
        if let Ok(parsed) = parsed {
            assert!(matches_pattern(answered, parsed.as_str()), "Ulid does not match the id {parsed} as answered");
        }
    }

    // A whole number (JSON's 15.0 is one too); in a request, null is the same as leaving it out.
    let whole = [("SyncSettings", json!("integer")), ("SettingsInput", json!(["integer", "null"]))];
    for (name, kind) in whole {
        let interval = &schema(name)["properties"]["syncIntervalMinutes"];
        assert_eq!(interval["type"], kind, "{name}.syncIntervalMinutes");
        assert_eq!(interval["minimum"], SyncSettings::MIN_INTERVAL_MINUTES, "{name}.syncIntervalMinutes minimum");
        assert_eq!(interval["maximum"], SyncSettings::MAX_INTERVAL_MINUTES, "{name}.syncIntervalMinutes maximum");
    }

    // The agenda's time zones are exactly the names the service's tz database knows.
    let zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    assert_eq!(listed(schema("TimeZone")), zones, "TimeZone lists the tz database's names");

    // The dev token's user ids: the pattern against the parser.
    let user = schema("DevTokenRequest")["properties"]["userId"]["pattern"].as_str().expect("a pattern");
    let user = regex_lite::Regex::new(user).expect("the userId pattern compiles");
    let mut samples: Vec<String> = (' '..='~').map(|c| format!("ada{c}")).collect();
    samples.extend(["", "a", "é", "ada|x"].map(str::to_owned));
    samples.extend([128, 129].map(|n| "a".repeat(n)));
    for sample in &samples {
        assert_eq!(user.is_match(sample), UserId::parse(sample).is_ok(), "userId pattern and UserId on {sample:?}");
    }
}

/// `ConnectRequest` is one schema per integration, in the catalog's order: its id, its
/// credential fields with the catalog's patterns (all required), credentials required when it
/// connects only with them and none when it only signs in, and the same optional members.
fn the_connect_request_of_each_integration_is_its_catalog_entry(catalog: &Catalog) {
    let branches = schema("ConnectRequest")["oneOf"].as_array().expect("ConnectRequest is a oneOf");
    assert_eq!(branches.len(), catalog.integrations().len(), "one ConnectRequest schema per integration");
    for (branch, integration) in branches.iter().zip(catalog.integrations()) {
        let branch = resolve(branch);
        let id = integration.id.as_str();
        let members = &branch["properties"];
        assert_eq!(members["integrationId"]["const"], id, "the schemas follow the catalog's order");
        assert_eq!(branch["additionalProperties"], false, "{id}");
        let (key, sign_in) = (integration.supports(AuthMode::ApiKey), integration.supports(AuthMode::Oauth2));
        let required: Vec<&str> = listed_in(&branch["required"]);
        let expected: &[&str] = if key && !sign_in { &["integrationId", "credentials"] } else { &["integrationId"] };
        assert_eq!(required, expected, "{id}: required members");
        let credentials = &members["credentials"];
        if key {
            assert_eq!(credentials["type"], json!(["object", "null"]), "{id}");
            assert_eq!(credentials["additionalProperties"], false, "{id}");
            let names: Vec<&str> = integration.credential_fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(listed_in(&credentials["required"]), names, "{id}: every credential field is required");
            let documented = credentials["properties"].as_object().expect("credential fields");
            assert_eq!(documented.len(), names.len(), "{id}: only the catalog's credential fields");
            for field in &integration.credential_fields {
                let member = &documented[&field.name];
                assert_eq!(member["pattern"], field.pattern.as_str(), "{id}.{}: the catalog's pattern", field.name);
                assert_eq!(member["maxLength"], 2048, "{id}.{}: the longest credential value", field.name);
            }
        } else {
            assert_eq!(credentials["type"], "null", "{id} takes no credentials");
        }
        let either = |member: &str, reference: &str| {
            assert_eq!(
                members[member]["anyOf"],
                json!([{ "$ref": format!("#/components/schemas/{reference}") }, { "type": "null" }]),
                "{id}.{member}"
            );
        };
        either("connectionId", "UlidInput");
        either("settings", "SettingsInput");
        either("returnUrl", "ReturnUrl");
    }
}

fn listed_in(list: &Value) -> Vec<&str> {
    list.as_array().expect("a list").iter().map(|v| v.as_str().expect("a string")).collect()
}

#[test]
fn the_test_reads_the_patterns_of_the_document_as_regular_expressions_do() {
    assert!(matches_pattern("^[0-7][0-9A-C]{2}$", "7AB"));
    assert!(!matches_pattern("^[0-7][0-9A-C]{2}$", "8AB"));
    assert!(!matches_pattern("^[0-7][0-9A-C]{2}$", "7ABC"));
    assert!(!matches_pattern("^[0-7][0-9A-C]{2}$", "7D0"));
    assert!(matches_pattern(r"\S", "  x "));
    assert!(!matches_pattern(r"\S", "   "));
    assert!(matches_pattern("b", "abc") && !matches_pattern("^b", "abc") && matches_pattern("c$", "abc"));
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
    for reference in &found {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{reference} points at nothing");
    }
    for name in doc["components"]["schemas"].as_object().expect("schemas").keys() {
        let reference = format!("#/components/schemas/{name}");
        assert!(found.contains(&reference.as_str()), "the schema {name} is not used");
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
