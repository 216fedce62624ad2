"""What the import tests share: the imports bucket and queue on the emulator, files as staff make them, and the
steps of an import as a staff console takes them (start, upload the form to S3, wait, read, apply).

The bucket is the template's, its S3 -> SQS notification pointing at this test's ``import-uploads`` queue (the
emulator delivers it for form uploads as S3 does); ``drain`` plays Lambda's event source mapping for the
``import_uploads`` worker (batch size 1; a failed message comes straight back, the queue's visibility being 0).
Test modules import the ``imports`` fixture from here.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from typing import Any

import boto3
import pytest
import requests

from devstack import resources

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PRODUCT_HEADER = ["sku", "name", "category", "price", "description", "stock"]


@dataclasses.dataclass
class ImportWorld:
    api: Any
    s3: Any
    sqs: Any
    queues: dict[str, str]
    bucket: str
    pump: Any
    worker: Any

    def drain(self, rounds: int = 200) -> list[tuple[int, int]]:
        """Deliver what the queue holds until it is empty; (handled, failed) per delivery."""
        seen = []
        for _ in range(rounds):
            handled, failed = self.pump.pump()
            if not handled and not failed:
                return seen
            seen.append((handled, failed))
        raise AssertionError(f"the import-uploads queue never emptied: {seen[-5:]}")

    def start(self, kind: str = "products", file_format: str = "xlsx", as_: str = "staff") -> str:
        reply = self.api.post("/staff/imports", {"kind": kind, "format": file_format}, as_=as_)
        assert reply.status == 201, reply.body
        self.last_start = reply
        return reply.body["import_id"]

    def upload(self, data: bytes, filename: str = "prices.xlsx") -> requests.Response:
        """POST the last start's form as a browser does: every field, then the file."""
        upload = self.last_start.body["upload"]
        answer = requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=30)
        assert answer.status_code in (200, 201, 204), answer.text
        return answer

    def read(self, import_id: str, as_: str = "staff") -> dict[str, Any]:
        reply = self.api.get(f"/staff/imports/{import_id}", as_=as_)
        assert reply.status == 200, reply.body
        return reply.body

    def checked(self, kind: str, file_format: str, data: bytes) -> dict[str, Any]:
        """Start an import, upload ``data``, let the worker check it: the import as staff then read it."""
        import_id = self.start(kind, file_format)
        self.upload(data, f"file.{file_format}")
        self.drain()
        return self.read(import_id)

    def apply(self, import_id: str, as_: str = "staff"):
        return self.api.post(f"/staff/imports/{import_id}/apply", as_=as_)

    def stored(self) -> list[str]:
        return sorted(item["Key"] for item in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []))


@pytest.fixture
def imports(api, stack, tables, monkeypatch):
    """The template's buckets and queues for this test, the app's import services wired to them."""
    from app import app
    from chalicelib.adapters.imports_store import S3Imports, SqsImportJobs
    from chalicelib.config import settings
    from chalicelib.entrypoints.http import wiring
    from devstack.events import QueuePump, call

    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1")
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name="us-east-1")
    queues, _ = resources.create_messaging(sqs, sns, visibility_timeout=0, prefix=f"t{uuid.uuid4().hex[:8]}-")
    names = resources.create_buckets(s3, queue_arns=resources.queue_arns(sqs, queues))
    assert names["imports"] == settings.imports_bucket
    files = S3Imports(settings.imports_bucket)  # the app's own client: SigV4 forms, as S3 wants them
    queue = SqsImportJobs(queues["import-uploads"], client=sqs)
    monkeypatch.setattr(wiring, "import_files", lambda: (files, queue))
    service = wiring.imports.__wrapped__()
    worker = wiring.import_worker.__wrapped__()
    monkeypatch.setattr(wiring, "imports", lambda: service)
    monkeypatch.setattr(wiring, "import_worker", lambda: world.worker)
    pump = QueuePump(sqs, queues["import-uploads"], call(app.handler_map["import_uploads"]), "us-east-1", 1)
    world = ImportWorld(api, s3, sqs, queues, settings.imports_bucket, pump, worker)
    world.drain()  # S3's test event, sent when the notification was configured: ignored
    yield world
    resources.delete_buckets(s3, names)


@pytest.fixture
def categories(tables):
    """Categories staff have made (PUT /staff/categories/{c}): apparel and home."""
    from chalicelib.adapters.dynamo.catalogue_table import CATEGORY_PK, CategoryRecord

    for key in ("apparel", "home"):
        CategoryRecord(CATEGORY_PK, key, category=key, name=key.title(), updated_at="2026-01-01T00:00:00.000Z").save()
    return ["apparel", "home"]


def xlsx(rows: list[list[Any]], *, sheet: str = "products") -> bytes:
    """A workbook as Excel saves one (openpyxl; a string starting with '=' is stored as a formula)."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = sheet
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_file(rows: list[list[Any]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def products(count: int, *, start: int = 1, category: str = "apparel", price: int = 1000) -> list[list[Any]]:
    """``count`` new products' rows (with the header), each with stock 5."""
    rows: list[list[Any]] = [PRODUCT_HEADER]
    for n in range(start, start + count):
        rows.append([f"IMP-{n:05d}", f"导入商品 {n}", category, price + n, f"Imported product {n}", 5])
    return rows


def audit_entries(action: str, target: str) -> list[Any]:
    """The audit log's entries of ``action`` on ``target`` (``product#<sku>``, ``import#<id>``)."""
    from chalicelib.adapters.dynamo.audit_repo import AuditRecord

    return [record for record in AuditRecord.query(target) if record.action == action]


def movements(sku: str) -> list[Any]:
    from chalicelib.adapters.dynamo.catalogue_table import MovementRecord, sku_pk

    return list(MovementRecord.query(sku_pk(sku)))
