//! The demo data set: one account per provider with fixed, obviously fake credentials, and the
//! fake OAuth clients' credentials. The Google, Microsoft and OAuth parts are in `more.rs`.

mod more;

use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::notion::NotionParent;
use crate::state::FakeState;
use crate::trello::TrelloLabel;

pub const TRELLO_KEY: &str = "fake-trello-key";
pub const TRELLO_TOKEN: &str = "fake-trello-token";
/// The secret the fake Trello signs webhook notifications with (the dev server's
/// `TRELLO_APP_SECRET`).
pub const TRELLO_APP_SECRET: &str = "fake-trello-app-secret";
pub const SLACK_TOKEN: &str = "xoxb-fake-demo";
pub const ASANA_TOKEN: &str = "fake-asana-pat";
pub const NOTION_TOKEN: &str = "secret_fake_notion";
/// A Notion-Version the fake accepts (any `YYYY-MM-DD` is accepted).
pub const NOTION_VERSION: &str = "2022-06-28";
/// Bearer token of the demo Google user (Calendar, Drive, userinfo).
pub const GOOGLE_TOKEN: &str = "ya29.fake-google-demo";
/// Bearer token of the demo Microsoft 365 user (Graph).
pub const MICROSOFT_TOKEN: &str = "fake-graph-demo-token";

/// OAuth client credentials the fake authorization servers accept (see `OAuthProvider::client_id`).
pub const GOOGLE_CLIENT_ID: &str = "fake-google-client-id";
pub const GOOGLE_CLIENT_SECRET: &str = "fake-google-client-secret";
pub const MICROSOFT_CLIENT_ID: &str = "fake-microsoft-client-id";
pub const MICROSOFT_CLIENT_SECRET: &str = "fake-microsoft-client-secret";
pub const SLACK_CLIENT_ID: &str = "fake-slack-client-id";
pub const SLACK_CLIENT_SECRET: &str = "fake-slack-client-secret";
pub const ASANA_CLIENT_ID: &str = "fake-asana-client-id";
pub const ASANA_CLIENT_SECRET: &str = "fake-asana-client-secret";
pub const NOTION_CLIENT_ID: &str = "fake-notion-client-id";
pub const NOTION_CLIENT_SECRET: &str = "fake-notion-client-secret";

/// Ids of what [`FakeState::seed_demo`] created.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSeed {
    pub trello_member_id: String,
    /// `[Product Roadmap (40 cards: 37 open, 3 closed), Sprint Board (30), Old Archive (closed, 5)]`.
    /// Every third card is assigned to the demo member, every fourth (from the second) to the
    /// colleague "Alice (fake)"; every fifth has a due date, a week after its creation (every
    /// tenth is complete). Sprint Board cards 2 and 3 are due 1 and 3 days after seeding and
    /// card 4 was due 2 days before (none complete): at least two cards due within the next
    /// week and one overdue.
    pub trello_board_ids: Vec<String>,
    pub slack_team_id: String,
    /// `[general (250 msgs), random (30), secret-project (private, 40),
    ///   announcements (bot not a member, 10), old-stuff (archived, 5)]`; plus 25 empty
    /// `team-NN` channels the bot is not in (30 public/private channels in all). Every
    /// twentieth message starts a thread (2 replies, by Bob and Alice). In #general, message
    /// 247 (Alice's) mentions the token's user (`<@{slack_user_id}>`) and only Bob replied;
    /// message 241 mentions it too and it replied; message 249 mentions Bob.
    pub slack_channel_ids: Vec<String>,
    /// The token's user (the bot user), as `auth.test` names it.
    pub slack_user_id: String,
    pub asana_user_gid: String,
    /// `[Fake Demo Workspace (120 tasks assigned to me + 10 unassigned), Side Projects (30)]`.
    pub asana_workspace_gids: Vec<String>,
    pub asana_project_gids: Vec<String>,
    pub notion_bot_id: String,
    /// 230 pages (3 of them in the trash, so 227 searchable) and 4 databases.
    pub notion_page_ids: Vec<String>,
    pub notion_database_ids: Vec<String>,
    pub google_user_sub: String,
    /// 40 events: 30 upcoming, one a day from tomorrow (the 3rd, 13th and 23rd all-day: one
    /// within the next week), 8 past, 2 cancelled. Every fourth has a location and attendees,
    /// the demo user among them (`self: true`): every eighth (from the first) it organises and
    /// accepted; the others Alice organises, and the demo user's answer is `needsAction`
    /// (events 5, 21, 37) or `tentative` (13, 29).
    pub calendar_event_ids: Vec<String>,
    /// 30 files: 3 folders, docs, sheets and PDFs in them; 2 trashed. All owned by the demo
    /// user; every fourth file from the second (files 5, 9, … in this list) was last modified
    /// by Alice, the others by the demo user.
    pub drive_file_ids: Vec<String>,
    pub microsoft_user_id: String,
    /// `[Fake Product Team, Fake Support Team]`.
    pub teams_team_ids: Vec<String>,
    /// 2 channels per team (`General`, then a topic channel), 30 messages each. In each
    /// General channel, message 28 (Bob's) mentions the demo user, who has not replied;
    /// message 26 mentions Alice; message 21 has two replies, one by the demo user, and
    /// message 23 one, by Bob.
    pub teams_channel_ids: Vec<String>,
}

