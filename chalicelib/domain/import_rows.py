"""An import file's columns and cells, read as the catalogue needs them, with errors in the user's terms.

Pure: the file adapters (``adapters/import_files.py``) hand over rows of cell values as a spreadsheet
holds them (text, whole or decimal numbers, booleans, dates, ``Formula``); this module says what each
cell means or, in words a shop's staff use, why it cannot be imported ("price must be a whole number
of fen ..."). Rows are numbered as the spreadsheet shows them: the header is row 1.

Columns (``docs/API.md``, "Imports"):

- products: ``sku`` (required), ``name``, ``category``, ``price`` (required for a new SKU), ``description``,
  ``product_group``, ``options`` (one cell: ``size=M; colour=白色``), ``low_stock_threshold``, ``active``,
  ``stock`` (a new product's first stock only). An empty cell of an existing product keeps its value.
- stock: ``sku``, ``stock`` (the level counted: a stocktake) and ``note``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_ROWS = 10_000  # data rows, the header not counted
MAX_COLUMNS = 30  # cells further right are not read
MAX_CELL_CHARS = 5_000
MAX_PRICE = 10**12
MAX_STOCK = 10**9
MAX_OPTIONS = 10

SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CATEGORY = re.compile(r"[^\x00-\x1f\x7f/#?%\\]{1,64}")
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_WHOLE = re.compile(r"[+-]?[0-9]+(\.0*)?")
_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+")
TRUE = frozenset({"true", "yes", "y", "1", "是", "on"})
FALSE = frozenset({"false", "no", "n", "0", "否", "off"})
MINOR_UNITS = {"CNY": ("fen", 100), "JPY": ("yen", 1), "KRW": ("won", 1)}  # others: cents, 100


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula (``=SUM(A1:A3)``), not a value: refused."""

    text: str


@dataclass(frozen=True)
class RowError:
    row: int | None  # the spreadsheet's row number (header = 1); None for the file as a whole
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


class CellError(ValueError):
    """Why one cell cannot be read (the message names the column)."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # sku | text | category | whole | price | bool | options
    max_length: int = 0  # text
    example: Any = None


PRODUCT_COLUMNS = (
    Column("sku", "sku", example="TEE-CREW-WHT-M"),
    Column("name", "text", 200, "纯棉圆领T恤 白色 M"),
    Column("category", "category", 64, "apparel"),
    Column("price", "price", example=12900),
    Column("description", "text", 4000, "200 g cotton, crew neck"),
    Column("product_group", "sku", example="TEE-CREW"),
    Column("options", "options", example="size=M; colour=白色"),
    Column("low_stock_threshold", "whole", example=5),
    Column("active", "bool", example="true"),
    Column("stock", "whole", example=100),
)
STOCK_COLUMNS = (
    Column("sku", "sku", example="TEE-CREW-WHT-M"),
    Column("stock", "whole", example=42),
    Column("note", "text", 500, "March stocktake, shelf B3"),
)
COLUMNS = {"products": PRODUCT_COLUMNS, "stock": STOCK_COLUMNS}
REQUIRED = {"products": ("sku",), "stock": ("sku", "stock")}


def column_letter(position: int) -> str:
    """The spreadsheet's name of a column (0 -> A, 26 -> AA)."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def is_blank(cells: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def read_header(kind: str, row: int, cells: list[Any]) -> tuple[dict[int, Column], list[RowError]]:
    """The header row: which position holds which column (names in any letter case, spaces as ``_``)."""
    known = {column.name: column for column in COLUMNS[kind]}
    names = ", ".join(known)
    found: dict[int, Column] = {}
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for position, cell in enumerate(cells):
        if isinstance(cell, Formula):
            errors.append(RowError(row, None, "the header must hold column names, not formulas"))
            continue
        text = "" if cell is None else str(cell).strip()
        if not text:
            continue
        name = "_".join(text.casefold().split())
        if name not in known:
            errors.append(RowError(row, text[:64], f"unknown column {text[:64]!r}: the columns are {names}"))
        elif name in seen:
            errors.append(RowError(row, name, f"column {name!r} appears twice"))
        else:
            seen[name] = position
            found[position] = known[name]
    for name in REQUIRED[kind]:
        if name not in seen:
            errors.append(RowError(row, name, f"the column {name!r} is missing (the header row names the columns)"))
    return found, errors


