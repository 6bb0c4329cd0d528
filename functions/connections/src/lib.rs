//! Lambda `connections`: connect, list, get, configure and disconnect integrations; export the
//! caller's data, or delete all of it.

use axum::Router;
use axum::http::StatusCode;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, extract::State};
use integrations::AppState;
use integrations::auth::Caller;
use integrations::connections::{self, ConnectRequest, ConnectResult, SettingsInput};
use integrations::domain::{Connection, ConnectionId};
use integrations::http::{ApiJson, ApiPath, ApiQuery, Problem, ProblemType, Routes, with_problem_fallbacks};
use integrations::oauth::{CallbackOutcome, CallbackQuery, binding_cookie_name, complete_oauth};
use integrations::your_data::{self, Deleted, Export};
use serde_json::json;

/// The function's router: its routes plus problem+json answers for unknown routes and methods.
pub fn router(state: AppState) -> Router {
    with_problem_fallbacks(routes(state))
}

/// The routes alone, for merging with other functions' routes (the local dev server): a
/// `Router`, or `Routes` to list them too.
pub fn routes<R: From<Routes>>(state: AppState) -> R {
    Routes::new()
        .get("/api/v1/integrations/connected", list_connections)
        .post("/api/v1/integrations/connect", connect_integration)
        .get("/api/v1/integrations/oauth/callback", oauth_callback)
        .get("/api/v1/integrations/export", export_data)
        .delete("/api/v1/integrations/me", delete_me)
        .get("/api/v1/integrations/{connectionId}", get_connection)
        .patch("/api/v1/integrations/{connectionId}", configure_connection)
        .delete("/api/v1/integrations/{connectionId}", disconnect_connection)
        .with_state(state)
        .into()
}

fn parse_id(raw: &str) -> Result<ConnectionId, Problem> {
    ConnectionId::parse(raw).map_err(|e| Problem::new(ProblemType::InvalidPath, e.to_string()))
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
    match connections::connect(&state, &caller, request).await? {
        ConnectResult::Connected(connection) => {
            let location = format!("/api/v1/integrations/{}", connection.connection_id);
            Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(json!(connection))).into_response())
        }
        ConnectResult::Reconnected(connection) => Ok((StatusCode::OK, Json(json!(connection))).into_response()),
        ConnectResult::Authorize(start) => {
            // Binds the flow to this browser; sent back only to the callback, for ten minutes.
            let cookie = start.set_cookie();
            let body = Json(json!({ "authorizationUrl": start.authorization_url }));
            Ok((StatusCode::OK, [(header::SET_COOKIE, cookie)], body).into_response())
        }
    }
}

/// The provider sends the browser here after sign-in. There is no API token on this request:
/// the one-time state is what identifies the user.
async fn oauth_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Result<Response, Problem> {
    let binding_name = query.state.as_deref().map(binding_cookie_name);
    let binding = binding_name.as_deref().and_then(|name| cookie(&headers, name));
    match complete_oauth(&state, query, binding.as_deref()).await {
        Ok(CallbackOutcome::Redirect(to)) => {
            // The flow's binding cookie has done its job.
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
            if let Some(name) = &binding_name {
                let expired = format!(
                    "{name}=; Path=/api/v1/integrations/oauth/callback; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
                );
                if let Ok(value) = expired.parse() {
                    response.headers_mut().insert(header::SET_COOKIE, value);
                }
            }
            Ok(response)
        }
        Ok(CallbackOutcome::InvalidState(why)) => {
            let wants_html = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
            if wants_html {
                let page = format!(
                    "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Sign-in not completed</title>\
                     <link rel=\"stylesheet\" href=\"/assets/styles.css\"><body class=\"plain-page\">\
                     <h1>Sign-in not completed</h1><p>{why}</p><p>Nothing was connected.</p>\
                     <p><a href=\"/integrations\">Back to your integrations</a></p></body></html>"
                );
                Ok((StatusCode::BAD_REQUEST, Html(page)).into_response())
            } else {
                Err(Problem::bad_request(why).with("nothingStored", true))
            }
        }
        Err(e) => Err(Problem::unavailable(&e)),
    }
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

async fn export_data(State(state): State<AppState>, caller: Caller) -> Result<Json<Export>, Problem> {
    your_data::export(&state, &caller).await.map(Json).map_err(|e| Problem::unavailable(&e))
}

async fn delete_me(State(state): State<AppState>, caller: Caller) -> Result<Json<Deleted>, Problem> {
    Ok(Json(your_data::delete_me(&state, &caller).await?))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
