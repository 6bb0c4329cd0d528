//! Notion's action: create a page in a database (`POST /v1/pages`, with `parent.database_id` and
//! the title property). Notion offers no reliable way to find the page again by a marker: its
//! search is eventually consistent and matches titles only, and a database query needs a property
//! the user's database may not have. So a write whose answer was lost is not looked up
//! ([`Lookup::NotOffered`]): the runner shows it as `unknown` rather than risk a second page.

use serde::Deserialize;
use serde_json::json;

use super::{NOTION_VERSION, TOKEN};
use crate::providers::action::{ActionCall, ActionError, Performed, send_write};
use crate::providers::{ActionSpec, bearer, read_json};

#[derive(Deserialize)]
struct Page {
    id: String,
    #[serde(default)]
    url: Option<String>,
}

/// The key of a database's title property: its id is always `title` (Notion accepts a property's
/// name or id).
const TITLE_PROPERTY: &str = "title";

pub(super) async fn perform(action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
    if action.id != "notion.createPage" {
        return Err(ActionError::Unsupported(action.id));
    }
    let token = bearer(call.credentials, TOKEN).map_err(|_| ActionError::Unsupported(action.id))?;
    let title = call.param("title")?;
    let property = call.optional("titleProperty").unwrap_or(TITLE_PROPERTY);
    let mut body = json!({
        "parent": {"database_id": call.param("databaseId")?},
        "properties": {property: {"title": [{"type": "text", "text": {"content": title}}]}},
    });
    if let Some(text) = call.optional("content") {
        body["children"] = json!([{
            "object": "block",
            "type": "paragraph",
            "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]},
        }]);
    }
    let request = call
        .http
        .post(format!("{}/v1/pages", call.base))
        .bearer_auth(token)
        .header("Notion-Version", NOTION_VERSION)
        .json(&body);
    let response = send_write(request).await?;
    // It was made; an answer we cannot read does not undo that.
    let page: Page = read_json(response, "Notion", "page create").await.map_err(ActionError::Uncertain)?;
    Ok(Performed { id: Some(page.id), url: page.url, title: Some(title.to_owned()) })
}
