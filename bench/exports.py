"""An export of 100,000 orders, as CSV and as XLSX: time, DynamoDB calls and the worker's memory.

As in production: ``POST /staff/exports``, then the ``export_jobs`` handler builds the file from the queue
message (batch size 1), reading the orders through the ``all-created`` index (one Query chain per shard,
merged) and writing row by row to a temporary file before it goes to S3.

Two parts. (1) End to end on the emulator with 10,000 orders (copies of one real order written straight
into the table, each its own id, number and time): the DynamoDB calls are exact. (2) 100,000 and 200,000
orders with only that read replaced by the same orders streamed in-process, in a forked process: the emulator
answers each page of a GSI Query by sorting every item of the partition (moto), so 100,000 orders there would
time moto's quadratic paging, not the worker (DynamoDB's cost is per page), and it keeps every uploaded object
in this process's memory. Memory is how far the forked worker's resident size rose while it built (the
kernel's peak, reset first): bounded means it stops growing once a file passes two 8 MiB parts (the upload holds
one part at a time, which the SDK copies while it signs and sends it). Targets: no Scan; one Query a page of
500 per shard; at most 48 MiB (6 parts' worth) more at 200,000 orders.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import REGION, Api, BenchError, Check, Section, Stack, order_body

ORDERS = int(os.environ.get("BENCH_EXPORT_ORDERS", 100_000))
SMALL = ORDERS // 10  # end to end on the emulator
DOUBLE = ORDERS * 2  # streamed, to compare memory with (both files are uploaded in several parts)


def copies(order: Any, count: int) -> Iterator[Any]:
    """``count`` copies of ``order``, each its own id, number and time, oldest first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(count):
        at = (start + timedelta(seconds=n * 30)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        yield replace(order, order_id=f"ord_{uuid.uuid4().hex}", order_number=f"B{n:07d}", created_at=at,
                      updated_at=at, timeline=[], new_events=[])  # fmt: skip


def seed_orders(api: Api, customer: Any, count: int) -> Any:
    """One order placed through the API, then ``count - 1`` copies of it written in batches; returns it."""
    from chalicelib.adapters.dynamo.models import OrderRecord
    from chalicelib.adapters.dynamo.order_records import to_record
    from chalicelib.entrypoints.http import wiring

    status, placed = api.call("POST", "/orders", customer, order_body(("BENCH-EXPORT", 2)),
                              headers={"idempotency-key": uuid.uuid4().hex})  # fmt: skip
    if status != 201:
        raise BenchError(f"POST /orders answered {status}: {placed}")
    order = wiring.orders_repo().get(placed["order_id"])
    with OrderRecord.batch_write() as batch:
        for copy in copies(order, count - 1):
            batch.save(to_record(copy))
    return order


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> int:
    """Reset this process's peak resident size to its current one (Linux: ``clear_refs`` 5); returns it, bytes."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")
    return _status_kib("VmRSS") * 1024


def build(stack: Stack, api: Api, staff: Any, pump: Any, file_format: str) -> dict[str, Any]:
    """One export of every order: its seconds, calls, rows and the worker's memory +."""
    status, started = api.call("POST", "/staff/exports", staff, {"kind": "orders", "format": file_format})
    if status != 202:
        raise BenchError(f"POST /staff/exports answered {status}: {started}")
    before = reset_peak_rss()
    began = time.perf_counter()
    with stack.calls.capture() as calls:
        handled, failed = pump.pump()
    seconds = time.perf_counter() - began
    peak = _status_kib("VmHWM") * 1024 - before
    status, export = api.call("GET", f"/staff/exports/{started['export_id']}", staff)
    if failed or not handled or export.get("status") != "done":
        raise BenchError(f"the export was not built: {export}")
    return {"seconds": seconds, "rss_growth_mib": peak / 2**20, "rows": export["rows"], "calls": dict(calls)}


def streamed(stack: Stack, order: Any, count: int, file_format: str, bucket: str) -> dict[str, Any]:
    """The worker's part of an export of ``count`` orders (rows written to a file, the file stored in S3), in a
    forked process of its own: the emulator (moto, a thread of this process) keeps every object it is sent in
    memory, which would count here as the worker's. The rows are the orders streamed in-process."""
    import json

    import boto3

    from chalicelib.adapters import export_files as writers
    from chalicelib.adapters.export_files import S3Exports
    from chalicelib.domain import exports

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own S3 client (never the parent's connections)
        try:
            files = S3Exports(bucket, client=boto3.client("s3", endpoint_url=stack.endpoint, region_name=REGION))
            before, began = reset_peak_rss(), time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, f"export.{file_format}")
                rows = writers.write(file_format, path, exports.COLUMNS["orders"],
                                     exports.rows_for("orders", copies(order, count)), "orders")  # fmt: skip
                files.store(path, f"exports/bench-{count}.{file_format}", file_format, "bench")
            answer = {"seconds": time.perf_counter() - began, "rows": rows, "calls": {},
                      "rss_growth_mib": (_status_kib("VmHWM") * 1024 - before) / 2**20}  # fmt: skip
            os.write(write, json.dumps(answer).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        text = answer.read()
    if not text:
        raise BenchError(f"the streamed export of {count:,} orders ({file_format}) did not finish")
    return json.loads(text)


def run(stack: Stack) -> Section:
    import boto3

    from app import app
    from chalicelib.adapters.export_files import S3Exports, SqsExportJobs
    from chalicelib.entrypoints.http import wiring
    from devstack import resources
    from devstack.events import QueuePump, call

    stack.reset_tables()
    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=REGION)
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name=REGION)
    queues, _ = resources.create_messaging(sqs, sns, visibility_timeout=0, prefix=f"b{uuid.uuid4().hex[:6]}-")
    buckets = resources.create_buckets(s3, prefix=f"b{uuid.uuid4().hex[:6]}-")
    files, queue = S3Exports(buckets["exports"]), SqsExportJobs(queues["export-jobs"], client=sqs)
    saved = wiring.export_files, wiring.exports, wiring.export_worker
    wiring.export_files = lambda: (files, queue)
    service, worker = saved[1].__wrapped__(), saved[2].__wrapped__()
    wiring.exports, wiring.export_worker = (lambda: service), (lambda: worker)
    results: dict[str, dict[str, Any]] = {}
    try:
        from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository
        from chalicelib.domain.catalogue import Product

        CatalogueRepository().put(Product(sku="BENCH-EXPORT", name="导出商品", category="general", price=1999,
                                          currency="CNY", stock_available=10))  # fmt: skip
        api, staff, customer = Api(stack), stack.new_user("staff"), stack.new_user("customer")
        pump = QueuePump(sqs, queues["export-jobs"], call(app.handler_map["export_jobs"]), REGION, 1)
        began = time.perf_counter()
        order = seed_orders(api, customer, SMALL)
        seeded = time.perf_counter() - began
        results["emulator_csv"] = build(stack, api, staff, pump, "csv")
        results["emulator_xlsx"] = build(stack, api, staff, pump, "xlsx")
        for count, name in ((ORDERS, ""), (DOUBLE, "double")):
            for file_format in ("csv", "xlsx"):
                results[f"{file_format}_{name}" if name else file_format] = streamed(
                    stack, order, count, file_format, buckets["exports"]
                )
    finally:
        wiring.export_files, wiring.exports, wiring.export_worker = saved
        resources.delete_buckets(s3, buckets)
    stack.reset_tables()
    return _section(results, seeded)


