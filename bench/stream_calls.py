"""AWS calls per stream record, counted at botocore, through the app's real stream handlers.

The tables are made afresh (``Stack.reset_tables``), so their streams hold only this section's
records. Queues and topics come from infra/ (``devstack.resources.create_messaging``, with a
prefix of their own) and the app's dispatcher is wired as ``tests/conftest.py``'s ``event_world``
wires it: ``wiring.dispatcher`` answers an ``EventDispatcher`` whose ``SnsNotifier`` and
``SqsFulfilmentRequests`` use clients pointed at the emulator. Queues subscribed to the two
topics (``devstack.events.TopicTap``) and the fulfilment-requests queue confirm what was sent.

``devstack.events.StreamPump`` delivers the records to ``app.handler_map["orders_stream"]``
and ``["products_stream"]`` one record per handler call (Lambda with BatchSize 1), so each
record's calls are its own: every AWS call the handler makes on this thread, by service and
operation. The pumps' own DescribeStream, GetShardIterator and GetRecords are not counted.

Each pass seeds a SKU with stock THRESHOLD + 1 and a low-stock threshold of THRESHOLD, then,
through the API, a customer orders one (order_placed; stock down to THRESHOLD, not below),
starts a bank transfer (payment_started), staff confirm it (payment_received), and a second
order takes one more (order_placed; stock below the threshold). The streams are pumped after
each step. The pass runs once as a warm-up, then again to be counted. Last, a fresh pump per
stream reads from TRIM_HORIZON (a new container, a retry) and delivers every record again
(with the few the last pump's handlers wrote, their sent-markers, delivered for the first time).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.harness import REGION, Api, BenchError, Check, Section, Stack, User, new_key, order_body

THRESHOLD = 5
SERVICES = {"dynamodb": "DynamoDB", "sns": "SNS", "sqs": "SQS"}
PUBLISHES = ("SNS Publish", "SQS SendMessage")

PLACED = "orders_stream: order_placed"
STARTED = "orders_stream: payment_started"
RECEIVED = "orders_stream: payment_received"
NOT_CROSSED = f"products_stream: stock {THRESHOLD + 1} → {THRESHOLD} (not below {THRESHOLD})"
CROSSED = f"products_stream: stock {THRESHOLD} → {THRESHOLD - 1} (below {THRESHOLD})"
ROWS = {  # step -> what it should send
    PLACED: "staff order_placed + customer order_confirmed",
    RECEIVED: "staff + customer payment_received, fulfilment request",
    STARTED: "nobody",
    NOT_CROSSED: "nobody",
    CROSSED: "staff low_stock",
}
REDELIVERED = {f"redelivered {name}": name for name in (PLACED, RECEIVED, STARTED, CROSSED)}
OTHER = "other records (order items, markers, ...)"
STAFF_PER_PASS = {"order_placed": 2, "payment_received": 1, "low_stock": 1}
CUSTOMER_PER_PASS = {"order_confirmed": 2, "payment_received": 1}


class AwsCalls:
    """The AWS API calls made on this thread inside ``capture``, as "Service Operation", any client."""

    def __init__(self) -> None:
        self._thread = threading.get_ident()
        self._open: list[Counter[str]] = []
        self._original: Callable[..., Any] | None = None

    def install(self) -> None:
        import botocore.client

        original = self._original = botocore.client.BaseClient._make_api_call
        thread, captures = self._thread, self._open

        def counting(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if captures and threading.get_ident() == thread:
                service = client.meta.service_model.service_name
                captures[-1][f"{SERVICES.get(service, service)} {operation_name}"] += 1
            return original(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = counting

    def uninstall(self) -> None:
        import botocore.client

        if self._original is not None:
            botocore.client.BaseClient._make_api_call = self._original
            self._original = None

    @contextmanager
    def capture(self) -> Iterator[Counter[str]]:
        counts: Counter[str] = Counter()
        self._open.append(counts)
        try:
            yield counts
        finally:
            self._open.remove(counts)


def describe(calls: Counter[str]) -> str:
    """``DynamoDB GetItem 1, UpdateItem 2; SNS Publish 2``."""
    by_service: dict[str, list[str]] = defaultdict(list)
    for name, n in sorted(calls.items()):
        service, operation = name.split(" ", 1)
        by_service[service].append(f"{operation} {n}")
    return "; ".join(f"{service} {', '.join(ops)}" for service, ops in by_service.items()) or "none"


def nested(calls: Counter[str]) -> dict[str, dict[str, int]]:
    """``{"DynamoDB": {"GetItem": 1}, ...}`` for the JSON report."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for name, n in sorted(calls.items()):
        service, operation = name.split(" ", 1)
        out[service][operation] = n
    return dict(out)


