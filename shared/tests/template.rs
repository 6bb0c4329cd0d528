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

/// `!GetAtt X.Arn` or `!Ref X`: X.
fn named(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) if t.tag == "GetAtt" => t.value.as_str().map(|s| s.trim_end_matches(".Arn").to_owned()),
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The queues a function's policy lets it receive from.
fn receivable(function: &Value) -> Vec<String> {
    let mut queues = Vec::new();
    for policy in function["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let actions = match &statement["Action"] {
                Value::Sequence(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                Value::String(a) => vec![a.clone()],
                _ => Vec::new(),
            };
            if !actions.iter().any(|a| a == "sqs:ReceiveMessage" || a == "sqs:*") {
                continue;
            }
            for (needed, _) in [("sqs:DeleteMessage", ()), ("sqs:GetQueueAttributes", ())] {
                assert!(actions.iter().any(|a| a == needed), "a poller statement without {needed}: {statement:?}");
            }
            let resources = match &statement["Resource"] {
                Value::Sequence(r) => r.iter().collect(),
                r => vec![r],
            };
            for resource in resources {
                queues.push(
                    named(resource).unwrap_or_else(|| panic!("SQS receive on a resource not one queue: {resource:?}")),
                );
            }
        }
    }
    queues.sort();
    queues
}

/// Each queue the workers consume has an event source mapping that reports partial batch
/// failures, and a worker's role may receive from its own queues only. No function uses SAM's
/// SQS `Events`, which would also attach AWSLambdaSQSQueueExecutionRole (those actions on every
/// queue of the account).
#[test]
fn each_worker_may_receive_from_its_own_queues_only_through_explicit_event_source_mappings() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut consumed: Vec<(String, String)> = Vec::new();
    for (name, resource) in resources {
        let name = name.as_str().unwrap();
        if resource["Type"] == "AWS::Serverless::Function" {
            for (event, spec) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
                assert_ne!(
                    spec["Type"], "SQS",
                    "{name}: the SQS event {event:?} attaches the account-wide managed policy"
                );
            }
        }
        if resource["Type"] == "AWS::Lambda::EventSourceMapping" {
            let p = &resource["Properties"];
            let function = named(&p["FunctionName"]).unwrap();
            let queue = named(&p["EventSourceArn"]).unwrap();
            assert!(
                p["FunctionResponseTypes"]
                    .as_sequence()
                    .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
                "{name}: no partial batch responses"
            );
            consumed.push((function, queue));
        }
    }
    consumed.sort();
    let pairs =
        |list: &[(&str, &str)]| list.iter().map(|(f, q)| ((*f).to_owned(), (*q).to_owned())).collect::<Vec<_>>();
    assert_eq!(
        consumed,
        pairs(&[
            ("AutomationsRunnerFunction", "AutomationsDeadLetterQueue"),
            ("AutomationsRunnerFunction", "AutomationsQueue"),
            ("HooksWorkerFunction", "HooksQueue"),
            ("SyncWorkerFunction", "SyncDeadLetterQueue"),
            ("SyncWorkerFunction", "SyncQueue"),
        ])
    );
    for (name, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let name = name.as_str().unwrap();
        let own: Vec<String> = consumed.iter().filter(|(f, _)| f == name).map(|(_, q)| q.clone()).collect();
        assert_eq!(receivable(resource), own, "{name}: the queues its role may receive from");
    }
}
