//! The connections function through its router (`oneshot`), against the emulator and a fake
//! Trello: the rules of connect and every kind of bad input.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use fake_providers::{FakeProviders, Provider};
use http_body_util::BodyExt;
use integrations::config::Function;
use integrations::domain::Plan;
use integrations::testing::TestEnv;
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = fake_providers::demo::TRELLO_KEY;
const TOKEN: &str = fake_providers::demo::TRELLO_TOKEN;

struct App {
    env: TestEnv,
    router: Router,
    fakes: FakeProviders,
    seed: fake_providers::demo::DemoSeed,
}

impl App {
    async fn start() -> App {
        let fakes = FakeProviders::start().await;
        let seed = fakes.state().seed_demo();
        let mut env = TestEnv::new().await;
        env.use_provider("trello", fakes.base_url(Provider::Trello));
        let router = connections::router(env.state_for(Function::Connections));
        App { env, router, fakes, seed }
    }

    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Body::from(body.unwrap_or_default().to_owned())).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let is_problem = response.headers().get("content-type").is_some_and(|v| v == "application/problem+json");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        if status.is_client_error() || status.is_server_error() {
            assert!(is_problem, "{status} must be problem+json: {value}");
            assert_eq!(value["status"], status.as_u16(), "{value}");
        }
        (status, value)
    }

    fn token(&self, user: &str) -> String {
        self.env.token(user, Plan::Free)
    }

    async fn connect_trello(&self, user: &str, key: &str, token: &str) -> (StatusCode, Value) {
        let body = json!({ "integrationId": "trello", "credentials": { "apiKey": key, "token": token } });
        self.call(Method::POST, "/api/v1/integrations/connect", Some(&self.token(user)), Some(&body.to_string())).await
    }
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_401() {
    let app = App::start().await;
    let (status, body) = app.call(Method::GET, "/api/v1/integrations/connected", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "/problems/unauthorized");
    let (status, _) = app.call(Method::GET, "/api/v1/integrations/connected", Some("not.a.jwt"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.env.cleanup().await;
}

#[tokio::test]
async fn trello_connects_lists_changes_and_disconnects_with_its_secret() {
    let app = App::start().await;
    let (status, created) = app.connect_trello("ada", KEY, TOKEN).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["connectionId"].as_str().unwrap().to_owned();
    assert_eq!(created["account"]["id"], app.seed.trello_member_id.as_str(), "the member the token belongs to");
    assert!(!created.to_string().contains(TOKEN), "no secret in responses");
    assert_eq!(created["credentialHint"], format!("••••{}", &TOKEN[TOKEN.len() - 4..]));
    assert_eq!(app.env.secret_names().await.len(), 1);

    let token = app.token("ada");
    let (status, listed) = app.call(Method::GET, "/api/v1/integrations/connected", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["connections"][0]["connectionId"], id.as_str());

    let path = format!("/api/v1/integrations/{id}");
    let patch = json!({ "displayName": "Team boards", "autoSync": true, "syncIntervalMinutes": 30 }).to_string();
    let (status, changed) = app.call(Method::PATCH, &path, Some(&token), Some(&patch)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["displayName"], "Team boards");
    assert_eq!(changed["settings"]["syncIntervalMinutes"], 30);
    assert!(changed["nextSyncAt"].is_string());

    let (status, _) = app.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(app.env.secret_names().await.is_empty(), "the secret is deleted");
    let audit =
        app.env.state.store.audit_entries(&integrations::domain::UserId::parse("ada").unwrap(), 10).await.unwrap();
    let actions: Vec<_> = audit.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["connected", "settings_changed", "disconnected"]);
    drop(app.fakes);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_token_trello_rejects_is_422_and_nothing_is_stored() {
    let app = App::start().await;
    let (status, body) = app.connect_trello("ada", KEY, "0000000000000000wrongtoken").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["type"], "/problems/credential-rejected");
    assert!(app.env.secret_names().await.is_empty());
    let (_, listed) = app.call(Method::GET, "/api/v1/integrations/connected", Some(&app.token("ada")), None).await;
    assert_eq!(listed["connections"], json!([]));
    app.env.cleanup().await;
}

#[tokio::test]
async fn the_same_trello_account_twice_is_409_naming_the_first_connection() {
    let app = App::start().await;
    let (_, first) = app.connect_trello("ada", KEY, TOKEN).await;
    let (status, body) = app.connect_trello("ada", KEY, TOKEN).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["connectionId"], first["connectionId"]);
    assert_eq!(app.env.secret_names().await.len(), 1, "the refused connect left no secret");
    app.env.cleanup().await;
}

