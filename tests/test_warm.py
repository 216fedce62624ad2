"""A cold container collects no garbage while it starts, and collects again after its first event of any kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HTTP_EVENT = {
    "resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
    "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
    "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/api/health", "stage": "api",
                       "requestId": "r-1", "identity": {"sourceIp": "127.0.0.1"}},
}  # fmt: skip
STREAM_EVENT = {  # a header's update: nothing for the handler to send, so no AWS call
    "Records": [{"eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                 "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/x",
                 "dynamodb": {"Keys": {"pk": {"S": "ORDER#1"}, "sk": {"S": "#ORDER"}},
                              "NewImage": {"kind": {"S": "order"}}, "SequenceNumber": "1"}}],
}  # fmt: skip


def first_event(handler: str, event: dict) -> list[str]:
    """In a fresh interpreter that imports the app as Lambda does: GC state at start, the answer, GC state after."""
    script = (
        "import gc, json, sys\nimport app\nprint(gc.isenabled())\n"
        f"answer = app.app.handler_map[{handler!r}](json.loads(sys.argv[1]), None) if {handler!r} != 'api' "
        "else app.app(json.loads(sys.argv[1]), None)\n"
        "print(json.dumps(answer, default=str))\nprint(gc.isenabled(), gc.get_freeze_count() > 1000)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(event)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_collection_resumes_after_the_first_request_with_the_start_ups_objects_frozen():
    at_start, answer, after = first_event("api", HTTP_EVENT)
    assert at_start == "False"
    assert json.loads(answer)["statusCode"] == 200
    assert after == "True True"


def test_collection_resumes_after_a_first_stream_batch_too():
    at_start, answer, after = first_event("orders_stream", STREAM_EVENT)
    assert at_start == "False"
    assert json.loads(answer) == {"batchItemFailures": []}
    assert after == "True True"
