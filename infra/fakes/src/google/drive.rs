//! Google Drive: files and the change log behind `changes.list`, and their seeding.

use chrono::{DateTime, Duration, Timelike, Utc};

use super::owner_of;
use crate::state::{FakeState, Inner};
use crate::util::short_code;

pub(crate) const FOLDER: &str = "application/vnd.google-apps.folder";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveFile {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub created_time: DateTime<Utc>,
    pub modified_time: DateTime<Utc>,
    pub trashed: bool,
    /// Ids of the parent folders (empty: in My Drive's root).
    pub parents: Vec<String>,
    pub web_view_link: String,
    /// Who changed it last; `None`: its owner.
    pub last_modifying_user: Option<DriveUser>,
}

/// A Drive user other than the owner (a colleague the file is shared with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveUser {
    pub display_name: String,
    pub email_address: String,
}

impl DriveUser {
    pub fn new(display_name: &str, email_address: &str) -> DriveUser {
        DriveUser { display_name: display_name.to_owned(), email_address: email_address.to_owned() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FileRec {
    /// `sub` of the owner.
    pub owner: String,
    pub file: DriveFile,
    /// Deleted for good: gone from `files.list`, a `removed` change.
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ChangeRec {
    pub owner: String,
    pub seq: u64,
    pub file_id: String,
    pub time: DateTime<Utc>,
    pub removed: bool,
}

fn web_view_link(id: &str, mime_type: &str) -> String {
    match mime_type {
        "application/vnd.google-apps.document" => format!("https://docs.google.com/document/d/{id}/edit?usp=drivesdk"),
        "application/vnd.google-apps.spreadsheet" => {
            format!("https://docs.google.com/spreadsheets/d/{id}/edit?usp=drivesdk")
        }
        "application/vnd.google-apps.presentation" => {
            format!("https://docs.google.com/presentation/d/{id}/edit?usp=drivesdk")
        }
        FOLDER => format!("https://drive.google.com/drive/folders/{id}"),
        _ => format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
    }
}

fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    now.with_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

fn record_change(s: &mut Inner, owner: &str, file_id: &str, removed: bool) {
    s.google.change_seq += 1;
    let seq = s.google.change_seq;
    s.google.changes.push(ChangeRec {
        owner: owner.to_owned(),
        seq,
        file_id: file_id.to_owned(),
        time: now_ms(),
        removed,
    });
    super::channels::notify(s, owner, super::channels::Watched::DriveChanges);
}

pub(crate) fn change_file(s: &mut Inner, id: &str, edit: impl FnOnce(&mut DriveFile)) -> bool {
    let Some(rec) = s.google.files.iter_mut().find(|r| r.file.id == id && !r.deleted) else {
        return false;
    };
    let before = rec.file.modified_time;
    edit(&mut rec.file);
    rec.file.id = id.to_owned();
    if rec.file.modified_time == before {
        rec.file.modified_time = now_ms().max(before + Duration::milliseconds(1));
    }
    let owner = rec.owner.clone();
    record_change(s, &owner, id, false);
    true
}

impl FakeState {
    /// Adds a file (or a folder, with `application/vnd.google-apps.folder`) to the My Drive of
    /// `token_or_user` (a bearer token, `sub` or email), created and modified now; returns its
    /// id (empty if there is no such user). Shows up as a change.
    pub fn add_drive_file(&self, token_or_user: &str, name: &str, mime_type: &str) -> String {
        self.with(|s| {
            let Some(owner) = owner_of(s, token_or_user) else {
                return String::new();
            };
            let id = format!("1{}", short_code(s.next_seq() ^ 0xD71E_0000_0000, 32));
            let now = now_ms();
            s.google.files.push(FileRec {
                owner: owner.clone(),
                file: DriveFile {
                    id: id.clone(),
                    name: name.to_owned(),
                    mime_type: mime_type.to_owned(),
                    created_time: now,
                    modified_time: now,
                    trashed: false,
                    parents: Vec::new(),
                    web_view_link: web_view_link(&id, mime_type),
                    last_modifying_user: None,
                },
                deleted: false,
            });
            record_change(s, &owner, &id, false);
            id
        })
    }

    /// Adds `n` Google Docs "Document 1" … "Document n"; returns their ids.
    pub fn add_drive_files(&self, token_or_user: &str, n: usize) -> Vec<String> {
        (1..=n)
            .map(|i| {
                self.add_drive_file(token_or_user, &format!("Document {i}"), "application/vnd.google-apps.document")
            })
            .collect()
    }

    /// Edits a file (a change). `modifiedTime` becomes now unless `edit` set it.
    pub fn modify_drive_file(&self, id: &str, edit: impl FnOnce(&mut DriveFile)) -> bool {
        self.with(|s| change_file(s, id, edit))
    }

    /// Moves a file to the trash (a change with `file.trashed: true`, not a removal).
    pub fn trash_drive_file(&self, id: &str) -> bool {
        self.modify_drive_file(id, |f| f.trashed = true)
    }

    /// Deletes a file for good: it leaves `files.list` and `changes.list` reports it `removed`.
    pub fn delete_drive_file(&self, id: &str) -> bool {
        self.with(|s| {
            let Some(rec) = s.google.files.iter_mut().find(|r| r.file.id == id && !r.deleted) else {
                return false;
            };
            rec.deleted = true;
            let owner = rec.owner.clone();
            record_change(s, &owner, id, true);
            true
        })
    }

    /// A file (also a deleted one).
    pub fn drive_file(&self, id: &str) -> Option<DriveFile> {
        self.with(|s| s.google.files.iter().find(|r| r.file.id == id).map(|r| r.file.clone()))
    }
}
