"""Imports (API.md, Imports): a template, an upload straight to S3, the background check, the preview, applying.

Every test plays it as a staff console would: ``POST /staff/imports``, POST the file with the returned form to
the emulated S3, let S3's notification reach the ``import_uploads`` worker through the ``import-uploads`` queue
(pumped as Lambda's event source mapping would), read ``GET /staff/imports/{id}``, then apply it and pump the
worker's own messages. What happened is read back from the catalogue, the stock ledger and the audit log.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from tests.conftest import assert_error
from tests.import_world import (
    XLSX,
    audit_entries,
    csv_file,
    movements,
    products,
    xlsx,
)


def catalogue(api, sku: str) -> dict | None:
    reply = api.get(f"/products/{sku}")
    return reply.body if reply.status == 200 else None


# --- templates --------------------------------------------------------------------------------------------------


def template(api, query: str, accept: str | None = XLSX, as_: str = "staff"):
    headers = {"authorization": f"Bearer {api.users[as_].token}"}
    if accept:
        headers["accept"] = accept
    return api.gateway.handle_request("GET", f"/staff/imports/template?{query}", headers, None)


@pytest.mark.parametrize("kind", ["products", "stock"])
def test_the_templates_are_a_workbook_and_a_csv_file_with_the_header_and_one_example_row(api, kind):
    from openpyxl import load_workbook

    from chalicelib.domain.import_rows import COLUMNS

    header = [column.name for column in COLUMNS[kind]]
    answer = template(api, f"kind={kind}&format=xlsx")
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == XLSX
    assert answer["headers"]["Content-Disposition"] == f'attachment; filename="{kind}-import-template.xlsx"'
    assert answer["isBase64Encoded"] is True
    book = load_workbook(__import__("io").BytesIO(base64.b64decode(answer["body"])), read_only=True)
    rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    assert rows[0] == header and len(rows) == 2 and rows[1][0] == "TEE-CREW-WHT-M"
    assert book.sheetnames == [kind, "help"]

    answer = template(api, f"kind={kind}&format=csv", accept=None)
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["body"].startswith("\ufeff")  # Excel then reads UTF-8 (Chinese names)
    lines = answer["body"].lstrip("\ufeff").split("\r\n")
    assert lines[0] == ",".join(header) and lines[1].startswith("TEE-CREW-WHT-M,") and lines[2] == ""


def test_a_workbook_template_needs_an_accept_naming_it_as_api_gateway_does(api):
    for accept in (None, "*/*", "application/json", f"text/html, {XLSX}"):
        answer = template(api, "kind=products&format=xlsx", accept=accept)
        assert answer["statusCode"] == 406, accept
        assert json.loads(answer["body"])["error"]["code"] == "not_acceptable"


def test_the_template_checked_as_it_is_previews_its_example_product(imports, categories, api):
    answer = template(api, "kind=products&format=xlsx")
    job = imports.checked("products", "xlsx", base64.b64decode(answer["body"]))
    assert job["status"] == "ready", job
    assert job["preview"] == [{"row": 2, "sku": "TEE-CREW-WHT-M", "action": "create", "fields": {
        "name": "纯棉圆领T恤 白色 M", "category": "apparel", "price": 12900, "description": "200 g cotton, crew neck",
        "product_group": "TEE-CREW", "options": {"size": "M", "colour": "白色"}, "low_stock_threshold": 5,
        "active": True, "stock": 100}}]  # fmt: skip


def test_a_template_asked_for_wrongly_is_a_422(api):
    for query in ("", "kind=orders", "kind=products&format=pdf", "kind=products&extra=1"):
        reply = api.get(f"/staff/imports/template?{query}", as_="staff")
        assert_error(reply, 422, "validation_failed")


# --- starting an import -----------------------------------------------------------------------------------------


def test_starting_an_import_gives_a_presigned_post_of_at_most_5_mb_to_its_own_key_and_audits_it(imports, api):
    reply = api.post("/staff/imports", {"kind": "products", "format": "xlsx"}, as_="staff")
    assert reply.status == 201, reply.body
    import_id = reply.body["import_id"]
    assert reply.headers["location"] == f"/staff/imports/{import_id}"
    upload = reply.body["upload"]
    assert upload["fields"]["key"] == f"imports/{import_id}.xlsx"
    assert upload["max_bytes"] == 5 * 1024 * 1024
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, 5 * 1024 * 1024] in policy["conditions"]
    assert {"bucket": imports.bucket} in policy["conditions"] and {"key": f"imports/{import_id}.xlsx"} in policy[
        "conditions"
    ]
    job = imports.read(import_id)
    assert job["status"] == "awaiting_upload" and job["errors"] == [] and job["preview"] == []
    (created,) = audit_entries("import.create", f"import#{import_id}")
    assert created.actor == f"staff:{api.users['staff'].sub}" and created.data.as_dict() == {
        "kind": "products", "format": "xlsx"}  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": "orders", "format": "xlsx"},
        {"kind": "products"},
        {"kind": "products", "format": "xls"},
        {"kind": "products", "format": "csv", "sheet": 2},
    ],
)
def test_a_bad_start_is_a_422_and_writes_nothing(imports, api, body):
    reply = api.post("/staff/imports", body, as_="staff")
    assert_error(reply, 422, "validation_failed")
    from chalicelib.adapters.dynamo.jobs_table import JobsTableItem

    assert list(JobsTableItem.scan()) == []


def test_an_unknown_or_malformed_import_is_a_404(imports, api):
    for import_id in ("0" * 32, "not-an-id", "A" * 32):
        assert_error(api.get(f"/staff/imports/{import_id}", as_="staff"), 404, "not_found")
        assert_error(api.post(f"/staff/imports/{import_id}/apply", as_="staff"), 404, "not_found")


def test_customers_and_anonymous_callers_cannot_import(imports, api):
    import_id = imports.start()
    for path, method in (("/staff/imports", "POST"), (f"/staff/imports/{import_id}", "GET"),
                         (f"/staff/imports/{import_id}/apply", "POST"),
                         ("/staff/imports/template?kind=products&format=csv", "GET")):  # fmt: skip
        body = {"kind": "products", "format": "csv"} if path == "/staff/imports" else None
        assert_error(api.request(method, path, as_="customer", json_body=body), 403, "forbidden")
        assert_error(api.request(method, path, json_body=body), 401, "unauthorized")
    assert imports.read(import_id)["status"] == "awaiting_upload"


def test_an_import_not_checked_yet_cannot_be_applied(imports, api):
    import_id = imports.start()
    details = assert_error(imports.apply(import_id), 409, "import_invalid")
    assert details["status"] == "awaiting_upload"


# --- a good file: preview, apply, once ---------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_a_good_50_row_file_is_previewed_then_applied_once(imports, categories, api, seed, file_format):
    seed("IMP-00001", price=500, category="apparel", name="Old name", stock=9)  # row 2 updates it
    rows = products(50)
    data = xlsx(rows) if file_format == "xlsx" else csv_file(rows)
    import_id = imports.start("products", file_format)
    imports.upload(data, f"prices.{file_format}")
    assert imports.read(import_id)["status"] == "awaiting_upload"  # S3's notification not delivered yet
    imports.drain()

    job = imports.read(import_id)
    assert (job["status"], job["rows_total"], job["rows_valid"], job["errors"]) == ("ready", 50, 50, [])
    assert len(job["preview"]) == 20
    assert job["preview"][0] == {"row": 2, "sku": "IMP-00001", "action": "update", "ignored": ["stock"], "changes": {
        "name": {"from": "Old name", "to": "导入商品 1"}, "price": {"from": 500, "to": 1001},
        "description": {"from": "", "to": "Imported product 1"}}}  # fmt: skip
    assert job["preview"][1] == {
        "row": 3,
        "sku": "IMP-00002",
        "action": "create",
        "fields": {
            "name": "导入商品 2",
            "category": "apparel",
            "price": 1002,
            "description": "Imported product 2",
            "stock": 5,
        },
    }
    assert catalogue(api, "IMP-00002") is None  # nothing applied by checking

    reply = imports.apply(import_id)
    assert reply.status == 202 and reply.body["status"] == "applying"
    imports.drain()
    job = imports.read(import_id)
    assert (job["status"], job["rows_applied"], job["rows_unchanged"], job["rows_failed"]) == ("applied", 50, 0, 0)
    assert catalogue(api, "IMP-00001")["price"] == 1001 and catalogue(api, "IMP-00001")["stock_available"] == 9
    for n in range(2, 51):
        product = catalogue(api, f"IMP-{n:05d}")
        assert (product["name"], product["price"], product["stock_available"]) == (f"导入商品 {n}", 1000 + n, 5)
        assert len(audit_entries("product.create", f"product#IMP-{n:05d}")) == 1
        assert [(m.delta, m.reason) for m in movements(f"IMP-{n:05d}")] == [(5, "created")]
    staff = f"staff:{api.users['staff'].sub}"
    (updated,) = audit_entries("product.update", "product#IMP-00001")
    assert updated.actor == staff  # as whoever pressed apply
    (applied,) = audit_entries("import.apply", f"import#{import_id}")
    assert applied.actor == staff and applied.data.as_dict() == {"kind": "products", "rows": 50}

    again = imports.apply(import_id)  # applying twice changes nothing more
    assert again.status == 200 and again.body["status"] == "applied"
    imports.drain()
    assert imports.read(import_id)["rows_applied"] == 50
    assert all(len(audit_entries("product.create", f"product#IMP-{n:05d}")) == 1 for n in range(2, 51))
    assert len(audit_entries("import.apply", f"import#{import_id}")) == 1


def test_a_large_import_is_applied_in_chunks_each_its_own_invocation(imports, categories, api):
    imports.worker = replace(imports.worker, chunk_rows=7)
    import_id = imports.start("products", "csv")
    imports.upload(csv_file(products(30)), "p.csv")
    imports.drain()
    assert imports.apply(import_id).status == 202
    deliveries = imports.drain()
    assert len(deliveries) == 5  # 30 rows, 7 a chunk: the worker sent itself the rest four times
    job = imports.read(import_id)
    assert (job["status"], job["rows_applied"]) == ("applied", 30)
    assert all(catalogue(api, f"IMP-{n:05d}") for n in range(1, 31))


class Crash(Exception):
    """The worker dying mid-chunk (a timeout, an out-of-memory kill) right after a row's write committed."""


