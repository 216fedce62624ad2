"""Which alarm a failure reaches, shown on the metric's source: Lambda counts ``Errors`` only when a function raises,
API Gateway counts ``5XXError`` for every 5xx answer, and a stream handler's failed record is neither (it is reported
in the partial batch response, and the on-failure queue alarm catches it: tests/test_stream_failures.py).

DynamoDB failing (a throttle or an outage, here ``ProvisionedThroughputExceededException`` from every call) is the
failure each case watches for.
"""

from __future__ import annotations

import botocore.client
import pytest
from botocore.exceptions import ClientError


class DynamoDown:
    """Every DynamoDB call is throttled while ``down``."""

    def __init__(self, monkeypatch) -> None:
        self.down = False
        original = botocore.client.BaseClient._make_api_call

        def calling(client, operation_name, api_params):
            if self.down and client.meta.service_model.service_name == "dynamodb":
                error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}}
                raise ClientError(error, operation_name)
            return original(client, operation_name, api_params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", calling)


@pytest.mark.parametrize("name", ["payment_reminders", "expire_unpaid_orders", "retry_refunds", "customer_care"])
def test_a_schedule_whose_sweep_fails_raises_so_lambda_counts_an_error(api, monkeypatch, name):
    """The scheduled functions let the failure out of the handler: the invocation fails, ``Errors`` counts it and
    the function's Errors alarm (threshold 1) fires; the next run sweeps again."""
    from app import app
    from devstack.scheduler import scheduled_event

    outage = DynamoDown(monkeypatch)
    outage.down = True
    with pytest.raises(Exception):  # noqa: B017  (whatever the adapter turns the throttle into)
        app.handler_map[name](scheduled_event(name, "us-east-1"), None)


def test_an_api_request_that_fails_inside_answers_500_which_the_5xx_alarm_counts(api, seed, monkeypatch):
    """Routing turns the exception into the contract's 500 answer: the Lambda invocation succeeds (no ``Errors``),
    and API Gateway counts the 5xx status, which the Api5XXAlarm watches."""
    seed("MUG-5XX", stock=3)
    outage = DynamoDown(monkeypatch)
    outage.down = True
    reply = api.get("/products/MUG-5XX")
    assert reply.status == 500 and reply.error["code"] == "internal_error", reply.body