@dataclass
class Delivery:
    """One stream record delivered to a handler, on its own, and what the handler called meanwhile."""

    stream: str  # "orders" or "products"
    event_id: str
    kind: str  # "order_placed", ... (timeline), "crossed", "not crossed" (stock), or "other"
    key: str  # the order id, or the SKU
    calls: Counter[str]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def classify(stream: str, raw: dict[str, Any]) -> tuple[str, str]:
    """(kind, key) of a stream record, read as the app's handlers read it."""
    from chalicelib.adapters.dynamo.streams import stock_change, timeline_fact
    from chalicelib.domain.notifications import crossed_below

    if stream == "orders":
        fact = timeline_fact(raw)
        return ("other", "") if fact is None else (fact.type, fact.order_id)
    change = stock_change(raw)
    if change is None or change["before"] == change["after"]:
        return "other", ""
    crossed = crossed_below(change["before"], change["after"], change["threshold"])
    return ("crossed" if crossed else "not crossed"), change["sku"]


@dataclass
class Streams:
    """The two stream pumps (fresh ones on demand), recording each delivery."""

    calls: AwsCalls
    client: Any  # dynamodbstreams
    arns: dict[str, str]  # "orders"/"products" -> stream ARN
    deliveries: list[Delivery] = field(default_factory=list)

    def pumps(self) -> list[Any]:
        """A new event source mapping per stream: reads from TRIM_HORIZON."""
        from app import app
        from devstack.events import StreamPump, call

        return [
            StreamPump(
                self.client,
                self.arns[stream],
                self._measured(stream, call(app.handler_map[f"{stream}_stream"])),
                REGION,
                batch_size=1,
            )
            for stream in ("orders", "products")
        ]

    def _measured(self, stream: str, handler: Any) -> Any:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            [record] = event["Records"]
            started = time.perf_counter()
            with self.calls.capture() as calls:
                answer = handler(event, context)
            seconds = time.perf_counter() - started
            if isinstance(answer, dict) and answer.get("batchItemFailures"):
                raise BenchError(f"the {stream}_stream handler failed record {record.get('eventID')}: {answer}")
            kind, key = classify(stream, record)
            self.deliveries.append(Delivery(stream, record["eventID"], kind, key, calls, seconds))
            return answer

        return invoke

    def pump(self, pumps: list[Any]) -> list[Delivery]:
        """Deliver what the pumps have not; the deliveries made."""
        start = len(self.deliveries)
        for pump in pumps:
            pump.pump()
        return self.deliveries[start:]


@dataclass
class World:
    streams: Streams
    staff: Any  # TopicTap
    customer: Any  # TopicTap
    sqs: Any
    requests_url: str

    def fulfilment_requests(self) -> list[str]:
        """Order ids the warehouse was asked to ship (read and deleted)."""
        found = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.requests_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return found
            for message in got:
                found.append(json.loads(message["Body"])["order_id"])
                self.sqs.delete_message(QueueUrl=self.requests_url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def event_world(stack: Stack) -> Iterator[World]:
    """Queues and topics from infra/ and the dispatcher wired to them (as ``tests/conftest.py``'s event_world)."""
    import boto3

    from chalicelib.adapters.dynamo.markers_repo import SentMarkersRepository
    from chalicelib.adapters.messaging import SnsNotifier, SqsFulfilmentRequests
    from chalicelib.entrypoints.http import wiring
    from chalicelib.services.notify import EventDispatcher
    from devstack import resources
    from devstack.events import TopicTap

    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=REGION)
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name=REGION)
    streams = boto3.client("dynamodbstreams", endpoint_url=stack.endpoint, region_name=REGION)
    prefix = f"bench{uuid.uuid4().hex[:8]}-"
    queues, topics = resources.create_messaging(sqs, sns, visibility_timeout=1, prefix=prefix)
    notifier = SnsNotifier(topics["staff"], topics["customer"], client=sns)
    dispatcher = EventDispatcher(
        orders=wiring.orders_repo(),
        notifier=notifier,
        fulfilment_requests=SqsFulfilmentRequests(queues["fulfilment-requests"], client=sqs),
        markers=SentMarkersRepository(),
    )
    original_dispatcher, original_notifier = wiring.dispatcher, wiring.notifier
    wiring.dispatcher = lambda: dispatcher
    wiring.notifier = lambda: notifier
    calls = AwsCalls()
    calls.install()
    try:
        arns = {
            stream: stack.dynamodb.describe_table(TableName=os.environ[variable])["Table"]["LatestStreamArn"]
            for stream, variable in (("orders", "ORDERS_TABLE"), ("products", "PRODUCTS_TABLE"))
        }
        yield World(
            Streams(calls, streams, arns),
            TopicTap(sqs, sns, topics["staff"], f"{prefix}staff-tap"),
            TopicTap(sqs, sns, topics["customer"], f"{prefix}customer-tap"),
            sqs,
            queues["fulfilment-requests"],
        )
    finally:
        calls.uninstall()
        wiring.dispatcher, wiring.notifier = original_dispatcher, original_notifier
        for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
            sqs.delete_queue(QueueUrl=url)
        for arn in topics.values():
            sns.delete_topic(TopicArn=arn)
        for client in (sqs, sns, streams):
            client.close()


