//! The synced work as items: `GET /items`, `GET /items/{itemId}` and `GET /agenda`.

use axum::Json;
use axum::extract::State;
use integrations::AppState;
use integrations::auth::Caller;
use integrations::http::{ApiPath, ApiQuery, Problem};
use integrations::items::{self, Agenda, Item, ItemQuery, ItemsPage};
use serde::Deserialize;

pub async fn list_items(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> Result<Json<ItemsPage>, Problem> {
    Ok(Json(items::list_items(&state, &caller, &query).await?))
}

pub async fn get_item(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Item>, Problem> {
    Ok(Json(items::get_item(&state, &caller, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgendaQuery {
    days: Option<u32>,
    tz: Option<String>,
}

pub async fn get_agenda(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AgendaQuery>,
) -> Result<Json<Agenda>, Problem> {
    let tz = items::time_zone(query.tz.as_deref().unwrap_or("UTC"))?;
    Ok(Json(items::agenda(&state, &caller, query.days.unwrap_or(7), tz).await?))
}