def _section(results: dict[str, dict[str, Any]], seeded: float) -> Section:
    section = Section("exports", f"10. An export of {ORDERS:,} orders ({SMALL:,} seeded in {seeded:.0f} s)")
    for name, label in (
        ("emulator_csv", f"CSV, {SMALL:,}, emulator"),
        ("emulator_xlsx", f"XLSX, {SMALL:,}, emulator"),
        ("csv", f"CSV, {ORDERS:,}, streamed"),
        ("xlsx", f"XLSX, {ORDERS:,}, streamed"),
        ("csv_double", f"CSV, {DOUBLE:,}, streamed"),
        ("xlsx_double", f"XLSX, {DOUBLE:,}, streamed"),
    ):
        result = results[name]
        calls = ", ".join(f"{op} {n}" for op, n in sorted(result["calls"].items()) if n)
        section.lines.append(f"  {label:<22} {result['seconds']:6.1f} s, memory + {result['rss_growth_mib']:6.1f} MiB, "
                             f"{result['rows']:,} rows; DynamoDB: {calls}")  # fmt: skip
    emulated = results["emulator_csv"]
    scans = sum(result["calls"].get("Scan", 0) for result in results.values())
    queries = emulated["calls"].get("Query", 0)
    growth = max(results[f"{f}_double"]["rss_growth_mib"] for f in ("csv", "xlsx"))
    rows = [results[name]["rows"] for name in ("csv", "xlsx")] + [emulated["rows"], results["emulator_xlsx"]["rows"]]
    section.checks += [
        Check("export: every order, once", f"{rows[0]:,} / {rows[1]:,} streamed, {rows[2]:,} / {rows[3]:,} read",
              f"{ORDERS:,} / {SMALL:,}", rows == [ORDERS, ORDERS, SMALL, SMALL]),
        Check("export: no Scan; a Query per 500-item page", f"{scans} Scan, {queries} Query",
              f"0, ≤ {SMALL // 500 + 8}", scans == 0 and queries <= SMALL // 500 + 8),
        Check(f"export: the worker's memory at {DOUBLE // 1000}k orders", f"+{growth:.1f} MiB", "≤ 48 MiB",
              growth <= 48),
    ]  # fmt: skip
    section.data.update({"orders": ORDERS, "seeded_s": seeded, **results})
    return section
