//! Shared HTTP pieces: RFC 9457 problem+json errors and extractors whose rejections use it.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

mod problems;
pub mod routes;

pub use routes::{Route, Routes};

/// Every kind of problem the API answers with: its `type` slug, status and title. The OpenAPI
/// document lists exactly these (a test compares the two).
macro_rules! problem_types {
    ($($variant:ident => ($slug:literal, $status:ident, $title:literal),)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemType { $($variant,)+ }

        impl ProblemType {
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant,)+];

            /// The short name, rendered as the `type` URI `/problems/{slug}`.
            pub fn slug(self) -> &'static str {
                match self { $(ProblemType::$variant => $slug,)+ }
            }

            pub fn status(self) -> StatusCode {
                match self { $(ProblemType::$variant => StatusCode::$status,)+ }
            }

            pub fn title(self) -> &'static str {
                match self { $(ProblemType::$variant => $title,)+ }
            }
        }
    };
}

problem_types! {
    BadRequest => ("bad-request", BAD_REQUEST, "The request is not valid"),
    MalformedJson => ("malformed-json", BAD_REQUEST, "The body is not valid JSON"),
    InvalidPath => ("invalid-path", BAD_REQUEST, "The address is not valid"),
    InvalidQuery => ("invalid-query", BAD_REQUEST, "The query string is not valid"),
    Unauthorized => ("unauthorized", UNAUTHORIZED, "Sign-in required"),
    PremiumRequired => ("premium-required", FORBIDDEN, "Premium plan required"),
    PlanLimitReached => ("plan-limit-reached", FORBIDDEN, "Connection limit reached"),
    AutomationPlanLimit => ("automation-plan-limit", FORBIDDEN, "More than your plan allows"),
    NotFound => ("not-found", NOT_FOUND, "Not found"),
    MethodNotAllowed => ("method-not-allowed", METHOD_NOT_ALLOWED, "Method not allowed"),
    AlreadyConnected => ("already-connected", CONFLICT, "Already connected"),
    ComingSoon => ("coming-soon", CONFLICT, "Not available yet"),
    ConcurrentChange => ("concurrent-change", CONFLICT, "Changed concurrently"),
    Disconnecting => ("disconnecting", CONFLICT, "Being disconnected"),
    SyncInProgress => ("sync-in-progress", CONFLICT, "A sync is already running"),
    ConnectionNotActive => ("connection-not-active", CONFLICT, "Reconnect first"),
    NothingToSync => ("nothing-to-sync", CONFLICT, "This connection has nothing to sync"),
    PayloadTooLarge => ("payload-too-large", PAYLOAD_TOO_LARGE, "The body is too large"),
    UnsupportedMediaType => ("unsupported-media-type", UNSUPPORTED_MEDIA_TYPE, "The body must be JSON"),
    InvalidBody => ("invalid-body", UNPROCESSABLE_ENTITY, "The body does not have the expected fields"),
    UnknownIntegration => ("unknown-integration", UNPROCESSABLE_ENTITY, "Unknown integration"),
    OauthNotConfigured => ("oauth-not-configured", UNPROCESSABLE_ENTITY, "Sign-in connect is not available"),
    ApiKeyNotSupported => ("api-key-not-supported", UNPROCESSABLE_ENTITY, "Connect by signing in"),
    InvalidCredentials => ("invalid-credentials", UNPROCESSABLE_ENTITY, "Check the highlighted fields"),
    InvalidSettings => ("invalid-settings", UNPROCESSABLE_ENTITY, "Invalid settings"),
    InvalidAutomation => ("invalid-automation", UNPROCESSABLE_ENTITY, "The automation cannot be saved"),
    CredentialRejected => ("credential-rejected", UNPROCESSABLE_ENTITY, "The provider rejected the credential"),
    InvalidUser => ("invalid-user", UNPROCESSABLE_ENTITY, "Invalid user id"),
    SyncRateLimited => ("sync-rate-limited", TOO_MANY_REQUESTS, "Synced moments ago"),
    TooManyConnections => ("too-many-connections", TOO_MANY_REQUESTS, "Too many connections"),
    TooManySignIns => ("too-many-sign-ins", TOO_MANY_REQUESTS, "Too many sign-ins open"),
    FullSyncLimitReached => ("full-sync-limit-reached", TOO_MANY_REQUESTS, "No full sync left today"),
    ProviderUnavailable => ("provider-unavailable", BAD_GATEWAY, "The provider did not answer"),
    ProviderRateLimited => ("provider-rate-limited", SERVICE_UNAVAILABLE, "The provider asked us to wait"),
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE, "Temporarily unavailable"),
}

/// An error as the client sees it. A 5xx never shows internals: the cause is logged, and
/// the client gets a generic detail.
#[derive(Debug)]
pub struct Problem {
    pub kind: ProblemType,
    pub detail: String,
    pub extensions: Map<String, Value>,
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), extensions: Map::new(), retry_after_secs: None }
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extensions.insert(key.to_owned(), json!(value));
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self.with("retryAfterSeconds", secs)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::BadRequest, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Unauthorized, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::NotFound, detail)
    }

    /// An upstream (AWS or provider) failure: logged with its whole cause chain, shown without it.
    pub fn unavailable(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "request failed on a dependency");
        Self::new(
            ProblemType::Unavailable,
            "A service we depend on did not answer. Nothing was changed; please try again shortly.",
        )
    }
}

