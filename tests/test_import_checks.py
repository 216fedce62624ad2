"""What the background check refuses, as staff read it (``GET /staff/imports/{id}``): every kind of bad cell and
bad file gives its error, in the shop's words, on its row and column; and an import with any error cannot be
applied, so nothing of it reaches the catalogue.

Each file is uploaded through the presigned form and checked by the worker, as in production.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from typing import Any

import pytest

from tests.conftest import assert_error
from tests.import_world import (
    PRODUCT_HEADER,
    audit_entries,
    csv_file,
    products,
    xlsx,
)

GOOD = ["GOOD-1", "好商品", "apparel", 1200, "fine", 3]


def refused(imports, api, data: bytes, file_format: str = "xlsx", kind: str = "products") -> dict[str, Any]:
    """The import is invalid, cannot be applied, and nothing of it was written."""
    job = imports.checked(kind, file_format, data)
    assert job["status"] == "invalid", job
    assert job["errors_total"] >= 1 and job["errors"]
    assert_error(imports.apply(job["import_id"]), 409, "import_invalid")
    imports.drain()
    assert api.get("/products/GOOD-1").status == 404
    assert f"parsed/{job['import_id']}.jsonl" not in imports.stored()
    assert audit_entries("import.apply", f"import#{job['import_id']}") == []
    return job


def errors(job: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    return [(error["row"], error["column"], error["message"]) for error in job["errors"]]


BAD_CELLS = {
    # name: (the bad row, (column, the message's start))
    "price with cents": (["BAD-1", "Tee", "apparel", 12.99, "", 1], ("price", "price must be a whole number of fen")),
    "price as text": (["BAD-1", "Tee", "apparel", "cheap", "", 1], ("price", "price must be a whole number of fen")),
    "negative price": (["BAD-1", "Tee", "apparel", -5, "", 1], ("price", "price must not be negative")),
    "negative stock": (["BAD-1", "Tee", "apparel", 100, "", -1], ("stock", "stock must not be negative")),
    "stock as a decimal": (["BAD-1", "Tee", "apparel", 100, "", "2.5"], ("stock", "stock must be a whole number")),
    "TRUE as a price": (["BAD-1", "Tee", "apparel", True, "", 1], ("price", "price must be a whole number")),
    "unknown category": (["BAD-1", "Tee", "shoes", 100, "", 1], ("category", "unknown category 'shoes'")),
    "formula": (["BAD-1", "Tee", "apparel", "=10*10", "", 1], ("price", "cells must hold values, not formulas")),
    "bad SKU": (["BAD 1!", "Tee", "apparel", 100, "", 1], ("sku", "sku must be 1 to 64 letters")),
    "no SKU": (["", "Tee", "apparel", 100, "", 1], ("sku", "sku is required")),
    "a new product without a name": (["BAD-1", "", "apparel", 100, "", 1], ("name", "name is required for a new")),
    "a new product without a price": (["BAD-1", "Tee", "apparel", "", "", 1], ("price", "price is required")),
    "too long a name": (["BAD-1", "T" * 201, "apparel", 100, "", 1], ("name", "name must be at most 200")),
    "control characters": (["BAD-1", "Tee\x07", "apparel", 100, "", 1], ("name", "name must not contain control")),
}


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
@pytest.mark.parametrize("case", list(BAD_CELLS))
def test_each_kind_of_bad_cell_is_an_error_on_its_row_and_column_and_nothing_is_applied(
    imports, categories, api, case, file_format
):
    row, (column, message) = BAD_CELLS[case]
    if file_format == "csv" and case == "TRUE as a price":
        row = [*row[:3], "TRUE", *row[4:]]
    if file_format == "xlsx" and case == "control characters":
        row = [*row[:1], "Tee\u202e", *row[2:]]  # a workbook cannot hold C0 controls: a direction override
    rows = [PRODUCT_HEADER, GOOD, row]
    job = refused(imports, api, xlsx(rows) if file_format == "xlsx" else csv_file(rows), file_format)
    (found,) = errors(job)
    assert found[:2] == (3, column), found
    assert found[2].startswith(message), found
    assert (job["rows_total"], job["rows_valid"]) == (2, 1)


def test_an_existing_products_empty_cells_keep_its_values_and_a_changed_category_must_exist(imports, categories, api,
                                                                                             seed):  # fmt: skip
    seed("OLD-1", price=700, category="apparel", name="Kept")
    job = imports.checked("products", "xlsx", xlsx([["sku", "price", "category"], ["OLD-1", 800, None]]))
    assert job["status"] == "ready" and job["preview"] == [
        {"row": 2, "sku": "OLD-1", "action": "update", "changes": {"price": {"from": 700, "to": 800}}}]  # fmt: skip
    job = refused(imports, api, xlsx([["sku", "category"], ["OLD-1", "Nowhere"]]))
    assert errors(job)[0][:2] == (2, "category")


def test_a_duplicate_sku_is_an_error_on_each_repetition_naming_the_first(imports, categories, api):
    rows = [PRODUCT_HEADER, GOOD, ["DUP-1", "A", "apparel", 100, "", 1], ["DUP-1", "B", "apparel", 200, "", 1],
            ["DUP-1", "C", "apparel", 300, "", 1]]  # fmt: skip
    job = refused(imports, api, xlsx(rows))
    assert errors(job) == [(4, "sku", "duplicate SKU DUP-1: it is also in row 3"),
                           (5, "sku", "duplicate SKU DUP-1: it is also in row 3")]  # fmt: skip


def test_empty_rows_between_rows_are_errors_and_empty_rows_at_the_end_are_skipped(imports, categories, api):
    job = imports.checked("products", "xlsx", xlsx([PRODUCT_HEADER, GOOD, [], [None, ""], [], []]))
    assert job["status"] == "ready" and job["rows_total"] == 1
    rows = [PRODUCT_HEADER, GOOD, [], [None, " "], ["GOOD-2", "Two", "apparel", 100, "", 1]]
    for data, file_format in ((xlsx(rows), "xlsx"), (csv_file(rows), "csv")):
        job = refused(imports, api, data, file_format)
        assert errors(job) == [(3, None, "this row is empty: delete it or fill it in"),
                               (4, None, "this row is empty: delete it or fill it in")]  # fmt: skip


def test_the_header_must_name_known_columns_once_and_the_sku(imports, categories, api):
    job = refused(imports, api, xlsx([["SKU", "Name", "prce", "name"], GOOD[:3]]))
    assert errors(job) == [
        (1, "name", "column 'name' appears twice"),
        (1, "prce", "unknown column 'prce': the columns are sku, name, category, price, description, "
                    "product_group, options, low_stock_threshold, active, stock"),
    ]  # fmt: skip
    job = refused(imports, api, xlsx([["name", "price"], ["x", 1]]))
    assert errors(job) == [(1, "sku", "the column 'sku' is missing (the header row names the columns)")]


def test_a_stock_count_of_an_unknown_sku_or_without_a_count_is_an_error(imports, api, seed):
    seed("KNOWN-1", stock=4)
    rows = [["sku", "stock"], ["KNOWN-1", 5], ["GHOST-1", 3], ["KNOWN-2", None]]
    job = refused(imports, api, csv_file(rows), "csv", "stock")
    assert errors(job) == [(3, "sku", "unknown SKU GHOST-1: no such product (a product import adds it)"),
                           (4, "sku", "unknown SKU KNOWN-2: no such product (a product import adds it)")]  # fmt: skip
    assert api.get("/products/KNOWN-1").body["stock_available"] == 4


def test_more_than_10000_rows_is_refused_without_reading_further(imports, categories, api):
    rows = products(10_001)
    for data, file_format in ((xlsx(rows), "xlsx"), (csv_file(rows), "csv")):
        job = refused(imports, api, data, file_format)
        assert errors(job) == [(None, None, "the file has more than 10,000 rows: split it into files of at most "
                                            "10,000")]  # fmt: skip
    assert imports.checked("products", "csv", csv_file(products(10_000)))["status"] == "ready"


def _zip(members: dict[str, bytes], stream: dict[str, int] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in members.items():
            book.writestr(name, data)
        for name, size in (stream or {}).items():  # a member of ``size`` zero bytes, written a MB at a time
            with book.open(name, "w", force_zip64=True) as member:
                for _ in range(size // 2**20):
                    member.write(bytes(2**20))
    return out.getvalue()


WORKBOOK = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}
REFUSED_FILES = {
    "a CSV named .xlsx": (csv_file([PRODUCT_HEADER, GOOD]), "this is not an Excel workbook (.xlsx)"),
    "a PDF": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "this is not an Excel workbook (.xlsx)"),
    "an old .xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "this is an old .xls workbook"),
    "a zip that is no workbook": (_zip({"readme.txt": b"hello"}), "this is not an Excel workbook (.xlsx)"),
    "a truncated workbook": (b"PK\x03\x04" + bytes(100), "the workbook is damaged (it cannot be opened)"),
    "a workbook that is not one inside": (_zip(WORKBOOK), "the workbook is damaged (it cannot be opened)"),
    "a zip bomb (its size)": (
        _zip(WORKBOOK, {"xl/worksheets/sheet1.xml": 80 * 2**20}),
        "the workbook unpacks to 80 MB",
    ),
    "a zip bomb (its ratio)": (_zip(WORKBOOK, {"xl/sharedStrings.xml": 8 * 2**20}), "the workbook is compressed far"),
}


@pytest.mark.parametrize("case", list(REFUSED_FILES))
def test_a_file_that_is_not_a_workbook_or_a_zip_bomb_is_refused_before_it_is_parsed(imports, categories, api, case,
                                                                                      monkeypatch):  # fmt: skip
    data, message = REFUSED_FILES[case]
    if "bomb" in case:
        import openpyxl

        def never(*args: Any, **kwargs: Any):
            raise AssertionError("openpyxl opened a zip bomb")

        monkeypatch.setattr(openpyxl, "load_workbook", never)
    job = refused(imports, api, data)
    ((row, column, found),) = errors(job)
    assert (row, column) == (None, None) and found.startswith(message), found


def test_a_workbook_in_a_csv_import_or_binary_data_is_refused(imports, api):
    job = refused(imports, api, xlsx([PRODUCT_HEADER, GOOD]), "csv")
    assert errors(job)[0][2].startswith("this is an Excel workbook, but the import was started for CSV")
    job = refused(imports, api, b"sku,name\x00\x01\x02", "csv")
    assert errors(job)[0][2] == "this is not a CSV text file: it holds binary data"
    job = refused(imports, api, b"sku,name\r\nA-1,\x80\xff\r\n", "csv")  # neither UTF-8 nor GBK
    assert errors(job)[0][2] == 'this is not a CSV text file (UTF-8 or GBK): save it as "CSV UTF-8"'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_csv_in_the_encodings_excel_saves_reads_chinese_names_as_written(imports, categories, api, encoding):
    rows = [PRODUCT_HEADER, ["CN-1", "纯棉圆领T恤 白色", "apparel", 7900, "精梳纯棉", 2]]
    job = imports.checked("products", "csv", csv_file(rows, encoding))
    assert job["status"] == "ready", job
    assert job["preview"][0]["fields"]["name"] == "纯棉圆领T恤 白色"


def test_a_semicolon_separated_csv_with_options_and_flags(imports, categories, api):
    header = ["sku", "name", "category", "price", "options", "active", "low_stock_threshold"]
    text = ";".join(header) + "\r\n" + "OPT-1;Tee;Apparel;100;size=M；colour＝白色;否;4\r\n"
    job = imports.checked("products", "csv", codecs.BOM_UTF8 + text.encode())
    assert job["status"] == "ready", job
    assert job["preview"][0]["fields"] == {
        "name": "Tee",
        "category": "apparel",
        "price": 100,
        "active": False,
        "options": {"size": "M", "colour": "白色"},
        "low_stock_threshold": 4,
    }


def test_a_file_over_5_mb_is_refused_unread(imports, api):
    import_id = imports.start("products", "csv")
    imports.s3.put_object(Bucket=imports.bucket, Key=f"imports/{import_id}.csv", Body=b"x" * (5 * 2**20 + 1))
    imports.drain()
    job = imports.read(import_id)
    assert job["status"] == "invalid" and errors(job) == [
        (None, None, "the file is larger than 5 MB: split it into smaller files")]  # fmt: skip


def test_only_the_first_100_errors_are_kept_and_all_are_counted(imports, categories, api):
    rows = [PRODUCT_HEADER, *[[f"E-{n}", "x", "apparel", -n, "", -1] for n in range(1, 151)]]
    job = refused(imports, api, csv_file(rows), "csv")
    assert job["errors_total"] == 300 and len(job["errors"]) == 100
    assert [error["row"] for error in job["errors"][:4]] == [2, 2, 3, 3]
