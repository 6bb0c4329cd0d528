//! `sync-api`: queue a sync, read the history and the progress of a run.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use integrations::AppState;
use integrations::auth::Caller;
use integrations::domain::{ConnectionId, SyncId, SyncRun};
use integrations::http::{
    ApiPath, ApiQuery, Problem, ProblemType, Routes, parse_optional_json, with_problem_fallbacks,
};
use integrations::store::StoreError;
use integrations::sync::{SyncMode, trigger_sync};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub fn router(state: AppState) -> Router {
    with_problem_fallbacks(routes(state))
}

/// The routes alone, for merging with other functions' routes (the local dev server): a
/// `Router`, or `Routes` to list them too.
pub fn routes<R: From<Routes>>(state: AppState) -> R {
    Routes::new()
        .post("/api/v1/integrations/{connectionId}/sync", start_sync)
        .get("/api/v1/integrations/{connectionId}/syncs", list_syncs)
        .get("/api/v1/integrations/{connectionId}/syncs/{syncId}", get_sync)
        .with_state(state)
        .into()
}

fn bad_path(e: impl std::fmt::Display) -> Problem {
    Problem::new(ProblemType::InvalidPath, e.to_string())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunView<'a> {
    #[serde(flatten)]
    run: &'a SyncRun,
    links: Value,
}

fn view(run: &SyncRun) -> RunView<'_> {
    let base = format!("/api/v1/integrations/{}", run.connection_id);
    RunView { run, links: json!({ "self": format!("{base}/syncs/{}", run.sync_id), "connection": base }) }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    mode: SyncMode,
}

async fn start_sync(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, Problem> {
    let id = ConnectionId::parse(&id).map_err(bad_path)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !body.iter().all(u8::is_ascii_whitespace) && !is_json {
        return Err(Problem::new(
            ProblemType::UnsupportedMediaType,
            "Send the body as JSON with Content-Type: application/json.",
        ));
    }
    let body: StartBody = parse_optional_json(&body)?.unwrap_or_default();
    let run = trigger_sync(&state, &caller, &id, body.mode).await?;
    let location = format!("/api/v1/integrations/{id}/syncs/{}", run.sync_id);
    let body = serde_json::to_value(view(&run)).expect("runs serialise");
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    limit: Option<i32>,
    cursor: Option<String>,
}

async fn list_syncs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, Problem> {
    let id = ConnectionId::parse(&id).map_err(bad_path)?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 100"));
    }
    let (runs, next) = match state.store.list_runs(&caller.user_id, &id, limit, query.cursor.as_deref()).await {
        Ok(page) => page,
        Err(StoreError::InvalidCursor) => {
            return Err(Problem::bad_request("The cursor is not valid for this history."));
        }
        Err(e) => return Err(Problem::unavailable(&e)),
    };
    // An empty first page may mean the connection is not the caller's: then it is a 404.
    if runs.is_empty() && query.cursor.is_none() {
        match state.store.get_connection(&caller.user_id, &id).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => return Err(Problem::not_found("There is no such connection.")),
            Err(e) => return Err(Problem::unavailable(&e)),
        }
    }
    let syncs: Vec<RunView> = runs.iter().map(view).collect();
    Ok(Json(json!({ "syncs": syncs, "nextCursor": next })))
}

async fn get_sync(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, sync)): ApiPath<(String, String)>,
) -> Result<Json<Value>, Problem> {
    let id = ConnectionId::parse(&id).map_err(bad_path)?;
    let sync = SyncId::parse(&sync).map_err(bad_path)?;
    match state.store.get_run(&caller.user_id, &id, &sync).await {
        Ok(run) => Ok(Json(serde_json::to_value(view(&run)).expect("runs serialise"))),
        Err(StoreError::NotFound) => Err(Problem::not_found("There is no such sync.")),
        Err(e) => Err(Problem::unavailable(&e)),
    }
}
