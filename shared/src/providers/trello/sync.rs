//! Trello sync: the open boards of the member, then each board's lists and members (for the
//! names of a card's list and members) and cards, paged newest → oldest by id with `before`.
//!
//! Cursor (one provider request per page):
//! - `{"step":"boards","since":…}`: `GET /1/members/me/boards`;
//! - `{"step":"lists","run":{…},"board":i}`: `GET /1/boards/{id}?lists=all&members=all` of the
//!   i-th changed board (its lists and members nested in the board);
//! - `{"step":"cards","run":{…},"board":i,"lists":{id:name},"members":{id:name},"before":"<card id>"|null}`:
//!   `GET /1/boards/{id}/cards`, until a page is short.
//!
//! A card's assignees are its `idMembers`, named from the board's members (the id of one the
//! board no longer lists).
//!
//! `run` holds the boards to read, `since` (from the saved state) and `newest`, the latest
//! `dateLastActivity` of the boards as listed. State: `{"since": <that newest>}`; the next run
//! reads only boards active after it, and emits only their cards active after it. The boards'
//! own activity dates (not the cards') make the state, so a card touched while this run reads
//! another board is still seen next time.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::auth_header;
use crate::providers::SyncConnector;
use crate::providers::{ProviderError, send_with_retry};
use crate::sync::{ConnectorConfig, KindFields, Page, Record, RecordKind, TaskFields, clip};

/// Trello's maximum `limit` of `GET /1/boards/{id}/cards`.
const MAX_CARDS_PER_PAGE: u32 = 1000;
const CARD_FIELDS: &str = "id,name,desc,idList,idMembers,due,dueComplete,closed,url,labels,dateLastActivity";
const DESCRIPTION_MAX: usize = 2000;

pub struct TrelloConnector {
    config: ConnectorConfig,
    api_key: SecretString,
    token: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "lowercase")]
enum Cursor {
    Boards {
        since: Option<DateTime<Utc>>,
    },
    Lists {
        run: Run,
        board: usize,
    },
    Cards {
        run: Run,
        board: usize,
        lists: BTreeMap<String, String>,
        /// The board's members: id → full name (absent from cursors saved before it was kept).
        #[serde(default)]
        members: BTreeMap<String, String>,
        before: Option<String>,
    },
}

