//! Trello's write endpoints an automation uses: `POST /1/cards`, `PUT /1/cards/{id}` (move),
//! `POST /1/cards/{id}/actions/comments`, and the read that finds a card again,
//! `GET /1/lists/{id}/cards`. Arguments come as query parameters, as Trello documents them.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::api::{card_json, not_found, text};
use super::{TrelloMember, add_card};
use crate::http::ApiRequest;
use crate::state::Inner;
use crate::util::{json_response, parse_datetime};

type Reply = Result<Response, Response>;

/// `None` when the request is not one of these (the read API answers it).
pub(crate) fn handle(s: &mut Inner, member: &TrelloMember, req: &ApiRequest, segments: &[&str]) -> Option<Reply> {
    Some(match (&req.method, segments) {
        (&Method::POST, ["cards"]) => create_card(s, member, req),
        (&Method::PUT, ["cards", id]) => move_card(s, member, id, req),
        (&Method::POST, ["cards", id, "actions", "comments"]) => comment(s, member, id, req),
        (&Method::GET, ["lists", id, "cards"]) => list_cards(s, member, id),
        _ => return None,
    })
}

/// The board a list is on, if the member is on that board.
fn writable_list(s: &Inner, member: &TrelloMember, list_id: &str) -> Result<String, Response> {
    let list = s
        .trello
        .lists
        .iter()
        .find(|l| l.id == list_id)
        .ok_or_else(|| text(StatusCode::BAD_REQUEST, "invalid value for idList"))?;
    match s.trello.board(&list.id_board) {
        Some(b) if b.members.contains(&member.id) => Ok(b.id.clone()),
        _ => Err(text(StatusCode::UNAUTHORIZED, "unauthorized permission requested")),
    }
}

fn create_card(s: &mut Inner, member: &TrelloMember, req: &ApiRequest) -> Reply {
    let list = req.param("idList").ok_or_else(|| text(StatusCode::BAD_REQUEST, "invalid value for idList"))?;
    let board = writable_list(s, member, list)?;
    let due = match req.param("due").filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => Some(parse_datetime(d).ok_or_else(|| text(StatusCode::BAD_REQUEST, "invalid value for due"))?),
    };
    let id = add_card(s, &board, list, req.param("name").unwrap_or_default(), Utc::now());
    let card = s.trello.cards.iter_mut().find(|c| c.id == id).expect("just added");
    card.desc = req.param("desc").unwrap_or_default().to_owned();
    card.due = due;
    Ok(json_response(StatusCode::OK, card_json(card, None)))
}

fn move_card(s: &mut Inner, member: &TrelloMember, id: &str, req: &ApiRequest) -> Reply {
    let list = req.param("idList").ok_or_else(|| text(StatusCode::BAD_REQUEST, "invalid value for idList"))?;
    writable_list(s, member, list)?;
    let card = s.trello.cards.iter_mut().find(|c| c.id == id).ok_or_else(not_found)?;
    card.id_list = list.to_owned();
    card.date_last_activity = Utc::now();
    Ok(json_response(StatusCode::OK, card_json(card, None)))
}

fn comment(s: &mut Inner, member: &TrelloMember, id: &str, req: &ApiRequest) -> Reply {
    let text_param = req
        .param("text")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| text(StatusCode::BAD_REQUEST, "invalid value for text"))?;
    let card = s.trello.cards.iter().find(|c| c.id == id).ok_or_else(not_found)?;
    let card = json!({"id": card.id, "name": card.name});
    let action_id = format!("{:024x}", s.next_seq());
    Ok(json_response(
        StatusCode::OK,
        json!({"id": action_id, "type": "commentCard", "idMemberCreator": member.id,
               "data": {"text": text_param, "card": card}}),
    ))
}

fn list_cards(s: &Inner, member: &TrelloMember, list_id: &str) -> Reply {
    writable_list(s, member, list_id).map_err(|_| not_found())?;
    let cards: Vec<Value> =
        s.trello.cards.iter().filter(|c| c.id_list == list_id).map(|c| card_json(c, None)).collect();
    Ok(json_response(StatusCode::OK, Value::Array(cards)))
}