class StreamSteps:
    """One pass: the API calls that commit each event, each followed by a pump of both streams."""

    def __init__(self, stack: Stack, api: Api, world: World, customer: User, staff: User) -> None:
        self.stack, self.api, self.world, self.customer, self.staff = stack, api, world, customer, staff
        self.pumps = world.streams.pumps()

    def request(self, method: str, path: str, user: User, expect: int, **kwargs: Any) -> Any:
        status, body = self.api.call(method, path, user, **kwargs)
        if status != expect:
            raise BenchError(f"setup: {method} {path} answered {status}, not {expect}: {body}")
        return body

    def place(self, sku: str) -> dict[str, Any]:
        headers = {"idempotency-key": new_key()}
        return self.request("POST", "/orders", self.customer, 201, body=order_body((sku, 1)), headers=headers)

    def pumped(self, step: str, expect: dict[str, tuple[str, str]]) -> dict[str, Delivery]:
        """Pump both streams; the one delivery of each expected (kind, key), by row name."""
        delivered = self.world.streams.pump(self.pumps)
        found = {}
        for name, (kind, key) in expect.items():
            matches = [d for d in delivered if (d.kind, d.key) == (kind, key)]
            if len(matches) != 1:
                seen = sorted(f"{d.stream}:{d.kind}" for d in delivered)
                raise BenchError(f"{step}: {len(matches)} {kind} records for {key}, expected 1 (delivered {seen})")
            found[name] = matches[0]
        return found

    def run(self) -> dict[str, Delivery]:
        from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository
        from chalicelib.domain.catalogue import Product

        sku = f"STREAM-{uuid.uuid4().hex[:8].upper()}"
        product = Product(
            sku, "Stream bench product", "streams", 1_200, "CNY", THRESHOLD + 1, low_stock_threshold=THRESHOLD
        )
        CatalogueRepository().put(product)
        self.pumped("seed", {})
        measured: dict[str, Delivery] = {}

        first = self.place(sku)
        order_id = first["order_id"]
        measured |= self.pumped("place", {PLACED: ("order_placed", order_id), NOT_CROSSED: ("not crossed", sku)})
        payment = self.request(
            "POST", f"/orders/{order_id}/payments", self.customer, 201, body={"method": "bank_transfer"}
        )
        measured |= self.pumped("start payment", {STARTED: ("payment_started", order_id)})
        path = f"/staff/orders/{order_id}/payments/{payment['payment_id']}/confirm"
        paid = self.request("POST", path, self.staff, 200, body={"amount": first["total"], "reference": "bench ref"})
        if paid["payment_status"] != "paid":
            raise BenchError(f"setup: order {order_id} is {paid['payment_status']} after staff confirmed it")
        measured |= self.pumped("confirm payment", {RECEIVED: ("payment_received", order_id)})

        second = self.place(sku)
        expect = {"second order_placed": ("order_placed", second["order_id"]), CROSSED: ("crossed", sku)}
        measured[CROSSED] = self.pumped("place again", expect)[CROSSED]
        return measured


