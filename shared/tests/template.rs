//! template.yaml and the code agree: the table the emulator gets is what AWS gets, and the alarms
//! watch the metrics the code emits.

use integrations::store::table::{ATTRIBUTES, INDEXES, PK, SK, TTL_ATTRIBUTE};
use serde_yaml::Value;

fn table() -> Value {
    template()["Resources"]["IntegrationsTable"]["Properties"].clone()
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

fn template() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap())
        .unwrap()
}

#[test]
fn every_provider_that_syncs_has_a_sync_failure_rate_alarm_on_the_metric_the_worker_emits() {
    let template = template();
    let alarms: Vec<&Value> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    for provider in integrations::providers::Registry::get().providers() {
        if provider.capabilities().sync.is_empty() {
            continue;
        }
        let watched = alarms.iter().any(|alarm| {
            alarm["Properties"]["Metrics"].as_sequence().into_iter().flatten().any(|m| {
                let metric = &m["MetricStat"]["Metric"];
                metric["Namespace"] == integrations::metrics::NAMESPACE
                    && metric["MetricName"] == "Failed"
                    && metric["Dimensions"].as_sequence().is_some_and(|dims| {
                        dims.iter().any(|d| d["Name"] == "MetricSet" && d["Value"] == "Sync")
                            && dims.iter().any(|d| d["Name"] == "Provider" && d["Value"] == provider.id())
                    })
            })
        });
        assert!(watched, "no sync failure rate alarm for {}", provider.id());
    }
    for alarm in &alarms {
        assert!(alarm["Properties"]["AlarmActions"].as_sequence().is_some_and(|a| !a.is_empty()), "{alarm:?}");
    }
}