class CrashAfter:
    """The products service, crashing once right after its ``after``-th write."""

    def __init__(self, real, after: int) -> None:
        self.real, self.after, self.calls = real, after, 0

    def _tick(self) -> None:
        self.calls += 1
        if self.calls == self.after:
            raise Crash("killed after the row's write")

    def create(self, *args, **kwargs):
        product = self.real.create(*args, **kwargs)
        self._tick()
        return product

    def update(self, *args, **kwargs):
        product = self.real.update(*args, **kwargs)
        self._tick()
        return product


def test_applying_again_after_a_crash_halfway_applies_each_row_once(imports, categories, api, seed):
    seed("IMP-00003", price=1, category="apparel")
    imports.worker = replace(imports.worker, chunk_rows=20)
    import_id = imports.start("products", "xlsx")
    imports.upload(xlsx(products(50)))
    imports.drain()
    crashing = CrashAfter(imports.worker.products, after=13)
    imports.worker = replace(imports.worker, products=crashing)
    assert imports.apply(import_id).status == 202

    deliveries = imports.drain()
    assert (1, 0) in deliveries and (0, 1) in deliveries  # the crashed delivery came back and was done again
    job = imports.read(import_id)
    assert (job["status"], job["rows_applied"], job["rows_failed"]) == ("applied", 50, 0), job
    for n in range(1, 51):
        sku = f"IMP-{n:05d}"
        action = "product.update" if n == 3 else "product.create"
        assert len(audit_entries(action, f"product#{sku}")) == 1, sku
        assert catalogue(api, sku)["price"] == 1000 + n
    assert [(m.delta, m.reason) for m in movements("IMP-00013")] == [(5, "created")]  # the row it died after


