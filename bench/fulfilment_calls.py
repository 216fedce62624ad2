"""DynamoDB calls per fulfilment update, counted at botocore, through the app's real SQS handler.

The queues and topics are made from infra/ (``devstack.resources.create_messaging``, with a
prefix of their own). Each update is sent to the fulfilment-updates queue and delivered by
``devstack.events.QueuePump`` to ``app.handler_map["fulfilment_updates"]`` (Powertools'
partial batch) as Lambda's event source mapping does: one receive, one handler call, a
delete of what succeeded. Only DynamoDB calls are counted; the queue's own calls are not.

Each pass pays a fresh order as a customer and staff would (bank transfer through the API,
then staff confirm it), then sends ``shipped``, the same update again, and ``picked``
arriving after ``shipped``. The whole sequence runs once as a warm-up, then again to be counted.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.dynamodb_calls import Target, describe
from bench.harness import REGION, Api, BenchError, Check, Section, Stack, User, new_key, order_body

SKU = "SHIP-1"
HANDLER = "fulfilment_updates"
VISIBILITY_TIMEOUT = 1  # seconds: a failed update comes back quickly (as in tests/conftest.py's event_world)

SHIPPED = "update shipped (paid order)"
DUPLICATE = "update shipped again (same update_id)"
LATE = "update picked (arrives after shipped)"
TARGETS: dict[str, tuple[Target, str]] = {  # step -> (DynamoDB calls, what the service should answer)
    SHIPPED: (Target(2, exact=False), "applied"),
    DUPLICATE: (Target(1), "duplicate"),
    LATE: (Target(1), "late"),
}
OUTCOME = re.compile(r"fulfilment update (\S+) for order \S+: (\w+)$")


@dataclass
class Messaging:
    """The template's queues and topics on the emulator, and the app's handler behind a QueuePump."""

    sqs: Any
    sns: Any
    queues: dict[str, str]
    topics: dict[str, str]
    pump: Any  # devstack.events.QueuePump
    outcomes: dict[str, str] = field(default_factory=dict)  # update_id -> what the handler logged

    @property
    def updates_url(self) -> str:
        return self.queues["fulfilment-updates"]

    def send(self, bodies: list[dict[str, Any]]) -> None:
        """Send updates to the fulfilment-updates queue, ten to a request."""
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(body)} for n, body in enumerate(bodies[start : start + 10])
            ]
            answer = self.sqs.send_message_batch(QueueUrl=self.updates_url, Entries=entries)
            if answer.get("Failed"):
                raise BenchError(f"sending fulfilment updates failed: {answer['Failed']}")

    def waiting(self) -> int:
        """Messages in the fulfilment-updates queue, visible or in flight."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.updates_url, AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)


class _Outcomes(logging.Handler):
    """Keeps what the handler logs for each update (``applied``, ``duplicate``, ``late``)."""

    def __init__(self, into: dict[str, str]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        found = OUTCOME.search(record.getMessage())
        if found:
            self.into[found.group(1)] = found.group(2)


@contextmanager
def messaging(
    stack: Stack, handler_wrapper: Any = None, visibility_timeout: int = VISIBILITY_TIMEOUT
) -> Iterator[Messaging]:
    """Queues and topics from infra/ with a unique prefix, the app's staff alerts pointed at them.

    ``handler_wrapper`` (optional) wraps the app's handler before the pump calls it (to time it).
    """
    import boto3

    from app import app
    from chalicelib.adapters.messaging import SnsNotifier
    from chalicelib.entrypoints.http import wiring
    from devstack import resources
    from devstack.events import QueuePump, call

    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=REGION)
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name=REGION)
    prefix = f"bench{uuid.uuid4().hex[:8]}-"
    queues, topics = resources.create_messaging(sqs, sns, visibility_timeout=visibility_timeout, prefix=prefix)
    notifier = SnsNotifier(topics["staff"], topics["customer"], client=sns)  # a dead-letter alert goes here
    handler = call(app.handler_map[HANDLER])
    if handler_wrapper is not None:
        handler = handler_wrapper(handler)
    world = Messaging(sqs, sns, queues, topics, QueuePump(sqs, queues["fulfilment-updates"], handler, REGION))
    events_log = logging.getLogger("orders.events")
    listener, level = _Outcomes(world.outcomes), events_log.level
    events_log.addHandler(listener)
    if not events_log.isEnabledFor(logging.INFO):
        events_log.setLevel(logging.INFO)
    original_notifier = wiring.notifier
    wiring.notifier = lambda: notifier
    try:
        yield world
    finally:
        wiring.notifier = original_notifier
        events_log.removeHandler(listener)
        events_log.setLevel(level)
        for url in queues.values():
            sqs.delete_queue(QueueUrl=url)
        for arn in topics.values():
            sns.delete_topic(TopicArn=arn)
        sqs.close()
        sns.close()


