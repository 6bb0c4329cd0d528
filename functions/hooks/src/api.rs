//! `hooks-api`: the caller's REST hooks (the subscribe/unsubscribe pattern of Zapier's REST-hook
//! triggers), their deliveries, and redelivery.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use integrations::AppState;
use integrations::auth::Caller;
use integrations::domain::{DeliveryId, HookId};
use integrations::hooks::service::{self, NewHook};
use integrations::http::{ApiJson, ApiPath, Problem, ProblemType, Routes, with_problem_fallbacks};
use integrations::store::Hook;
use serde_json::{Value, json};

const BASE: &str = "/api/v1/integrations/hooks";

pub fn router(state: AppState) -> Router {
    with_problem_fallbacks(routes(state))
}

/// The routes alone, for merging with other functions' routes (the local dev server).
pub fn routes<R: From<Routes>>(state: AppState) -> R {
    Routes::new()
        .get("/api/v1/integrations/hooks", list)
        .post("/api/v1/integrations/hooks", subscribe)
        .delete("/api/v1/integrations/hooks/{hookId}", unsubscribe)
        .get("/api/v1/integrations/hooks/{hookId}/deliveries", deliveries)
        .post("/api/v1/integrations/hooks/{hookId}/deliveries/{deliveryId}/redeliver", redeliver)
        .with_state(state)
        .into()
}

fn hook_id(raw: &str) -> Result<HookId, Problem> {
    HookId::parse(raw).map_err(|e| Problem::new(ProblemType::InvalidPath, e.to_string()))
}

fn view(hook: &Hook) -> Value {
    let mut v = serde_json::to_value(hook).expect("hooks serialise");
    v["links"] = json!({
        "self": format!("{BASE}/{}", hook.hook_id),
        "deliveries": format!("{BASE}/{}/deliveries", hook.hook_id),
    });
    v
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    let hooks = service::list(&state, &caller).await?;
    Ok(Json(json!({ "hooks": hooks.iter().map(view).collect::<Vec<_>>() })))
}

async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewHook>,
) -> Result<impl IntoResponse, Problem> {
    let (hook, secret) = service::subscribe(&state, &caller, new).await?;
    let mut body = view(&hook);
    // Shown this once: it is not readable afterwards.
    body["signingSecret"] = secret.expose().into();
    let location = format!("{BASE}/{}", hook.hook_id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)))
}

async fn unsubscribe(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    service::unsubscribe(&state, &caller, &hook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, Problem> {
    let deliveries = service::deliveries(&state, &caller, &hook_id(&id)?).await?;
    Ok(Json(json!({ "deliveries": deliveries })))
}

async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, delivery)): ApiPath<(String, String)>,
) -> Result<impl IntoResponse, Problem> {
    let id = hook_id(&id)?;
    let delivery = DeliveryId::parse(&delivery).map_err(|e| Problem::new(ProblemType::InvalidPath, e.to_string()))?;
    let queued = service::redeliver(&state, &caller, &id, &delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "deliveryId": queued }))))
}
