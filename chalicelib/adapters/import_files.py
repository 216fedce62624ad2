"""Import files: reading an uploaded workbook or CSV as rows of cells, and writing the templates.

Reading refuses what is not what it claims to be before parsing it: a workbook must be a zip holding
``xl/workbook.xml`` whose directory promises at most ``MAX_UNPACKED_BYTES`` in all and no member
compressed more than ``MAX_RATIO`` to 1 (a zip bomb is refused from its directory alone; ``zipfile``
never inflates a member past the size its directory gives, so the promise holds). Only then does
openpyxl open it, in read-only mode (rows streamed, formulas kept as formulas so they can be refused),
reading at most ``MAX_COLUMNS`` columns. openpyxl is imported here only, and only when a workbook is read
(by the import worker): the API writes its template with the standard library.

CSV: UTF-8 with or without a byte-order mark, UTF-16 with one (Excel's "Unicode text"), or GB18030/GBK
(what Excel saves as "CSV" on a Chinese Windows); comma, semicolon or tab separated.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

from chalicelib.domain.import_rows import COLUMNS, MAX_CELL_CHARS, MAX_COLUMNS, Formula, column_letter
from chalicelib.domain.imports import FileRefused

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 500
MAX_RATIO = 200  # a sheet of text compresses 5-20 to 1; a bomb thousands to 1
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and workbooks saved with a password to open
NOT_XLSX = 'this is not an Excel workbook (.xlsx): save it as "Excel Workbook (.xlsx)" or as CSV'
DAMAGED = 'the workbook is damaged (it cannot be opened): save it again as "Excel Workbook (.xlsx)"'


def rows(data: bytes, file_format: str) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of the file's first sheet, numbered as the spreadsheet shows them; ``FileRefused``."""
    return xlsx_rows(data) if file_format == "xlsx" else csv_rows(data)


# --- workbooks -------------------------------------------------------------------------------------------------


def check_workbook(data: bytes) -> None:
    """Refuse, from its bytes and zip directory alone, what openpyxl should never open."""
    if data.startswith(OLE):
        raise FileRefused(
            'this is an old .xls workbook or one saved with a password: save it as "Excel Workbook (.xlsx)" '
            "without a password"
        )
    if not data.startswith(b"PK\x03\x04"):
        raise FileRefused(NOT_XLSX)
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise FileRefused(DAMAGED) from None
    if "xl/workbook.xml" not in {member.filename for member in members}:
        raise FileRefused(NOT_XLSX)
    if len(members) > MAX_MEMBERS:
        raise FileRefused(f"the workbook has more than {MAX_MEMBERS} parts: save the sheet alone as a new workbook")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileRefused(
            f"the workbook unpacks to {unpacked // 2**20:,} MB, more than {MAX_UNPACKED_BYTES // 2**20} MB: "
            "save only the rows to import"
        )
    for member in members:
        if member.flag_bits & 0x1:
            raise FileRefused("the workbook is encrypted: save it without a password")
        if member.file_size > 2**20 and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise FileRefused("the workbook is compressed far more than any spreadsheet is (a zip bomb?): refused")


def xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    check_workbook(data)
    from openpyxl import load_workbook  # the worker's only: ~60 ms to import

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False, keep_vba=False)
    except Exception:
        raise FileRefused(DAMAGED) from None
    try:
        if not book.worksheets:
            raise FileRefused("the workbook has no sheet")
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
            yield number, [_value(cell) for cell in row]
    except FileRefused:
        raise
    except Exception:
        raise FileRefused(f"{DAMAGED} (it could not be read to its end)") from None
    finally:
        book.close()


def _value(cell: Any) -> Any:
    value = cell.value
    if getattr(cell, "data_type", None) == "f":
        return Formula(str(getattr(value, "text", value)))
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[: MAX_CELL_CHARS + 1]  # long enough to be refused as too long, no longer kept
    return value


# --- CSV -------------------------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of a CSV file in the encodings Excel saves CSV in; ``FileRefused`` for anything else."""
    if data.startswith(b"PK\x03\x04") or data.startswith(OLE):
        raise FileRefused("this is an Excel workbook, but the import was started for CSV: start an xlsx import")
    try:
        if data.startswith(codecs.BOM_UTF8):
            text = data[len(codecs.BOM_UTF8) :].decode("utf-8")
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise FileRefused('this is not a CSV text file (UTF-8 or GBK): save it as "CSV UTF-8"') from None
    if "\x00" in text:
        raise FileRefused("this is not a CSV text file: it holds binary data")
    return text


def csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    text = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            yield number, [_csv_value(cell) for cell in record[:MAX_COLUMNS]]
    except csv.Error as error:
        raise FileRefused(f"the CSV file cannot be read after row {number}: {error}") from None


def _csv_value(cell: str) -> Any:
    if len(cell) > 1 and cell.startswith("="):  # a formula when a spreadsheet opens it: never imported
        return Formula(cell)
    return cell[: MAX_CELL_CHARS + 1]


# --- templates -------------------------------------------------------------------------------------------------


def template(kind: str, file_format: str) -> bytes:
    """The header row and one example row of ``kind`` (products or stock), as xlsx or CSV."""
    header = [column.name for column in COLUMNS[kind]]
    example = [column.example for column in COLUMNS[kind]]
    if file_format == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerows([header, example])
        return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")  # the BOM: Excel then reads UTF-8 (Chinese names)
    help_rows = [["column", "what it holds"], *[[name, HELP[kind][name]] for name in header]]
    return _workbook([(kind, [header, example], True), ("help", help_rows, False)])


HELP = {
    "products": {
        "sku": "Required. The product's SKU: 1-64 letters, digits, '.', '_' or '-'. A new SKU creates a product.",
        "name": "Required for a new product. Up to 200 characters, in any language.",
        "category": "Required for a new product. The key of an existing category (GET /categories).",
        "price": "Required for a new product. A whole number of the currency's minor unit: 12900 is 129.00 CNY.",
        "description": "Optional. Up to 4000 characters.",
        "product_group": "Optional. Variants of one product share it (a SKU-like key).",
        "options": "Optional. name=value pairs separated by ';', e.g. size=M; colour=白色",
        "low_stock_threshold": "Optional. Staff are told when stock falls below it. A whole number.",
        "active": "Optional. true or false; false takes the product out of the catalogue.",
        "stock": "Optional, new products only: the first stock. Counts of existing products: a stock import.",
    },
    "stock": {
        "sku": "Required. An existing product's SKU.",
        "stock": "Required. The number of units counted (a stocktake): the stock is set to it.",
        "note": "Optional. Up to 500 characters, kept with the stock movement.",
    },
}

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_STYLES = (
    f'<styleSheet {_NS}><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill '
    'patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1">'
    '<border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" '
    'borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _workbook(sheets: list[tuple[str, list[list[Any]], bool]]) -> bytes:
    """A minimal .xlsx (inline strings, a bold frozen header): what Excel, LibreOffice and openpyxl open."""
    count = len(sheets)
    parts = {
        "[Content_Types].xml": (
            f'<Types xmlns="{_PKG}/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPES}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_TYPES}.styles+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_TYPES}.worksheet+xml"/>'
                for n in range(1, count + 1)
            )
            + "</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook {_NS} xmlns:r="{_REL}"><sheets>'
            + "".join(
                f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
                for n, (name, _, _) in enumerate(sheets, start=1)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PKG}/relationships">'
            + "".join(
                f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                for n in range(1, count + 1)
            )
            + f'<Relationship Id="rId{count + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": _STYLES,
    }
    for n, (_, cells, data_sheet) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{n}.xml"] = _sheet(cells, data_sheet)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name, xml in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # the same bytes on every request
            info.compress_type = zipfile.ZIP_DEFLATED
            book.writestr(info, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml)
    return out.getvalue()


def _sheet(rows: list[list[Any]], data_sheet: bool) -> str:
    view = (
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
        'state="frozen"/></sheetView></sheetViews>'
    )
    width = len(rows[0])
    sku_as_text = '<col min="1" max="1" width="22" style="2" customWidth="1"/>' if data_sheet else ""
    columns = (
        f'<cols>{sku_as_text}<col min="{2 if data_sheet else 1}" max="{width}" width="24" customWidth="1"/></cols>'
    )
    body = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{column_letter(c)}{r}"
            style = ' s="1"' if r == 1 else (' s="2"' if data_sheet and c == 0 else "")
            if isinstance(value, int) and not isinstance(value, bool):
                cells.append(f'<c r="{ref}"{style}><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{ref}"{style} t="inlineStr"><is><t>{escape(str(value))}</t></is></c>')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    return f"<worksheet {_NS}>{view}{columns}<sheetData>{''.join(body)}</sheetData></worksheet>"
