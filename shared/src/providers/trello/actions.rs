//! Trello's actions: create a card, comment on a card, move a card. A new card's description ends
//! with the action's marker, so that a retry whose first answer was lost finds the card in its
//! list instead of making a second one. A move can safely be sent again.

use reqwest::header::AUTHORIZATION;
use serde::Deserialize;

use super::{API_KEY, TOKEN, auth_header};
use crate::providers::action::{ActionCall, ActionError, Lookup, Performed, send_write};
use crate::providers::{ActionSpec, ProviderError, RetryPolicy, field, read_json, send_with_retry};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Card {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    short_url: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    desc: Option<String>,
}

impl From<Card> for Performed {
    fn from(c: Card) -> Self {
        Performed { id: Some(c.id), url: c.short_url.or(c.url), title: c.name }
    }
}

/// The line a created card's description ends with.
fn marker_line(marker: &str) -> String {
    format!("[director-of-one:{marker}]")
}

fn auth(call: &ActionCall<'_>, action: &'static ActionSpec) -> Result<String, ActionError> {
    let unsupported = |_| ActionError::Unsupported(action.id);
    Ok(auth_header(
        field(call.credentials, API_KEY).map_err(unsupported)?,
        field(call.credentials, TOKEN).map_err(unsupported)?,
    ))
}

pub(super) async fn perform(action: &'static ActionSpec, call: &ActionCall<'_>) -> Result<Performed, ActionError> {
    let auth = auth(call, action)?;
    let base = call.base;
    let (request, what) = match action.id {
        "trello.createCard" => {
            let desc = match call.optional("desc") {
                Some(desc) => format!("{desc}\n\n{}", marker_line(call.marker)),
                None => marker_line(call.marker),
            };
            let mut query = vec![("idList", call.param("listId")?), ("name", call.param("name")?), ("desc", &desc)];
            if let Some(due) = call.optional("due") {
                query.push(("due", due));
            }
            (call.http.post(format!("{base}/1/cards")).query(&query), "card create")
        }
        "trello.addComment" => {
            let url = format!("{base}/1/cards/{}/actions/comments", segment(call.param("cardId")?));
            (call.http.post(url).query(&[("text", call.param("text")?)]), "comment")
        }
        "trello.moveCard" => {
            let url = format!("{base}/1/cards/{}", segment(call.param("cardId")?));
            (call.http.put(url).query(&[("idList", call.param("listId")?)]), "card move")
        }
        other => return Err(ActionError::Unsupported(other)),
    };
    let response = send_write(request.header(AUTHORIZATION, auth)).await?;
    if action.id == "trello.addComment" {
        #[derive(Deserialize)]
        struct Comment {
            id: String,
        }
        let comment: Comment = read_json(response, "Trello", what).await.map_err(ActionError::Uncertain)?;
        return Ok(Performed { id: Some(comment.id), url: None, title: None });
    }
    let card: Card = read_json(response, "Trello", what).await.map_err(ActionError::Uncertain)?;
    Ok(card.into())
}

pub(super) async fn find_performed(
    action: &'static ActionSpec,
    call: &ActionCall<'_>,
) -> Result<Lookup, ProviderError> {
    match action.id {
        // Moving again lands the card where it should be.
        "trello.moveCard" => return Ok(Lookup::NotFound),
        "trello.createCard" => {}
        _ => return Ok(Lookup::NotOffered),
    }
    let (Ok(auth), Ok(list)) = (auth(call, action), call.param("listId")) else { return Ok(Lookup::NotOffered) };
    let url = format!("{}/1/lists/{}/cards", call.base, segment(list));
    let request = || {
        call.http
            .get(&url)
            .header(AUTHORIZATION, &auth)
            .query(&[("fields", "name,desc,url,shortUrl"), ("filter", "all")])
    };
    let response = send_with_retry(&RetryPolicy::default(), request).await?;
    let cards: Vec<Card> = read_json(response, "Trello", "list cards").await?;
    let line = marker_line(call.marker);
    let found = cards.into_iter().find(|c| c.desc.as_deref().is_some_and(|d| d.ends_with(&line)));
    Ok(found.map_or(Lookup::NotFound, |c| Lookup::Found(c.into())))
}

/// A Trello id as a path segment: ids are 24 hex digits, anything else is escaped.
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
