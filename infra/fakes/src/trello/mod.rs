//! Trello: data model and seeding. The HTTP side is in `api.rs`.
//!
//! Ids are 24 hex characters whose first 8 are the creation time in Unix seconds, like Trello's
//! (Mongo ObjectIds), followed by a global sequence number, so ids sort by creation time.

mod api;
pub(crate) use api::text;
mod webhooks;
mod writes;

pub use webhooks::{TrelloWebhook, signature as trello_webhook_signature};

use chrono::{DateTime, Utc};

use crate::state::{FakeState, Inner};
use crate::util::{short_code, slug};

pub(crate) use api::{handle, oauth_header, rate_limited, server_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrelloMember {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrelloBoard {
    pub id: String,
    pub name: String,
    pub desc: String,
    pub short_link: String,
    pub url: String,
    pub closed: bool,
    pub date_last_activity: DateTime<Utc>,
    /// Member ids that can see the board.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrelloList {
    pub id: String,
    pub name: String,
    pub id_board: String,
    pub closed: bool,
    pub pos: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrelloLabel {
    pub id: String,
    pub name: String,
    pub color: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrelloCard {
    pub id: String,
    pub name: String,
    pub desc: String,
    pub id_board: String,
    pub id_list: String,
    pub id_short: u64,
    pub short_link: String,
    pub due: Option<DateTime<Utc>>,
    pub due_complete: bool,
    pub closed: bool,
    pub url: String,
    pub short_url: String,
    pub labels: Vec<TrelloLabel>,
    /// Ids of the members assigned to the card.
    pub id_members: Vec<String>,
    pub pos: f64,
    pub date_last_activity: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Account {
    key: String,
    token: String,
    revoked: bool,
    member: TrelloMember,
}

#[derive(Default)]
pub(crate) struct Data {
    accounts: Vec<Account>,
    /// Members without an API account here (colleagues on a board).
    others: Vec<TrelloMember>,
    boards: Vec<TrelloBoard>,
    lists: Vec<TrelloList>,
    cards: Vec<TrelloCard>,
    webhooks: Vec<webhooks::TrelloWebhook>,
    app_secret: Option<String>,
}

/// Outcome of checking a key + token pair.
pub(crate) enum Auth {
    Ok(TrelloMember),
    InvalidKey,
    InvalidToken,
    Unauthorized,
}

impl Data {
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        let mut found = false;
        for a in self.accounts.iter_mut().filter(|a| a.token == token) {
            a.revoked = true;
            found = true;
        }
        found
    }

    pub(crate) fn authenticate(&self, key: Option<&str>, token: Option<&str>) -> Auth {
        let Some(key) = key.filter(|k| self.accounts.iter().any(|a| a.key == *k)) else {
            return Auth::InvalidKey;
        };
        let Some(token) = token else {
            return Auth::Unauthorized;
        };
        match self.accounts.iter().find(|a| a.key == key && a.token == token) {
            Some(a) if !a.revoked => Auth::Ok(a.member.clone()),
            _ => Auth::InvalidToken,
        }
    }

    fn member_for_token(&self, token: &str) -> Option<String> {
        self.accounts.iter().find(|a| a.token == token).map(|a| a.member.id.clone())
    }

    /// A member by id: an account's member or another board member.
    pub(crate) fn member(&self, id: &str) -> Option<&TrelloMember> {
        self.accounts.iter().map(|a| &a.member).chain(&self.others).find(|m| m.id == id)
    }

    pub(crate) fn board(&self, id_or_short_link: &str) -> Option<&TrelloBoard> {
        self.boards.iter().find(|b| b.id == id_or_short_link || b.short_link == id_or_short_link)
    }

    pub(crate) fn member_boards(&self, member_id: &str) -> impl Iterator<Item = &TrelloBoard> {
        self.boards.iter().filter(move |b| b.members.iter().any(|m| m == member_id))
    }

    pub(crate) fn board_lists(&self, board_id: &str) -> impl Iterator<Item = &TrelloList> {
        self.lists.iter().filter(move |l| l.id_board == board_id)
    }

    pub(crate) fn board_cards(&self, board_id: &str) -> impl Iterator<Item = &TrelloCard> {
        self.cards.iter().filter(move |c| c.id_board == board_id)
    }

    pub(crate) fn list_pos(&self, list_id: &str) -> f64 {
        self.lists.iter().find(|l| l.id == list_id).map_or(f64::MAX, |l| l.pos)
    }
}

/// A Trello-style id created at `at`.
fn trello_id(s: &mut Inner, at: DateTime<Utc>) -> String {
    let secs = at.timestamp().clamp(0, u32::MAX as i64) as u64;
    format!("{secs:08x}fa4e{:012x}", s.next_seq())
}

fn add_list_inner(s: &mut Inner, board_id: &str, name: &str) -> String {
    let id = trello_id(s, Utc::now());
    let pos = 16384.0 * (s.trello.board_lists(board_id).count() + 1) as f64;
    s.trello.lists.push(TrelloList {
        id: id.clone(),
        name: name.to_owned(),
        id_board: board_id.to_owned(),
        closed: false,
        pos,
    });
    id
}

impl FakeState {
    /// Registers a Trello API key + token pair for a member named `username`; returns the member id.
    pub fn add_trello_account(&self, key: &str, token: &str, username: &str) -> String {
        self.with(|s| {
            let id = trello_id(s, Utc::now());
            let member = TrelloMember {
                id: id.clone(),
                username: username.to_owned(),
                full_name: format!("Fake {username}"),
                url: format!("https://trello.com/{username}"),
            };
            s.trello.accounts.push(Account { key: key.to_owned(), token: token.to_owned(), revoked: false, member });
            id
        })
    }

    /// Adds an open board visible to the member owning `token`, with lists "To Do", "Doing" and
    /// "Done". Returns the board id. (An unknown token gives a board nobody can see.)
    pub fn add_trello_board(&self, token: &str, name: &str) -> String {
        self.with(|s| {
            let id = trello_id(s, Utc::now());
            let short_link = short_code(s.next_seq(), 8);
            let members = s.trello.member_for_token(token).into_iter().collect();
            s.trello.boards.push(TrelloBoard {
                id: id.clone(),
                name: name.to_owned(),
                desc: String::new(),
                url: format!("https://trello.com/b/{short_link}/{}", slug(name).to_lowercase()),
                short_link,
                closed: false,
                date_last_activity: Utc::now(),
                members,
            });
            for list in ["To Do", "Doing", "Done"] {
                add_list_inner(s, &id, list);
            }
            id
        })
    }

    /// Adds a member without an API account (a colleague) to a board; returns the member id.
    pub fn add_trello_board_member(&self, board_id: &str, username: &str, full_name: &str) -> String {
        self.with(|s| {
            let id = trello_id(s, Utc::now());
            s.trello.others.push(TrelloMember {
                id: id.clone(),
                username: username.to_owned(),
                full_name: full_name.to_owned(),
                url: format!("https://trello.com/{username}"),
            });
            if let Some(b) = s.trello.boards.iter_mut().find(|b| b.id == board_id) {
                b.members.push(id.clone());
            }
            id
        })
    }

    /// Adds a list at the end of a board; returns its id.
    pub fn add_trello_list(&self, board_id: &str, name: &str) -> String {
        self.with(|s| add_list_inner(s, board_id, name))
    }

    /// Adds a card created now to the board's first open list; returns its id.
    pub fn add_trello_card(&self, board_id: &str, name: &str) -> String {
        self.add_trello_card_at(board_id, name, Utc::now())
    }

    /// Adds a card created (and last active) at `created`; its id encodes that time.
    pub fn add_trello_card_at(&self, board_id: &str, name: &str, created: DateTime<Utc>) -> String {
        self.with(|s| {
            let list = s
                .trello
                .board_lists(board_id)
                .filter(|l| !l.closed)
                .min_by(|a, b| a.pos.total_cmp(&b.pos))
                .map(|l| l.id.clone())
                .unwrap_or_default();
            add_card(s, board_id, &list, name, created)
        })
    }

    /// Adds `n` cards named "Card 1" … "Card n", created in that order; returns their ids.
    pub fn add_trello_cards(&self, board_id: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| self.add_trello_card(board_id, &format!("Card {i}"))).collect()
    }

    /// Sets a card's (and its board's) `dateLastActivity` to now. Returns whether it exists.
    pub fn touch_trello_card(&self, card_id: &str) -> bool {
        self.update_trello_card(card_id, |c| c.date_last_activity = Utc::now())
    }

    /// Edits a card as is (use [`FakeState::touch_trello_card`] to bump `dateLastActivity`);
    /// the board's `dateLastActivity` follows if the card's is newer.
    pub fn update_trello_card(&self, card_id: &str, edit: impl FnOnce(&mut TrelloCard)) -> bool {
        self.with(|s| {
            let Some(card) = s.trello.cards.iter_mut().find(|c| c.id == card_id) else {
                return false;
            };
            edit(card);
            let (board_id, activity) = (card.id_board.clone(), card.date_last_activity);
            let name = card.name.clone();
            webhooks::notify(s, "updateCard", card_id, &name, &board_id);
            if let Some(b) = s.trello.boards.iter_mut().find(|b| b.id == board_id) {
                b.date_last_activity = b.date_last_activity.max(activity);
            }
            true
        })
    }

    /// Edits a board (e.g. `|b| b.closed = true`). Returns whether it exists.
    pub fn update_trello_board(&self, board_id: &str, edit: impl FnOnce(&mut TrelloBoard)) -> bool {
        self.with(|s| match s.trello.boards.iter_mut().find(|b| b.id == board_id) {
            Some(b) => {
                edit(b);
                true
            }
            None => false,
        })
    }

    /// A board's lists (open and closed), in board order.
    pub fn trello_lists(&self, board_id: &str) -> Vec<TrelloList> {
        let mut lists: Vec<TrelloList> = self.with(|s| s.trello.board_lists(board_id).cloned().collect());
        lists.sort_by(|a, b| a.pos.total_cmp(&b.pos));
        lists
    }

    pub fn trello_card(&self, card_id: &str) -> Option<TrelloCard> {
        self.with(|s| s.trello.cards.iter().find(|c| c.id == card_id).cloned())
    }

    /// All cards of a board (open and closed), oldest (smallest id) first.
    pub fn trello_cards(&self, board_id: &str) -> Vec<TrelloCard> {
        let mut cards: Vec<TrelloCard> = self.with(|s| s.trello.board_cards(board_id).cloned().collect());
        cards.sort_by(|a, b| a.id.cmp(&b.id));
        cards
    }
}

/// Adds a card at the bottom of a list; returns its id.
pub(crate) fn add_card(s: &mut Inner, board_id: &str, list: &str, name: &str, created: DateTime<Utc>) -> String {
    let id = trello_id(s, created);
    let short_link = short_code(s.next_seq(), 8);
    let id_short = s.trello.board_cards(board_id).count() as u64 + 1;
    let pos = 16384.0 * s.trello.cards.iter().filter(|c| c.id_list == list).count() as f64 + 16384.0;
    let slug = slug(name).to_lowercase();
    s.trello.cards.push(TrelloCard {
        url: format!("https://trello.com/c/{short_link}/{id_short}-{slug}"),
        short_url: format!("https://trello.com/c/{short_link}"),
        id: id.clone(),
        name: name.to_owned(),
        desc: String::new(),
        id_board: board_id.to_owned(),
        id_list: list.to_owned(),
        id_short,
        short_link,
        due: None,
        due_complete: false,
        closed: false,
        labels: Vec::new(),
        id_members: Vec::new(),
        pos,
        date_last_activity: created,
    });
    if let Some(b) = s.trello.boards.iter_mut().find(|b| b.id == board_id) {
        b.date_last_activity = b.date_last_activity.max(created);
    }
    webhooks::notify(s, "createCard", &id, name, board_id);
    id
}
