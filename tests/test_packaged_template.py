"""The deployable template, as CloudFormation would receive it from ``make package`` (ARCHITECTURE.md: Chalice's
``on_sqs_message`` cannot declare ``ReportBatchItemFailures``; the merge template must).

``make package`` (infra/package.py: ``chalice package --merge-template infra/resources.json`` and the stage's CORS
origin) is run once per session and stage into a temporary directory (never over build/, which other work may be using), and the resulting SAM template is read as an operator reviewing a
deployment would: do the event sources only retry what failed, do they read the stack's own queue and streams, is
every poison message and failing function visible to staff, and may each function do only what it needs?
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
OPS_TOPIC = {"Ref": "OpsTopic"}  # alarms; the staff and customer topics carry business events only
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}  # X-Ray has no resource-level permissions: Resource *


def package(tmp_path_factory, stage: str) -> dict[str, Any]:
    """``make package STAGE=stage`` (infra/package.py) into a temporary directory; the SAM template it wrote."""
    out = tmp_path_factory.mktemp("package") / stage
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL") and k != "CORS_ALLOW_ORIGIN"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    done = subprocess.run(
        [sys.executable, "infra/package.py", stage, str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "sam.json").read_text())


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> dict[str, Any]:
    return package(tmp_path_factory, "dev")


@pytest.fixture(scope="session")
def prod_template(tmp_path_factory) -> dict[str, Any]:
    return package(tmp_path_factory, "prod")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r.get("Type") == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**resources(template, "AWS::Serverless::Function"), **resources(template, "AWS::Lambda::Function")}


def reference(value: Any) -> tuple[str, str | None] | None:
    """(logical id, attribute) that ``value`` resolves to inside the template: Ref, GetAtt or a bare ``${X.Attr}``
    Sub; None for anything else (a literal ARN, a placeholder)."""
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            return argument, None
        if function == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            return parts[0], parts[1]
        if function == "Fn::Sub" and isinstance(argument, str):
            match = re.fullmatch(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z]+))?\}", argument)
            if match:
                return match.group(1), match.group(2)
    return None


def mentioned(value: Any) -> set[str]:
    """Every logical id a Resource value refers to (Ref, GetAtt, and ``${X...}`` inside a Sub)."""
    found: set[str] = set()
    for item in value if isinstance(value, list) else [value]:
        ref = reference(item)
        if ref:
            found.add(ref[0])
        elif isinstance(item, dict) and isinstance(item.get("Fn::Sub"), str):
            found |= {m for m in re.findall(r"\$\{([A-Za-z0-9]+)", item["Fn::Sub"])}
    return found


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement in the template, with where it is (role, policy or function)."""
    found = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::Serverless::Function":
            policies = props.get("Policies", [])
            for policy in policies if isinstance(policies, list) else [policies]:
                documents.append(policy if isinstance(policy, dict) else {"Statement": [{"Action": policy}]})
        for document in documents:
            listed = document.get("Statement", [])
            found += [(name, s) for s in (listed if isinstance(listed, list) else [listed])]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(template: dict[str, Any], function: str) -> list[tuple[str, Any]]:
    """(action, Resource) for every Allow statement of the function's role."""
    role = reference(functions(template)[function]["Properties"]["Role"])
    assert role is not None and role[1] == "Arn", "each function has its own role from this template"
    found = []
    for where, statement in statements(template):
        if where == role[0] and statement.get("Effect") == "Allow":
            found += [(action, statement.get("Resource")) for action in as_list(statement["Action"])]
    return found


def who_may(template: dict[str, Any], action: str) -> dict[str, set[str]]:
    """Function -> the logical ids it may do ``action`` on (only functions that may do it at all)."""
    found: dict[str, set[str]] = {}
    for function in functions(template):
        for granted, resource in grants(template, function):
            if granted == action:
                found.setdefault(function, set()).update(mentioned(resource))
    return found


# --- event sources ---------------------------------------------------------------------------------------------


