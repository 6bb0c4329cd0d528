//! `automations-api`: the automations of the caller, their dry runs, manual runs and receipts,
//! and the templates.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use integrations::AppState;
use integrations::auth::Caller;
use integrations::automations::AutomationSpec;
use integrations::automations::service::{self, AutomationPatch};
use integrations::domain::AutomationId;
use integrations::http::{ApiJson, ApiPath, Problem, ProblemType, Routes, with_problem_fallbacks};
use integrations::store::Automation;
use serde_json::{Value, json};

pub fn router(state: AppState) -> Router {
    with_problem_fallbacks(routes(state))
}

/// The routes alone, for merging with other functions' routes (the local dev server).
pub fn routes<R: From<Routes>>(state: AppState) -> R {
    Routes::new()
        .get("/api/v1/integrations/automations", list)
        .post("/api/v1/integrations/automations", create)
        .post("/api/v1/integrations/automations/dry-run", dry_run_definition)
        .get("/api/v1/integrations/automations/{automationId}", get)
        .put("/api/v1/integrations/automations/{automationId}", replace)
        .patch("/api/v1/integrations/automations/{automationId}", update)
        .delete("/api/v1/integrations/automations/{automationId}", delete)
        .post("/api/v1/integrations/automations/{automationId}/run", run)
        .post("/api/v1/integrations/automations/{automationId}/dry-run", dry_run)
        .get("/api/v1/integrations/automations/{automationId}/runs", runs)
        .get("/api/v1/integrations/automation-templates", list_templates)
        .with_state(state)
        .into()
}

fn automation_id(raw: &str) -> Result<AutomationId, Problem> {
    AutomationId::parse(raw).map_err(|e| Problem::new(ProblemType::InvalidPath, e.to_string()))
}

fn view(a: &Automation) -> Value {
    let mut v = serde_json::to_value(a).expect("automations serialise");
    v["links"] = json!({
        "self": format!("/api/v1/integrations/automations/{}", a.automation_id),
        "runs": format!("/api/v1/integrations/automations/{}/runs", a.automation_id),
    });
    v
}

/// A saved automation; with `signingSecret` when this save made the secret of its webhook steps
/// (shown this once).
fn saved_view(saved: &service::Saved) -> Value {
    let mut v = view(&saved.automation);
    if let Some(secret) = &saved.signing_secret {
        v["signingSecret"] = secret.expose().into();
    }
    v
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    let all = service::list(&state, &caller).await?;
    Ok(Json(json!({ "automations": all.iter().map(view).collect::<Vec<_>>() })))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<AutomationSpec>,
) -> Result<impl IntoResponse, Problem> {
    let saved = service::create(&state, &caller, spec).await?;
    let location = format!("/api/v1/integrations/automations/{}", saved.automation.automation_id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(saved_view(&saved))))
}

async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    let id = automation_id(&id)?;
    Ok(Json(view(&service::get(&state, &caller, &id).await?)))
}

async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(spec): ApiJson<AutomationSpec>,
) -> Result<Json<Value>, Problem> {
    let id = automation_id(&id)?;
    Ok(Json(saved_view(&service::replace(&state, &caller, &id, spec).await?)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<AutomationPatch>,
) -> Result<Json<Value>, Problem> {
    let id = automation_id(&id)?;
    Ok(Json(view(&service::update(&state, &caller, &id, patch).await?)))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let id = automation_id(&id)?;
    service::delete(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, Problem> {
    let id = automation_id(&id)?;
    let queued = service::run_now(&state, &caller, &id, chrono::Utc::now()).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::to_value(queued).expect("runs serialise"))))
}

async fn dry_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    let id = automation_id(&id)?;
    let automation = service::get(&state, &caller, &id).await?;
    let preview = service::preview(&state, &caller, &automation.spec, chrono::Utc::now()).await?;
    Ok(Json(serde_json::to_value(preview).expect("dry runs serialise")))
}

async fn dry_run_definition(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<AutomationSpec>,
) -> Result<Json<Value>, Problem> {
    let preview = service::preview(&state, &caller, &spec, chrono::Utc::now()).await?;
    Ok(Json(serde_json::to_value(preview).expect("dry runs serialise")))
}

async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    let id = automation_id(&id)?;
    let runs = service::runs(&state, &caller, &id).await?;
    let runs: Vec<Value> = runs
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).expect("runs serialise");
            v["status"] = r.status().into();
            v
        })
        .collect();
    Ok(Json(json!({ "runs": runs })))
}

async fn list_templates(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    Ok(Json(json!({ "templates": service::templates(&state, &caller).await? })))
}
