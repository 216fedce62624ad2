"""Exports (API.md, "Imports and exports"): staff start one, the worker builds it from the indexes in the
background (the ``export-jobs`` queue, played here as Lambda's event source does), and the file downloaded
by its presigned link holds the same data the API shows: round trips in CSV (UTF-8 with a BOM) and XLSX."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import boto3
import pytest
import requests

from devstack import resources
from tests.conftest import ADDRESS, assert_error
from tests.test_audit import entries, pay_offline, refund


class ExportWorld:
    def __init__(self, api, sqs, queues, pump) -> None:
        self.api, self.sqs, self.queues, self.pump = api, sqs, queues, pump

    def drain(self, rounds: int = 20) -> list[tuple[int, int]]:
        seen = []
        for _ in range(rounds):
            handled, failed = self.pump.pump()
            if not handled and not failed:
                return seen
            seen.append((handled, failed))
        raise AssertionError(f"the export-jobs queue never emptied: {seen[-5:]}")

    def start(self, kind: str, file_format: str = "csv", as_: str = "staff", **filters: Any):
        body: dict[str, Any] = {"kind": kind, "format": file_format}
        if filters:
            body["filters"] = filters
        return self.api.post("/staff/exports", body, as_=as_)

    def built(self, kind: str, file_format: str = "csv", **filters: Any) -> dict[str, Any]:
        """Start an export, let the worker build it: the export as staff then read it."""
        reply = self.start(kind, file_format, **filters)
        assert reply.status == 202, reply.body
        self.drain()
        return self.read(reply.body["export_id"])

    def read(self, export_id: str) -> dict[str, Any]:
        reply = self.api.get(f"/staff/exports/{export_id}", as_="staff")
        assert reply.status == 200, reply.body
        return reply.body

    def download(self, export: dict[str, Any]) -> bytes:
        assert export["status"] == "done", export
        answer = requests.get(export["download_url"], timeout=30)
        assert answer.status_code == 200, answer.text
        assert export["filename"] in answer.headers["Content-Disposition"]
        return answer.content

    def rows(self, export: dict[str, Any]) -> list[dict[str, Any]]:
        """The downloaded file's rows by header, as a spreadsheet user reads them."""
        data = self.download(export)
        if export["format"] == "csv":
            assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark: Excel reads UTF-8
            return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        header, *body = list(sheet.iter_rows(values_only=True))
        return [dict(zip(header, row, strict=True)) for row in body]


@pytest.fixture
def exports(api, stack, tables, monkeypatch):
    """The template's exports bucket and queue for this test, the app's export services wired to them."""
    from app import app
    from chalicelib.adapters.export_files import S3Exports, SqsExportJobs
    from chalicelib.config import settings
    from chalicelib.entrypoints.http import wiring
    from devstack.events import QueuePump, call

    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1")
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name="us-east-1")
    queues, _ = resources.create_messaging(sqs, sns, visibility_timeout=0, prefix=f"t{uuid.uuid4().hex[:8]}-")
    names = resources.create_buckets(s3)
    assert names["exports"] == settings.exports_bucket
    files, queue = S3Exports(settings.exports_bucket), SqsExportJobs(queues["export-jobs"], client=sqs)
    monkeypatch.setattr(wiring, "export_files", lambda: (files, queue))
    service, worker = wiring.exports.__wrapped__(), wiring.export_worker.__wrapped__()
    monkeypatch.setattr(wiring, "exports", lambda: service)
    monkeypatch.setattr(wiring, "export_worker", lambda: world.worker)
    pump = QueuePump(sqs, queues["export-jobs"], call(app.handler_map["export_jobs"]), "us-east-1", 1)
    world = ExportWorld(api, sqs, queues, pump)
    world.worker, world.s3 = worker, s3
    yield world
    resources.delete_buckets(s3, names)


