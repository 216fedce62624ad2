"""Throughput under contention: orders/s through the HTTP API vs raw TransactWriteItems/s, same emulator.

THREADS client threads place ORDERS single-line orders on a few hot SKUs through the
local HTTP server (``devstack.gateway.dev_server``: token verification, routing,
validation, the service and its DynamoDB calls). Then as many threads send ORDERS
TransactWriteItems of an order's shape straight to DynamoDB: a conditional Put of an
idempotency item, of an order header and of an event, and a conditional Update taking
one unit of a hot SKU. The emulator serves DynamoDB requests one at a time (a lock in
``devstack/emulator.py``), which bounds both rates.

The emulator applies a TransactWriteItems without copying tables
(``devstack/transactions.py``; moto's own copied every table touched, stream records
included, per item, so rates fell as tables grew). Both runs start from empty tables.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bench.harness import (
    REGION,
    BenchError,
    Check,
    Section,
    Stack,
    Ticker,
    median,
    ms,
    new_key,
    order_body,
    percentile,
)

THREADS = 8
ORDERS = 120
HOT_SKUS = ("HOT-1", "HOT-2", "HOT-3")
STOCK = 1_000_000
MAX_ATTEMPTS = 8


class Worker(Protocol):
    def one(self, i: int) -> int:
        """Do operation ``i``; returns how many retries it took."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Rate:
    done: int
    elapsed_s: float
    latencies_s: list[float]
    retries: int

    @property
    def per_s(self) -> float:
        return self.done / self.elapsed_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "elapsed_s": self.elapsed_s,
            "per_s": self.per_s,
            "latency_p50_s": median(self.latencies_s),
            "latency_p95_s": percentile(self.latencies_s, 0.95),
            "retries": self.retries,
            "latency_p50_first_quarter_s": self.drift()[0],
            "latency_p50_last_quarter_s": self.drift()[1],
        }

    def drift(self) -> tuple[float, float]:
        """Median latency of the first and of the last quarter of the operations, in completion order."""
        quarter = max(1, len(self.latencies_s) // 4)
        return median(self.latencies_s[:quarter]), median(self.latencies_s[-quarter:])

    def summary(self, unit: str) -> str:
        return (
            f"{self.done} {unit} in {self.elapsed_s:.2f} s = {self.per_s:6.1f} {unit}/s"
            f"   latency p50 {ms(median(self.latencies_s))}, p95 {ms(percentile(self.latencies_s, 0.95))}"
            f"   retries {self.retries}"
        )


class HttpOrders:
    """Places single-line orders over one keep-alive HTTP connection, retrying 429s with the same key."""

    def __init__(self, port: int, token: str) -> None:
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._token = token

    def one(self, i: int) -> int:
        body = json.dumps(order_body((HOT_SKUS[i % len(HOT_SKUS)], 1)), ensure_ascii=False).encode()
        headers = {
            "authorization": f"Bearer {self._token}",
            "content-type": "application/json",
            "idempotency-key": new_key(),
        }
        for attempt in range(MAX_ATTEMPTS):
            self._connection.request("POST", "/orders", body, headers)
            response = self._connection.getresponse()
            payload = response.read()
            if response.status == 201:
                return attempt
            if response.status != 429:
                raise BenchError(f"POST /orders answered {response.status}: {payload.decode(errors='replace')}")
            time.sleep(0.005 * 2**attempt)
        raise BenchError(f"POST /orders still 429 after {MAX_ATTEMPTS} attempts")

    def close(self) -> None:
        self._connection.close()


class RawTransactions:
    """Sends an order-shaped TransactWriteItems with its own boto3 client, retrying transaction conflicts."""

    def __init__(self, endpoint: str, orders_table: str, products_table: str) -> None:
        import boto3

        self._client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
        self._orders, self._products = orders_table, products_table

    def items(self, i: int) -> list[dict[str, Any]]:
        order_id, now = new_key(), datetime.now(UTC).isoformat(timespec="seconds")
        absent = "attribute_not_exists(pk)"
        order_pk = {"S": f"ORDER#{order_id}"}
        line = {"M": {"sku": {"S": HOT_SKUS[i % len(HOT_SKUS)]}, "name": {"S": "Hot"}, "unit_price": {"N": "1000"}}}
        header = {
            "pk": order_pk,
            "sk": {"S": "#ORDER"},
            "kind": {"S": "order"},
            "order_id": {"S": order_id},
            "customer_id": {"S": "bench-raw"},
            "status": {"S": "confirmed"},
            "lines": {"L": [line]},
            "total": {"N": "1000"},
            "shipping_address": {"M": {"city": {"S": "上海"}, "country": {"S": "CN"}}},
            "created_at": {"S": now},
            "version": {"N": "1"},
            "listed": {"S": "ORDER"},
        }
        idempotency = {
            "pk": {"S": f"IDEM#bench-raw#{new_key()}"},
            "sk": {"S": "#IDEM"},
            "kind": {"S": "idempotency"},
            "order_id": {"S": order_id},
            "request_hash": {"S": "0" * 64},
            "expires_at": {"N": str(int(time.time()) + 86400)},
        }
        event = {"pk": order_pk, "sk": {"S": "EVT#000001"}, "kind": {"S": "event"}, "type": {"S": "order_placed"}}
        take_one = {
            "TableName": self._products,
            "Key": {"sku": {"S": HOT_SKUS[i % len(HOT_SKUS)]}},
            "UpdateExpression": "ADD available :minus, sales_count :one",
            "ConditionExpression": "attribute_exists(sku) AND available >= :one AND active = :yes",
            "ExpressionAttributeValues": {":minus": {"N": "-1"}, ":one": {"N": "1"}, ":yes": {"BOOL": True}},
        }
        puts = [
            {"Put": {"TableName": self._orders, "Item": item, "ConditionExpression": absent}}
            for item in (idempotency, header, event)
        ]
        return [*puts, {"Update": take_one}]

    def one(self, i: int) -> int:
        items = self.items(i)
        for attempt in range(MAX_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=items)
                return attempt
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if "TransactionConflict" not in reasons:
                    raise
                time.sleep(0.005 * 2**attempt)
        raise BenchError(f"TransactWriteItems still conflicting after {MAX_ATTEMPTS} attempts")

    def close(self) -> None:
        self._client.close()


def hammer(workers: list[Worker], total: int) -> Rate:
    """``total`` operations shared out to one thread per worker, timed from the first start to the last finish."""
    ticker = Ticker(total)
    latencies: list[float] = []
    retries: list[int] = []
    errors: list[Exception] = []

    def loop(worker: Worker) -> None:
        try:
            while (i := ticker.take()) is not None:
                start = time.perf_counter()
                retries.append(worker.one(i))
                latencies.append(time.perf_counter() - start)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=loop, args=(worker,), name=f"bench-{n}") for n, worker in enumerate(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise BenchError(f"{len(errors)} worker(s) failed: {errors[0]}") from errors[0]
    return Rate(len(latencies), elapsed, latencies, sum(retries))


def measure(stack: Stack, workers: list[Worker]) -> tuple[Rate, int, Counter[str]]:
    """On empty tables with fresh hot SKUs, warm each worker up (one operation each, not counted), then hammer.

    Returns the rate, the units of stock taken while hammering and the DynamoDB calls made meanwhile.
    """
    try:
        stack.reset_tables()
        for sku in HOT_SKUS:
            stack.seed(sku, stock=STOCK, category="hot")
        for n, worker in enumerate(workers):
            worker.one(n)
        before = sum(stack.stock(sku) for sku in HOT_SKUS)
        with stack.calls.capture() as calls:
            rate = hammer(workers, ORDERS)
        return rate, before - sum(stack.stock(sku) for sku in HOT_SKUS), calls
    finally:
        for worker in workers:
            worker.close()


@contextmanager
def api_server(stack: Stack) -> Iterator[int]:
    """The app behind the verifying HTTP server on a free loopback port (access log off); yields the port."""
    from chalice.config import Config

    from app import app
    from devstack.gateway import VerifyingRequestHandler, dev_server

    def no_access_log(self: Any, format: str, *args: Any) -> None:
        """400 lines of access log would bury the report."""

    server = dev_server(app, Config(), "127.0.0.1", 0, stack.verifier())
    thread = threading.Thread(target=server.server.serve_forever, name="bench-api", daemon=True)
    VerifyingRequestHandler.log_message = no_access_log  # type: ignore[method-assign]
    thread.start()
    try:
        yield server.server.server_address[1]
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join()
        del VerifyingRequestHandler.log_message


def run(stack: Stack) -> Section:
    """HTTP orders/s, then raw TransactWriteItems/s, on the same hot SKUs and thread count."""
    customer = stack.new_user("customer")
    with api_server(stack) as port:
        http_workers: list[Worker] = [HttpOrders(port, customer.token) for _ in range(THREADS)]
        http_rate, http_units, http_calls = measure(stack, http_workers)
    tables = os.environ["ORDERS_TABLE"], os.environ["PRODUCTS_TABLE"]
    raw_workers: list[Worker] = [RawTransactions(stack.endpoint, *tables) for _ in range(THREADS)]
    raw_rate, raw_units, _ = measure(stack, raw_workers)
    ratio = http_rate.per_s / raw_rate.per_s
    per_order = ", ".join(f"{op} {n / http_rate.done:.2f}" for op, n in sorted(http_calls.items()))

    section = Section(
        "throughput",
        f"5. Throughput under contention ({THREADS} client threads, {len(HOT_SKUS)} hot SKUs, {ORDERS} orders each way)",
    )
    section.lines = [
        f"  HTTP API  POST /orders, 1 line:          {http_rate.summary('orders')}",
        f"  raw       TransactWriteItems, 4 items:   {raw_rate.summary('txns')}",
        f"  ratio     HTTP orders/s ÷ raw transactions/s = {ratio:.2f}",
        f"  DynamoDB calls per HTTP order: {per_order}",
        f"  emulator slows as tables grow: median latency, first → last quarter: HTTP {ms(http_rate.drift()[0])}"
        f" → {ms(http_rate.drift()[1])}, raw {ms(raw_rate.drift()[0])} → {ms(raw_rate.drift()[1])}",
        f"  stock taken: {http_units} units by {http_rate.done} HTTP orders, {raw_units} by {raw_rate.done} transactions",
        "  note: both runs start from empty tables. The emulator serves DynamoDB requests one at a time",
        "        (devstack/emulator.py), which bounds both rates; clients,",
        "        API server and emulator share this one process (one GIL). The HTTP path also pays for HTTP, token",
        "        verification, validation and its other DynamoDB calls.",
    ]
    section.data = {
        "threads": THREADS,
        "hot_skus": list(HOT_SKUS),
        "http": {**http_rate.as_dict(), "stock_taken": http_units, "dynamodb_calls": dict(http_calls)},
        "raw": {**raw_rate.as_dict(), "stock_taken": raw_units},
        "ratio_http_to_raw": ratio,
    }
    section.checks = [
        Check("stock taken by HTTP orders", f"{http_units} units", f"= {http_rate.done}", http_units == http_rate.done),
        Check(
            "stock taken by raw transactions", f"{raw_units} units", f"= {raw_rate.done}", raw_units == raw_rate.done
        ),
    ]
    return section
