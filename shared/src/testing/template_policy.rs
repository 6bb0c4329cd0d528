//! The IAM policy template.yaml gives a function, checked on every request its code makes in the
//! tests, for what the emulator does not check itself.
//!
//! moto authorizes the action of each request, but DynamoDB and Secrets Manager requests only
//! against the resource `*`, and a DynamoDB transaction as one action. AWS authorizes each
//! item's action (`PutItem`, `UpdateItem`, `ConditionCheckItem`, …) on its table or index, each
//! secret by its ARN, and a `CreateSecret` with tags needs `TagResource` too. [`TemplatePolicy`]
//! does that, on the requests' bodies, before they are sent: a request the template does not
//! allow fails, naming the function, the action and the resource.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value as Json;
use serde_yaml::Value;

const TEMPLATE: &str = include_str!("../../../template.yaml");
/// The emulator's account and the tests' region.
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// One `Allow` statement: its actions, and its resources with `${...}` where the template has an
/// intrinsic function (resolved per test by [`TemplatePolicy::new`]).
#[derive(Debug, Clone)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
}

/// Each function's statements (by logical id), as template.yaml writes them.
static POLICIES: LazyLock<HashMap<String, Vec<Statement>>> = LazyLock::new(|| parse(TEMPLATE));

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(values) => values.iter().collect(),
        Value::Null => Vec::new(),
        value => vec![value],
    }
}

/// A resource as written: a string, `!Sub` (kept), `!GetAtt X.Arn` and `!Ref X` (as `${...}`).
fn written(resource: &Value) -> String {
    match resource {
        Value::String(s) => Some(s.clone()),
        Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().map(str::to_owned),
        Value::Tagged(t) if t.tag == "GetAtt" || t.tag == "Ref" => t.value.as_str().map(|name| format!("${{{name}}}")),
        _ => None,
    }
    .unwrap_or_else(|| panic!("template.yaml: a policy resource the tests cannot read: {resource:?}"))
}

fn parse(template: &str) -> HashMap<String, Vec<Statement>> {
    let template: Value = serde_yaml::from_str(template).expect("template.yaml is YAML");
    let resources = template["Resources"].as_mapping().expect("template.yaml has Resources");
    let mut policies = HashMap::new();
    for (id, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let id = id.as_str().expect("a logical id").to_owned();
        let mut statements = Vec::new();
        for policy in one_or_many(&resource["Properties"]["Policies"]) {
            for statement in one_or_many(&policy["Statement"]) {
                // `!If [condition, statement, !Ref AWS::NoValue]`: the statement, as deployed
                // when the condition holds.
                let statement = match statement {
                    Value::Tagged(t) if t.tag == "If" => &t.value[1],
                    statement => statement,
                };
                if let Value::Tagged(_) = statement {
                    continue; // AWS::NoValue
                }
                assert_eq!(statement["Effect"], "Allow", "{id}: the tests understand only Allow statements");
                let actions = one_or_many(&statement["Action"])
                    .into_iter()
                    .map(|a| a.as_str().expect("an action").to_owned())
                    .collect();
                let resources = one_or_many(&statement["Resource"]).into_iter().map(written).collect();
                statements.push(Statement { actions, resources });
            }
        }
        policies.insert(id, statements);
    }
    policies
}

/// The names a test's resources have, for the template's intrinsic functions.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub table: String,
    pub secrets_prefix: String,
    pub queue_arn: Option<String>,
    pub dlq_arn: Option<String>,
    pub automations_arn: Option<String>,
    pub automations_dlq_arn: Option<String>,
    pub hooks_arn: Option<String>,
    pub hooks_dlq_arn: Option<String>,
}