def test_a_stock_count_sets_each_level_once_even_when_redelivered(imports, api, seed):
    for n in range(1, 6):
        seed(f"SKU-{n}", stock=9 if n == 3 else 10)  # SKU-3 is counted as it is
    rows = [["sku", "stock", "note"], *[[f"SKU-{n}", n * 3, "March count"] for n in range(1, 6)]]
    job = imports.checked("stock", "xlsx", xlsx(rows))
    assert job["status"] == "ready", job
    assert job["preview"][0] == {"row": 2, "sku": "SKU-1", "action": "update", "changes": {
        "stock": {"from": 10, "to": 3}}}  # fmt: skip

    class CrashingStock:
        def __init__(self, real) -> None:
            self.real, self.calls = real, 0

        def set_level(self, *args, **kwargs):
            done = self.real.set_level(*args, **kwargs)
            self.calls += 1
            if self.calls == 3:
                raise Crash("killed after the third count")
            return done

    imports.worker = replace(imports.worker, stock=CrashingStock(imports.worker.stock))
    assert imports.apply(job["import_id"]).status == 202
    imports.drain()
    job = imports.read(job["import_id"])
    assert (job["status"], job["rows_applied"], job["rows_unchanged"]) == ("applied", 4, 1)
    for n in range(1, 6):
        assert catalogue(api, f"SKU-{n}")["stock_available"] == n * 3
        counted = [m for m in movements(f"SKU-{n}") if m.reason == "stocktake"]
        assert [m.delta for m in counted] == ([] if n == 3 else [n * 3 - 10]), n
        assert all(m.note == "March count" for m in counted)