def update(order_id: str, event: str, update_id: str | None = None) -> dict[str, Any]:
    """A fulfilment-updates message body, as the warehouse sends it."""
    body = {
        "update_id": update_id or f"wh-{uuid.uuid4().hex}",
        "order_id": order_id,
        "event": event,
        "occurred_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if event == "shipped":
        body |= {"carrier": "SF Express", "tracking_number": f"SF{uuid.uuid4().int % 10**12:012d}"}
    return body


@dataclass
class Measured:
    calls: Counter[str]
    outcome: str | None
    seconds: float = 0.0


class FulfilmentSteps:
    """Pays an order through the API, then delivers its updates one message at a time."""

    def __init__(self, stack: Stack, api: Api, world: Messaging, customer: User, staff: User) -> None:
        self.stack, self.api, self.world, self.customer, self.staff = stack, api, world, customer, staff
        self.measured: dict[str, Measured] = {}

    def request(self, method: str, path: str, user: User, expect: int, **kwargs: Any) -> Any:
        status, body = self.api.call(method, path, user, **kwargs)
        if status != expect:
            raise BenchError(f"setup: {method} {path} answered {status}, not {expect}: {body}")
        return body

    def paid_order(self) -> str:
        """An order paid by bank transfer and confirmed by staff, through the API."""
        headers = {"idempotency-key": new_key()}
        order = self.request("POST", "/orders", self.customer, 201, body=order_body((SKU, 1)), headers=headers)
        order_id = order["order_id"]
        body = {"method": "bank_transfer"}
        payment = self.request("POST", f"/orders/{order_id}/payments", self.customer, 201, body=body)
        confirm = {"amount": order["total"], "reference": "bench bank ref"}
        path = f"/staff/orders/{order_id}/payments/{payment['payment_id']}/confirm"
        paid = self.request("POST", path, self.staff, 200, body=confirm)
        if paid["payment_status"] != "paid":
            raise BenchError(f"setup: order {order_id} is {paid['payment_status']} after staff confirmed it")
        return order_id

    def deliver(self, name: str, body: dict[str, Any]) -> None:
        """Send one update and pump it through the handler, counting the DynamoDB calls of the pump."""
        self.world.send([body])
        started = time.perf_counter()
        with self.stack.calls.capture() as calls:
            handled, failed = self.world.pump.pump()
        seconds = time.perf_counter() - started
        if (handled, failed) != (1, 0):
            raise BenchError(f"{name}: the pump handled {handled} and failed {failed} messages, not 1 and 0")
        self.measured[name] = Measured(calls, self.world.outcomes.get(body["update_id"]), seconds)

    def order(self, order_id: str) -> dict[str, Any]:
        return self.request("GET", f"/orders/{order_id}", self.staff, 200)

    def run(self) -> dict[str, Measured]:
        order_id = self.paid_order()
        shipped = update(order_id, "shipped")
        self.deliver(SHIPPED, shipped)
        self.deliver(DUPLICATE, shipped)
        self.deliver(LATE, update(order_id, "picked"))
        order = self.order(order_id)
        kinds = Counter(event["type"] for event in order["timeline"])
        if order["fulfilment_status"] != "shipped" or kinds["shipped"] != 1 or kinds["picked"]:
            raise BenchError(
                f"order {order_id} ended {order['fulfilment_status']} with timeline {dict(kinds)};"
                " expected shipped, one shipped event and no picked one"
            )
        return self.measured


def run(stack: Stack) -> Section:
    """Warm up, then count each fulfilment update's DynamoDB calls and check them against TARGETS."""
    stack.seed(SKU, stock=1_000_000, price=2_500, name="Fulfilment bench product", category="fulfilment")
    api = Api(stack)
    with messaging(stack) as world:
        steps = FulfilmentSteps(stack, api, world, stack.new_user("customer"), stack.new_user("staff"))
        with stack.calls.capture() as warm_up:
            steps.run()
        measured = dict(steps.run())
        left = world.waiting()
    if left:
        raise BenchError(f"{left} fulfilment updates were left in the queue")
    measured_calls = sum((m.calls for m in measured.values()), Counter())
    scans = measured_calls["Scan"] + measured_calls["ParallelScan"]

    section = Section(
        "fulfilment_calls",
        "4. DynamoDB calls per fulfilment update (the SQS handler via QueuePump, counted at botocore, after a warm-up)",
    )
    section.lines.append(f"  {'update':<48} {'calls':>5}  {'target':<6}  {'result':<6}  by API operation")
    rows: dict[str, dict[str, Any]] = {}
    for name, (target, expected) in TARGETS.items():
        step = measured[name]
        total = sum(step.calls.values())
        answered = step.outcome == expected or step.outcome is None  # None: the handler's log line was not seen
        passed = target.met(total) and answered
        section.lines.append(
            f"  {name:<48} {total:>5}  {target!s:<6}  {'PASS' if passed else 'FAIL':<6}  {describe(step.calls)}"
            f"  (handler: {step.outcome or 'not logged'}; {step.seconds * 1000:.1f} ms with receive and delete)"
        )
        section.checks.append(
            Check(
                f"DynamoDB calls: fulfilment {name}",
                f"{total} calls, {step.outcome or 'outcome not logged'}",
                f"{target}, {expected}",
                passed,
            )
        )
        rows[name] = {
            "total": total,
            "by_api_operation": dict(step.calls),
            "target": str(target),
            "expected_outcome": expected,
            "outcome": step.outcome,
            "pump_s": step.seconds,
            "passed": passed,
        }
    section.lines += [
        "  (each update: one message sent to the queue, then one QueuePump.pump(): receive, the app's handler,",
        "  delete; the order was paid by bank transfer + staff confirm through the API, and ends shipped with one",
        "  shipped event and no picked one)",
        f"  warm-up pass (same steps, first time, with paying the order): {sum(warm_up.values())} calls:"
        f" {describe(warm_up)}",
        f"  Scans in the measured fulfilment updates: {scans}  {'PASS' if scans == 0 else 'FAIL'} (target 0)",
    ]
    section.checks.append(Check("Scans in the measured fulfilment updates", str(scans), "0", scans == 0))
    section.data = {
        "operations": rows,
        "warm_up": {"total": sum(warm_up.values()), "by_api_operation": dict(warm_up)},
        "scans": scans,
    }
    return section
