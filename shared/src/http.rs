//! Shared HTTP pieces: RFC 9457 problem+json errors and extractors whose rejections use it.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// An error as the client sees it. A 5xx never shows internals: the cause is logged, and
/// the client gets a generic detail.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// Short machine-readable kind, rendered as the `type` URI `/problems/{kind}`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub extensions: Map<String, Value>,
    pub retry_after_secs: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, kind, title, detail: detail.into(), extensions: Map::new(), retry_after_secs: None }
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
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "The request is not valid", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Sign-in required", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unprocessable(kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, title, detail)
    }

    pub fn conflict(kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, title, detail)
    }

    /// An upstream (AWS or provider) failure: logged with its cause, shown without it.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed on a dependency");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            "A service we depend on did not answer. Nothing was changed; please try again shortly.",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("/problems/{}", self.kind)));
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extensions);
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// JSON body extractor whose rejections are problem+json (bad syntax 400, wrong shape or
/// unknown field 422, wrong content type 415).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

fn json_problem(rejection: JsonRejection) -> Problem {
    let status = rejection.status();
    let detail = match &rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "Send the body as JSON with Content-Type: application/json.".to_owned()
        }
        other => other.body_text(),
    };
    let (kind, title) = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "The body must be JSON"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "The body is too large"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-body", "The body does not have the expected fields"),
        _ => ("malformed-json", "The body is not valid JSON"),
    };
    Problem::new(status, kind, title, detail)
}

/// An optional JSON body: empty means `None`; otherwise it must parse (400 for bad JSON, 422
/// for the wrong shape or an unknown field).
pub fn parse_optional_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        if e.is_data() {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "The body does not have the expected fields",
                e.to_string(),
            )
        } else {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "The body is not valid JSON", e.to_string())
        }
    })
}

/// Path extractor whose rejections are problem+json 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| ApiPath(p.0)).map_err(
            |rejection: PathRejection| {
                Problem::new(StatusCode::BAD_REQUEST, "invalid-path", "The address is not valid", rejection.body_text())
            },
        )
    }
}

/// Query extractor whose rejections are problem+json 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| ApiQuery(q.0)).map_err(
            |rejection: QueryRejection| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-query",
                    "The query string is not valid",
                    rejection.body_text(),
                )
            },
        )
    }
}

/// Adds the problem+json answers for unknown routes (404) and wrong methods (405).
pub fn with_problem_fallbacks<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    router.fallback(|| async { Problem::not_found("There is no such resource.") }).method_not_allowed_fallback(
        || async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "This resource does not support that method.",
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_problem_renders_as_rfc9457_json_with_its_content_type() {
        let response = Problem::conflict("already-connected", "Already connected", "x")
            .with("connectionId", "01ABC")
            .into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["type"], "/problems/already-connected");
        assert_eq!(body["status"], 409);
        assert_eq!(body["connectionId"], "01ABC");
    }

    #[tokio::test]
    async fn a_rate_limit_problem_carries_retry_after() {
        let response = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Slow down", "x")
            .retry_after(42)
            .into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }
}
