//! Who is calling.
//!
//! In AWS the API Gateway HTTP API JWT authorizer has already verified the token; the caller is
//! the `sub` claim it puts in the request context (set by API Gateway, not by the client).
//! Locally, the dev server and `cargo lambda watch` verify an HS256 bearer token signed with a
//! local dev secret. Production configuration never reads identity from a plain header.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::RequestContext;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::{Plan, UserId};
use crate::http::Problem;

pub const DEV_TOKEN_ISSUER: &str = "director-of-one-local";

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub plan: Plan,
}

/// The claim that carries the plan unless `PLAN_CLAIM` names another: a Cognito custom
/// attribute, which users cannot change as long as the app client may not write it.
pub const DEFAULT_PLAN_CLAIM: &str = "custom:plan";

pub enum Authenticator {
    /// Claims from the API Gateway JWT authorizer (`AUTH_MODE=apigateway`). The plan is read from
    /// `plan_claim` alone (`PLAN_CLAIM`): it must be a claim that only administrators can set.
    ApiGateway { plan_claim: String },
    /// HS256 tokens signed with a local secret (`AUTH_MODE=dev`, `DEV_JWT_SECRET`).
    DevToken { secret: SecretString },
}

#[derive(Debug, Serialize, Deserialize)]
struct DevClaims {
    sub: String,
    #[serde(default)]
    plan: Option<String>,
    iss: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token was sent")]
    MissingToken,
    #[error("the token is not valid: {0}")]
    InvalidToken(String),
    #[error("the request carries no verified identity")]
    NoAuthorizerContext,
    #[error("the token's subject is not a valid user id")]
    InvalidSubject,
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        Problem::unauthorized(e.to_string())
    }
}

fn plan_from_claim(raw: Option<&str>) -> Plan {
    match raw {
        Some("premium") => Plan::Premium,
        _ => Plan::Free,
    }
}

impl Authenticator {
    pub fn authenticate(&self, parts: &Parts) -> Result<Caller, AuthError> {
        match self {
            Authenticator::ApiGateway { plan_claim } => caller_from_authorizer(parts, plan_claim),
            Authenticator::DevToken { secret } => {
                let token = bearer_token(parts).ok_or(AuthError::MissingToken)?;
                verify_dev_token(secret, token)
            }
        }
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty())
}

fn caller_from_authorizer(parts: &Parts, plan_claim: &str) -> Result<Caller, AuthError> {
    let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>() else {
        return Err(AuthError::NoAuthorizerContext);
    };
    let claims = context
        .authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map(|jwt| &jwt.claims)
        .ok_or(AuthError::NoAuthorizerContext)?;
    let sub = claims.get("sub").ok_or(AuthError::InvalidSubject)?;
    let user_id = UserId::from_subject(sub).map_err(|_| AuthError::InvalidSubject)?;
    let plan = plan_from_claim(claims.get(plan_claim).map(String::as_str));
    Ok(Caller { user_id, plan })
}

fn verify_dev_token(secret: &SecretString, token: &str) -> Result<Caller, AuthError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[DEV_TOKEN_ISSUER]);
    validation.set_required_spec_claims(&["exp", "sub", "iss"]);
    let key = DecodingKey::from_secret(secret.expose_secret().as_bytes())
        .map_err(|_| AuthError::InvalidToken("the signing key is not usable".into()))?;
    let data = jsonwebtoken::decode::<DevClaims>(token, &key, &validation)
        .map_err(|e| AuthError::InvalidToken(e.kind().to_string_lossy()))?;
    let user_id = UserId::from_subject(&data.claims.sub).map_err(|_| AuthError::InvalidSubject)?;
    Ok(Caller { user_id, plan: plan_from_claim(data.claims.plan.as_deref()) })
}

trait KindText {
    fn to_string_lossy(&self) -> String;
}

impl KindText for jsonwebtoken::errors::ErrorKind {
    fn to_string_lossy(&self) -> String {
        use jsonwebtoken::errors::ErrorKind;
        match self {
            ErrorKind::ExpiredSignature => "it has expired".into(),
            ErrorKind::InvalidSignature => "its signature does not match".into(),
            ErrorKind::InvalidIssuer => "it was not issued by this service".into(),
            ErrorKind::MissingRequiredClaim(c) => format!("it has no `{c}` claim"),
            _ => "it could not be decoded".into(),
        }
    }
}

/// Signs a local development token (used by the dev server's `POST /dev/token` and tests).
pub fn issue_dev_token(secret: &SecretString, user_id: &UserId, plan: Plan, ttl_secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = DevClaims {
        sub: user_id.subject(),
        plan: Some(match plan {
            Plan::Free => "free".into(),
            Plan::Premium => "premium".into(),
        }),
        iss: DEV_TOKEN_ISSUER.into(),
        iat: now,
        exp: now + ttl_secs,
    };
    let key = EncodingKey::from_secret(secret.expose_secret().as_bytes()).expect("an HMAC key of any length is valid");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("HS256 encoding cannot fail")
}