class AlwaysFailing:
    """The products service while DynamoDB refuses every write: each row raises."""

    def __init__(self, real, failures: int) -> None:
        self.real, self.failures = real, failures

    def create(self, *args, **kwargs):
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("DynamoDB is unavailable")
        return self.real.create(*args, **kwargs)


def test_an_import_whose_applying_keeps_failing_is_marked_failed_and_can_be_applied_again_from_where_it_stopped(
    imports, categories, api
):
    from chalicelib.config import settings

    imports.worker = replace(imports.worker, chunk_rows=4)
    import_id = imports.start("products", "csv")
    imports.upload(csv_file(products(10)), "p.csv")
    imports.drain()
    assert imports.apply(import_id).status == 202
    assert imports.pump.pump() == (1, 0)  # the first chunk applies
    real = imports.worker.products
    imports.worker = replace(imports.worker, products=AlwaysFailing(real, failures=settings.import_max_receives))
    imports.drain()  # the next chunk fails on every receive, then goes to the dead-letter queue
    job = imports.read(import_id)
    assert (job["status"], job["rows_applied"]) == ("failed", 4), job
    assert job["failure"] == "the import could not be processed (retried; see the worker's log)"
    dead = imports.sqs.get_queue_attributes(QueueUrl=imports.queues["import-uploads-dlq"],
                                            AttributeNames=["ApproximateNumberOfMessages"])  # fmt: skip
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "1"

    imports.worker = replace(imports.worker, products=real)  # DynamoDB is back: staff apply it again
    again = imports.apply(import_id)
    assert again.status == 202 and again.body["status"] == "applying"
    imports.drain()
    job = imports.read(import_id)
    assert (job["status"], job["rows_applied"], job["failure"]) == ("applied", 10, None)
    assert all(len(audit_entries("product.create", f"product#IMP-{n:05d}")) == 1 for n in range(1, 11))
    resumed = audit_entries("import.apply", f"import#{import_id}")
    assert sorted(entry.data.as_dict().get("resumed_from", -1) for entry in resumed) == [-1, 4]


def test_the_api_never_loads_openpyxl_not_even_for_the_workbook_template():
    """openpyxl is the import worker's, loaded when it reads a workbook: the API writes its template with the standard
    library, so neither a cold start nor the template route pays for it (a fresh interpreter)."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, app\n"
        "from chalicelib.adapters.import_files import template\n"
        "assert template('products', 'xlsx').startswith(b'PK')\n"
        "print(sorted(m for m in ('openpyxl', 'et_xmlfile', 'defusedxml') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
