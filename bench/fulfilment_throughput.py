"""Fulfilment updates per second through the local queue, as a ratio to raw SQS receive + delete per second.

On empty tables, ORDERS orders are written already paid: each is built by the domain as the
API would build it (``new_order``, a bank transfer started and confirmed by staff in the
order's ledger) and its header and timeline are written with BatchWriteItem, the items the
repository writes. Paying them through the API instead would cost three emulated
transactions each (order, payment, confirmation) and measure something else.

Then one ``shipped`` update per order is sent to the fulfilment-updates queue (made from
infra/ with a prefix of its own) and pumped through ``devstack.events.QueuePump`` and the
app's ``fulfilment_updates`` handler, ten messages to a batch, one batch at a time (one
Lambda), until the queue is empty. Then ORDERS small messages are sent to the same queue and
received ten at a time and deleted in a batch, until it is empty: the queue's own rate.

The emulator serves DynamoDB requests one at a time under a lock (``devstack/emulator.py``;
with one consumer it is never contended here). Its Query is the largest single cost of an
update; SQS hardly counts.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.fulfilment_calls import Messaging, messaging, update
from bench.harness import ADDRESS, BenchError, Check, Section, Stack, median, ms

ORDERS = 100
BATCH = 10
VISIBILITY_TIMEOUT = 30  # seconds: longer than any batch takes, so no message comes back while it is handled
DEADLINE_S = 600  # give up on a pump that does not empty the queue


@dataclass
class Drain:
    """One run of draining the queue: what was done, how long it took, each batch's time."""

    done: int
    failed: int
    elapsed_s: float
    batches: list[float]

    @property
    def per_s(self) -> float:
        return self.done / self.elapsed_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "failed": self.failed,
            "elapsed_s": self.elapsed_s,
            "per_s": self.per_s,
            "batches": len(self.batches),
            "batch_p50_s": median(self.batches),
            "batch_max_s": max(self.batches),
            "batch_p50_first_quarter_s": self.drift()[0],
            "batch_p50_last_quarter_s": self.drift()[1],
        }

    def drift(self) -> tuple[float, float]:
        """Median batch time of the first and of the last quarter of the batches."""
        quarter = max(1, len(self.batches) // 4)
        return median(self.batches[:quarter]), median(self.batches[-quarter:])


class CallTimes:
    """Time spent in each AWS API call (service, operation) made inside the block, from any client."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.counts: Counter[tuple[str, str]] = Counter()

    @contextmanager
    def recording(self) -> Iterator[CallTimes]:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        seconds, counts = self.seconds, self.counts

        def timed(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(client, operation_name, api_params)
            finally:
                key = (client.meta.service_model.service_name, operation_name)
                seconds[key] += time.perf_counter() - started
                counts[key] += 1

        botocore.client.BaseClient._make_api_call = timed
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    def total(self, service: str, operation: str | None = None) -> float:
        return sum(s for (svc, op), s in self.seconds.items() if svc == service and operation in (None, op))


class HandlerTime:
    """Wraps the handler the pump calls, adding up the time spent in it."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def timed(event: dict[str, Any], context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def paid_orders(count: int) -> tuple[list[str], int]:
    """``count`` orders paid by bank transfer and confirmed by staff, written with BatchWriteItem.

    Returns their ids and the version each has once paid (every order has the same timeline).
    """
    from chalicelib.adapters.dynamo.models import OrdersTableItem
    from chalicelib.adapters.dynamo.order_records import event_records, to_record
    from chalicelib.domain import orders as domain
    from chalicelib.domain import payments as ledger

    now = datetime.now(UTC)
    at, reserved_until = domain.iso(now), domain.iso(now + timedelta(hours=72))  # offline payments take days
    line = domain.OrderLine("SHIP-BULK-1", "Fulfilment bulk product", 2_500, 1)
    ids, version = [], 0
    with OrdersTableItem.batch_write() as batch:
        for n in range(count):
            order = domain.new_order(
                order_id=uuid.uuid4().hex,
                order_number=domain.order_number(now, 900_000 + n),
                customer_id="bench-fulfilment",
                lines=[line],
                currency="CNY",
                shipping_address=ADDRESS,
                channel="web",
                note=None,
                now=now,
                payment_ttl=timedelta(minutes=30),
                actor="customer:bench-fulfilment",
            )
            payment, _ = ledger.start(order, "bank_transfer", "customer:bench-fulfilment", at)
            ledger.record_started(order, payment, "customer:bench-fulfilment", at, extend_to=reserved_until)
            ledger.confirm_offline(order, payment.payment_id, order.total, "bench bank ref", "staff:bench", at)
            if order.payment_status != "paid":
                raise BenchError(f"setup: a bulk order is {order.payment_status} after staff confirmed it")
            for item in (to_record(order), *event_records(order)):
                batch.save(item)
            ids.append(order.order_id)
            version = order.version
    return ids, version


def fulfilment_states(order_ids: list[str]) -> tuple[Counter[str], Counter[int]]:
    """The orders' fulfilment statuses and versions, read with BatchGetItem (100 keys a request)."""
    from chalicelib.adapters.dynamo.models import ORDER_SK, OrderRecord, order_pk

    statuses: Counter[str] = Counter()
    versions: Counter[int] = Counter()
    for start in range(0, len(order_ids), 100):
        keys = [(order_pk(order_id), ORDER_SK) for order_id in order_ids[start : start + 100]]
        for record in OrderRecord.batch_get(keys, consistent_read=True):
            statuses[record.fulfilment_status] += 1
            versions[int(record.version)] += 1
    return statuses, versions


def drain_updates(world: Messaging, expected: int) -> Drain:
    """Pump the fulfilment-updates queue until every update is handled and a receive comes back empty."""
    done = failed = 0
    batches: list[float] = []
    started = time.perf_counter()
    while True:
        batch_started = time.perf_counter()
        handled, not_handled = world.pump.pump()
        if handled or not_handled:
            batches.append(time.perf_counter() - batch_started)
        done, failed = done + handled, failed + not_handled
        if not handled and not not_handled:
            if done >= expected or not world.waiting():
                break
            time.sleep(0.05)  # failed updates come back after the visibility timeout
        if time.perf_counter() - started > DEADLINE_S:
            raise BenchError(f"the fulfilment-updates queue was not empty after {DEADLINE_S} s ({done} handled)")
    return Drain(done, failed, time.perf_counter() - started, batches)


def drain_raw(world: Messaging) -> Drain:
    """Receive ten at a time (as the pump asks) and delete each batch, until a receive comes back empty."""
    sqs, url = world.sqs, world.updates_url
    done = 0
    batches: list[float] = []
    started = time.perf_counter()
    while True:
        batch_started = time.perf_counter()
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
        done += len(messages)
        batches.append(time.perf_counter() - batch_started)
    return Drain(done, 0, time.perf_counter() - started, batches)


def run(stack: Stack) -> Section:
    """ORDERS shipped updates through QueuePump and the handler, then ORDERS raw receive+delete, same queue."""
    stack.reset_tables()
    setup_started = time.perf_counter()
    order_ids, paid_version = paid_orders(ORDERS)
    setup_s = time.perf_counter() - setup_started
    handler_time = HandlerTime()
    times = CallTimes()
    with messaging(stack, handler_time, visibility_timeout=VISIBILITY_TIMEOUT) as world:
        world.send([update(order_id, "shipped") for order_id in order_ids])
        with stack.calls.capture() as calls, times.recording():
            updates = drain_updates(world, ORDERS)
        left_after_updates = world.waiting()
        world.send([{"n": n, "body": "x" * 200} for n in range(ORDERS)])
        raw = drain_raw(world)
        left_after_raw = world.waiting()
    statuses, versions = fulfilment_states(order_ids)
    outcomes = Counter(world.outcomes.values())
    shipped = statuses["shipped"]
    once = versions[paid_version + 1]
    ratio = updates.per_s / raw.per_s

    per_update = {
        "receive (SQS ReceiveMessage)": times.total("sqs", "ReceiveMessage") / updates.done,
        "handler (Powertools batch, parse, service)": handler_time.seconds / updates.done,
        "  of which DynamoDB Query": times.total("dynamodb", "Query") / updates.done,
        "  of which DynamoDB TransactWriteItems": times.total("dynamodb", "TransactWriteItems") / updates.done,
        "  of which the rest (no AWS calls)": (handler_time.seconds - times.total("dynamodb")) / updates.done,
        "delete (SQS DeleteMessageBatch)": times.total("sqs", "DeleteMessageBatch") / updates.done,
    }
    per_update_calls = ", ".join(f"{op} {n / updates.done:.2f}" for op, n in sorted(calls.items()))
    first_quarter, last_quarter = updates.drift()

    section = Section(
        "fulfilment_throughput",
        f"6. Fulfilment updates through the local queue ({ORDERS} paid orders, one `shipped` update each,"
        f" batches of {BATCH}, one consumer)",
    )
    section.lines = [
        f"  setup: {ORDERS} orders paid (bank transfer + staff confirm in the ledger, BatchWriteItem) in {setup_s:.2f} s",
        f"  updates   QueuePump + app handler:          {updates.done} updates in {updates.elapsed_s:.2f} s"
        f" = {updates.per_s:7.1f} updates/s   batch p50 {ms(median(updates.batches))}, max {ms(max(updates.batches))}"
        f"   failed {updates.failed}",
        f"  raw SQS   receive(10) + delete batch:       {raw.done} messages in {raw.elapsed_s:.2f} s"
        f" = {raw.per_s:7.1f} messages/s   batch p50 {ms(median(raw.batches))}, max {ms(max(raw.batches))}",
        f"  ratio     updates/s ÷ raw messages/s = {ratio:.3f}",
        "  per update (means over the run):",
        *(f"    {name:<46} {ms(seconds):>10}" for name, seconds in per_update.items()),
        f"    {'total (wall clock ÷ updates)':<46} {ms(updates.elapsed_s / updates.done):>10}",
        f"  DynamoDB calls per update: {per_update_calls}",
        f"  emulator slows as the table grows: median batch, first → last quarter: {ms(first_quarter)}"
        f" → {ms(last_quarter)}",
        f"  handler outcomes: {', '.join(f'{k} {n}' for k, n in sorted(outcomes.items(), key=str)) or 'not logged'}",
        f"  orders shipped afterwards: {shipped} of {ORDERS}, changed exactly once: {once} of {ORDERS}"
        f"   {'PASS' if shipped == once == ORDERS else 'FAIL'} (target all)",
        "  note: the tables start empty. The emulator serves DynamoDB requests one at a time (devstack/emulator.py;",
        "        uncontended with one consumer); the emulator's DynamoDB, not SQS, bounds the update rate.",
        "        Pump, handler and emulator share one process.",
    ]
    section.data = {
        "orders": ORDERS,
        "batch_size": BATCH,
        "setup": {"how": "domain ledger + BatchWriteItem", "elapsed_s": setup_s},
        "updates": {**updates.as_dict(), "dynamodb_calls": dict(calls)},
        "raw_sqs": raw.as_dict(),
        "ratio_updates_to_raw": ratio,
        "per_update_s": {name.strip(): seconds for name, seconds in per_update.items()},
        "handler_outcomes": dict(outcomes),
        "orders_shipped": shipped,
        "orders_changed_once": once,
        "left_in_queue": {"after_updates": left_after_updates, "after_raw": left_after_raw},
    }
    section.checks = [
        Check(
            "orders shipped by fulfilment updates through the queue",
            f"{shipped} of {ORDERS} shipped, {once} changed exactly once",
            f"all {ORDERS}",
            shipped == once == ORDERS,
        ),
        Check(
            "fulfilment-updates queue empty after each run",
            f"{left_after_updates} after the updates, {left_after_raw} after the raw messages",
            "0",
            left_after_updates == left_after_raw == 0 and raw.done == ORDERS,
        ),
    ]
    return section