def test_the_queue_and_stream_event_sources_report_batch_item_failures_on_the_stacks_own_resources(template):
    """Lambda retries only the records a handler reports as failed (not the whole batch, and it does not drop
    them), and each event source reads this stack's queue or table stream, not Chalice's placeholder."""
    expected = {
        "FulfilmentUpdates": ("SQS", "Queue", ("FulfilmentUpdatesQueue", "Arn")),
        "ImageUploads": ("SQS", "Queue", ("ImageUploadsQueue", "Arn")),
        "OrdersStream": ("DynamoDB", "Stream", ("OrdersTable", "StreamArn")),
        "ProductsStream": ("DynamoDB", "Stream", ("ProductsTable", "StreamArn")),
        "ImportUploads": ("SQS", "Queue", ("ImportUploadsQueue", "Arn")),
        "ExportJobs": ("SQS", "Queue", ("ExportJobsQueue", "Arn")),
    }
    found = {}
    for name, function in functions(template).items():
        for source in function["Properties"].get("Events", {}).values():
            if source["Type"] in ("SQS", "DynamoDB", "Kinesis"):
                found[name] = source
    assert set(found) == set(expected)

    for name, (kind, field, target) in expected.items():
        source = found[name]
        assert source["Type"] == kind
        assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert reference(source["Properties"][field]) == target, (name, source["Properties"][field])
        assert "placeholder" not in json.dumps(source)
    for name in ("OrdersStream", "ProductsStream"):
        assert found[name]["Properties"]["StartingPosition"] == "TRIM_HORIZON"  # nothing committed is skipped


def test_fulfilment_updates_dead_letter_into_their_own_queue_after_the_handlers_last_receive(template):
    """A poison update goes to fulfilment-updates-dlq after maxReceiveCount receives, the same number the handler
    counts to before it alerts staff; and a message is not received again while Lambda still works on it."""
    queues = resources(template, "AWS::SQS::Queue")
    updates = queues["FulfilmentUpdatesQueue"]["Properties"]
    redrive = updates["RedrivePolicy"]
    assert reference(redrive["deadLetterTargetArn"]) == ("FulfilmentUpdatesDLQ", "Arn")
    assert "RedrivePolicy" not in queues["FulfilmentUpdatesDLQ"]["Properties"]

    handler = functions(template)["FulfilmentUpdates"]["Properties"]
    assert int(handler["Environment"]["Variables"]["FULFILMENT_MAX_RECEIVES"]) == int(redrive["maxReceiveCount"])
    timeout = handler.get("Timeout") or template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    assert int(updates["VisibilityTimeout"]) >= int(timeout)


# --- alarms ----------------------------------------------------------------------------------------------------


def alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values()]


def test_ops_are_alarmed_when_anything_lands_in_a_dead_letter_queue(template):
    """Every queue some queue dead-letters into has an alarm on its depth whose action is the ops topic."""
    dead_letter_queues = {
        reference(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])[0]
        for q in resources(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q.get("Properties", {})
    }
    assert "FulfilmentUpdatesDLQ" in dead_letter_queues

    for queue in dead_letter_queues:
        watching = [
            alarm
            for alarm in alarms(template)
            if alarm["Namespace"] == "AWS/SQS"
            and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
            and any(reference(d["Value"]) == (queue, "QueueName") for d in alarm["Dimensions"])
        ]
        assert watching, f"no depth alarm on {queue}"
        for alarm in watching:
            assert alarm["AlarmActions"] == [OPS_TOPIC]
            assert alarm["Threshold"] <= 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_ops_are_alarmed_when_any_function_fails(template):
    """Every function of the stack has an alarm on its Errors metric whose action is the ops topic."""
    assert len(functions(template)) >= 7
    for name in functions(template):
        watching = [
            alarm
            for alarm in alarms(template)
            if alarm["Namespace"] == "AWS/Lambda"
            and alarm["MetricName"] == "Errors"
            and any(d["Name"] == "FunctionName" and reference(d["Value"]) == (name, None) for d in alarm["Dimensions"])
        ]
        assert watching, f"no Errors alarm on {name}"
        assert all(alarm["AlarmActions"] == [OPS_TOPIC] for alarm in watching), name


# --- permissions -----------------------------------------------------------------------------------------------


