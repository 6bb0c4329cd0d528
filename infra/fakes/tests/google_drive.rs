//! Google Drive v3: startPageToken → changes paging → newStartPageToken, removed and trashed
//! files, files.list with `q` and `fields`, and Drive's default fields.

mod common;

use common::{MAX_PAGES, assert_same_set, client, start};
use fake_providers::{FakeProviders, Provider};
use serde_json::Value;

const TOKEN: &str = "ya29.drive-test";
const CHANGE_FIELDS: &str =
    "nextPageToken,newStartPageToken,changes(fileId,removed,time,file(id,name,mimeType,modifiedTime,trashed,parents))";

async fn drive(fake: &FakeProviders, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let resp = client()
        .get(format!("{}{path}", fake.base_url(Provider::GoogleDrive)))
        .bearer_auth(TOKEN)
        .query(params)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn start_token(fake: &FakeProviders) -> String {
    let (_, body) = drive(fake, "/changes/startPageToken", &[]).await;
    assert_eq!(body["kind"], "drive#startPageToken");
    body["startPageToken"].as_str().unwrap().to_owned()
}

/// Pages through changes from `token`; returns the changes, the pages and the new start token.
async fn all_changes(fake: &FakeProviders, token: &str, page_size: &str) -> (Vec<Value>, usize, String) {
    let (mut changes, mut token, mut pages) = (Vec::new(), token.to_owned(), 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES, "paging did not terminate");
        let (status, body) =
            drive(fake, "/changes", &[("pageToken", &token), ("pageSize", page_size), ("fields", CHANGE_FIELDS)]).await;
        assert_eq!(status, 200, "{body}");
        changes.extend(body["changes"].as_array().unwrap().iter().cloned());
        match (body["nextPageToken"].as_str(), body["newStartPageToken"].as_str()) {
            (Some(next), None) => token = next.to_owned(),
            (None, Some(new_start)) => return (changes, pages, new_start.to_owned()),
            _ => panic!("exactly one of nextPageToken and newStartPageToken: {body}"),
        }
    }
}

fn file_ids(changes: &[Value]) -> Vec<String> {
    changes.iter().map(|c| c["fileId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn changes_page_from_the_start_token_to_a_new_start_token_with_each_file_once() {
    let fake = start().await;
    let state = fake.state();
    state.add_google_account(TOKEN, "drive@example.com", "Dee Rive");
    let before = state.add_drive_files(TOKEN, 3);
    let token = start_token(&fake).await;
    let added = state.add_drive_files(TOKEN, 11);
    state.modify_drive_file(&added[0], |f| f.name = "Renamed".into());
    state.modify_drive_file(&before[0], |f| f.name = "Old but edited".into());

    let (changes, pages, new_start) = all_changes(&fake, &token, "5").await;
    assert_eq!(pages, 3);
    let mut expected = added.clone();
    expected.push(before[0].clone());
    assert_same_set(file_ids(&changes), expected);
    let renamed = changes.iter().find(|c| c["fileId"] == added[0].as_str()).unwrap();
    assert_eq!(renamed["file"]["name"], "Renamed");
    assert_eq!(renamed["removed"], false);

    let (changes, pages, again) = all_changes(&fake, &new_start, "5").await;
    assert_eq!((changes.len(), pages), (0, 1));
    assert_eq!(again, new_start);
}

#[tokio::test]
async fn deleted_files_are_removed_changes_and_trashed_files_are_not() {
    let fake = start().await;
    let state = fake.state();
    state.add_google_account(TOKEN, "drive@example.com", "Dee Rive");
    let ids = state.add_drive_files(TOKEN, 3);
    let token = start_token(&fake).await;
    state.delete_drive_file(&ids[0]);
    state.trash_drive_file(&ids[1]);

    let (changes, _, _) = all_changes(&fake, &token, "100").await;
    let removed = changes.iter().find(|c| c["fileId"] == ids[0].as_str()).unwrap();
    assert_eq!(removed["removed"], true);
    assert!(removed.get("file").is_none());
    let trashed = changes.iter().find(|c| c["fileId"] == ids[1].as_str()).unwrap();
    assert_eq!((trashed["removed"].as_bool(), trashed["file"]["trashed"].as_bool()), (Some(false), Some(true)));

    let (_, body) = drive(&fake, "/changes", &[("pageToken", &token), ("includeRemoved", "false")]).await;
    assert_eq!(body["changes"].as_array().unwrap().len(), 1);

    let (_, listed) = drive(&fake, "/files", &[("q", "trashed=false")]).await;
    let listed: Vec<String> =
        listed["files"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, vec![ids[2].clone()]);
    let (status, _) = drive(&fake, &format!("/files/{}", ids[0]), &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn files_list_pages_and_answers_only_the_default_fields_unless_asked() {
    let fake = start().await;
    let state = fake.state();
    state.add_google_account(TOKEN, "drive@example.com", "Dee Rive");
    let expected = state.add_drive_files(TOKEN, 12);

    let (mut seen, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        pages += 1;
        let mut params =
            vec![("pageSize", "5"), ("q", "trashed = false and mimeType != 'application/vnd.google-apps.folder'")];
        if let Some(t) = &token {
            params.push(("pageToken", t));
        }
        let (status, body) = drive(&fake, "/files", &params).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["kind"].as_str(), body["incompleteSearch"].as_bool()), (Some("drive#fileList"), Some(false)));
        let files = body["files"].as_array().unwrap();
        let keys: Vec<&String> = files[0].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "default fields only: {keys:?}");
        seen.extend(files.iter().map(|f| f["id"].as_str().unwrap().to_owned()));
        match body["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_same_set(seen, expected);

    let fields = "files(id,name,mimeType,modifiedTime,webViewLink,trashed,parents)";
    let (_, body) = drive(&fake, "/files", &[("fields", fields), ("orderBy", "modifiedTime desc")]).await;
    assert!(body.get("kind").is_none() && body.get("nextPageToken").is_none());
    let first = &body["files"][0];
    assert!(first["webViewLink"].as_str().unwrap().starts_with("https://docs.google.com/document/d/"));
    assert!(first["modifiedTime"].is_string() && first["parents"].is_array());
}

#[tokio::test]
async fn bad_page_tokens_and_queries_get_400_and_a_missing_page_token_is_required() {
    let fake = start().await;
    fake.state().add_google_account(TOKEN, "drive@example.com", "Dee Rive");
    let (status, body) = drive(&fake, "/changes", &[]).await;
    assert_eq!((status, body["error"]["errors"][0]["reason"].as_str()), (400, Some("required")));
    assert_eq!(drive(&fake, "/changes", &[("pageToken", "abc")]).await.0, 400);
    assert_eq!(drive(&fake, "/files", &[("q", "starred = maybe")]).await.0, 400);
    assert_eq!(drive(&fake, "/files", &[("fields", "files(id")]).await.0, 400);
    let unauthenticated = client().get(format!("{}/files", fake.base_url(Provider::GoogleDrive))).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
}