@pytest.fixture
def orders(seed, place) -> list[dict[str, Any]]:
    seed("TEE-1", name="白色T恤", price=9900, stock=50)
    seed("MUG-1", name="Mug", price=2500, stock=50)
    placed = [place(("TEE-1", 1), ("MUG-1", 2)), place(("MUG-1", 1)), place(("TEE-1", 3), as_="other")]
    assert all(reply.status == 201 for reply in placed)
    return [reply.body for reply in placed]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_orders_export_round_trips_what_the_api_shows(exports, orders, api, file_format):
    started = exports.start("orders", file_format)
    assert started.status == 202, started.body
    assert started.body["status"] == "queued" and started.body["rows"] == 0
    assert started.headers["location"] == f"/staff/exports/{started.body['export_id']}"
    assert "download_url" not in exports.read(started.body["export_id"])  # not built yet

    exports.drain()
    export = exports.read(started.body["export_id"])
    assert export["status"] == "done" and export["rows"] == 3
    rows = exports.rows(export)
    assert [row["order_number"] for row in rows] == [order["order_number"] for order in orders]  # oldest first
    for row, order in zip(rows, orders, strict=True):
        assert str(row["order_id"]) == order["order_id"]
        assert int(row["total"]) == order["total"] and int(row["subtotal"]) == order["subtotal"]
        assert row["status"] == order["status"] and row["currency"] == "CNY"
        assert row["ship_to_name"] == ADDRESS["name"] == "王小明" and row["ship_to_city"] == "上海"
        assert int(row["items"]) == sum(line["quantity"] for line in order["lines"])
    assert rows[0]["lines"] == "TEE-1 × 1 @ 9900; MUG-1 × 2 @ 2500"
    if file_format == "xlsx":
        assert isinstance(rows[0]["total"], int)  # numbers are numbers in the workbook, not text


def test_filters_select_what_is_exported_and_a_filter_the_kind_does_not_take_is_a_422(exports, orders, api):
    cancelled = api.post(f"/orders/{orders[1]['order_id']}/cancel", {}, as_="customer")
    assert cancelled.status == 200, cancelled.body
    only = exports.rows(exports.built("orders", status="cancelled"))
    assert [row["order_id"] for row in only] == [orders[1]["order_id"]]
    assert exports.built("orders", created_from="2099-01-01")["rows"] == 0
    today = orders[0]["created_at"][:10]
    assert exports.built("orders", created_from=today, created_to=today)["rows"] == 3
    assert exports.built("orders", created_from=today, created_to="2000-01-01")["rows"] == 0  # an empty range

    for body, field in (({"kind": "products", "filters": {"status": "cancelled"}}, "filters.status"),
                        ({"kind": "customers", "filters": {"sku": "X"}}, "filters.sku")):  # fmt: skip
        details = assert_error(api.post("/staff/exports", body, as_="staff"), 422, "validation_failed")
        assert details["fields"] == {field: "unknown field"}
    assert exports.drain() == []  # nothing was queued for them


@pytest.mark.parametrize(
    "body",
    [{}, {"kind": "invoices"}, {"kind": "orders", "format": "pdf"}, {"kind": "orders", "rows": 5},
     {"kind": "orders", "filters": {"created_from": "yesterday"}}, {"kind": ["orders"]}, []],
)  # fmt: skip
def test_a_bad_export_request_is_a_422_and_starts_nothing(exports, api, body):
    reply = api.post("/staff/exports", body, as_="staff")
    assert reply.status == 422, reply.body
    assert exports.drain() == []


def test_only_staff_export_and_an_unknown_export_is_a_404(exports, api):
    assert_error(exports.start("orders", as_="customer"), 403, "forbidden")
    assert api.post("/staff/exports", {"kind": "orders"}, as_=None).status == 401
    assert_error(api.get(f"/staff/exports/{uuid.uuid4().hex}", as_="staff"), 404, "not_found")
    assert_error(api.get("/staff/exports/..%2Fjobs", as_="staff"), 404, "not_found")
    started = exports.start("orders")
    assert_error(api.get(f"/staff/exports/{started.body['export_id']}", as_="customer"), 403, "forbidden")


def test_starting_an_export_is_audited(exports, api):
    started = exports.start("customers", "xlsx", created_from="2026-01-01")
    found = entries(api, target_type="export", target_id=started.body["export_id"])
    assert [(e["action"], e["target"], e["actor"], e["data"]) for e in found] == [
        ("export.create", {"type": "export", "id": started.body["export_id"]}, started.body["created_by"],
         {"kind": "customers", "format": "xlsx", "filters": {"created_from": "2026-01-01"}})
    ]  # fmt: skip