def test_no_permission_is_a_wildcard(template):
    """No IAM statement allows an action with a ``*`` in it or on Resource ``*`` (but X-Ray's trace writes, which
    have no resource-level permissions), and no role takes a managed policy (whose grants this template could not
    show)."""
    found = statements(template)
    assert len(found) > 10
    for where, statement in found:
        for action in as_list(statement.get("Action", [])):
            assert "*" not in action, (where, action)
        assert "NotAction" not in statement and "NotResource" not in statement, where
        if "Resource" in statement and not set(as_list(statement["Action"])) <= XRAY:
            assert "*" not in as_list(statement["Resource"]), (where, statement)
    for name, role in resources(template, "AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), name
    for name, function in functions(template).items():
        assert "Policies" not in function["Properties"], name


def test_only_the_functions_that_call_stripe_can_read_its_keys(template):
    """The Stripe keys in SSM: the API (payments, webhooks, cancellations), the expiry (it cancels the pending
    PaymentIntent) and the refund retry. Not the stream and queue handlers, nor the reminders."""
    assert set(who_may(template, "ssm:GetParameters")) == {"APIHandler", "ExpireUnpaidOrders", "RetryRefunds"}
    for function in functions(template):
        assert not [g for g in grants(template, function) if g[0].startswith("ssm:") and g[0] != "ssm:GetParameters"]


def test_only_the_orders_stream_sends_to_the_warehouse_and_only_the_update_handler_consumes_its_queue(template):
    """Fulfilment requests are sent by the orders stream handler alone, to fulfilment-requests alone; only the
    fulfilment-updates handler may receive and delete messages, and only on its own queue (and the image-uploads
    handler on its own: test_images_template.py). (The stream handlers may also send to their own on-failure
    queues: test_ops_template.py.)"""
    senders = {f: queues - {"OrdersStreamFailuresQueue", "ProductsStreamFailuresQueue"} for f, queues in who_may(
        template, "sqs:SendMessage").items()}  # fmt: skip
    imports = {"APIHandler": {"ImportUploadsQueue", "ExportJobsQueue"}, "ImportUploads": {"ImportUploadsQueue"}}
    assert {f: queues for f, queues in senders.items() if queues} == {"OrdersStream": {"FulfilmentRequestsQueue"},
                                                                      **imports}  # fmt: skip
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert who_may(template, action) == {
            "FulfilmentUpdates": {"FulfilmentUpdatesQueue"},
            "ImageUploads": {"ImageUploadsQueue"},
            "ImportUploads": {"ImportUploadsQueue"},
            "ExportJobs": {"ExportJobsQueue"},
        }, action


def test_only_the_event_handlers_publish_and_only_the_orders_stream_reaches_customers(template):
    """No request handler publishes (side effects come from committed state): the orders stream may publish to
    both topics; the products stream and the fulfilment-updates handler only to staff."""
    assert who_may(template, "sns:Publish") == {
        "OrdersStream": {"StaffTopic", "CustomerTopic"},
        "ProductsStream": {"StaffTopic"},
        "FulfilmentUpdates": {"StaffTopic"},
    }


def test_only_the_stream_handlers_read_streams_each_its_own_tables(template):
    """dynamodb:GetRecords (and the other stream reads) only for the two stream handlers, each on the stream of
    its own table and on nothing else."""
    own = {"OrdersStream": "OrdersTable", "ProductsStream": "ProductsTable"}
    for action in ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"):
        assert who_may(template, action) == {name: {table} for name, table in own.items()}, action
    for name, table in own.items():
        for action, resource in grants(template, name):
            if action == "dynamodb:GetRecords":
                for item in as_list(resource):
                    ref = reference(item)
                    sub = item.get("Fn::Sub", "") if isinstance(item, dict) else ""
                    assert ref == (table, "StreamArn") or sub == f"${{{table}.Arn}}/stream/*", (name, item)


# --- browsers --------------------------------------------------------------------------------------------------

EXPOSED = {"Location", "ETag", "Idempotent-Replayed"}


def configured_origin(stage: str) -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return config["stages"][stage]["environment_variables"]["CORS_ALLOW_ORIGIN"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_answer_carries_the_stages_cors_origin_and_exposes_location_etag_and_replays(request, stage):
    """The gateway's own answers (401, 403, 404, 413, 429, 4XX, 5XX) carry the stage's configured origin, as the
    preflight and the Lambda's answers do, and let browser scripts read Location, ETag and Idempotent-Replayed."""
    template = request.getfixturevalue("template" if stage == "dev" else "prod_template")
    origin = configured_origin(stage)
    if stage == "prod":
        assert origin != "*", "prod names the web shop's origin"

    assert not resources(template, "AWS::ApiGateway::GatewayResponse")  # in the body: an API update keeps them
    responses = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"
    ]
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(
        responses
    )
    for name, response in responses.items():
        parameters = response["responseParameters"]
        assert parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{origin}'", name
        exposed = parameters["gatewayresponse.header.Access-Control-Expose-Headers"].strip("'").split(",")
        assert set(exposed) == EXPOSED, name

    api = functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["CORS_ALLOW_ORIGIN"] == origin  # the app's own answers
    preflight = re.findall(r'"method\.response\.header\.Access-Control-Allow-Origin": "([^"]*)"', json.dumps(template))
    assert preflight and set(preflight) == {f"'{origin}'"}  # the OPTIONS answers, made when packaging


# --- receipts (payment vouchers) -----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_receipts_bucket_is_private_encrypted_tls_only_and_expires_what_can_be_rebuilt(request, stage):
    """Vouchers hold names and addresses: no public access of any kind, owner-enforced objects, encrypted at rest,
    refused over plain HTTP, gone after 30 days (a voucher is rebuilt on demand); browsers of the stage's origin
    alone may GET them (with a presigned URL)."""
    template = request.getfixturevalue("template" if stage == "dev" else "prod_template")
    props = template["Resources"]["ReceiptsBucket"]["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "AccessControl" not in props
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    expiring = [r for r in props["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r]
    assert [(r["Status"], r["Prefix"], r["ExpirationInDays"]) for r in expiring] == [("Enabled", "receipts/", 30)]
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [configured_origin(stage)] and set(cors["AllowedMethods"]) <= {"GET", "HEAD"}
    (policy,) = [
        r["Properties"]
        for r in resources(template, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": "ReceiptsBucket"}
    ]
    (deny,) = policy["PolicyDocument"]["Statement"]  # and no Allow: nobody but the API's role reads a voucher
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert mentioned(deny["Resource"]) == {"ReceiptsBucket"} and len(deny["Resource"]) == 2  # bucket and objects


def test_only_the_api_reads_and_writes_receipts_and_only_under_receipts(template):
    """The API handler may GetObject and PutObject under ``receipts/`` of its bucket, nothing else in S3 (no
    delete, no listing) but sign image and import uploads (test_images_template.py, test_imports_template.py); no
    other function touches the receipts bucket. Its bucket's name comes through RECEIPTS_BUCKET."""
    s3 = {f: [g for g in grants(template, f) if g[0].startswith("s3:") and "ReceiptsBucket" in mentioned(g[1])]
          for f in functions(template)}  # fmt: skip
    s3 = {f: found for f, found in s3.items() if found}
    assert set(s3) == {"APIHandler"}
    assert sorted(action for action, _ in s3["APIHandler"]) == ["s3:GetObject", "s3:PutObject"]
    for _, resource in s3["APIHandler"]:
        assert resource == {"Fn::Sub": "${ReceiptsBucket.Arn}/receipts/*"}
    other = [
        g for g in grants(template, "APIHandler") if g[0].startswith("s3:") and "ReceiptsBucket" not in mentioned(g[1])
    ]
    assert other == [
        ("s3:PutObject", {"Fn::Sub": "${ImagesBucket.Arn}/products/*"}),
        ("s3:PutObject", {"Fn::Sub": "${ImportsBucket.Arn}/imports/*"}),
        ("s3:GetObject", {"Fn::Sub": "${ExportsBucket.Arn}/exports/*"}),  # signs download links: test_exports_template
    ]  # test_imports_template.py
    api = functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["RECEIPTS_BUCKET"] == {"Ref": "ReceiptsBucket"}


def test_a_function_that_may_look_customers_up_is_told_which_pool_the_api_signs_them_into(template):
    """The staff order's customer check lists the users of USER_POOL_ARN: unset, it would ask a placeholder pool."""
    pools = resources(template, "AWS::Cognito::UserPool")
    body = json.dumps(template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"])
    signing = {pool for pool in pools if f'"Fn::GetAtt": ["{pool}", "Arn"]' in body}
    assert len(signing) == 1, "the API's authorizer names one pool of this template"
    lookers = who_may(template, "cognito-idp:ListUsers")
    assert lookers, "the staff order's customer check may list users"
    for function, granted in lookers.items():
        variables = functions(template)[function]["Properties"].get("Environment", {}).get("Variables", {})
        assert reference(variables.get("USER_POOL_ARN")) == (next(iter(signing)), "Arn"), function
        assert granted == signing, function