def run(stack: Stack) -> Section:
    """Warm up, count each stream record's AWS calls, then redeliver every record and count again."""
    stack.reset_tables()  # new, empty streams
    api = Api(stack)
    with event_world(stack) as world, stack.calls.capture() as dynamodb:
        streams = world.streams
        steps = StreamSteps(stack, api, world, stack.new_user("customer"), stack.new_user("staff"))
        steps.run()
        warm_up = sum((d.calls for d in streams.deliveries), Counter())
        measured_from = len(streams.deliveries)
        measured = steps.run()
        pass_deliveries = streams.deliveries[measured_from:]
        redelivered = streams.pump(streams.pumps())
        staff, customer = world.staff.drain(), world.customer.drain()
        shipped = world.fulfilment_requests()

    first_time = {d.event_id for d in streams.deliveries[: len(streams.deliveries) - len(redelivered)]}
    again = {d.event_id: d for d in redelivered if d.event_id in first_time}
    new = [d for d in redelivered if d.event_id not in first_time]  # written by the last pump's handlers: markers
    if len(again) != len(first_time) or any(d.kind != "other" for d in new):
        raise BenchError(
            f"redelivery delivered {len(again)} of the {len(first_time)} records delivered before,"
            f" and {len(new)} new ones: {sorted(f'{d.stream}:{d.kind}' for d in new)}"
        )
    published = sum((d.calls for d in streams.deliveries), Counter())
    staff_kinds = Counter(n["attributes"]["event_type"] for n in staff)
    customer_kinds = Counter(n["attributes"]["event_type"] for n in customer)
    expected_staff = Counter({k: 2 * n for k, n in STAFF_PER_PASS.items()})
    expected_customer = Counter({k: 2 * n for k, n in CUSTOMER_PER_PASS.items()})
    if staff_kinds != expected_staff or customer_kinds != expected_customer:
        raise BenchError(
            f"staff got {dict(staff_kinds)}, customers {dict(customer_kinds)}: expected"
            f" {dict(expected_staff)} and {dict(expected_customer)}"
        )
    if (
        published["SNS Publish"] != len(staff) + len(customer)
        or published["SQS SendMessage"] != len(shipped)
        or len(shipped) != 2
    ):
        raise BenchError(
            f"counted {published['SNS Publish']} Publish and {published['SQS SendMessage']} SendMessage, but the"
            f" topics got {len(staff) + len(customer)} and the warehouse {len(shipped)} requests (expected 2)"
        )

    rows: dict[str, Delivery] = {**measured}
    rows |= {name: again[measured[of].event_id] for name, of in REDELIVERED.items()}
    others = [d for d in pass_deliveries if d.kind == "other"]
    other_calls = sum((d.calls for d in others), Counter())
    redelivery_calls = sum((d.calls for d in redelivered), Counter())
    sent_again = {name: redelivery_calls[name] for name in PUBLISHES}
    quiet = not any(sent_again.values())
    scans = dynamodb["Scan"] + dynamodb["ParallelScan"]  # every DynamoDB call of the section, handlers' included

    section = Section(
        "stream_calls",
        "7. Calls per stream record (the stream handlers via StreamPump, AWS calls counted at botocore, after a warm-up)",
    )
    section.lines.append(f"  {'record':<52} {'calls':>5}  {'result':<6}  by service and operation")
    data_rows: dict[str, dict[str, Any]] = {}
    for name, delivery in rows.items():
        section.lines.append(
            f"  {name:<52} {delivery.total:>5}  {'info':<6}  {describe(delivery.calls)}"
            f"  ({delivery.seconds * 1000:.1f} ms)"
        )
        data_rows[name] = {
            "total": delivery.total,
            "by_service": nested(delivery.calls),
            "sends": ROWS.get(name) or "nothing (already sent)",
            "handler_s": delivery.seconds,
        }
    section.lines.append(
        f"  {OTHER:<52} {other_calls.total():>5}  {'info':<6}  {describe(other_calls)}"
        f"  (over {len(others)} records of the pass)"
    )
    quiet_line = ", ".join(f"{name} {n}" for name, n in sent_again.items())
    sent = ", ".join(f"{kind} {n}" for kind, n in sorted((staff_kinds + customer_kinds).items()))
    section.lines += [
        f"  (one pass: a customer orders 1 of a SKU with stock {THRESHOLD + 1} and low-stock threshold {THRESHOLD},"
        " starts a bank transfer,",
        f"  staff confirm it, a second order takes stock below {THRESHOLD}; each record is handed to its handler alone)",
        f"  redelivery from TRIM_HORIZON (fresh pumps): {len(redelivered)} records, both passes and streams"
        f" ({len(new)} first seen now:",
        f"  markers the last pump wrote): {redelivery_calls.total()} calls: {describe(redelivery_calls)}",
        f"  redelivered records publish nothing: {quiet_line}  {'PASS' if quiet else 'FAIL'} (target 0 each)",
        f"  read back from the topics and queue (warm-up, pass, redelivery): {sent};"
        f" fulfilment requests {len(shipped)}",
        f"  warm-up pass (same steps, first time): {warm_up.total()} handler calls: {describe(warm_up)}",
        f"  Scans in this section (stream handlers and the API calls feeding them): {scans}"
        f"  {'PASS' if scans == 0 else 'FAIL'} (target 0)",
    ]
    section.checks += [
        Check("Redelivered stream records publish nothing", quiet_line, "0 each", quiet),
        Check("Scans in the stream section", str(scans), "0", scans == 0),
    ]
    section.data = {
        "records": data_rows,
        "other_records": {"records": len(others), "total": other_calls.total(), "by_service": nested(other_calls)},
        "redelivery": {
            "records": len(redelivered),
            "first_seen_now": len(new),
            "total": redelivery_calls.total(),
            "by_service": nested(redelivery_calls),
            "publishes": sent_again,
            "passed": quiet,
        },
        "sent": {"staff": dict(staff_kinds), "customer": dict(customer_kinds), "fulfilment_requests": len(shipped)},
        "warm_up": {"total": warm_up.total(), "by_service": nested(warm_up)},
        "scans": scans,
    }
    return section
