//! The browser security headers of every answer of the local origin: the same values as the
//! CloudFront `WebSecurityHeaders` response headers policy of template.yaml (a test,
//! `tests/security_headers.rs`, keeps the two equal), so the page is tried locally under the
//! policy it gets in AWS.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

/// The Content Security Policy. Scripts and styles only from this origin — no `'unsafe-inline'`,
/// no `eval` — so the page keeps them in files (`web/assets/`) and sets no `style` attribute.
/// In AWS, `connect-src` also names the identity provider's origin (the page posts the sign-in
/// code to its token endpoint); that one source is the only difference.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'; object-src 'none'";

/// HSTS: two years, subdomains included (browsers ignore it over plain http, as locally).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// No `Referer` leaves the page: its URLs can carry connection ids and sign-in outcomes.
pub const REFERRER_POLICY: &str = "no-referrer";

/// Every security header and its value, as the dev server sends them.
pub const HEADERS: &[(HeaderName, &str)] = &[
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, REFERRER_POLICY),
];

/// Sets the security headers on an answer (`axum::middleware::map_response`).
pub async fn add(mut response: Response) -> Response {
    for (name, value) in HEADERS {
        response.headers_mut().insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}