def test_payments_and_refunds_export_one_row_each_and_sales_sum_the_paid_orders(exports, orders, api):
    paid = pay_offline(api, orders[0])
    assert refund(api, orders[0]["order_id"], 1000).status in (200, 201, 202)
    rows = exports.rows(exports.built("payments", "xlsx"))
    assert [(row["kind"], row["method"], row["amount"]) for row in rows] == [
        ("payment", "bank_transfer", orders[0]["total"]), ("refund", "bank_transfer", -1000)]  # fmt: skip
    assert rows[0]["status"] == "succeeded" and rows[0]["order_number"] == paid["order_number"]

    sales = exports.rows(exports.built("sales"))
    assert [(row["sku"], int(row["units"]), int(row["gross"])) for row in sales] == [
        ("MUG-1", 2, 5000), ("TEE-1", 1, 9900)]  # only the paid order: the others never paid  # fmt: skip
    assert sales[0]["day"] == orders[0]["created_at"][:10]


def test_a_stock_movements_export_sums_to_each_skus_stock(exports, orders, api):
    for sku, delta in (("TEE-1", 10), ("MUG-1", -3)):
        reply = api.post("/staff/stock/adjustments", {"sku": sku, "delta": delta, "reason": "stocktake"},
                         as_="staff", headers={"idempotency-key": uuid.uuid4().hex})  # fmt: skip
        assert reply.status in (200, 201), reply.body
    rows = exports.rows(exports.built("stock_movements"))
    for sku in ("TEE-1", "MUG-1"):
        product = api.get(f"/staff/products/{sku}", as_="staff").body
        assert sum(int(row["delta"]) for row in rows if row["sku"] == sku) == product["stock_available"]
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)
    one = exports.rows(exports.built("stock_movements", "xlsx", sku="MUG-1"))
    assert {row["sku"] for row in one} == {"MUG-1"} and [row["reason"] for row in one][-1] == "stocktake"


def test_products_and_customers_exports_hold_chinese_text_and_numbers_as_they_are(exports, seed, api):
    seed("TEE-W-M", name="白色T恤 M", price=9900, stock=7, options={"size": "M", "colour": "白色"},
         product_group="TEE-W", category="服装")  # fmt: skip
    seed("OLD-1", name="Retired", active=False, stock=0)
    assert (
        api.request("PATCH", "/me", json_body={"name": "李雷", "phone": "+86 139 0000 0000"}, as_="customer").status
        == 200
    )
    assert api.get("/me", as_="other").status == 200

    products = {row["sku"]: row for row in exports.rows(exports.built("products", "xlsx"))}
    assert set(products) == {"TEE-W-M", "OLD-1"}  # retired ones too
    tee = products["TEE-W-M"]
    assert (tee["name"], tee["price"], tee["stock_available"], tee["active"]) == ("白色T恤 M", 9900, 7, True)
    assert tee["options"] == "colour=白色; size=M" and tee["category"] == "服装"
    assert [row["sku"] for row in exports.rows(exports.built("products", active=False))] == ["OLD-1"]

    customers = exports.rows(exports.built("customers", "xlsx"))
    assert len(customers) == 2
    assert [(row["name"], row["phone"]) for row in customers if row["name"]] == [("李雷", "+86 139 0000 0000")]
    in_csv = exports.rows(exports.built("customers"))  # '+' first would be a formula to Excel: kept as text
    assert [row["phone"] for row in in_csv if row["phone"]] == ["'+86 139 0000 0000"]


def test_text_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(exports, seed):
    seed("EVIL-1", name='=HYPERLINK("http://evil.example","click")', description="+1+1")
    row = exports.rows(exports.built("products"))[0]
    assert row["name"] == '\'=HYPERLINK("http://evil.example","click")' and row["description"] == "'+1+1"
    from openpyxl import load_workbook

    data = exports.download(exports.built("products", "xlsx"))
    cell = load_workbook(io.BytesIO(data)).worksheets[0]["B2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")  # a string cell, never a formula


