//! Asana: bearer auth, users/me, workspaces, tasks with offset paging and modified_since.

mod common;

use common::{MAX_PAGES, assert_same_set, client, start};
use fake_providers::{FakeProviders, Fault, Provider};
use serde_json::Value;

const TOKEN: &str = "asana-test-pat";

async fn get(fake: &FakeProviders, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
    client()
        .get(format!("{}{path}", fake.base_url(Provider::Asana)))
        .bearer_auth(TOKEN)
        .query(params)
        .send()
        .await
        .unwrap()
}

fn seeded(fake: &FakeProviders, tasks: usize) -> (String, Vec<String>) {
    let state = fake.state();
    state.add_asana_account(TOKEN, "Tess Tester", "tess@example.com");
    let ws = state.add_asana_workspace(TOKEN, "Test Workspace");
    let gids = state.add_asana_tasks(TOKEN, &ws, tasks);
    state.add_asana_task("someone-else", &ws, "Not mine");
    (ws, gids)
}

#[tokio::test]
async fn paging_my_tasks_with_limit_returns_every_task_exactly_once_and_ends_with_null_next_page() {
    let fake = start().await;
    let (ws, expected) = seeded(&fake, 23);
    let (mut seen, mut offset, mut pages) = (Vec::<String>::new(), None::<String>, 0);
    loop {
        pages += 1;
        assert!(pages < MAX_PAGES, "paging did not terminate");
        let mut params =
            vec![("assignee", "me"), ("workspace", ws.as_str()), ("limit", "10"), ("opt_fields", "name,modified_at")];
        if let Some(o) = &offset {
            params.push(("offset", o.as_str()));
        }
        let body: Value = get(&fake, "/tasks", &params).await.json().await.unwrap();
        seen.extend(body["data"].as_array().unwrap().iter().map(|t| t["gid"].as_str().unwrap().to_owned()));
        match body["next_page"].clone() {
            Value::Null => break,
            next => {
                assert!(next["uri"].as_str().unwrap().starts_with(&fake.base_url(Provider::Asana)));
                assert!(next["path"].as_str().unwrap().starts_with("/tasks?"));
                offset = Some(next["offset"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(pages, 3);
    assert_same_set(seen, expected);
}

#[tokio::test]
async fn modified_since_returns_only_tasks_modified_at_or_after_it() {
    let fake = start().await;
    let (ws, gids) = seeded(&fake, 5);
    let state = fake.state();
    let long_ago = chrono::Utc::now() - chrono::Duration::days(3);
    for g in &gids {
        state.update_asana_task(g, |t| t.modified_at = long_ago);
    }
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    assert!(state.touch_asana_task(&gids[1]));
    assert!(state.touch_asana_task(&gids[3]));

    let body: Value = get(&fake, "/tasks", &[("assignee", "me"), ("workspace", &ws), ("modified_since", &since)])
        .await
        .json()
        .await
        .unwrap();
    let got: Vec<String> =
        body["data"].as_array().unwrap().iter().map(|t| t["gid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, vec![gids[1].clone(), gids[3].clone()]);
    assert!(body.get("next_page").is_none(), "next_page only appears with a limit");
    assert_eq!(body["data"][0]["resource_type"], "task", "compact records by default");
}

#[tokio::test]
async fn opt_fields_select_task_properties_including_project_names() {
    let fake = start().await;
    let (ws, gids) = seeded(&fake, 1);
    let state = fake.state();
    let project = state.add_asana_project(&ws, "Launch");
    state.update_asana_task(&gids[0], |t| t.project_gids = vec![project.clone()]);

    let body: Value = get(
        &fake,
        "/tasks",
        &[
            ("assignee", "me"),
            ("workspace", &ws),
            ("opt_fields", "name,completed,due_on,modified_at,permalink_url,notes,projects.name"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let task = &body["data"][0];
    assert_eq!(task["gid"], gids[0].as_str());
    assert_eq!(task["projects"], serde_json::json!([{"gid": project, "name": "Launch"}]));
    for key in ["name", "completed", "due_on", "modified_at", "permalink_url", "notes"] {
        assert!(task.get(key).is_some(), "task has {key}");
    }
    assert!(task.get("resource_subtype").is_none(), "only requested fields");
}

#[tokio::test]
async fn users_me_lists_the_workspaces_of_the_token_owner() {
    let fake = start().await;
    let (ws, _) = seeded(&fake, 0);
    let body: Value = get(&fake, "/users/me", &[]).await.json().await.unwrap();
    assert_eq!(body["data"]["resource_type"], "user");
    assert_eq!(body["data"]["email"], "tess@example.com");
    assert_eq!(body["data"]["workspaces"][0]["gid"], ws.as_str());
    let list: Value = get(&fake, "/workspaces", &[]).await.json().await.unwrap();
    assert_eq!(list["data"][0]["resource_type"], "workspace");
}

#[tokio::test]
async fn bad_parameters_get_400_in_asana_error_shape() {
    let fake = start().await;
    let (ws, _) = seeded(&fake, 3);
    for params in [
        vec![("assignee", "me"), ("workspace", ws.as_str()), ("limit", "101")],
        vec![("assignee", "me"), ("workspace", ws.as_str()), ("limit", "0")],
        vec![("assignee", "me"), ("workspace", ws.as_str()), ("offset", "not-a-token")],
        vec![("assignee", "me"), ("workspace", ws.as_str()), ("modified_since", "last week")],
        vec![("assignee", "me")],
    ] {
        let resp = get(&fake, "/tasks", &params).await;
        assert_eq!(resp.status(), 400, "{params:?}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["errors"][0]["message"].is_string(), "{body}");
    }
    let unknown = get(&fake, "/nothing", &[]).await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.json::<Value>().await.unwrap()["errors"][0]["message"].is_string());
}

#[tokio::test]
async fn a_revoked_token_gets_401_not_authorized() {
    let fake = start().await;
    seeded(&fake, 1);
    assert_eq!(get(&fake, "/users/me", &[]).await.status(), 200);
    fake.state().revoke(Provider::Asana, TOKEN);
    let resp = get(&fake, "/users/me", &[]).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "Not Authorized");
}

#[tokio::test]
async fn a_server_error_fault_is_served_once_and_then_normal_answers_resume() {
    let fake = start().await;
    let (ws, _) = seeded(&fake, 2);
    fake.state().fail_next(Provider::Asana, "/tasks", Fault::ServerError, 1);
    let params = [("assignee", "me"), ("workspace", ws.as_str())];

    let failed = get(&fake, "/tasks", &params).await;
    assert_eq!(failed.status(), 500);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "Server Error");

    let ok = get(&fake, "/tasks", &params).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["data"].as_array().unwrap().len(), 2);

    fake.state().fail_next(Provider::Asana, "/tasks", Fault::RateLimited { retry_after_secs: 30 }, 1);
    let limited = get(&fake, "/tasks", &params).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "30");
}
