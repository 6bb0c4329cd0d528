//! Asana: data model and seeding. The REST endpoints are in `api.rs`: the reads the sync uses and
//! `POST /tasks`, the write an automation uses.

mod api;

use chrono::{DateTime, NaiveDate, Utc};

use crate::state::{FakeState, Inner};

pub(crate) use api::{handle, rate_limited, server_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsanaUser {
    pub gid: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsanaWorkspace {
    pub gid: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsanaProject {
    pub gid: String,
    pub name: String,
    pub workspace_gid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsanaTask {
    pub gid: String,
    pub name: String,
    pub notes: String,
    pub completed: bool,
    pub completed_at: Option<DateTime<Utc>>,
    pub due_on: Option<NaiveDate>,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub workspace_gid: String,
    pub assignee_gid: Option<String>,
    /// Gids of the projects the task is in.
    pub project_gids: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub token: String,
    pub revoked: bool,
    pub user: AsanaUser,
    pub workspace_gids: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Data {
    pub accounts: Vec<Account>,
    pub workspaces: Vec<AsanaWorkspace>,
    pub projects: Vec<AsanaProject>,
    pub tasks: Vec<AsanaTask>,
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

    pub(crate) fn workspace(&self, gid: &str) -> Option<&AsanaWorkspace> {
        self.workspaces.iter().find(|w| w.gid == gid)
    }

    pub(crate) fn project(&self, gid: &str) -> Option<&AsanaProject> {
        self.projects.iter().find(|p| p.gid == gid)
    }

    pub(crate) fn user(&self, gid: &str) -> Option<&AsanaUser> {
        self.accounts.iter().map(|a| &a.user).find(|u| u.gid == gid)
    }
}

/// Asana gids: long numeric strings, increasing with creation.
fn gid(s: &mut Inner) -> String {
    (1_208_000_000_000_000u64 + s.next_seq()).to_string()
}

/// Registers a user (with gid `gid`, or a new one) reachable with `token`; returns the gid.
pub(crate) fn new_account(s: &mut Inner, token: &str, gid: Option<&str>, name: &str, email: &str) -> String {
    let gid = gid.map_or_else(|| self::gid(s), str::to_owned);
    s.asana.accounts.push(Account {
        token: token.to_owned(),
        revoked: false,
        user: AsanaUser { gid: gid.clone(), name: name.to_owned(), email: email.to_owned() },
        workspace_gids: Vec::new(),
    });
    gid
}

/// Adds a workspace with the user of `token` as a member; returns its gid.
pub(crate) fn new_workspace(s: &mut Inner, token: &str, name: &str) -> String {
    let gid = gid(s);
    s.asana.workspaces.push(AsanaWorkspace { gid: gid.clone(), name: name.to_owned() });
    for a in s.asana.accounts.iter_mut().filter(|a| a.token == token) {
        a.workspace_gids.push(gid.clone());
    }
    gid
}

impl FakeState {
    /// Registers a user reachable with the personal access token `token`; returns the user gid.
    pub fn add_asana_account(&self, token: &str, name: &str, email: &str) -> String {
        self.with(|s| new_account(s, token, None, name, email))
    }

    /// Adds a workspace with the user of `token` as a member; returns its gid.
    pub fn add_asana_workspace(&self, token: &str, name: &str) -> String {
        self.with(|s| new_workspace(s, token, name))
    }

    /// Adds a project to a workspace; returns its gid.
    pub fn add_asana_project(&self, workspace_gid: &str, name: &str) -> String {
        self.with(|s| {
            let gid = gid(s);
            s.asana.projects.push(AsanaProject {
                gid: gid.clone(),
                name: name.to_owned(),
                workspace_gid: workspace_gid.to_owned(),
            });
            gid
        })
    }

    /// Adds an incomplete task, created and modified now, assigned to the user of `token`
    /// (unassigned if the token is unknown); returns its gid.
    pub fn add_asana_task(&self, token: &str, workspace_gid: &str, name: &str) -> String {
        self.with(|s| {
            let gid = gid(s);
            let now = Utc::now();
            let assignee_gid = s.asana.accounts.iter().find(|a| a.token == token).map(|a| a.user.gid.clone());
            s.asana.tasks.push(AsanaTask {
                gid: gid.clone(),
                name: name.to_owned(),
                notes: String::new(),
                completed: false,
                completed_at: None,
                due_on: None,
                due_at: None,
                created_at: now,
                modified_at: now,
                workspace_gid: workspace_gid.to_owned(),
                assignee_gid,
                project_gids: Vec::new(),
            });
            gid
        })
    }

    /// Adds `n` tasks "Task 1" … "Task n" for the user of `token`; returns their gids.
    pub fn add_asana_tasks(&self, token: &str, workspace_gid: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| self.add_asana_task(token, workspace_gid, &format!("Task {i}"))).collect()
    }

    /// Sets a task's `modified_at` to now. Returns whether it exists.
    pub fn touch_asana_task(&self, gid: &str) -> bool {
        self.update_asana_task(gid, |t| t.modified_at = Utc::now())
    }

    /// Edits a task as is (set `modified_at` yourself, or use [`FakeState::touch_asana_task`]).
    pub fn update_asana_task(&self, gid: &str, edit: impl FnOnce(&mut AsanaTask)) -> bool {
        self.with(|s| match s.asana.tasks.iter_mut().find(|t| t.gid == gid) {
            Some(t) => {
                edit(t);
                true
            }
            None => false,
        })
    }

    /// The tasks in a project, oldest first.
    pub fn asana_project_tasks(&self, project_gid: &str) -> Vec<AsanaTask> {
        self.with(|s| {
            s.asana.tasks.iter().filter(|t| t.project_gids.iter().any(|p| p == project_gid)).cloned().collect()
        })
    }

    pub fn asana_task(&self, gid: &str) -> Option<AsanaTask> {
        self.with(|s| s.asana.tasks.iter().find(|t| t.gid == gid).cloned())
    }
}