def test_a_redelivered_message_changes_nothing_once_the_export_is_done(exports, orders, api):
    export = exports.built("orders")
    stored = exports.s3.head_object(Bucket=exports.worker.files.bucket, Key=f"exports/{export['export_id']}.csv")
    exports.sqs.send_message(
        QueueUrl=exports.queues["export-jobs"], MessageBody=f'{{"export_id": "{export["export_id"]}"}}'
    )
    assert exports.drain() == [(1, 0)]
    again = exports.read(export["export_id"])
    assert (again["status"], again["rows"], again["finished_at"]) == ("done", 3, export["finished_at"])
    same = exports.s3.head_object(Bucket=exports.worker.files.bucket, Key=f"exports/{export['export_id']}.csv")
    assert same["ETag"] == stored["ETag"] and same["LastModified"] == stored["LastModified"]


class FailingStore:
    def __init__(self, real, failures: int) -> None:
        self.real, self.failures, self.bucket = real, failures, real.bucket

    def store(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("S3 went away")
        return self.real.store(*args, **kwargs)

    def download_url(self, *args, **kwargs):
        return self.real.download_url(*args, **kwargs)


def test_a_build_that_crashes_is_retried_and_one_that_keeps_failing_is_marked_failed(exports, orders, api):
    exports.worker.files = FailingStore(exports.worker.files, failures=1)
    export = exports.built("orders")
    assert export["status"] == "done" and export["rows"] == 3 and len(exports.rows(export)) == 3

    exports.worker.files = FailingStore(exports.worker.files.real, failures=99)
    started = exports.start("orders", "xlsx")
    exports.drain()
    failed = exports.read(started.body["export_id"])
    assert failed["status"] == "failed" and "could not be built" in failed["failure"]
    assert "download_url" not in failed
    dead = exports.sqs.receive_message(QueueUrl=exports.queues["export-jobs-dlq"], WaitTimeSeconds=0)
    assert [m["Body"] for m in dead.get("Messages", [])] == [f'{{"export_id": "{started.body["export_id"]}"}}']


@pytest.mark.parametrize("body", ["not json", "{}", '{"export_id": "../../etc"}', "[1]"])
def test_a_message_the_worker_cannot_read_goes_to_the_dead_letter_queue(exports, body):
    exports.sqs.send_message(QueueUrl=exports.queues["export-jobs"], MessageBody=body)
    exports.drain()
    dead = exports.sqs.receive_message(QueueUrl=exports.queues["export-jobs-dlq"], WaitTimeSeconds=0)
    assert [m["Body"] for m in dead.get("Messages", [])] == [body]


def test_building_reads_indexes_never_a_scan(exports, orders, api, dynamodb_calls):
    for kind in ("orders", "payments", "sales", "customers", "products", "stock_movements"):
        assert exports.built(kind)["status"] == "done", kind
    assert "Scan" not in dynamodb_calls
    assert dynamodb_calls.count("Query") >= 6 * 4  # one per shard at least


def test_the_api_never_loads_xlsxwriter():
    import subprocess
    import sys

    code = ("import sys, app; from chalicelib.entrypoints.http import wiring; wiring.exports(); "
            "print('xlsxwriter' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_large_file_is_uploaded_in_parts_and_a_failed_upload_leaves_no_parts_behind(exports, tmp_path, monkeypatch):
    from chalicelib.adapters import export_files

    monkeypatch.setattr(export_files, "PART_BYTES", 5 * 2**20)  # S3's smallest part
    path = tmp_path / "big.csv"
    data = b"".join(f"{n:09d},白色\n".encode() for n in range(800_000))  # 12 MB: three parts
    path.write_bytes(data)
    files = exports.worker.files
    files.store(str(path), "exports/big.csv", "csv", "big.csv")
    stored = exports.s3.get_object(Bucket=files.bucket, Key="exports/big.csv")
    assert stored["Body"].read() == data and len(data) > 2 * export_files.PART_BYTES
    assert stored["ContentType"].startswith("text/csv")

    calls = {"n": 0}
    real = files._s3.upload_part

    def failing(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("the network went away")
        return real(**kwargs)

    monkeypatch.setattr(files._s3, "upload_part", failing)
    with pytest.raises(ConnectionError):
        files.store(str(path), "exports/broken.csv", "csv", "broken.csv")
    assert exports.s3.list_multipart_uploads(Bucket=files.bucket).get("Uploads", []) == []
    assert "Contents" not in exports.s3.list_objects_v2(Bucket=files.bucket, Prefix="exports/broken")
