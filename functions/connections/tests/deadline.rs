//! Request paths fit API Gateway's 29 s: a provider that is slow, silent or asks us to wait
//! gets a clear problem within the request's budget, and a request that may have taken effect
//! (a POST that was sent and timed out) is not sent again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::any;
use fake_providers::{FakeProviders, Fault, Provider};
use http_body_util::BodyExt;
use integrations::config::Function;
use integrations::domain::Plan;
use integrations::oauth::{OAuthClient, OAuthClients};
use integrations::testing::TestEnv;
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

/// API Gateway's integration timeout, less a margin for the answer to travel back.
const API_TIMEOUT: Duration = Duration::from_secs(28);

/// A provider that counts the requests it gets and answers each after `delay` with `body`.
struct SlowProvider {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl SlowProvider {
    async fn start(delay: Duration, body: Value) -> SlowProvider {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().fallback(any(move || {
            let counter = counter.clone();
            let body = body.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                axum::Json(body)
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        SlowProvider { url, hits }
    }

    /// One that never answers within a test.
    async fn silent() -> SlowProvider {
        SlowProvider::start(Duration::from_secs(120), json!({})).await
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Sends the request through the connections router, giving up where API Gateway would.
async fn call(env: &TestEnv, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value, Duration) {
    let started = Instant::now();
    let router = connections::router(env.state_for(Function::Connections));
    let response = tokio::time::timeout(API_TIMEOUT, router.oneshot(request))
        .await
        .unwrap_or_else(|_| panic!("no answer within {API_TIMEOUT:?}: API Gateway would have given up"))
        .unwrap();
    let elapsed = started.elapsed();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null), elapsed)
}

fn connect(env: &TestEnv, user: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/api/v1/integrations/connect")
        .header("authorization", format!("Bearer {}", env.token(user, Plan::Free)))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn trello(env: &TestEnv) -> Request<Body> {
    let body = json!({
        "integrationId": "trello",
        "credentials": { "apiKey": fake_providers::demo::TRELLO_KEY, "token": fake_providers::demo::TRELLO_TOKEN },
    });
    connect(env, "ada", body)
}

#[tokio::test]
async fn a_retry_after_longer_than_the_request_can_wait_is_a_503_problem_with_retry_after_at_once() {
    let fakes = FakeProviders::start().await;
    fakes.state().seed_demo();
    fakes.state().fail_next(Provider::Trello, "/1/members/me", Fault::RateLimited { retry_after_secs: 25 }, 10);
    let mut env = TestEnv::new().await;
    env.use_provider("trello", fakes.base_url(Provider::Trello));

    let (status, headers, body, elapsed) = call(&env, trello(&env)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["type"], "/problems/provider-rate-limited");
    assert_eq!(headers[header::RETRY_AFTER], "25");
    assert_eq!(body["retryAfterSeconds"], 25);
    assert!(elapsed < Duration::from_secs(5), "it did not wait out what it could not afford: {elapsed:?}");
    assert_eq!(fakes.state().request_count(Provider::Trello, "/1/members/me"), 1);
    assert!(env.secret_names().await.is_empty(), "nothing was stored");
    env.cleanup().await;
}

#[tokio::test]
async fn a_provider_that_does_not_answer_is_a_problem_before_api_gateway_gives_up() {
    let trello_api = SlowProvider::silent().await;
    let mut env = TestEnv::new().await;
    env.use_provider("trello", format!("{}/trello", trello_api.url));

    let (status, _, body, elapsed) = call(&env, trello(&env)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["type"], "/problems/provider-unavailable");
    assert!(body["detail"].as_str().unwrap().contains("did not answer in time"), "{body}");
    assert!(elapsed <= Duration::from_secs(22), "{elapsed:?}");
    env.cleanup().await;
}

#[tokio::test]
async fn a_post_that_was_sent_and_timed_out_is_not_sent_again() {
    // Slack's token check is a POST (auth.test).
    let slack_api = SlowProvider::silent().await;
    let mut env = TestEnv::new().await;
    env.use_provider("slack", format!("{}/slack/api", slack_api.url));
    let body = json!({ "integrationId": "slack", "credentials": { "token": "xoxb-1234567890-abcdef" } });

    let (status, _, body, _) = call(&env, connect(&env, "ada", body)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(slack_api.hits(), 1, "the timed-out POST was sent again");
    env.cleanup().await;
}

const REDIRECT: &str = "http://127.0.0.1:3000/api/v1/integrations/oauth/callback";

/// Google Calendar signing in against `token` and `userinfo` endpoints.
fn google_client(token_url: String, userinfo_url: String) -> OAuthClients {
    let client = OAuthClient {
        client_id: "client".into(),
        client_secret: SecretString::from("client-secret".to_owned()),
        authorize_url: "http://127.0.0.1:9/authorize".into(),
        token_url,
        revoke_url: None,
        userinfo_url: Some(userinfo_url),
        redirect_url: REDIRECT.into(),
        basic_auth: false,
    };
    OAuthClients::default().with_client("google-calendar", client)
}

/// Starts a sign-in and comes back to the callback with a code, as the browser would.
async fn sign_in(env: &TestEnv) -> (StatusCode, String, Duration) {
    let (status, headers, body, _) =
        call(env, connect(env, "ada", json!({ "integrationId": "google-calendar" }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let authorize = url::Url::parse(body["authorizationUrl"].as_str().unwrap()).unwrap();
    let state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let request = Request::builder()
        .uri(format!("/api/v1/integrations/oauth/callback?code=the-code&state={state}"))
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _, elapsed) = call(env, request).await;
    let location = headers.get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, elapsed)
}

#[tokio::test]
async fn a_token_exchange_that_times_out_is_sent_once_and_the_callback_answers_in_time() {
    let token = SlowProvider::silent().await;
    let userinfo = SlowProvider::start(Duration::ZERO, json!({ "sub": "1", "email": "ada@example.com" })).await;
    let mut env = TestEnv::new().await;
    env.state.oauth = google_client(format!("{}/token", token.url), format!("{}/userinfo", userinfo.url));

    let (status, location, _) = sign_in(&env).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("oauthError=token_exchange_failed"), "{location}");
    assert_eq!(token.hits(), 1, "the code exchange was sent again");
    assert_eq!(userinfo.hits(), 0);
    env.cleanup().await;
}

#[tokio::test]
async fn a_silent_userinfo_after_the_exchange_still_answers_the_callback_in_time() {
    let token = SlowProvider::start(
        Duration::ZERO,
        json!({ "access_token": "at-1", "refresh_token": "rt-1", "token_type": "Bearer", "expires_in": 3600 }),
    )
    .await;
    let userinfo = SlowProvider::silent().await;
    let mut env = TestEnv::new().await;
    env.state.oauth = google_client(format!("{}/token", token.url), format!("{}/userinfo", userinfo.url));

    let (status, location, elapsed) = sign_in(&env).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("oauthError=account_unavailable"), "{location}");
    assert!(elapsed <= Duration::from_secs(22), "{elapsed:?}");
    assert!(env.secret_names().await.is_empty(), "nothing was stored");
    env.cleanup().await;
}
