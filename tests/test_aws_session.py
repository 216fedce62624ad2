"""One botocore session per container: every AWS client of the app comes from ``chalicelib.adapters.aws``.

A new container (a fresh interpreter here, on the test stack's emulator) serves a first GET
/products and a first POST /orders, reads Stripe's keys from SSM and makes its SNS and SQS
clients; it must have made exactly one botocore session and one client per service for all of it (the
first GET reads four shards in parallel threads), and never imported boto3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent

CONTAINER = """
import json, sys
sys.path[:0] = [{root!r}, {bench!r}]
import botocore.session

made = []
original = botocore.session.Session.__init__

def counted(self, *args, **kwargs):
    made.append(type(self).__name__)
    original(self, *args, **kwargs)

botocore.session.Session.__init__ = counted
clients = []
create_client = botocore.session.Session.create_client

def counted_client(self, service_name, *args, **kwargs):
    clients.append(service_name)
    return create_client(self, service_name, *args, **kwargs)

botocore.session.Session.create_client = counted_client
import app
import probe

probe.handle(app.app, probe.event("GET", "/products"), 200)
body = {{"items": [{{"sku": "SESSION-1", "quantity": 1}}], "shipping_address": {address!r}}}
claims = {{"sub": "session-customer", "token_use": "id", "cognito:groups": []}}
order = probe.handle(app.app, probe.event("POST", "/orders", body, claims), 201)

from chalicelib.adapters.messaging import SnsNotifier, SqsFulfilmentRequests
from chalicelib.adapters.secrets import stripe_keys

SnsNotifier("arn:aws:sns:us-east-1:123456789012:staff", "arn:aws:sns:us-east-1:123456789012:customer")
SqsFulfilmentRequests("https://sqs.us-east-1.amazonaws.com/123456789012/fulfilment-requests")
keys = stripe_keys()
print(json.dumps({{"sessions": made, "clients": sorted(clients), "order": order["order_id"], "api_key": keys.api_key,
                  "boto3": "boto3" in sys.modules}}))
"""


def test_a_container_makes_one_botocore_session_for_every_client(stack, seed):
    seed("SESSION-1", stock=10)
    ssm = boto3.client("ssm", endpoint_url=stack.endpoint, region_name="us-east-1")
    for name, value in (("api_key", "sk_test_from_ssm"), ("webhook_secret", "whsec_from_ssm")):
        ssm.put_parameter(Name=f"/orders-api/test/stripe/{name}", Value=value, Type="SecureString", Overwrite=True)
    script = CONTAINER.format(
        root=str(ROOT),
        bench=str(ROOT / "bench"),
        address={
            "name": "王小明",
            "phone": "+86 138 0000 0000",
            "line1": "人民路 1 号",
            "city": "上海",
            "country": "CN",
        },
    )
    env = {**os.environ, "STRIPE_SECRETS_PARAMETER": "/orders-api/test/stripe/"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sessions"] == ["SharedSession"]
    assert result["clients"] == ["dynamodb", "sns", "sqs", "ssm"]  # one DynamoDB client for every connection
    assert result["order"] and result["api_key"] == "sk_test_from_ssm"
    assert result["boto3"] is False


RACE = """
import sys, threading
sys.path.insert(0, {root!r})
from chalicelib.adapters import aws

barrier = threading.Barrier(8)
seen = []

def ask():
    barrier.wait()
    seen.append(aws.session())

threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len({{id(session) for session in seen}}))
"""


def test_threads_asking_at_once_get_the_one_session():
    """A catalogue page's shard threads ask for the session together on a cold first GET."""
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-c", RACE.format(root=str(ROOT))], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "1"