#[tokio::test]
async fn integrations_that_are_not_open_to_the_caller_are_refused_with_the_reason() {
    let app = App::start().await;
    let token = app.token("ada");
    let connect = |body: Value| {
        let token = token.clone();
        let app = &app;
        async move { app.call(Method::POST, "/api/v1/integrations/connect", Some(&token), Some(&body.to_string())).await }
    };
    let (status, body) = connect(json!({"integrationId": "asana", "credentials": {"token": "0/abcdef123456"}})).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::CONFLICT, Some("/problems/coming-soon")));
    let hook = "https://hooks.zapier.com/hooks/catch/123/abcdef/";
    let (status, body) = connect(json!({"integrationId": "zapier", "credentials": {"webhookUrl": hook}})).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/premium-required")));
    let (status, body) = connect(json!({"integrationId": "google-calendar"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = connect(json!({"integrationId": "nope", "credentials": {}})).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/problems/unknown-integration"))
    );
    let (status, body) = connect(json!({"integrationId": "trello", "credentials": {"apiKey": "short"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["apiKey", "token"]);
    assert!(app.env.secret_names().await.is_empty());

    // Premium users may connect Zapier.
    let premium = app.env.token("ada", Plan::Premium);
    let body = json!({"integrationId": "zapier", "credentials": {"webhookUrl": hook}}).to_string();
    let (status, created) = app.call(Method::POST, "/api/v1/integrations/connect", Some(&premium), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    app.env.cleanup().await;
}

#[tokio::test]
async fn the_free_plan_stops_at_three_connections() {
    let app = App::start().await;
    let token = app.token("ada");
    for n in 0..3 {
        let url = format!("https://contoso.webhook.office.com/webhookb2/channel-{n}/IncomingWebhook/x/y");
        let body = json!({"integrationId": "microsoft-teams", "credentials": {"webhookUrl": url}}).to_string();
        let (status, created) = app.call(Method::POST, "/api/v1/integrations/connect", Some(&token), Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let (status, body) = app.connect_trello("ada", KEY, TOKEN).await;
    assert_eq!((status, body["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/plan-limit-reached")));
    assert_eq!(app.env.secret_names().await.len(), 3);
    app.env.cleanup().await;
}

#[tokio::test]
async fn bad_bodies_paths_routes_and_methods_are_problems_not_500s() {
    let app = App::start().await;
    let token = app.token("ada");
    let t = Some(token.as_str());
    let cases: [(Method, &str, Option<&str>, StatusCode); 10] = [
        (Method::POST, "/api/v1/integrations/connect", Some("{not json"), StatusCode::BAD_REQUEST),
        (Method::POST, "/api/v1/integrations/connect", Some("[]"), StatusCode::UNPROCESSABLE_ENTITY),
        (
            Method::POST,
            "/api/v1/integrations/connect",
            Some(r#"{"integrationId":"trello","credentials":{},"extra":1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (Method::GET, "/api/v1/integrations/not-a-ulid", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/integrations/01HV5Z4K9Q8W2X3Y4Z5A6B7C8D", None, StatusCode::NOT_FOUND),
        (Method::DELETE, "/api/v1/integrations/01HV5Z4K9Q8W2X3Y4Z5A6B7C8D", None, StatusCode::NOT_FOUND),
        (
            Method::PATCH,
            "/api/v1/integrations/01HV5Z4K9Q8W2X3Y4Z5A6B7C8D",
            Some(r#"{"syncIntervalMinutes":-5}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (Method::GET, "/api/v1/nothing-here", None, StatusCode::NOT_FOUND),
        (Method::PUT, "/api/v1/integrations/connected", None, StatusCode::METHOD_NOT_ALLOWED),
        (Method::GET, "/api/v1/integrations/connect", None, StatusCode::METHOD_NOT_ALLOWED),
    ];
    for (method, path, body, expected) in cases {
        let (status, problem) = app.call(method.clone(), path, t, body).await;
        assert_eq!(status, expected, "{method} {path} {body:?}: {problem}");
    }
    // Without a content type the body is refused as not JSON.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/integrations/connect")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from("{}"))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    app.env.cleanup().await;
}

#[tokio::test]
async fn another_users_connection_is_invisible() {
    let app = App::start().await;
    let (_, created) = app.connect_trello("ada", KEY, TOKEN).await;
    let path = format!("/api/v1/integrations/{}", created["connectionId"].as_str().unwrap());
    let mallory = app.token("mallory");
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = app.call(method, &path, Some(&mallory), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = app.call(Method::PATCH, &path, Some(&mallory), Some(r#"{"displayName":"mine"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app.call(Method::GET, "/api/v1/integrations/connected", Some(&mallory), None).await;
    assert_eq!(listed["connections"], json!([]));
    assert_eq!(app.env.secret_names().await.len(), 1, "ada's secret is untouched");
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_webhook_connection_is_never_offered_auto_sync() {
    let app = App::start().await;
    let token = app.token("ada");
    let webhook = "https://contoso.webhook.office.com/webhookb2/a/IncomingWebhook/b/c";
    let with_auto_sync = json!({
        "integrationId": "microsoft-teams",
        "credentials": { "webhookUrl": webhook },
        "settings": { "autoSync": true },
    });
    let (status, problem) =
        app.call(Method::POST, "/api/v1/integrations/connect", Some(&token), Some(&with_auto_sync.to_string())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/nothing-to-sync");
    assert!(app.env.secret_names().await.is_empty(), "nothing was stored");

    let plain = json!({ "integrationId": "microsoft-teams", "credentials": { "webhookUrl": webhook } });
    let (status, conn) =
        app.call(Method::POST, "/api/v1/integrations/connect", Some(&token), Some(&plain.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{conn}");
    assert_eq!(conn["canSync"], false);
    assert_eq!(conn["settings"]["autoSync"], false);

    let path = format!("/api/v1/integrations/{}", conn["connectionId"].as_str().unwrap());
    let (status, problem) = app.call(Method::PATCH, &path, Some(&token), Some(r#"{"autoSync": true}"#)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "/problems/nothing-to-sync");
    let (status, renamed) =
        app.call(Method::PATCH, &path, Some(&token), Some(r#"{"displayName": "Ops channel"}"#)).await;
    assert_eq!(status, StatusCode::OK, "other settings still change: {renamed}");
    assert_eq!(renamed["settings"]["autoSync"], false);

    let (_, trello) = app.connect_trello("ada", KEY, TOKEN).await;
    assert_eq!(trello["canSync"], true);
    app.env.cleanup().await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413_problem_and_nothing_is_stored() {
    let app = App::start().await;
    let token = app.token("ada");
    let huge = json!({ "integrationId": "trello", "credentials": { "apiKey": "x".repeat(70 * 1024), "token": TOKEN } });
    let (status, problem) =
        app.call(Method::POST, "/api/v1/integrations/connect", Some(&token), Some(&huge.to_string())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_eq!(problem["type"], "/problems/payload-too-large");
    assert!(app.env.secret_names().await.is_empty());
    app.env.cleanup().await;
}

#[tokio::test]
async fn connects_do_not_share_the_global_counter_in_their_transaction() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = App::start().await;
    // Every user's connect of an integration once changed one STATS item in its transaction, so
    // concurrent connects conflicted. Now it is counted after the commit: a counter that cannot
    // be written (here, not a number) does not stop the connect.
    app.env
        .dynamo()
        .put_item()
        .table_name(&app.env.table)
        .item("PK", AttributeValue::S("STATS".into()))
        .item("SK", AttributeValue::S("INTEGRATION#trello".into()))
        .item("connections", AttributeValue::S("not a number".into()))
        .send()
        .await
        .unwrap();
    let (status, body) = app.connect_trello("ada", KEY, TOKEN).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    app.env
        .dynamo()
        .delete_item()
        .table_name(&app.env.table)
        .key("PK", AttributeValue::S("STATS".into()))
        .key("SK", AttributeValue::S("INTEGRATION#trello".into()))
        .send()
        .await
        .unwrap();
    let id = body["connectionId"].as_str().unwrap();
    let (status, _) =
        app.call(Method::DELETE, &format!("/api/v1/integrations/{id}"), Some(&app.token("ada")), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.connect_trello("bob", KEY, TOKEN).await;
    assert_eq!(status, StatusCode::CREATED);
    let counters = app.env.state.store.integration_counters().await.unwrap();
    let trello: Vec<_> = counters.iter().filter(|c| c.integration_id == "trello").collect();
    assert_eq!(trello.len(), 1);
    assert_eq!(trello[0].connections, 0, "-1 for Ada's disconnect, +1 for Bob's connect");
    app.env.cleanup().await;
}

/// Sets attributes of a stored connection directly, as another process would have left them.
async fn set_on_connection(app: &App, user: &str, id: &str, expression: &str, values: &[(&str, &str)]) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut update = app
        .env
        .dynamo()
        .update_item()
        .table_name(&app.env.table)
        .key("PK", AttributeValue::S(format!("USER#{user}")))
        .key("SK", AttributeValue::S(format!("CONN#{id}")))
        .update_expression(expression)
        .expression_attribute_names("#status", "status");
    for (k, v) in values {
        update = update.expression_attribute_values(*k, AttributeValue::S((*v).to_owned()));
    }
    update.send().await.unwrap();
}

async fn reconnect_trello(app: &App, user: &str, id: &str) -> (StatusCode, Value) {
    let body =
        json!({ "integrationId": "trello", "connectionId": id, "credentials": { "apiKey": KEY, "token": TOKEN } });
    app.call(Method::POST, "/api/v1/integrations/connect", Some(&app.token(user)), Some(&body.to_string())).await
}

#[tokio::test]
async fn a_connection_being_disconnected_cannot_be_reconnected() {
    let app = App::start().await;
    let (_, created) = app.connect_trello("ada", KEY, TOKEN).await;
    let id = created["connectionId"].as_str().unwrap();
    set_on_connection(&app, "ada", id, "SET #status = :s", &[(":s", "disconnecting")]).await;
    let (status, body) = reconnect_trello(&app, "ada", id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["type"], "/problems/disconnecting");
    let user = integrations::domain::UserId::parse("ada").unwrap();
    let c = app.env.state.store.get_connection(&user, &integrations::domain::ConnectionId::parse(id).unwrap()).await;
    assert_eq!(c.unwrap().status, integrations::domain::ConnectionStatus::Disconnecting);
    // The DELETE that was under way finishes.
    let (status, _) =
        app.call(Method::DELETE, &format!("/api/v1/integrations/{id}"), Some(&app.token("ada")), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.env.cleanup().await;
}

#[tokio::test]
async fn reconnecting_a_refused_connection_clears_its_stale_run_whatever_its_schedule() {
    let app = App::start().await;
    let stale = integrations::domain::SyncId::generate().to_string();
    let user = integrations::domain::UserId::parse("ada").unwrap();
    for auto_sync in [false, true] {
        let (_, created) = app.connect_trello("ada", KEY, TOKEN).await;
        let id = created["connectionId"].as_str().unwrap().to_owned();
        if auto_sync {
            let patch = json!({ "autoSync": true }).to_string();
            let path = format!("/api/v1/integrations/{id}");
            assert_eq!(app.call(Method::PATCH, &path, Some(&app.token("ada")), Some(&patch)).await.0, StatusCode::OK);
        }
        // A run ended on the provider's refusal left its claim behind.
        let set = "SET #status = :s, syncInFlight = :run";
        set_on_connection(&app, "ada", &id, set, &[(":s", "needs_reauth"), (":run", &stale)]).await;
        let (status, body) = reconnect_trello(&app, "ada", &id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "active");
        assert!(body.get("syncInFlight").is_none(), "autoSync={auto_sync}: {body}");
        let conn = integrations::domain::ConnectionId::parse(&id).unwrap();
        let stored = app.env.state.store.get_connection(&user, &conn).await.unwrap();
        assert_eq!(stored.sync_in_flight, None, "autoSync={auto_sync}");
        let path = format!("/api/v1/integrations/{id}");
        assert_eq!(app.call(Method::DELETE, &path, Some(&app.token("ada")), None).await.0, StatusCode::NO_CONTENT);
    }

    // An active connection keeps the run it has in flight.
    let (_, created) = app.connect_trello("ada", KEY, TOKEN).await;
    let id = created["connectionId"].as_str().unwrap().to_owned();
    let set = "SET #status = :s, syncInFlight = :run";
    set_on_connection(&app, "ada", &id, set, &[(":s", "active"), (":run", &stale)]).await;
    let (status, body) = reconnect_trello(&app, "ada", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["syncInFlight"], stale.as_str());
    app.env.cleanup().await;
}

#[tokio::test]
async fn premium_stops_at_fifty_connections_with_a_429_that_says_when_to_retry() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = App::start().await;
    app.env
        .dynamo()
        .put_item()
        .table_name(&app.env.table)
        .item("PK", AttributeValue::S("USER#ada".into()))
        .item("SK", AttributeValue::S("PROFILE".into()))
        .item("connectionCount", AttributeValue::N("50".into()))
        .send()
        .await
        .unwrap();
    let body = json!({ "integrationId": "trello", "credentials": { "apiKey": KEY, "token": TOKEN } }).to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/integrations/connect")
        .header("authorization", format!("Bearer {}", app.env.token("ada", Plan::Premium)))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(problem["type"], "/problems/too-many-connections");
    assert_eq!(problem["limit"], 50);
    assert!(app.env.secret_names().await.is_empty());
    app.env.cleanup().await;
}

#[tokio::test]
async fn callers_with_identity_provider_subjects_connect_and_get_valid_secret_names() {
    let app = App::start().await;
    for subject in ["auth0|abc123", "google-oauth2|1234"] {
        let (status, body) = app.connect_trello(subject, KEY, TOKEN).await;
        assert_eq!(status, StatusCode::CREATED, "{subject}: {body}");
    }
    // Secrets Manager names allow letters, digits and / _ + = . @ - only.
    let names = app.env.secret_names().await;
    assert_eq!(names.len(), 2);
    for name in names {
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)), "{name}");
    }
    let (status, listed) =
        app.call(Method::GET, "/api/v1/integrations/connected", Some(&app.token("auth0|abc123")), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["connections"].as_array().unwrap().len(), 1, "each subject sees its own");
    app.env.cleanup().await;
}

/// Found by schemathesis (infra/local/scripts/contract.sh): requests that openapi.yaml calls
/// invalid were accepted because the path they took did not use the invalid part.
#[tokio::test]
async fn what_a_connect_does_not_use_is_still_checked_and_a_body_is_always_a_json_object() {
    let app = App::start().await;
    let token = app.token("ada");
    let t = Some(token.as_str());
    let webhook = "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def";
    let connect = |body: Value| body.to_string();
    let cases = [
        // A return path on a connect with credentials, which does not go through sign-in.
        (
            "/api/v1/integrations/connect",
            Method::POST,
            connect(
                json!({"integrationId": "microsoft-teams", "credentials": {"webhookUrl": webhook}, "returnUrl": "AAA"}),
            ),
            "/problems/invalid-settings",
        ),
        // Settings on a sign-in, which only a connect with credentials uses.
        (
            "/api/v1/integrations/connect",
            Method::POST,
            connect(json!({"integrationId": "google-drive", "settings": {"syncIntervalMinutes": 5}})),
            "/problems/invalid-settings",
        ),
        // serde reads a struct from an array of its fields in order; no client means that.
        ("/api/v1/integrations/connect", Method::POST, "[\"trello\"]".to_owned(), "/problems/invalid-body"),
        (
            "/api/v1/integrations/connect",
            Method::POST,
            connect(
                json!({"integrationId": "microsoft-teams", "credentials": {"webhookUrl": webhook}, "settings": [null, null]}),
            ),
            "/problems/invalid-body",
        ),
        (
            "/api/v1/integrations/01HV5Z4K9Q8W2X3Y4Z5A6B7C8D",
            Method::PATCH,
            "[null, null]".to_owned(),
            "/problems/invalid-body",
        ),
    ];
    for (path, method, body, expected) in cases {
        let (status, problem) = app.call(method.clone(), path, t, Some(&body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} {body}: {problem}");
        assert_eq!(problem["type"], expected, "{method} {path} {body}: {problem}");
    }
    // The same connect with a path on this site, or none, connects.
    let body = json!({"integrationId": "microsoft-teams", "credentials": {"webhookUrl": webhook}, "returnUrl": "/integrations"});
    let (status, created) = app.call(Method::POST, "/api/v1/integrations/connect", t, Some(&body.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    app.env.cleanup().await;
}