impl<S> FromRequestParts<S> for Caller
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let authenticator = Arc::<Authenticator>::from_ref(state);
        let caller = authenticator.authenticate(parts)?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events_compat::*;

    mod aws_lambda_events_compat {
        pub use lambda_http::aws_lambda_events::apigw::{
            ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
        };
    }

    fn secret() -> SecretString {
        SecretString::from("test-secret-for-unit-tests")
    }

    fn parts_with(header: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder();
        if let Some(h) = header {
            builder = builder.header("authorization", h);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_dev_token_signed_with_the_secret_identifies_the_caller_and_plan() {
        let user = UserId::parse("demo-user").unwrap();
        let token = issue_dev_token(&secret(), &user, Plan::Premium, 60);
        let auth = Authenticator::DevToken { secret: secret() };
        let caller = auth.authenticate(&parts_with(Some(&format!("Bearer {token}")))).unwrap();
        assert_eq!(caller, Caller { user_id: user, plan: Plan::Premium });
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let user = UserId::parse("demo-user").unwrap();
        let token = issue_dev_token(&SecretString::from("other"), &user, Plan::Free, 60);
        let auth = Authenticator::DevToken { secret: secret() };
        assert!(matches!(
            auth.authenticate(&parts_with(Some(&format!("Bearer {token}")))),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let user = UserId::parse("demo-user").unwrap();
        let token = issue_dev_token(&secret(), &user, Plan::Free, -120);
        let auth = Authenticator::DevToken { secret: secret() };
        assert!(auth.authenticate(&parts_with(Some(&format!("Bearer {token}")))).is_err());
    }

    #[test]
    fn a_request_without_a_token_is_refused() {
        let auth = Authenticator::DevToken { secret: secret() };
        assert!(matches!(auth.authenticate(&parts_with(None)), Err(AuthError::MissingToken)));
        assert!(matches!(auth.authenticate(&parts_with(Some("Basic abc"))), Err(AuthError::MissingToken)));
    }

    fn api_gateway() -> Authenticator {
        Authenticator::ApiGateway { plan_claim: DEFAULT_PLAN_CLAIM.into() }
    }

    fn parts_with_claims(claims: &[(&str, &str)]) -> Parts {
        let mut parts = parts_with(None);
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        for (k, v) in claims {
            jwt.claims.insert((*k).into(), (*v).into());
        }
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        parts.extensions.insert(RequestContext::ApiGatewayV2(context));
        parts
    }

    #[test]
    fn the_plan_is_read_from_the_configured_claim_only() {
        // A `plan` claim is not the configured one (users of some identity providers can set it).
        let caller = api_gateway().authenticate(&parts_with_claims(&[("sub", "u-1"), ("plan", "premium")])).unwrap();
        assert_eq!(caller.plan, Plan::Free);
        let custom = Authenticator::ApiGateway { plan_claim: "https://doo.example/plan".into() };
        let claims = [("sub", "u-1"), ("custom:plan", "premium"), ("https://doo.example/plan", "premium")];
        assert_eq!(custom.authenticate(&parts_with_claims(&claims)).unwrap().plan, Plan::Premium);
        let claims = [("sub", "u-1"), ("custom:plan", "premium")];
        assert_eq!(custom.authenticate(&parts_with_claims(&claims)).unwrap().plan, Plan::Free);
    }

    #[test]
    fn identity_provider_subjects_are_callers() {
        for (sub, id) in [("auth0|abc123", "auth0/abc123"), ("google-oauth2|1234", "google-oauth2/1234")] {
            let caller = api_gateway().authenticate(&parts_with_claims(&[("sub", sub)])).unwrap();
            assert_eq!(caller.user_id.as_str(), id);
            let token = issue_dev_token(&secret(), &caller.user_id, Plan::Free, 60);
            let auth = Authenticator::DevToken { secret: secret() };
            let again = auth.authenticate(&parts_with(Some(&format!("Bearer {token}")))).unwrap();
            assert_eq!(again.user_id, caller.user_id);
        }
        for bad in ["auth0/abc123", "a#b", "a\nb", ""] {
            let result = api_gateway().authenticate(&parts_with_claims(&[("sub", bad)]));
            assert!(matches!(result, Err(AuthError::InvalidSubject)), "{bad:?}");
        }
    }

    #[test]
    fn api_gateway_mode_ignores_headers_and_reads_the_authorizer_claims() {
        let auth = api_gateway();
        let user = UserId::parse("demo-user").unwrap();
        let token = issue_dev_token(&secret(), &user, Plan::Free, 60);
        assert!(matches!(
            auth.authenticate(&parts_with(Some(&format!("Bearer {token}")))),
            Err(AuthError::NoAuthorizerContext)
        ));

        let mut parts = parts_with(None);
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims.insert("sub".into(), "3f2a1c9e-5b7d".into());
        jwt.claims.insert("custom:plan".into(), "premium".into());
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        parts.extensions.insert(RequestContext::ApiGatewayV2(context));
        let caller = auth.authenticate(&parts).unwrap();
        assert_eq!(caller.user_id.as_str(), "3f2a1c9e-5b7d");
        assert_eq!(caller.plan, Plan::Premium);
    }
}