impl FakeState {
    /// Replaces all data with the demo data set (see [`DemoSeed`] and the `demo` constants).
    /// Timestamps are relative to now, spread over the past days.
    pub fn seed_demo(&self) -> DemoSeed {
        self.reset();
        let (trello_member_id, trello_board_ids) = self.seed_trello();
        let (slack_team_id, slack_channel_ids, slack_user_id) = self.seed_slack();
        let (asana_user_gid, asana_workspace_gids, asana_project_gids) = self.seed_asana();
        let (notion_bot_id, notion_page_ids, notion_database_ids) = self.seed_notion();
        let (google_user_sub, calendar_event_ids, drive_file_ids) = self.seed_google();
        let (microsoft_user_id, teams_team_ids, teams_channel_ids) = self.seed_microsoft();
        self.seed_oauth_users();
        DemoSeed {
            trello_member_id,
            trello_board_ids,
            slack_team_id,
            slack_channel_ids,
            slack_user_id,
            asana_user_gid,
            asana_workspace_gids,
            asana_project_gids,
            notion_bot_id,
            notion_page_ids,
            notion_database_ids,
            google_user_sub,
            calendar_event_ids,
            drive_file_ids,
            microsoft_user_id,
            teams_team_ids,
            teams_channel_ids,
        }
    }

    fn seed_trello(&self) -> (String, Vec<String>) {
        let now = Utc::now();
        let member = self.add_trello_account(TRELLO_KEY, TRELLO_TOKEN, "demo-user");
        let mut boards = Vec::new();
        for (name, count) in [("Product Roadmap", 40), ("Sprint Board", 30), ("Old Archive", 5)] {
            let board = self.add_trello_board(TRELLO_TOKEN, name);
            let alice = self.add_trello_board_member(&board, "alice", "Alice (fake)");
            let lists = self.trello_lists(&board);
            for i in 0..count {
                let created = now - Duration::hours(6 * (count - i) as i64);
                let id = self.add_trello_card_at(&board, &format!("{name} card {}", i + 1), created);
                self.update_trello_card(&id, |c| {
                    c.id_list = lists[i % lists.len()].id.clone();
                    c.desc = format!("Fake description of card {}.", i + 1);
                    c.date_last_activity = created + Duration::minutes(30);
                    if i % 4 == 0 {
                        c.labels.push(TrelloLabel {
                            id: format!("{}0000000000000000", &board[..8]),
                            name: "Bug".into(),
                            color: "red".into(),
                        });
                    }
                    if i % 5 == 0 {
                        c.due = Some(created + Duration::days(7));
                        c.due_complete = i % 10 == 0;
                    }
                    c.closed = name == "Product Roadmap" && i >= count - 3;
                    if i % 3 == 0 {
                        c.id_members.push(member.clone());
                    }
                    if i % 4 == 1 {
                        c.id_members.push(alice.clone());
                    }
                    if name == "Sprint Board" {
                        // Due soon, and overdue, from the moment of seeding.
                        match i {
                            1 => c.due = Some(now + Duration::days(1)),
                            2 => c.due = Some(now + Duration::days(3)),
                            3 => c.due = Some(now - Duration::days(2)),
                            _ => {}
                        }
                    }
                });
            }
            boards.push(board);
        }
        self.update_trello_board(&boards[2], |b| b.closed = true);
        (member, boards)
    }