def read_cells(header: dict[int, Column], cells: list[Any], currency: str) -> tuple[dict[str, Any], dict[str, str]]:
    """One data row: the non-empty cells' values by column name, and the cells that cannot be read
    (column -> message). A cell under no column must be empty."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for position, cell in enumerate(cells):
        column = header.get(position)
        if column is None:
            if not is_blank([cell]):
                problems.setdefault(
                    column_letter(position), "this cell is under no column: clear it or name its column"
                )
            continue
        try:
            value = read_cell(column, cell, currency)
        except CellError as error:
            problems[column.name] = str(error)
            continue
        if value is not None:
            values[column.name] = value
    return values, problems


def read_cell(column: Column, cell: Any, currency: str) -> Any:
    """The value of one cell, None when it is empty; ``CellError`` in the user's words."""
    if isinstance(cell, Formula):
        raise CellError("cells must hold values, not formulas (copy the column and paste it as values)")
    if isinstance(cell, str):
        cell = cell.strip()
        if not cell:
            return None
    if cell is None:
        return None
    if isinstance(cell, (datetime, date, time)):
        raise CellError(f"{column.name} is a date or time here; it must be {_what(column, currency)}")
    if column.kind in ("text", "sku", "category"):
        return _text(column, cell)
    if column.kind == "bool":
        return _boolean(column, cell)
    if column.kind == "options":
        return parse_options(_text(Column(column.name, "text", 1000), cell))
    return _whole(column, cell, currency)


def _text(column: Column, cell: Any) -> str:
    if isinstance(cell, bool):
        raise CellError(f"{column.name} must be text, not TRUE/FALSE")
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = str(cell).strip()
    if _REFUSED.search(text):
        raise CellError(f"{column.name} must not contain control characters or text-direction overrides")
    if column.kind == "sku":
        if not SKU.fullmatch(text):
            raise CellError(
                f"{column.name} must be 1 to 64 letters (A-Z, a-z), digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return text
    if column.kind == "category" and (not CATEGORY.fullmatch(text)):
        raise CellError(f"{column.name} must be 1 to 64 characters, without '/', '#', '?', '%' or '\\'")
    limit = column.max_length or MAX_CELL_CHARS
    if len(text) > limit:
        raise CellError(f"{column.name} must be at most {limit} characters (it has {len(text)})")
    return text


def _boolean(column: Column, cell: Any) -> bool:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, (int, float)) and cell in (0, 1):
        return bool(cell)
    word = str(cell).strip().casefold()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise CellError(f"{column.name} must be true or false (yes/no, 1/0 also work)")


def _whole(column: Column, cell: Any, currency: str) -> int:
    what = _what(column, currency, cell)
    if isinstance(cell, bool):
        raise CellError(f"{column.name} must be {what}, not TRUE/FALSE")
    if isinstance(cell, float):
        if not cell.is_integer():
            raise CellError(f"{column.name} must be {what}, not {cell:g}")
        cell = int(cell)
    if isinstance(cell, str):
        text = cell.replace(" ", "")
        if _DECIMAL.fullmatch(text) and not _WHOLE.fullmatch(text):
            raise CellError(f"{column.name} must be {what}, not {cell[:32]}")
        if not _WHOLE.fullmatch(text):
            raise CellError(f"{column.name} must be {what}, not {cell[:32]!r}")
        cell = int(text.split(".")[0])
    if not isinstance(cell, int):
        raise CellError(f"{column.name} must be {what}")
    if cell < 0:
        raise CellError(f"{column.name} must not be negative")
    highest = MAX_PRICE if column.kind == "price" else MAX_STOCK
    if cell > highest:
        raise CellError(f"{column.name} must be at most {highest:,}")
    return cell


def _what(column: Column, currency: str, cell: Any = None) -> str:
    if column.kind == "price":
        unit, per = MINOR_UNITS.get(currency, ("cents", 100))
        if per == 1:
            return f"a whole number of {unit}"
        amount = _amount(cell)
        if amount is None or amount.as_tuple().exponent < -2 or amount < 0:
            amount = Decimal("12.99")
        return f"a whole number of {unit} ({amount:.2f} {currency} is {int(amount * per)})"
    if column.kind == "bool":
        return "true or false"
    if column.kind == "whole":
        return "a whole number"
    return "text"


def _amount(cell: Any) -> Decimal | None:
    """A decimal amount as written (``25.90``), to show what it is in minor units; None if it is not one."""
    text = f"{cell:.10g}" if isinstance(cell, float) else str(cell).strip() if isinstance(cell, str) else ""
    if not _DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_options(text: str) -> dict[str, str]:
    """``size=M; colour=白色`` as a mapping (semicolons between pairs, ASCII or full-width, as are the ``=``)."""
    options: dict[str, str] = {}
    example = "e.g. size=M; colour=白色"
    for part in re.split("[;；]", text):
        if not part.strip():
            continue
        name, equals, value = part.replace("＝", "=").partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or not value:
            raise CellError(f"options must be name=value pairs separated by ';', {example}")
        if len(name) > 32 or len(value) > 64:
            raise CellError("options: each name may have 32 characters and each value 64")
        if name in options:
            raise CellError(f"options names {name!r} twice")
        options[name] = value
    if len(options) > MAX_OPTIONS:
        raise CellError(f"options may name at most {MAX_OPTIONS} options")
    return options


def format_options(options: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in options.items())
