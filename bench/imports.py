"""An import of 10,000 new products: the check and the apply, their time, their invocations and AWS calls.

As in production: ``POST /staff/imports``, the workbook POSTed to S3 with the presigned form, S3's notification
through the ``import-uploads`` queue to the ``import_uploads`` handler (one message per invocation, as its
batch size 1), then ``POST /staff/imports/{id}/apply`` and the worker's own messages, chunk after chunk. The
times are the emulator's (moto serialises every transaction), so they bound what a Lambda does against
DynamoDB from above rather than predict it; the calls are exact. Targets: the check reads the catalogue with
one BatchGetItem per 100 SKUs and never Scans, each row applied costs at most 2 DynamoDB calls, every
invocation stays within the worker's time budget, and every row is applied once.
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import replace
from typing import Any

from bench.harness import REGION, Api, BenchError, Check, Section, Stack

ROWS = 10_000
CHUNK_ROWS = 2_000


def workbook(rows: int) -> bytes:
    """``rows`` new products, as a supplier's price list in Excel."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("products")
    sheet.append(["sku", "name", "category", "price", "description", "stock"])
    for n in range(rows):
        sheet.append([f"BENCH-{n:05d}", f"导入商品 {n}", "apparel", 1000 + n, "Imported for the benchmark", 5])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(stack: Stack) -> Section:
    import boto3
    import requests

    from app import app
    from chalicelib.adapters.dynamo.catalogue_table import CATEGORY_PK, CategoryRecord
    from chalicelib.adapters.imports_store import S3Imports, SqsImportJobs
    from chalicelib.entrypoints.http import wiring
    from devstack import resources
    from devstack.events import QueuePump, call

    stack.reset_tables()
    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=REGION)
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name=REGION)
    queues, _ = resources.create_messaging(sqs, sns, visibility_timeout=0, prefix=f"b{uuid.uuid4().hex[:6]}-")
    buckets = resources.create_buckets(s3, prefix=f"b{uuid.uuid4().hex[:6]}-",
                                       queue_arns=resources.queue_arns(sqs, queues))  # fmt: skip
    files, queue = S3Imports(buckets["imports"]), SqsImportJobs(queues["import-uploads"], client=sqs)
    saved = wiring.import_files, wiring.imports, wiring.import_worker
    wiring.import_files = lambda: (files, queue)
    service = saved[1].__wrapped__()
    worker = replace(saved[2].__wrapped__(), chunk_rows=CHUNK_ROWS)
    wiring.imports, wiring.import_worker = (lambda: service), (lambda: worker)
    try:
        CategoryRecord(
            CATEGORY_PK, "apparel", category="apparel", name="Apparel", updated_at="2026-01-01T00:00:00.000Z"
        ).save()
        api, staff = Api(stack), stack.new_user("staff")
        pump = QueuePump(sqs, queues["import-uploads"], call(app.handler_map["import_uploads"]), REGION, 1)
        pump.pump()  # S3's test event

        data = workbook(ROWS)
        status, started = api.call("POST", "/staff/imports", staff, {"kind": "products", "format": "xlsx"})
        if status != 201:
            raise BenchError(f"POST /staff/imports answered {status}: {started}")
        upload = started["upload"]
        answer = requests.post(upload["url"], data=upload["fields"], files={"file": ("p.xlsx", data)}, timeout=60)
        if answer.status_code not in (200, 204):
            raise BenchError(f"the upload was refused: {answer.status_code} {answer.text[:200]}")
        import_id = started["import_id"]

        check = _deliveries(stack, pump)
        status, job = api.call("GET", f"/staff/imports/{import_id}", staff)
        if job.get("status") != "ready" or job.get("rows_total") != ROWS:
            raise BenchError(f"the check did not make the import ready: {job.get('status')} {job.get('errors')}")
        status, _ = api.call("POST", f"/staff/imports/{import_id}/apply", staff)
        if status != 202:
            raise BenchError(f"apply answered {status}")
        applied = _deliveries(stack, pump)
        status, job = api.call("GET", f"/staff/imports/{import_id}", staff)
    finally:
        wiring.import_files, wiring.imports, wiring.import_worker = saved
        resources.delete_buckets(s3, buckets)
    stack.reset_tables()  # the sections after this one start from empty tables
    return _section(len(data), check, applied, job)


def _deliveries(stack: Stack, pump: Any) -> dict[str, Any]:
    """Pump until the queue is empty: each delivery's seconds, and the DynamoDB calls of all of them."""
    times: list[float] = []
    with stack.calls.capture() as calls:
        for _ in range(1000):
            started = time.perf_counter()
            handled, failed = pump.pump()
            if failed:
                raise BenchError("an import message failed")
            if not handled:
                break
            times.append(time.perf_counter() - started)
    return {"invocations": len(times), "seconds": sum(times), "slowest": max(times, default=0.0), "calls": calls}


def _section(size: int, check: dict[str, Any], applied: dict[str, Any], job: dict[str, Any]) -> Section:
    from chalicelib.entrypoints.imports_worker import LOCAL_BUDGET_SECONDS
    from chalicelib.services.import_worker import SAFETY_SECONDS

    section = Section("imports", f"9. An import of {ROWS:,} new products (a {size / 2**20:.1f} MB workbook)")
    batch_gets = check["calls"]["BatchGetItem"]
    per_row = sum(applied["calls"].values()) / ROWS
    budget = LOCAL_BUDGET_SECONDS  # locally; in Lambda the invocation's remaining time (Timeout 120 s)
    for name, step in (("check (parse, compare, preview)", check), ("apply", applied)):
        calls = ", ".join(f"{op} {n}" for op, n in sorted(step["calls"].items()))
        section.lines.append(f"  {name:<34} {step['seconds']:7.1f} s in {step['invocations']} invocation(s), "
                             f"slowest {step['slowest']:.1f} s; DynamoDB: {calls}")  # fmt: skip
    section.lines.append(f"  applied: {job['rows_applied']:,} rows, {per_row:.2f} DynamoDB calls a row "
                         f"({CHUNK_ROWS:,} rows or {budget - SAFETY_SECONDS:.0f} s a chunk)")  # fmt: skip
    scans = check["calls"]["Scan"] + applied["calls"]["Scan"]
    slowest = max(check["slowest"], applied["slowest"])
    section.checks += [
        Check("import check: BatchGetItem per 100 SKUs, no Scan", f"{batch_gets} BatchGetItem, {scans} Scan",
              f"{ROWS // 100}, 0", batch_gets == ROWS // 100 and scans == 0),
        Check("import apply: DynamoDB calls per row", f"{per_row:.2f}", "≤ 2", per_row <= 2),
        Check("import: every row applied once", f"{job['rows_applied']:,} applied, {job['rows_failed']} failed",
              f"{ROWS:,}, 0", job["rows_applied"] == ROWS and job["rows_failed"] == 0 and job["status"] == "applied"),
        Check("import: each invocation within the worker's budget", f"slowest {slowest:.1f} s", f"< {budget:.0f} s",
              slowest < budget),
    ]  # fmt: skip
    section.data.update({
        "rows": ROWS, "workbook_bytes": size, "chunk_rows": CHUNK_ROWS,
        "check": {**{k: v for k, v in check.items() if k != "calls"}, "calls": dict(check["calls"])},
        "apply": {**{k: v for k, v in applied.items() if k != "calls"}, "calls": dict(applied["calls"])},
        "calls_per_row": per_row,
    })  # fmt: skip
    return section