/// An error with its causes, `outer: inner: innermost`, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        let status = self.kind.status();
        body.insert("type".into(), json!(format!("/problems/{}", self.kind.slug())));
        body.insert("title".into(), json!(self.kind.title()));
        body.insert("status".into(), json!(status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extensions);
        let mut response = (status, axum::Json(Value::Object(body))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// JSON body extractor whose rejections are problem+json (bad syntax 400, wrong shape or
/// unknown field 422, wrong content type 415). Every body of the API is a JSON object.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => from_json_object(value).map(ApiJson),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

/// A body's fields from its JSON object. Only an object: serde would also read a struct from an
/// array of its fields in order (`[null, true]`), which no client means.
fn from_json_object<T: DeserializeOwned>(value: Value) -> Result<T, Problem> {
    if !value.is_object() {
        return Err(Problem::new(ProblemType::InvalidBody, "The body must be a JSON object."));
    }
    serde_json::from_value(value).map_err(|e| Problem::new(ProblemType::InvalidBody, e.to_string()))
}

fn json_problem(rejection: JsonRejection) -> Problem {
    let status = rejection.status();
    let detail = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "Send the body as JSON with Content-Type: application/json.".to_owned()
        }
        other => other.body_text(),
    };
    let kind = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemType::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => ProblemType::PayloadTooLarge,
        StatusCode::UNPROCESSABLE_ENTITY => ProblemType::InvalidBody,
        _ => ProblemType::MalformedJson,
    };
    Problem::new(kind, detail)
}

/// The problem for a body that could not be read: over the size cap a 413, like `ApiJson`'s.
pub fn unreadable_body(rejection: BytesRejection) -> Problem {
    let kind = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ProblemType::PayloadTooLarge,
        _ => ProblemType::BadRequest,
    };
    Problem::new(kind, rejection.body_text())
}

/// For a member that is itself a struct: read only from a JSON object (or `null`, the same as
/// leaving it out), as `ApiJson` reads a body.
pub fn optional_json_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let Some(members) = Option::<Map<String, Value>>::deserialize(deserializer)? else {
        return Ok(None);
    };
    serde_json::from_value(Value::Object(members)).map(Some).map_err(serde::de::Error::custom)
}

/// An optional JSON body: empty means `None`; otherwise it must parse (400 for bad JSON, 422
/// for the wrong shape or an unknown field).
pub fn parse_optional_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value = serde_json::from_slice(bytes).map_err(|e| Problem::new(ProblemType::MalformedJson, e.to_string()))?;
    from_json_object(value).map(Some)
}

/// Path extractor whose rejections are problem+json 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|rejection: PathRejection| Problem::new(ProblemType::InvalidPath, rejection.body_text()))
    }
}

/// Query extractor whose rejections are problem+json 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rejection: QueryRejection| Problem::new(ProblemType::InvalidQuery, rejection.body_text()))
    }
}

/// The largest request body any route reads; a larger one is a 413 problem before any parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Adds the problem+json answers for unknown routes (404) and wrong methods (405), the body
/// size cap, and the request's deadline for provider calls ([`crate::deadline`]).
pub fn with_problem_fallbacks<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    router
        .fallback(|| async { Problem::not_found("There is no such resource.") })
        .method_not_allowed_fallback(|| async {
            Problem::new(ProblemType::MethodNotAllowed, "This resource does not support that method.")
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(crate::deadline::layer))
        .layer(axum::middleware::from_fn(crate::metrics::api_layer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_problem_renders_as_rfc9457_json_with_its_content_type() {
        let response = Problem::new(ProblemType::AlreadyConnected, "x").with("connectionId", "01ABC").into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["type"], "/problems/already-connected");
        assert_eq!(body["status"], 409);
        assert_eq!(body["connectionId"], "01ABC");
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        name: Option<String>,
        #[allow(dead_code)]
        on: Option<bool>,
    }

    async fn extract(body: &str) -> Result<Body, Problem> {
        let request = Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        ApiJson::<Body>::from_request(request, &()).await.map(|ApiJson(b)| b)
    }

    #[tokio::test]
    async fn a_body_is_read_only_from_a_json_object_never_from_an_array_of_its_fields() {
        assert!(extract(r#"{"name":"x","on":true}"#).await.is_ok());
        for array in [r#"[null, null]"#, r#"["x", true]"#, "[]"] {
            let problem = extract(array).await.expect_err(array);
            assert_eq!(problem.kind, ProblemType::InvalidBody, "{array}");
            let problem = parse_optional_json::<Body>(array.as_bytes()).expect_err(array);
            assert_eq!(problem.kind, ProblemType::InvalidBody, "{array}");
        }
        assert_eq!(extract(r#"{"name": 1}"#).await.unwrap_err().kind, ProblemType::InvalidBody);
        assert_eq!(extract(r#"{"other": 1}"#).await.unwrap_err().kind, ProblemType::InvalidBody);
        assert_eq!(extract(r#"{"name":"#).await.unwrap_err().kind, ProblemType::MalformedJson);
        assert_eq!(parse_optional_json::<Body>(b"[1,").unwrap_err().kind, ProblemType::MalformedJson);
        assert!(parse_optional_json::<Body>(b"  ").unwrap().is_none());
    }

    #[tokio::test]
    async fn a_rate_limit_problem_carries_retry_after() {
        let response = Problem::new(ProblemType::SyncRateLimited, "x").retry_after(42).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }
}
