//! The plan decides what a caller may do, so it is read from a claim that users cannot set:
//! the Cognito app client that template.yaml creates may read `custom:plan` but never write it.

use integrations::auth::DEFAULT_PLAN_CLAIM;
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn attributes(v: &Value) -> Vec<&str> {
    v.as_sequence().map(|s| s.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[test]
fn no_app_client_lets_users_write_the_plan_claim() {
    let template = template();
    // The functions read the default claim unless PLAN_CLAIM says otherwise.
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    let claim = env["PLAN_CLAIM"].as_str().unwrap_or(DEFAULT_PLAN_CLAIM);
    let clients: Vec<_> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Cognito::UserPoolClient")
        .collect();
    assert!(!clients.is_empty(), "template.yaml defines the app client");
    for client in clients {
        let properties = &client["Properties"];
        let writes = &properties["WriteAttributes"];
        // Without WriteAttributes, Cognito lets the client write every writable attribute.
        assert!(writes.is_sequence(), "the app client must list what it may write");
        assert!(!attributes(writes).contains(&claim), "users could give themselves a plan: {writes:?}");
        assert!(attributes(&properties["ReadAttributes"]).contains(&claim));
    }
}
