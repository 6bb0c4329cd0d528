//! The local stack: all functions' routes on one origin, the dev token endpoint and the page,
//! as API Gateway would serve them, against the AWS emulator.

use std::path::PathBuf;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use integrations::AppState;
use integrations::auth::issue_dev_token;
use integrations::domain::{Plan, UserId};
use integrations::http::{ApiJson, Problem, with_problem_fallbacks};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

pub const DEV_TOKEN_TTL_SECS: i64 = 12 * 3600;

#[derive(Clone)]
struct DevAuth {
    secret: SecretString,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenRequest {
    user_id: String,
    #[serde(default)]
    plan: Plan,
}

async fn issue_token(
    State(auth): State<DevAuth>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<Value>, Problem> {
    let user = UserId::parse(&request.user_id)
        .map_err(|e| Problem::unprocessable("invalid-user", "Invalid user id", e.to_string()))?;
    let token = issue_dev_token(&auth.secret, &user, request.plan, DEV_TOKEN_TTL_SECS);
    Ok(Json(json!({
        "token": token,
        "userId": user,
        "plan": request.plan,
        "expiresIn": DEV_TOKEN_TTL_SECS,
    })))
}

/// The whole local origin: every function's routes, `POST /dev/token`, and the page from
/// `web_dir` at `/` and `/integrations`.
pub fn app(state: AppState, dev_secret: SecretString, web_dir: Option<PathBuf>) -> Router {
    let dev = Router::new()
        .route("/dev/token", post(issue_token))
        .with_state(DevAuth { secret: dev_secret });
    let mut router = Router::new()
        .merge(catalog::routes(state.clone()))
        .merge(connections::routes(state))
        .merge(dev);
    if let Some(dir) = web_dir {
        let index = dir.join("index.html");
        router = router
            .route_service("/", tower_http::services::ServeFile::new(&index))
            .route_service(
                "/integrations",
                tower_http::services::ServeFile::new(&index),
            )
            .nest_service(
                "/assets",
                tower_http::services::ServeDir::new(dir.join("assets")),
            );
    }
    with_problem_fallbacks(router)
}
