"""Turns on IAM in the AWS emulator (moto) on AWS_ENDPOINT_URL, for the tests.

Creates an admin user (the test harness: tables, queues, seeding, cleanup) and one role per
function of template.yaml carrying exactly the policy the template writes for it, assumes each
role, turns authorization on (moto's INITIAL_NO_AUTH_ACTION_COUNT, set to 0 on the running
server through /moto-api/reset-auth) and prints the credentials as shell exports (env.sh's
enable_emulator_iam sources them):

  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the admin
  EMULATOR_ROLE_<LOGICAL ID>                 "<key id> <secret> <session token>" of a function

From then on every request to the emulator must be signed by one of them, and moto refuses an
action that the caller's policy does not allow. What moto checks (moto 5.2.5):
  - the action, for every service;
  - the resource only for SQS: for DynamoDB and Secrets Manager it evaluates every request
    against the resource "*", so their statements get Resource "*" here (the actions stay as
    written); the test harness checks their resources (shared/src/testing/template_policy.rs);
  - no conditions (the template's function policies have none).
Running it again (an emulator already bootstrapped) gives new credentials.
moto authorizes some requests under their operation's name where AWS uses another action: a
DynamoDB transaction needs the actions of its items in AWS, an SQS batch the action of one
message. A role gets moto's name too where the template grants AWS's (ALIASES below); the test
harness checks the items of transactions itself (shared/src/testing/template_policy.rs).
"""

import json
import os
import sys
import urllib.request

import boto3
import yaml

ACCOUNT = "123456789012"  # moto's account
REGION = os.environ.get("AWS_REGION", "us-east-1")
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
TEMPLATE = os.path.join(os.path.dirname(__file__), "../../../template.yaml")
ADMIN = "emulator-admin"

# The template's queues, as the emulator names them: the dev queues (director-of-one-sync,
# director-of-one-sync-dlq, director-of-one-automations, …) and the tests' (TestEnv::add_queues:
# test-<id>-sync, test-<id>-sync-dlq; TestEnv::add_automation_queues: test-<id>-automations, …;
# TestEnv::add_hook_queues: test-<id>-hooks, …).
QUEUE_ARNS = {
    "SyncQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:*-sync",
    "SyncDeadLetterQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:*-sync-dlq",
    "AutomationsQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:*-automations",
    "AutomationsDeadLetterQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:*-automations-dlq",
    "HooksQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:*-hooks",
    "HooksDeadLetterQueue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:*-hooks-dlq",
}
# Services whose resources moto does not evaluate (it checks them against "*").
UNSCOPED = ("dynamodb:", "secretsmanager:")
# moto's action for a request -> the actions AWS authorizes it by (any one of them, on the same
# resources).
ALIASES = {
    "dynamodb:TransactWriteItems": [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    ],
    "dynamodb:TransactGetItems": ["dynamodb:GetItem"],
    "sqs:SendMessageBatch": ["sqs:SendMessage"],
    "sqs:DeleteMessageBatch": ["sqs:DeleteMessage"],
    "sqs:ChangeMessageVisibilityBatch": ["sqs:ChangeMessageVisibility"],
}


class Tag:
    """An intrinsic function (!Ref, !GetAtt, !Sub, !If, ...), kept as written."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def __repr__(self):
        return f"!{self.name} {self.value!r}"


class Loader(yaml.SafeLoader):
    pass


def construct_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


Loader.add_multi_constructor("!", construct_tag)


def as_list(value):
    return value if isinstance(value, list) else [value]


def resolve_resource(resource, actions):
    if all(a.startswith(UNSCOPED) for a in actions):
        return "*"
    if isinstance(resource, Tag) and resource.name == "GetAtt":
        logical, _, attribute = resource.value.partition(".")
        if attribute == "Arn" and logical in QUEUE_ARNS:
            return QUEUE_ARNS[logical]
    sys.exit(f"emulator-iam: no emulator ARN for {resource!r} (actions {actions}); map it in {__file__}")


def statements(policy):
    """The statements of one Policies entry, with !If resolved to its first branch (the
    statement that exists when the condition holds) and AWS::NoValue dropped."""
    for statement in as_list(policy["Statement"]):
        if isinstance(statement, Tag) and statement.name == "If":
            statement = statement.value[1]
        if isinstance(statement, Tag):  # !Ref AWS::NoValue
            continue
        actions = as_list(statement["Action"])
        resources = [resolve_resource(r, actions) for r in as_list(statement["Resource"])]
        yield {"Effect": statement["Effect"], "Action": actions, "Resource": sorted(set(resources))}


def function_policies(template):
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        granted = []
        for policy in resource["Properties"].get("Policies", []):
            if not isinstance(policy, dict) or "Statement" not in policy:
                sys.exit(f"emulator-iam: {logical}: only inline policy documents are understood, not {policy!r}")
            granted.extend(statements(policy))
        for statement in granted:
            statement["Action"] += [m for m, aws in ALIASES.items() if set(aws) & set(statement["Action"])]
        yield logical, {"Version": "2012-10-17", "Statement": granted}


def set_auth(free_requests):
    """moto's INITIAL_NO_AUTH_ACTION_COUNT, set on the running server."""
    request = urllib.request.Request(
        f"{ENDPOINT}/moto-api/reset-auth", data=str(free_requests).encode(), method="POST"
    )
    request.add_header("Content-Type", "text/plain")  # a form body would be parsed away
    urllib.request.urlopen(request).read()


def client(service, credentials):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION, **credentials)


def main():
    with open(TEMPLATE, encoding="utf-8") as f:
        template = yaml.load(f, Loader=Loader)
    policies = dict(function_policies(template))

    # The admin is made with authorization off; everything after it is signed and authorized.
    set_auth(float("inf"))
    iam = client("iam", {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"})
    try:
        iam.create_user(UserName=ADMIN)
    except iam.exceptions.EntityAlreadyExistsException:
        # An emulator bootstrapped before (moto allows two keys a user): new keys.
        for old in iam.list_access_keys(UserName=ADMIN)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=ADMIN, AccessKeyId=old["AccessKeyId"])
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName=ADMIN, PolicyName="admin", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
    admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    set_auth(0)

    iam, sts = client("iam", admin), client("sts", admin)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{ADMIN}"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    print(f"export AWS_ACCESS_KEY_ID={key['AccessKeyId']} AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}")
    for logical, policy in policies.items():
        try:
            iam.create_role(RoleName=logical, AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        iam.put_role_policy(RoleName=logical, PolicyName="template", PolicyDocument=json.dumps(policy))
        role = f"arn:aws:iam::{ACCOUNT}:role/{logical}"
        c = sts.assume_role(RoleArn=role, RoleSessionName=logical, DurationSeconds=43200)["Credentials"]
        print(f'export EMULATOR_ROLE_{logical.upper()}="{c["AccessKeyId"]} {c["SecretAccessKey"]} {c["SessionToken"]}"')


if __name__ == "__main__":
    main()
