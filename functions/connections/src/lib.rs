//! Lambda `connections`: connect, list, get, configure and disconnect integrations.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, extract::State};
use integrations::AppState;
use integrations::auth::Caller;
use integrations::connections::{self, ConnectRequest, SettingsInput};
use integrations::domain::{Connection, ConnectionId};
use integrations::http::{ApiJson, ApiPath, Problem, with_problem_fallbacks};
use serde_json::json;

/// The function's router: its routes plus problem+json answers for unknown routes and methods.
pub fn router(state: AppState) -> Router {
    with_problem_fallbacks(routes(state))
}

/// The routes alone, for merging with other functions' routes (the local dev server).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/integrations/connected", get(list_connections))
        .route("/api/v1/integrations/connect", post(connect_integration))
        .route(
            "/api/v1/integrations/{connectionId}",
            get(get_connection).patch(configure_connection).delete(disconnect_connection),
        )
        .with_state(state)
}

fn parse_id(raw: &str) -> Result<ConnectionId, Problem> {
    ConnectionId::parse(raw)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid-path", "The address is not valid", format!("{e}")))
}

async fn list_connections(State(state): State<AppState>, caller: Caller) -> Result<Json<serde_json::Value>, Problem> {
    let connections: Vec<Connection> = connections::list(&state, &caller).await?;
    Ok(Json(json!({ "connections": connections })))
}

async fn connect_integration(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ConnectRequest>,
) -> Result<impl IntoResponse, Problem> {
    let connection = connections::connect(&state, &caller, request).await?;
    let location = format!("/api/v1/integrations/{}", connection.connection_id);
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, location)], Json(connection)))
}

async fn get_connection(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Connection>, Problem> {
    let id = parse_id(&id)?;
    Ok(Json(connections::get(&state, &caller, &id).await?))
}

async fn configure_connection(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<SettingsInput>,
) -> Result<Json<Connection>, Problem> {
    let id = parse_id(&id)?;
    Ok(Json(connections::configure(&state, &caller, &id, input).await?))
}

async fn disconnect_connection(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let id = parse_id(&id)?;
    connections::disconnect(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
