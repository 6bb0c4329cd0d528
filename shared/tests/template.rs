//! template.yaml and the code agree on the table: what the emulator gets is what AWS gets.

use integrations::store::table::{ATTRIBUTES, INDEXES, PK, SK, TTL_ATTRIBUTE};
use serde_yaml::Value;

fn table() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let template: Value = serde_yaml::from_str(&text).unwrap();
    template["Resources"]["IntegrationsTable"]["Properties"].clone()
}

fn key_schema(v: &Value) -> Vec<(String, String)> {
    v.as_sequence()
        .unwrap()
        .iter()
        .map(|k| (k["AttributeName"].as_str().unwrap().to_owned(), k["KeyType"].as_str().unwrap().to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[test]
fn the_template_declares_the_table_the_code_creates() {
    let t = table();
    assert_eq!(t["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(key_schema(&t["KeySchema"]), pairs(&[(PK, "HASH"), (SK, "RANGE")]));
    let mut attributes: Vec<(String, String)> = t["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().to_owned(), a["AttributeType"].as_str().unwrap().to_owned()))
        .collect();
    attributes.sort();
    let mut expected: Vec<(String, String)> = ATTRIBUTES.iter().map(|a| ((*a).to_owned(), "S".to_owned())).collect();
    expected.sort();
    assert_eq!(attributes, expected);

    let gsis = t["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(gsis.len(), INDEXES.len());
    for (gsi, (name, hash, range)) in gsis.iter().zip(INDEXES) {
        assert_eq!(gsi["IndexName"], name);
        assert_eq!(key_schema(&gsi["KeySchema"]), pairs(&[(hash, "HASH"), (range, "RANGE")]));
        assert_eq!(gsi["Projection"]["ProjectionType"], "ALL");
    }

    assert_eq!(t["TimeToLiveSpecification"]["AttributeName"], TTL_ATTRIBUTE);
    assert_eq!(t["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
}