/// The names a card's ids refer to, from its board.
struct Names<'a> {
    lists: &'a BTreeMap<String, String>,
    members: &'a BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Run {
    since: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
    boards: Vec<BoardRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BoardRef {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Board {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    date_last_activity: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct List {
    id: String,
    #[serde(default)]
    name: String,
}

/// `GET /1/boards/{id}` with its lists and members nested.
#[derive(Deserialize)]
struct BoardDetail {
    #[serde(default)]
    lists: Vec<List>,
    #[serde(default)]
    members: Vec<Member>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    id: String,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct Label {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Card {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    desc: String,
    #[serde(default)]
    id_list: Option<String>,
    #[serde(default)]
    id_members: Vec<String>,
    #[serde(default)]
    due: Option<String>,
    #[serde(default)]
    due_complete: bool,
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    date_last_activity: Option<DateTime<Utc>>,
}

/// What the boards step decided, or where the walk over the boards goes next.
enum Next {
    Cursor(Cursor),
    Done(Option<DateTime<Utc>>),
}

impl Next {
    fn into_page(self, records: Vec<Record>) -> Page {
        match self {
            Next::Cursor(cursor) => Page { records, next: Some(to_json(&cursor)), ..Page::default() },
            Next::Done(since) => {
                Page { records, state: Some(json!({ "since": since.map(rfc3339) })), ..Page::default() }
            }
        }
    }
}

/// After board `board`: the next board's lists, or the end of the run.
fn after_board(run: Run, board: usize) -> Next {
    if board + 1 < run.boards.len() {
        Next::Cursor(Cursor::Lists { run, board: board + 1 })
    } else {
        Next::Done(run.newest)
    }
}

fn to_json(cursor: &Cursor) -> Value {
    serde_json::to_value(cursor).unwrap_or_default()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
}

/// Whether something last active at `at` changed after `since` (unknown dates count as changed).
fn changed(at: Option<DateTime<Utc>>, since: Option<DateTime<Utc>>) -> bool {
    match (at, since) {
        (Some(at), Some(since)) => at > since,
        _ => true,
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, ProviderError> {
    crate::providers::read_json(response, "Trello", what).await
}

impl TrelloConnector {
    pub fn new(config: ConnectorConfig, api_key: &str, token: &str) -> Self {
        Self { config, api_key: SecretString::from(api_key.to_owned()), token: SecretString::from(token.to_owned()) }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Response, ProviderError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let mut auth = HeaderValue::from_str(&auth_header(self.api_key.expose_secret(), self.token.expose_secret()))
            .map_err(|_| ProviderError::Unauthorized("the Trello key or token is malformed".into()))?;
        auth.set_sensitive(true);
        send_with_retry(&self.config.retry, || {
            self.config.http.get(&url).query(query).header(AUTHORIZATION, auth.clone())
        })
        .await
    }

    async fn boards(&self, since: Option<DateTime<Utc>>) -> Result<Page, ProviderError> {
        let response =
            self.get("/1/members/me/boards", &[("filter", "open"), ("fields", "id,name,url,dateLastActivity")]).await?;
        let boards: Vec<Board> = read_json(response, "boards").await?;
        let newest = boards.iter().filter_map(|b| b.date_last_activity).chain(since).max();
        let changed: Vec<BoardRef> = boards
            .into_iter()
            .filter(|b| changed(b.date_last_activity, since))
            .map(|b| BoardRef { id: b.id, name: b.name })
            .collect();
        let next = if changed.is_empty() {
            Next::Done(newest)
        } else {
            Next::Cursor(Cursor::Lists { run: Run { since, newest, boards: changed }, board: 0 })
        };
        Ok(next.into_page(Vec::new()))
    }

    async fn lists(&self, run: Run, board: usize) -> Result<Page, ProviderError> {
        let Some(board_ref) = run.boards.get(board) else {
            return Err(ProviderError::Unexpected("Trello sync cursor past its boards".into()));
        };
        let path = format!("/1/boards/{}", board_ref.id);
        let query = [
            ("fields", "id"),
            ("lists", "all"),
            ("list_fields", "id,name"),
            ("members", "all"),
            ("member_fields", "fullName,username"),
        ];
        let response = self.get(&path, &query).await?;
        if response.status() == StatusCode::NOT_FOUND {
            // The board went away since it was listed: nothing of it to sync.
            return Ok(after_board(run, board).into_page(Vec::new()));
        }
        let detail: BoardDetail = read_json(response, "board").await?;
        let lists = detail.lists.into_iter().map(|l| (l.id, l.name)).collect();
        let members = detail
            .members
            .into_iter()
            .filter_map(|m| {
                let name = m.full_name.filter(|n| !n.is_empty()).or(m.username.filter(|n| !n.is_empty()))?;
                Some((m.id, name))
            })
            .collect();
        Ok(Next::Cursor(Cursor::Cards { run, board, lists, members, before: None }).into_page(Vec::new()))
    }

    async fn cards(
        &self,
        run: Run,
        board: usize,
        lists: BTreeMap<String, String>,
        members: BTreeMap<String, String>,
        before: Option<String>,
    ) -> Result<Page, ProviderError> {
        let Some(board_ref) = run.boards.get(board) else {
            return Err(ProviderError::Unexpected("Trello sync cursor past its boards".into()));
        };
        let limit = self.config.page_size.clamp(1, MAX_CARDS_PER_PAGE);
        let limit_text = limit.to_string();
        let mut query = vec![("filter", "all"), ("fields", CARD_FIELDS), ("limit", limit_text.as_str())];
        if let Some(before) = &before {
            query.push(("before", before.as_str()));
        }
        let path = format!("/1/boards/{}/cards", board_ref.id);
        let response = self.get(&path, &query).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(after_board(run, board).into_page(Vec::new()));
        }
        let cards: Vec<Card> = read_json(response, "cards").await?;
        let oldest = cards.iter().map(|c| c.id.as_str()).min().map(str::to_owned);
        let full = cards.len() >= limit as usize;
        let names = Names { lists: &lists, members: &members };
        let records = cards
            .into_iter()
            .filter(|c| changed(c.date_last_activity, run.since))
            .map(|c| record(c, &board_ref.name, &names))
            .collect();
        let next = match oldest {
            Some(oldest) if full => Next::Cursor(Cursor::Cards { run, board, lists, members, before: Some(oldest) }),
            _ => after_board(run, board),
        };
        Ok(next.into_page(records))
    }
}

#[async_trait::async_trait]
impl SyncConnector for TrelloConnector {
    /// The first cursor: every open board, or (with a saved state) those active since it.
    fn start(&self, state: Option<&Value>) -> Value {
        let since = state.and_then(|s| s.get("since")).and_then(Value::as_str).and_then(parse_time);
        to_json(&Cursor::Boards { since })
    }

    async fn fetch_page(&self, cursor: &Value) -> Result<Page, ProviderError> {
        let cursor: Cursor = serde_json::from_value(cursor.clone())
            .map_err(|_| ProviderError::Unexpected("not a Trello sync cursor".into()))?;
        match cursor {
            Cursor::Boards { since } => self.boards(since).await,
            Cursor::Lists { run, board } => self.lists(run, board).await,
            Cursor::Cards { run, board, lists, members, before } => {
                self.cards(run, board, lists, members, before).await
            }
        }
    }
}

fn record(card: Card, board: &str, names: &Names) -> Record {
    let status = if card.due_complete {
        "done"
    } else if card.closed {
        "archived"
    } else {
        "open"
    };
    let fields = TaskFields {
        list: card.id_list.as_ref().and_then(|id| names.lists.get(id)).cloned(),
        labels: card.labels.into_iter().filter_map(|l| l.name.filter(|n| !n.is_empty())).collect(),
        done: card.due_complete,
        assignees: card.id_members.into_iter().map(|id| names.members.get(&id).cloned().unwrap_or(id)).collect(),
    };
    let mut data = Map::new();
    fields.write(&mut data);
    if !card.desc.is_empty() {
        data.insert("description".into(), Value::String(clip(&card.desc, DESCRIPTION_MAX)));
    }
    Record {
        kind: RecordKind::Task,
        external_id: card.id,
        title: card.name,
        url: card.url,
        container: Some(board.to_owned()),
        status: Some(status.to_owned()),
        due_at: card.due,
        updated_at: card.date_last_activity,
        data,
    }
}
