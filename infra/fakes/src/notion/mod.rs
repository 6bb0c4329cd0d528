//! Notion: data model and seeding. The endpoints are in `api.rs`.

mod api;

use chrono::{DateTime, Utc};

use crate::state::{FakeState, Inner};
use crate::util::{slug, uuid_from};

pub(crate) use api::{handle, rate_limited, server_error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotionKind {
    Page,
    /// A database; with `Notion-Version: 2025-09-03` or later it is listed as a `data_source`.
    Database,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotionParent {
    Workspace,
    Page(String),
    Database(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotionItem {
    pub id: String,
    pub kind: NotionKind,
    pub title: String,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    pub parent: NotionParent,
    pub archived: bool,
    pub in_trash: bool,
    pub url: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub token: String,
    pub revoked: bool,
    pub bot_id: String,
    pub bot_name: String,
    pub workspace_id: String,
    pub workspace_name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ItemRec {
    /// Bot id of the integration the item is shared with.
    pub owner: String,
    pub item: NotionItem,
}

#[derive(Default)]
pub(crate) struct Data {
    pub accounts: Vec<Account>,
    pub items: Vec<ItemRec>,
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
}

/// Registers an integration reachable with `token` in a new workspace; returns the bot id.
pub(crate) fn new_account(s: &mut Inner, token: &str, workspace_name: &str) -> String {
    let seq = s.next_seq();
    let bot_id = uuid_from(seq);
    let workspace_id = uuid_from(seq ^ 0x5750_0000_0000_0000);
    s.notion.accounts.push(Account {
        token: token.to_owned(),
        revoked: false,
        bot_id: bot_id.clone(),
        bot_name: format!("{workspace_name} Integration"),
        workspace_id,
        workspace_name: workspace_name.to_owned(),
    });
    bot_id
}

impl FakeState {
    /// Registers an integration (bot) reachable with `token` in a workspace; returns the bot id.
    pub fn add_notion_account(&self, token: &str, workspace_name: &str) -> String {
        self.with(|s| new_account(s, token, workspace_name))
    }

    fn add_notion_item(&self, token: &str, kind: NotionKind, title: &str) -> String {
        self.with(|s| {
            let id = uuid_from(s.next_seq());
            let owner =
                s.notion.accounts.iter().find(|a| a.token == token).map(|a| a.bot_id.clone()).unwrap_or_default();
            let now = Utc::now();
            let url = format!("https://www.notion.so/{}-{}", slug(title), id.replace('-', ""));
            s.notion.items.push(ItemRec {
                owner,
                item: NotionItem {
                    id: id.clone(),
                    kind,
                    title: title.to_owned(),
                    created_time: now,
                    last_edited_time: now,
                    parent: NotionParent::Workspace,
                    archived: false,
                    in_trash: false,
                    url,
                },
            });
            id
        })
    }

    /// Adds a workspace-level page, created and edited now, shared with the integration of
    /// `token`; returns its id (a dashed UUID).
    pub fn add_notion_page(&self, token: &str, title: &str) -> String {
        self.add_notion_item(token, NotionKind::Page, title)
    }

    /// Adds a database shared with the integration of `token`; returns its id.
    pub fn add_notion_database(&self, token: &str, title: &str) -> String {
        self.add_notion_item(token, NotionKind::Database, title)
    }

    /// Adds `n` pages "Page 1" … "Page n"; returns their ids.
    pub fn add_notion_pages(&self, token: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| self.add_notion_page(token, &format!("Page {i}"))).collect()
    }

    /// Sets a page's (or database's) `last_edited_time` to now. Returns whether it exists.
    pub fn touch_notion_page(&self, id: &str) -> bool {
        self.update_notion_item(id, |i| i.last_edited_time = Utc::now())
    }

    /// Moves a page to the trash (search no longer returns it).
    pub fn trash_notion_page(&self, id: &str) -> bool {
        self.update_notion_item(id, |i| {
            i.in_trash = true;
            i.archived = true;
            i.last_edited_time = Utc::now();
        })
    }

    /// Edits a page or database as is (times included).
    pub fn update_notion_item(&self, id: &str, edit: impl FnOnce(&mut NotionItem)) -> bool {
        self.with(|s| match s.notion.items.iter_mut().find(|r| r.item.id == id) {
            Some(r) => {
                edit(&mut r.item);
                true
            }
            None => false,
        })
    }

    /// The pages in a database, oldest first.
    pub fn notion_pages_in(&self, database: &str) -> Vec<NotionItem> {
        let parent = NotionParent::Database(database.to_owned());
        self.with(|s| s.notion.items.iter().filter(|r| r.item.parent == parent).map(|r| r.item.clone()).collect())
    }

    pub fn notion_item(&self, id: &str) -> Option<NotionItem> {
        self.with(|s| s.notion.items.iter().find(|r| r.item.id == id).map(|r| r.item.clone()))
    }
}
