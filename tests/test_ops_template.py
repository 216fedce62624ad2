"""The packaged template as an operator runs it: alarms that reach the ops topic and watch real resources, log groups
with retention, tracing, API throttling and access logs, streams that lose nothing silently, per-stage names and
secrets, the warehouse's policy and MFA (issue 9, items 2-5).

Which alarms the tests can drive locally, and which not (tests/test_stream_failures.py drives the on-failure queues):

- on-failure queues and DLQs (``ApproximateNumberOfMessagesVisible``): driven locally, a failing record lands in the
  very queue the alarm watches (test_stream_failures.py; the fulfilment DLQ in test_fulfilment.py);
- Lambda ``Errors``: counted only when a handler raises or times out. The schedules raise when a sweep fails and
  the API turns exceptions into 500 answers, which the API 5XX alarm counts (both shown in test_alarm_sources.py);
  the stream and queue handlers report failed records instead (partial batch responses, not errors: the on-failure
  queue and DLQ alarms cover them). No local emulator counts the metric itself;
- ``Throttles``, ``IteratorAge``, API Gateway ``5XXError`` and DynamoDB throttle events are metrics of the AWS
  services themselves (concurrency limits, a mapping's lag, the gateway, table partitions): no local emulator emits
  them, so the tests check each alarm's metric, dimensions and threshold against the template's resources instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.test_packaged_template import functions, grants, package, reference, resources, statements, who_may

OPS = {"Ref": "OpsTopic"}
BUSINESS = ({"Ref": "StaffTopic"}, {"Ref": "CustomerTopic"})
STREAMS = {"OrdersStream": "OrdersTable", "ProductsStream": "ProductsTable"}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict[str, Any]:
    return package(tmp_path_factory, "dev")


@pytest.fixture(scope="module")
def prod_template(tmp_path_factory) -> dict[str, Any]:
    return package(tmp_path_factory, "prod")


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in resources(template, "AWS::CloudWatch::Alarm").items()}


def watching(template: dict[str, Any], namespace: str, metric: str, target: tuple[str, str | None]) -> list[str]:
    """The alarms on ``namespace``/``metric`` with a dimension resolving to ``target`` (logical id, attribute)."""
    return [
        name
        for name, alarm in alarms(template).items()
        if alarm["Namespace"] == namespace
        and alarm["MetricName"] == metric
        and any(reference(d["Value"]) == target for d in alarm["Dimensions"])
    ]


# --- alarms ----------------------------------------------------------------------------------------------------


def test_every_alarm_tells_the_ops_topic_and_never_a_business_topic(template):
    """Alarm and OK actions go to the ops topic alone: staff and customer topics carry business events only."""
    assert resources(template, "AWS::SNS::Topic").keys() >= {"OpsTopic", "StaffTopic", "CustomerTopic"}
    assert len(alarms(template)) >= 20
    for name, alarm in alarms(template).items():
        assert alarm["AlarmActions"] == [OPS], name
        assert alarm.get("OKActions", [OPS]) == [OPS], name
        assert not any(topic in alarm.get(key, []) for topic in BUSINESS for key in ("AlarmActions", "OKActions"))
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] >= 1, name
        assert alarm["TreatMissingData"] == "notBreaching", name  # no data means nothing failed


def test_every_alarms_dimensions_point_at_a_resource_of_the_template(template):
    """Each dimension names a real resource of the kind its namespace measures, so no alarm watches nothing."""
    kinds = {
        ("AWS/Lambda", "FunctionName"): ({"AWS::Serverless::Function"}, None),
        ("AWS/SQS", "QueueName"): ({"AWS::SQS::Queue"}, "QueueName"),
        ("AWS/DynamoDB", "TableName"): ({"AWS::DynamoDB::Table"}, None),
        ("OrdersApi", "function"): ({"AWS::Serverless::Function"}, None),  # the app's own metrics (observability.py)
    }
    api = template["Resources"]["RestAPI"]["Properties"]
    for name, alarm in alarms(template).items():
        for dimension in alarm["Dimensions"]:
            if (alarm["Namespace"], dimension["Name"]) == ("OrdersApi", "service"):
                assert dimension["Value"] == "orders-api", name
                continue
            if alarm["Namespace"] == "AWS/ApiGateway":  # the API's name: Name, and its OpenAPI title alike
                assert api["DefinitionBody"]["info"]["title"] == api["Name"]
                expected = {"ApiName": api["Name"], "Stage": api["StageName"]}
                assert dimension["Value"] == expected[dimension["Name"]], name
                continue
            types, attribute = kinds[(alarm["Namespace"], dimension["Name"])]
            target = reference(dimension["Value"])
            assert target and target[1] == attribute, (name, dimension)
            assert template["Resources"][target[0]]["Type"] in types, (name, dimension)


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(template, metric):
    assert len(functions(template)) >= 7
    for function in functions(template):
        assert watching(template, "AWS/Lambda", metric, (function, None)), f"no {metric} alarm on {function}"


def test_api_5xx_both_tables_throttles_and_both_streams_iterator_age_are_alarmed(template):
    """The API's 5XX answers (the app's own 500s included), read and write throttle events on both tables, and the
    iterator age (how far behind) of both stream handlers."""
    five = [a for a in alarms(template).values() if (a["Namespace"], a["MetricName"]) == ("AWS/ApiGateway", "5XXError")]
    assert len(five) == 1 and five[0]["Statistic"] == "Sum"
    for table in STREAMS.values():
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            assert watching(template, "AWS/DynamoDB", metric, (table, None)), (table, metric)
    for function in STREAMS:
        (name,) = watching(template, "AWS/Lambda", "IteratorAge", (function, None))
        assert alarms(template)[name]["Statistic"] == "Maximum" and alarms(template)[name]["Threshold"] <= 600_000


def test_every_queue_that_receives_failures_has_a_depth_alarm(template):
    """Dead-letter queues and the streams' on-failure queues: one message visible is an alarm."""
    failure_queues = {
        reference(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])[0]
        for q in resources(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    } | {reference(on_failure(template, f)["Destination"])[0] for f in STREAMS}
    assert failure_queues == {
        "FulfilmentUpdatesDLQ",
        "FulfilmentRequestsDLQ",
        "OrdersStreamFailuresQueue",
        "ProductsStreamFailuresQueue",
        "ImportUploadsDLQ",
        "ExportJobsDLQ",
        "ImageUploadsDLQ",
    }
    for queue in failure_queues:
        (name,) = watching(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", (queue, "QueueName"))
        assert alarms(template)[name]["Threshold"] == 1 and alarms(template)[name]["Statistic"] == "Maximum"


# --- streams ---------------------------------------------------------------------------------------------------


def stream_source(template: dict[str, Any], function: str) -> dict[str, Any]:
    (source,) = functions(template)[function]["Properties"]["Events"].values()
    return source["Properties"]


def on_failure(template: dict[str, Any], function: str) -> dict[str, Any]:
    return stream_source(template, function)["DestinationConfig"]["OnFailure"]


def test_stream_mappings_bisect_retry_a_bounded_number_of_times_and_keep_what_fails_in_their_own_queue(template):
    """No poison record blocks a shard for 24 hours or disappears: the batch is split to find it, retried a few
    times, never past an hour (replay needs the stream to still hold it), then its range goes to the stream's own
    SQS queue, which the stream's function may send to, and partial batch responses stay on."""
    queues = set()
    for function in STREAMS:
        source = stream_source(template, function)
        assert source["BisectBatchOnFunctionError"] is True
        assert 0 <= source["MaximumRetryAttempts"] <= 10
        assert 60 <= source["MaximumRecordAgeInSeconds"] <= 6 * 3600
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        destination = on_failure(template, function)
        assert destination["Type"] == "SQS"
        queue, attribute = reference(destination["Destination"])
        assert (template["Resources"][queue]["Type"], attribute) == ("AWS::SQS::Queue", "Arn")
        assert ("sqs:SendMessage", [destination["Destination"]]) in grants(template, function)
        queues.add(queue)
    assert len(queues) == 2, "one on-failure queue per stream"


# --- logs and tracing ------------------------------------------------------------------------------------------


def test_every_function_logs_to_its_own_log_group_with_retention_and_may_write_only_there(template):
    """``/aws/lambda/<FunctionName>`` exists before the function (so Lambda never makes one that keeps logs
    forever), keeps them 14 days in dev and 90 in prod, and the function's role writes to it alone."""
    groups = resources(template, "AWS::Logs::LogGroup")
    for name, function in functions(template).items():
        function_name = function["Properties"]["FunctionName"]["Fn::Sub"]
        group = groups[f"{name}LogGroup"]["Properties"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}
        assert group["RetentionInDays"] == {"Fn::If": ["IsProd", 90, 14]}
        logs = [(action, resource) for action, resource in grants(template, name) if action.startswith("logs:")]
        assert sorted(a for a, _ in logs) == ["logs:CreateLogStream", "logs:PutLogEvents"], name
        assert all(resource == [{"Fn::GetAtt": [f"{name}LogGroup", "Arn"]}] for _, resource in logs), name


def test_functions_and_the_api_are_traced_and_the_api_stage_is_throttled_and_access_logged(template):
    api = template["Resources"]["RestAPI"]["Properties"]
    for name, function in functions(template).items():
        assert function["Properties"]["Tracing"] == "Active", name
        assert ("xray:PutTraceSegments", "*") in grants(template, name), name
    assert api["TracingEnabled"] is True
    (settings,) = api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingBurstLimit"] and settings["ThrottlingRateLimit"]
    access = api["AccessLogSetting"]
    assert reference(access["DestinationArn"]) == ("ApiAccessLogGroup", "Arn")
    assert resources(template, "AWS::Logs::LogGroup")["ApiAccessLogGroup"]["Properties"]["RetentionInDays"]
    line = re.sub(r"\$context\.[A-Za-z.]+", lambda m: '"x"' if m.group().endswith("String") else "x", access["Format"])
    assert {"requestId", "status", "ip", "responseLatency"} <= set(json.loads(line))  # one JSON object per request
    account = resources(template, "AWS::ApiGateway::Account")["ApiGatewayAccount"]["Properties"]
    assert reference(account["CloudWatchRoleArn"]) == ("ApiGatewayLoggingRole", "Arn")
    assert "ApiGatewayAccount" in template["Resources"]["RestAPI"]["DependsOn"]  # logging is allowed first


# --- stages ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_stage_has_its_own_stripe_path_and_names(request, stage):
    """The packaged stage is the default of ``Stage`` and its Stripe keys live under /orders-api/<stage>/stripe;
    every name the template sets explicitly carries the stage, so dev and prod in one account share nothing."""
    packaged = request.getfixturevalue("template" if stage == "dev" else "prod_template")
    parameters = packaged["Parameters"]
    assert parameters["Stage"]["Default"] == stage
    assert parameters["StripeSecretsPath"]["Default"] == f"/orders-api/{stage}/stripe"
    named = 0
    for name, resource in packaged["Resources"].items():
        for key in ("FunctionName", "LogGroupName", "Name", "QueueName", "TopicName", "TableName", "RoleName"):
            value = resource.get("Properties", {}).get(key)
            if value is not None and not (isinstance(value, dict) and {"Ref", "Fn::GetAtt"} & set(value)):
                assert isinstance(value, dict) and "${Stage}" in value.get("Fn::Sub", ""), (name, key, value)
                named += 1
    assert named >= 15
    assert packaged["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}


# --- least privilege -------------------------------------------------------------------------------------------


def test_the_warehouse_policy_takes_requests_and_posts_updates_only(template):
    """The managed policy the warehouse's role or user is given, exported for it: receive/delete/extend on
    fulfilment-requests and send on fulfilment-updates, nothing else."""
    policy = resources(template, "AWS::IAM::ManagedPolicy")["WarehousePolicy"]["Properties"]["PolicyDocument"]
    allowed = {
        (action, reference(resource))
        for statement in policy["Statement"]
        for action in statement["Action"]
        for resource in statement["Resource"]
        if statement["Effect"] == "Allow"
    }
    requests = ("FulfilmentRequestsQueue", "Arn")
    assert allowed == {
        ("sqs:ReceiveMessage", requests),
        ("sqs:DeleteMessage", requests),
        ("sqs:ChangeMessageVisibility", requests),
        ("sqs:GetQueueAttributes", requests),
        ("sqs:SendMessage", ("FulfilmentUpdatesQueue", "Arn")),
    }
    assert template["Outputs"]["WarehousePolicyArn"]["Value"] == {"Ref": "WarehousePolicy"}


def test_the_user_pool_requires_totp_in_prod_and_offers_it_in_dev(template):
    """Cognito cannot require MFA per group: prod's pool requires it of every user (staff and admin included),
    with TOTP apps only (no SMS); dev offers it."""
    pool = resources(template, "AWS::Cognito::UserPool")["UserPool"]["Properties"]
    assert pool["MfaConfiguration"] == {"Fn::If": ["IsProd", "ON", "OPTIONAL"]}
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_only_the_stream_functions_may_send_to_their_failure_queues(template):
    """(And the import worker's queue takes the API's and its own messages: apply, then apply the rest.)"""
    assert who_may(template, "sqs:SendMessage") == {
        "OrdersStream": {"FulfilmentRequestsQueue", "OrdersStreamFailuresQueue"},
        "ProductsStream": {"ProductsStreamFailuresQueue"},
        "APIHandler": {"ImportUploadsQueue", "ExportJobsQueue"},
        "ImportUploads": {"ImportUploadsQueue"},
    }
    wildcard = [(where, s["Action"]) for where, s in statements(template) if s.get("Resource") == "*"]
    assert wildcard and all(
        set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} for _, actions in wildcard
    )