    fn seed_slack(&self) -> (String, Vec<String>, String) {
        let now = Utc::now();
        let team = self.add_slack_account(SLACK_TOKEN, "Fake Demo Workspace");
        let me = self.slack_user_id(SLACK_TOKEN).unwrap_or_default();
        let specs = [
            ("general", 250, false, true, false),
            ("random", 30, false, true, false),
            ("secret-project", 40, true, true, false),
            ("announcements", 10, false, false, false),
            ("old-stuff", 5, false, true, true),
        ];
        let mut channels = Vec::new();
        for (name, count, private, member, archived) in specs {
            let id = self.add_slack_channel(SLACK_TOKEN, name);
            self.update_slack_channel(&id, |c| {
                c.is_private = private;
                c.is_member = member;
                c.is_archived = archived;
                c.created = (now - Duration::days(90)).timestamp();
                c.topic = format!("Fake #{name} channel");
            });
            for i in 0..count {
                let at = now - Duration::minutes(15 * (count - i) as i64);
                let user = if i % 2 == 0 { "U0FAKEALICE" } else { "U0FAKEBOB" };
                let text = match (name, i) {
                    ("general", 240) => format!("<@{me}> thanks for the release notes!"),
                    ("general", 246) => format!("<@{me}> can you review the launch checklist before Friday?"),
                    ("general", 248) => "<@U0FAKEBOB> lunch at noon?".to_owned(),
                    _ => format!("#{name} message {}", i + 1),
                };
                let ts = self.add_slack_message_at(&id, at, user, &text);
                let replies: Option<Vec<&str>> = match (name, i) {
                    ("general", 240) => Some(vec!["U0FAKEBOB", &me]),
                    ("general", 246) => Some(vec!["U0FAKEBOB"]),
                    _ if i % 20 == 0 => Some(vec!["U0FAKEBOB", "U0FAKEALICE"]),
                    _ => None,
                };
                if let Some(replies) = replies {
                    self.update_slack_message(&id, &ts, |m| {
                        m.thread_ts = Some(ts.clone());
                        m.reply_count = Some(replies.len() as u32);
                        m.reply_users = replies.iter().map(|u| (*u).to_owned()).collect();
                    });
                }
            }
            channels.push(id);
        }
        for n in 1..=25 {
            let id = self.add_slack_channel(SLACK_TOKEN, &format!("team-{n:02}"));
            self.update_slack_channel(&id, |c| c.is_member = false);
        }
        (team, channels, me)
    }

    fn seed_asana(&self) -> (String, Vec<String>, Vec<String>) {
        let now = Utc::now();
        let user = self.add_asana_account(ASANA_TOKEN, "Demo User", "demo.user@example.com");
        let main = self.add_asana_workspace(ASANA_TOKEN, "Fake Demo Workspace");
        let side = self.add_asana_workspace(ASANA_TOKEN, "Side Projects");
        let projects =
            vec![self.add_asana_project(&main, "Website Relaunch"), self.add_asana_project(&main, "Mobile App")];
        let seed = |workspace: &str, token: &str, prefix: &str, count: usize| {
            for i in 0..count {
                let gid = self.add_asana_task(token, workspace, &format!("{prefix} {}", i + 1));
                let created = now - Duration::hours(3 * (count - i) as i64);
                self.update_asana_task(&gid, |t| {
                    t.created_at = created;
                    t.modified_at = created + Duration::hours(1);
                    t.notes = format!("Fake notes for {prefix} {}.", i + 1);
                    if i % 7 == 0 {
                        t.completed = true;
                        t.completed_at = Some(t.modified_at);
                    }
                    if i % 3 == 0 {
                        t.due_on = NaiveDate::from_ymd_opt(2030, 1, 1 + (i % 28) as u32);
                    }
                    if workspace == main {
                        t.project_gids = vec![projects[i % 2].clone()];
                    }
                });
            }
        };
        seed(&main, ASANA_TOKEN, "Task", 120);
        seed(&main, "nobody", "Unassigned task", 10);
        seed(&side, ASANA_TOKEN, "Side task", 30);
        (user, vec![main, side], projects)
    }

    fn seed_notion(&self) -> (String, Vec<String>, Vec<String>) {
        let now = Utc::now();
        let bot = self.add_notion_account(NOTION_TOKEN, "Fake Demo Notion");
        let mut databases = Vec::new();
        for (i, title) in ["Tasks DB", "Meeting Notes DB", "Docs DB", "Reading List"].into_iter().enumerate() {
            let id = self.add_notion_database(NOTION_TOKEN, title);
            self.update_notion_item(&id, |d| {
                d.created_time = now - Duration::days(30);
                d.last_edited_time = now - Duration::hours(2 * i as i64 + 1);
            });
            databases.push(id);
        }
        let mut pages = Vec::new();
        for i in 0..230usize {
            let id = self.add_notion_page(NOTION_TOKEN, &format!("Demo page {}", i + 1));
            let created = now - Duration::hours((230 - i) as i64);
            self.update_notion_item(&id, |p| {
                p.created_time = created;
                p.last_edited_time = created + Duration::minutes(30);
                if i % 3 == 1 {
                    p.parent = NotionParent::Database(databases[i % databases.len()].clone());
                }
                if i % 80 == 40 {
                    p.in_trash = true;
                    p.archived = true;
                }
            });
            pages.push(id);
        }
        (bot, pages, databases)
    }
}
