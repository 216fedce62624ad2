"""Structured logs and custom metrics as Lambda runs them: a fresh interpreter importing the app with Lambda's
environment, invoked with Lambda's context, its stdout read back line by line (what CloudWatch Logs receives).

The metric lines are CloudWatch's embedded metric format: CloudWatch turns each into a metric with the namespace,
name and dimensions it declares. The alarms in infra/resources.json must name exactly those, or they never fire.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = json.loads((ROOT / "infra" / "resources.json").read_text())["Resources"]

SCRIPT = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, format="RUNTIME %(message)s")  # the runtime's own root handler
import app

class Context:
    def __init__(self, name, request_id):
        self.function_name, self.aws_request_id = name, request_id
    def get_remaining_time_in_millis(self):
        return 60000

for handler, event, name, request_id in json.loads(sys.argv[1]):
    target = app.app if handler == "api" else app.app.handler_map[handler]
    answer = target(event, Context(name, request_id))
    print("ANSWER " + json.dumps(answer, default=str), flush=True)
print("MODULES " + json.dumps(sorted(m for m in sys.modules if m.startswith("aws_lambda_powertools"))))
"""

ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "orders-api-dev-Fn",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing here may reach AWS: a call would fail, not hang
    "LOG_LEVEL": "INFO",
    "STRIPE_API_KEY": "sk_test_observability",
    "STRIPE_WEBHOOK_SECRET": "whsec_observability",
    "PATH": "/usr/bin:/bin",
}


def sqs_message(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id, "receiptHandle": "r", "body": body, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:fulfilment-updates", "awsRegion": "us-east-1",
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "x",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {},
    }  # fmt: skip


POISON_STREAM_RECORD = {  # a timeline event item without its fields: it can never be announced
    "eventID": "stream-record-7", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
    "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/x",
    "dynamodb": {"Keys": {"pk": {"S": "ORDER#1"}, "sk": {"S": "EVT#000001"}},
                 "NewImage": {"pk": {"S": "ORDER#1"}, "sk": {"S": "EVT#000001"}, "kind": {"S": "event"}},
                 "SequenceNumber": "7"},
}  # fmt: skip


def http_event(method: str, path: str, body: str | None, headers: dict[str, str], request_id: str) -> dict:
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": headers, "multiValueHeaders": None,
        "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
        "stageVariables": None, "body": body, "isBase64Encoded": False,
        "requestContext": {"requestId": request_id, "resourcePath": path, "httpMethod": method, "stage": "api",
                           "identity": {"sourceIp": "203.0.113.9"},
                           "authorizer": {"claims": {"sub": "customer-1", "cognito:groups": ""}}},
    }  # fmt: skip


def run(invocations: list[tuple[str, dict, str, str]]) -> tuple[list[dict], list[dict], list[str], list[str]]:
    """Log lines (JSON), metric lines (EMF), plain lines and the powertools modules imported, from one container."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(invocations)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    logs, metrics, plain, modules = [], [], [], []
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("MODULES "):
            modules = json.loads(line[8:])
        elif line.startswith("{"):
            parsed = json.loads(line)
            (metrics if "_aws" in parsed else logs).append(parsed)
        elif not line.startswith("ANSWER "):
            plain.append(line)
    return logs, metrics, plain, modules


def metric_values(line: dict) -> dict[str, Any]:
    directive = line["_aws"]["CloudWatchMetrics"][0]
    return {
        "namespace": directive["Namespace"],
        "dimensions": sorted(directive["Dimensions"][0]),
        "metrics": {m["Name"]: _total(line[m["Name"]]) for m in directive["Metrics"]},
        **{name: line[name] for name in directive["Dimensions"][0]},
    }


def _total(value: float | list[float]) -> float:
    """An EMF value is a number or a list of them, summed by CloudWatch's ``Sum`` statistic."""
    return sum(value) if isinstance(value, list) else value


def assert_alarm_reads(alarm_name: str, function_logical_id: str, lines: list[dict], metric: str) -> None:
    """The alarm watches the namespace, metric and dimension values these EMF lines publish, and their sum (one
    alarm period) reaches its threshold."""
    alarm = RESOURCES[alarm_name]["Properties"]
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert alarm["Statistic"] == "Sum" and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    for seen in map(metric_values, lines):
        assert alarm["Namespace"] == seen["namespace"] and alarm["MetricName"] == metric
        assert sorted(dimensions) == seen["dimensions"]
        assert dimensions["service"] == seen["service"]
        assert dimensions["function"] == {"Ref": function_logical_id}  # the deployed name: the context carries it
    assert sum(metric_values(line)["metrics"][metric] for line in lines) >= alarm["Threshold"]
    assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]