impl Names {
    fn resolve(&self, written: &str) -> String {
        let mut out = String::new();
        let mut rest = written;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').map(|e| start + e).expect("a closed ${...}");
            let name = &rest[start + 2..end];
            let none = || "(none in this test)".to_owned();
            out.push_str(&match name {
                "AWS::Partition" => "aws".to_owned(),
                "AWS::Region" => REGION.to_owned(),
                "AWS::AccountId" => ACCOUNT.to_owned(),
                "IntegrationsTable.Arn" => table_arn(&self.table),
                "SecretsPrefix" => self.secrets_prefix.clone(),
                "SyncQueue.Arn" => self.queue_arn.clone().unwrap_or_else(none),
                "SyncDeadLetterQueue.Arn" => self.dlq_arn.clone().unwrap_or_else(none),
                "AutomationsQueue.Arn" => self.automations_arn.clone().unwrap_or_else(none),
                "AutomationsDeadLetterQueue.Arn" => self.automations_dlq_arn.clone().unwrap_or_else(none),
                "HooksQueue.Arn" => self.hooks_arn.clone().unwrap_or_else(none),
                "HooksDeadLetterQueue.Arn" => self.hooks_dlq_arn.clone().unwrap_or_else(none),
                "OAuthClientsSecretArn" => secret_arn("oauth-clients-secret"),
                other => panic!("template.yaml: the tests do not know what {other} is in a test; add it here"),
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn table_arn(table: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
}

fn secret_arn(id: &str) -> String {
    match id.starts_with("arn:") {
        true => id.to_owned(),
        false => format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{id}"),
    }
}

/// IAM's wildcards: `*` any run of characters (`/` too), `?` any one.
fn matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // ok[j]: pattern[..i] matches value[..j].
    let mut ok = vec![false; v.len() + 1];
    ok[0] = true;
    for c in &p {
        let mut next = vec![false; v.len() + 1];
        for j in 0..=v.len() {
            next[j] = match c {
                '*' => ok[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && ok[j - 1],
                c => j > 0 && ok[j - 1] && v[j - 1] == *c,
            };
        }
        ok = next;
    }
    ok[v.len()]
}

/// What AWS authorizes for one request: `(action, resource ARN)` pairs, from the operation (its
/// `X-Amz-Target`) and its JSON body.
pub fn required(target: &str, body: &Json) -> Vec<(String, String)> {
    let (service, operation) = target.split_once('.').unwrap_or((target, ""));
    let str_of = |v: &Json, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let on_table = |v: &Json| match v["IndexName"].as_str() {
        Some(index) => format!("{}/index/{index}", table_arn(&str_of(v, "TableName"))),
        None => table_arn(&str_of(v, "TableName")),
    };
    match service {
        s if s.starts_with("DynamoDB_") => match operation {
            "BatchWriteItem" | "BatchGetItem" => body["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|tables| tables.keys())
                .map(|table| (format!("dynamodb:{operation}"), table_arn(table)))
                .collect(),
            "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.as_object())
                .flat_map(|item| item.iter())
                .map(|(kind, item)| {
                    let action = match kind.as_str() {
                        "ConditionCheck" => "ConditionCheckItem".to_owned(),
                        kind => format!("{kind}Item"),
                    };
                    (format!("dynamodb:{action}"), on_table(item))
                })
                .collect(),
            operation => vec![(format!("dynamodb:{operation}"), on_table(body))],
        },
        "secretsmanager" => {
            let id = body["SecretId"].as_str().or(body["Name"].as_str()).map(secret_arn).unwrap_or_else(|| "*".into());
            let mut needs = vec![(format!("secretsmanager:{operation}"), id.clone())];
            if operation == "CreateSecret" && body["Tags"].as_array().is_some_and(|tags| !tags.is_empty()) {
                needs.push(("secretsmanager:TagResource".into(), id));
            }
            needs
        }
        "AmazonSQS" => {
            let queue = str_of(body, "QueueUrl").rsplit('/').next().unwrap_or_default().to_owned();
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            vec![(format!("sqs:{action}"), format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))]
        }
        other => vec![(format!("{other}:{operation}"), "*".into())],
    }
}

/// A function's policy from template.yaml, resolved to one test's resources: an interceptor
/// that fails each request the policy does not allow.
#[derive(Debug, Clone)]
pub struct TemplatePolicy {
    function: &'static str,
    statements: Arc<Vec<Statement>>,
}

impl TemplatePolicy {
    /// The policy of the function with this logical id.
    pub fn new(function: &'static str, names: &Names) -> Self {
        let written = POLICIES.get(function).unwrap_or_else(|| panic!("template.yaml has no function {function}"));
        let statements = written
            .iter()
            .map(|s| Statement {
                actions: s.actions.clone(),
                resources: s.resources.iter().map(|r| names.resolve(r)).collect(),
            })
            .collect();
        Self { function, statements: Arc::new(statements) }
    }

    /// Whether the policy allows `action` on `resource`.
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.statements.iter().any(|s| {
            s.actions.iter().any(|a| matches(&a.to_lowercase(), &action.to_lowercase()))
                && s.resources.iter().any(|r| matches(r, resource))
        })
    }

    /// The first of a request's needs the policy does not allow.
    pub fn refusal(&self, target: &str, body: &Json) -> Option<String> {
        required(target, body).into_iter().find(|(action, resource)| !self.allows(action, resource)).map(
            |(action, resource)| {
                format!(
                    "{} is not allowed {action} on {resource}: template.yaml does not grant it to the function",
                    self.function
                )
            },
        )
    }
}

impl Intercept for TemplatePolicy {
    fn name(&self) -> &'static str {
        "TemplatePolicy"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default().to_owned();
        let body: Json = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        match self.refusal(&target, &body) {
            Some(refusal) => Err(refusal.into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names() -> Names {
        Names {
            table: "t".into(),
            secrets_prefix: "test/p".into(),
            queue_arn: Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:t-sync")),
            dlq_arn: Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:t-sync-dlq")),
            automations_arn: Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:t-automations")),
            automations_dlq_arn: Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:t-automations-dlq")),
            hooks_arn: Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:t-hooks")),
            hooks_dlq_arn: Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:t-hooks-dlq")),
        }
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(matches("arn:a:table/t/index/*", "arn:a:table/t/index/GSI1"));
        assert!(!matches("arn:a:table/t", "arn:a:table/t/index/GSI1"));
        assert!(matches("secret:p/*", "secret:p/u/c"));
        assert!(!matches("secret:p/*", "secret:q/u"));
        assert!(matches("a?c", "abc") && !matches("a?c", "ac"));
    }

    #[test]
    fn every_function_of_the_template_is_a_function_of_the_code_with_a_policy_the_tests_resolve() {
        let mut code: Vec<&str> = super::super::FUNCTIONS.iter().map(|f| super::super::logical_id(*f)).collect();
        let mut template: Vec<&str> = POLICIES.keys().map(String::as_str).collect();
        code.sort();
        template.sort();
        assert_eq!(code, template, "testing::FUNCTIONS and template.yaml's functions");
        for id in code {
            let policy = TemplatePolicy::new(id, &names());
            assert!(!policy.statements.is_empty(), "{id}");
        }
    }

    #[test]
    fn a_request_needs_what_aws_authorizes_for_it() {
        let t = table_arn("t");
        let transact = json!({ "TransactItems": [
            { "Put": { "TableName": "t" } }, { "ConditionCheck": { "TableName": "t" } }, { "Update": { "TableName": "t" } }
        ]});
        assert_eq!(
            required("DynamoDB_20120810.TransactWriteItems", &transact),
            [
                ("dynamodb:PutItem".to_owned(), t.clone()),
                ("dynamodb:ConditionCheckItem".to_owned(), t.clone()),
                ("dynamodb:UpdateItem".to_owned(), t.clone())
            ]
        );
        let query = json!({ "TableName": "t", "IndexName": "GSI1" });
        assert_eq!(
            required("DynamoDB_20120810.Query", &query),
            [("dynamodb:Query".to_owned(), format!("{t}/index/GSI1"))]
        );
        let create = json!({ "Name": "test/p/u/c", "Tags": [{ "Key": "k", "Value": "v" }] });
        assert_eq!(required("secretsmanager.CreateSecret", &create)[1].0, "secretsmanager:TagResource");
        let batch = json!({ "QueueUrl": "http://127.0.0.1:1/123456789012/t-sync" });
        assert_eq!(
            required("AmazonSQS.SendMessageBatch", &batch),
            [("sqs:SendMessage".to_owned(), format!("arn:aws:sqs:{REGION}:{ACCOUNT}:t-sync"))]
        );
    }

    #[test]
    fn the_checks_follow_the_template() {
        let api = TemplatePolicy::new("SyncApiFunction", &names());
        assert!(api.refusal("DynamoDB_20120810.Query", &json!({ "TableName": "t", "IndexName": "GSI2" })).is_none());
        let refusal = api.refusal("DynamoDB_20120810.Query", &json!({ "TableName": "t", "IndexName": "GSI1" }));
        assert!(refusal.is_some_and(|r| r.contains("SyncApiFunction is not allowed dynamodb:Query")));
        assert!(api.refusal("DynamoDB_20120810.GetItem", &json!({ "TableName": "other" })).is_some(), "another table");
        let send = |queue: &str| json!({ "QueueUrl": format!("http://127.0.0.1:1/{ACCOUNT}/{queue}") });
        assert!(api.refusal("AmazonSQS.SendMessage", &send("t-sync")).is_none());
        assert!(api.refusal("AmazonSQS.SendMessage", &send("t-sync-dlq")).is_some(), "not the dead letters");

        let worker = TemplatePolicy::new("SyncWorkerFunction", &names());
        assert!(worker.refusal("secretsmanager.GetSecretValue", &json!({ "SecretId": "test/p/u/c" })).is_none());
        assert!(worker.refusal("secretsmanager.GetSecretValue", &json!({ "SecretId": "test/q/u/c" })).is_some());
        assert!(worker.refusal("secretsmanager.DeleteSecret", &json!({ "SecretId": "test/p/u/c" })).is_some());
    }
}
