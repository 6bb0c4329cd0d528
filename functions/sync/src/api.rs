//! `sync-api`: queue a sync, read the history and the progress of a run, the synced items and
//! the agenda.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use integrations::AppState;
use integrations::auth::Caller;
use integrations::domain::{ConnectionId, SyncId, SyncRun};
use integrations::http::{
    ApiPath, ApiQuery, Problem, ProblemType, Routes, parse_optional_json, unreadable_body, with_problem_fallbacks,
};
use integrations::sync::{self as sync_history, SyncMode, trigger_sync};
use serde::{Deserialize, Serialize};

use crate::items;
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
        .get("/api/v1/integrations/items", items::list_items)
        .get("/api/v1/integrations/items/{itemId}", items::get_item)
        .get("/api/v1/integrations/agenda", items::get_agenda)
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
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Problem> {
    let id = ConnectionId::parse(&id).map_err(bad_path)?;
    let body = body.map_err(unreadable_body)?;
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
    let (runs, next) =
        sync_history::list_runs(&state, &caller, &id, query.limit.unwrap_or(20), query.cursor.as_deref()).await?;
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
    let run = sync_history::get_run(&state, &caller, &id, &sync).await?;
    Ok(Json(serde_json::to_value(view(&run)).expect("runs serialise")))
}