def test_a_failed_queue_message_logs_json_with_its_message_id_and_emits_the_metric_its_alarm_reads():
    logs, metrics, plain, _ = run(
        [
            ("fulfilment_updates", {"Records": [sqs_message("msg-1", "not json"), sqs_message("msg-2", "{}")]},
             "orders-api-dev-FulfilmentUpdates-X1", "lambda-req-1"),
            ("fulfilment_updates", {"Records": [sqs_message("msg-3", "[]")]},
             "orders-api-dev-FulfilmentUpdates-X1", "lambda-req-2"),
        ]
    )  # fmt: skip
    failures = [line for line in logs if "fulfilment message" in line["message"]]
    assert [line["correlation_id"] for line in failures] == ["msg-1", "msg-2", "msg-3"]
    assert {line["level"] for line in failures} == {"WARNING"}
    assert {line["service"] for line in failures} == {"orders-api"}
    assert [line["function_request_id"] for line in failures] == ["lambda-req-1", "lambda-req-1", "lambda-req-2"]
    assert [line["cold_start"] for line in failures] == [True, True, False]
    assert not [line for line in plain if "fulfilment message" in line]  # once, as JSON: not again as plain text
    assert [metric_values(line)["metrics"] for line in metrics] == [{"FailedRecords": 2}, {"FailedRecords": 1}]
    assert metric_values(metrics[0])["function"] == "orders-api-dev-FulfilmentUpdates-X1"
    assert_alarm_reads("FulfilmentUpdatesFailedRecordsAlarm", "FulfilmentUpdates", metrics, "FailedRecords")


def test_a_stream_record_that_cannot_apply_emits_the_failed_records_metric_its_alarm_reads():
    _, metrics, _, _ = run(
        [("orders_stream", {"Records": [POISON_STREAM_RECORD]}, "orders-api-dev-OrdersStream-X2", "lambda-req-3")]
    )
    assert len(metrics) == 1
    assert metric_values(metrics[0])["metrics"] == {"FailedRecords": 1}
    assert_alarm_reads("OrdersStreamFailedRecordsAlarm", "OrdersStream", metrics, "FailedRecords")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, "apigw-request-9"), ({"x-correlation-id": "checkout-42"}, "checkout-42"),
     ({"x-correlation-id": "bad id with spaces"}, "apigw-request-9")],
)  # fmt: skip
def test_a_refused_webhook_logs_the_requests_correlation_id_and_counts_for_its_alarm(headers, expected):
    body = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"})
    event = http_event(
        "POST", "/webhooks/stripe", body,
        {"content-type": "application/json", "stripe-signature": "t=1,v1=forged", **headers}, "apigw-request-9",
    )  # fmt: skip
    threshold = RESOURCES["WebhooksRefusedAlarm"]["Properties"]["Threshold"]
    assert threshold > 1  # one forged request is noise; a run of them (a wrong secret) is the alarm
    logs, metrics, _, _ = run([("api", event, "orders-api-dev-APIHandler-X3", f"l{n}") for n in range(threshold)])
    refused = [line for line in logs if "webhook refused" in line["message"]]
    assert [line["correlation_id"] for line in refused] == [expected] * threshold
    assert "whsec_observability" not in json.dumps(logs)
    assert [metric_values(line)["metrics"] for line in metrics] == [{"WebhooksRefused": 1}] * threshold
    assert_alarm_reads("WebhooksRefusedAlarm", "APIHandler", metrics, "WebhooksRefused")


def test_requests_that_log_and_count_nothing_never_import_powertools():
    """The cold start pays for Powertools only when something is logged or counted."""
    bad_order = json.dumps({"items": [], "price": 1})
    _, metrics, _, modules = run(
        [
            ("api", http_event("GET", "/health", None, {}, "r1"), "orders-api-dev-APIHandler-X4", "l1"),
            ("api", http_event("POST", "/orders", bad_order, {"content-type": "application/json",
                                                              "idempotency-key": "k1"}, "r2"),
             "orders-api-dev-APIHandler-X4", "l2"),
        ]
    )  # fmt: skip
    assert metrics == []
    assert modules == []
