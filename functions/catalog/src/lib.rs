//! Lambda `catalog`: the available integrations, the caller's stats, recommendations, audit
//! trail and plan, and how the providers have been answering.

use axum::extract::State;
use axum::{Json, Router};
use integrations::AppState;
use integrations::activity::{self, AuditPage, AuditQuery};
use integrations::auth::Caller;
use integrations::catalog::IntegrationView;
use integrations::domain::SyncSettings;
use integrations::http::{ApiPath, ApiQuery, Problem, Routes, with_problem_fallbacks};
use integrations::insights::{self, Stats};
use integrations::plan::{self, PlanView};
use integrations::provider_status::{self, HealthReport};
use serde::Deserialize;
use serde_json::{Value, json};

/// The function's router: its routes plus problem+json answers for unknown routes and methods.
pub fn router(state: AppState) -> Router {
    with_problem_fallbacks(routes(state))
}

/// The routes alone, for merging with other functions' routes (the local dev server): a
/// `Router`, or `Routes` to list them too.
pub fn routes<R: From<Routes>>(state: AppState) -> R {
    Routes::new()
        .get("/api/v1/integrations/available", list_available)
        .get("/api/v1/integrations/available/{integrationId}", get_available)
        .get("/api/v1/integrations/stats", get_stats)
        .get("/api/v1/integrations/recommendations", list_recommendations)
        .get("/api/v1/integrations/audit", list_audit)
        .get("/api/v1/integrations/plan", get_plan)
        .get("/api/v1/integrations/health", get_health)
        .with_state(state)
        .into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogQuery {
    category: Option<String>,
}

async fn list_available(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<CatalogQuery>,
) -> Result<Json<Value>, Problem> {
    let catalog = state.catalog;
    let integrations: Vec<IntegrationView> = match query.category.as_deref() {
        None => catalog.integrations().iter().map(IntegrationView::from).collect(),
        Some(category) if catalog.is_category(category) => {
            catalog.in_category(category).map(IntegrationView::from).collect()
        }
        Some(category) => {
            let valid: Vec<&str> = catalog.categories().iter().map(|c| c.id.as_str()).collect();
            return Err(Problem::bad_request(format!(
                "`{category}` is not a category; use one of: {}",
                valid.join(", ")
            ))
            .with("validCategories", valid));
        }
    };
    Ok(Json(json!({
        "categories": catalog.categories(),
        "integrations": integrations,
        "syncIntervals": SyncSettings::intervals(),
    })))
}

async fn get_available(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    state
        .catalog
        .find(&id)
        .map(|i| Json(json!(IntegrationView::from(i))))
        .ok_or_else(|| Problem::not_found(format!("There is no integration `{id}`.")))
}

async fn get_stats(State(state): State<AppState>, caller: Caller) -> Result<Json<Stats>, Problem> {
    insights::stats(&state, &caller).await.map(Json).map_err(|e| Problem::unavailable(&e))
}

async fn list_recommendations(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    let (recommendations, automations) =
        insights::recommendations(&state, &caller).await.map_err(|e| Problem::unavailable(&e))?;
    Ok(Json(json!({ "recommendations": recommendations, "automations": automations })))
}

async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, Problem> {
    Ok(Json(activity::audit(&state, &caller, query).await?))
}

async fn get_plan(State(state): State<AppState>, caller: Caller) -> Result<Json<PlanView>, Problem> {
    plan::plan(&state, &caller).await.map(Json).map_err(|e| Problem::unavailable(&e))
}

async fn get_health(State(state): State<AppState>, _caller: Caller) -> Result<Json<HealthReport>, Problem> {
    provider_status::report(&state, chrono::Utc::now()).await.map(Json).map_err(|e| Problem::unavailable(&e))
}
