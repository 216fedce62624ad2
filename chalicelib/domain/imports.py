"""Imports of products and stock: checking a file's rows against the catalogue, and what each row will do.

Pure. An import is checked whole before anything is applied: every row is read (``import_rows``), then
compared with the catalogue as it is (products by SKU, the categories), giving for each valid row a
``Planned`` change (create, update or unchanged, with the fields that change) or its errors. Only a
file without a single error can be applied, and then each row is applied once (services/imports.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.catalogue import Product, category_key
from chalicelib.domain.import_rows import (
    MAX_ROWS,
    RowError,
    format_options,
    is_blank,
    read_cells,
    read_header,
)

KINDS = ("products", "stock")
FORMATS = ("xlsx", "csv")
STATUSES = ("awaiting_upload", "validating", "ready", "invalid", "applying", "applied", "failed")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ERRORS = 100  # kept and shown; the rest are counted
PREVIEW_ROWS = 20
MAX_ROWS_READ = 3 * MAX_ROWS  # data and empty rows together: past this the file is refused
UPDATABLE = ("name", "category", "price", "description", "product_group", "options", "low_stock_threshold", "active")
NEW_PRODUCT_NEEDS = ("name", "category", "price")


class FileRefused(ValueError):
    """The file as a whole cannot be read (not a workbook, too large, too many rows): its message says why."""


@dataclass(frozen=True)
class Planned:
    """What applying one valid row does.

    ``fields``: what is written. Products: a new product's fields (create), or the new values of the fields
    that differ from the catalogue (update). Stock: ``{"stock": level, "note": ...}`` (the level counted).
    ``changes``: ``{field: {"from", "to"}}`` as the check found them; ``ignored``: columns given but not used.
    """

    row: int
    sku: str
    action: str  # create | update | unchanged
    fields: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    def preview(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"row": self.row, "sku": self.sku, "action": self.action}
        if self.action == "create":
            shown["fields"] = self.fields
        if self.changes:
            shown["changes"] = self.changes
        if self.ignored:
            shown["ignored"] = list(self.ignored)
        return shown

    def line(self) -> dict[str, Any]:
        """As the parsed-rows file keeps it (one JSON object per line)."""
        return {"row": self.row, "sku": self.sku, "action": self.action, "fields": self.fields}

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> Planned:
        return cls(int(line["row"]), str(line["sku"]), str(line["action"]), dict(line.get("fields") or {}))


@dataclass
class Checked:
    """A checked file: its data rows' count, the valid rows' plans and the errors (first ``MAX_ERRORS``)."""

    rows_total: int = 0
    planned: list[Planned] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0

    @property
    def valid(self) -> bool:
        return self.errors_total == 0

    @property
    def preview(self) -> list[dict[str, Any]]:
        return [plan.preview() for plan in self.planned[:PREVIEW_ROWS]]


@dataclass
class ReadRows:
    """A file's data rows read (values by column), before they are compared with the catalogue."""

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    count: int = 0  # data rows, those with errors included

    @property
    def skus(self) -> list[str]:
        return list(dict.fromkeys(values["sku"] for _, values in self.rows if "sku" in values))


def read_rows(kind: str, rows: Iterable[tuple[int, list[Any]]], currency: str) -> ReadRows:
    """Every data row of the file, or ``FileRefused``.

    The first non-empty row is the header. Empty rows at the end are skipped; an empty row between rows is
    an error. Reading stops at the ``MAX_ROWS + 1``-th data row (the file is refused without being read
    further), and at ``MAX_ROWS_READ`` rows with empty ones.
    """
    found = ReadRows()
    header = None
    blanks: list[int] = []
    seen: dict[str, int] = {}
    for read, (number, cells) in enumerate(rows, start=1):
        if read > MAX_ROWS_READ:
            raise FileRefused(f"the sheet has more than {MAX_ROWS_READ:,} rows, empty ones included: delete them")
        if is_blank(cells):
            if header is not None:
                blanks.append(number)
            continue
        if header is None:
            header, problems = read_header(kind, number, cells)
            if problems:
                found.errors += problems
                return found
            continue
        found.count += 1
        if found.count > MAX_ROWS:
            raise FileRefused(f"the file has more than {MAX_ROWS:,} rows: split it into files of at most {MAX_ROWS:,}")
        found.errors += [RowError(blank, None, "this row is empty: delete it or fill it in") for blank in blanks]
        blanks = []
        values, problems = read_cells(header, cells, currency)
        found.errors += [RowError(number, column, message) for column, message in problems.items()]
        sku = values.get("sku")
        if sku is None and "sku" not in problems:
            found.errors.append(RowError(number, "sku", "sku is required: every row names its product"))
        if sku is not None:
            if sku in seen:
                found.errors.append(RowError(number, "sku", f"duplicate SKU {sku}: it is also in row {seen[sku]}"))
                continue
            seen[sku] = number
        if not problems and sku is not None:
            found.rows.append((number, values))
    if header is None:
        raise FileRefused("the file is empty: it needs a header row naming the columns, then one row per product")
    if found.count == 0 and not found.errors:
        raise FileRefused("the file has a header row but no rows to import")
    return found


def check(kind: str, read: ReadRows, products: dict[str, Product], categories: Iterable[str]) -> Checked:
    """Each read row against the catalogue (``products`` by SKU, as they are now; the category keys)."""
    known = set(categories)
    checked = Checked(rows_total=read.count)
    errors = list(read.errors)
    for number, values in read.rows:
        current = products.get(values["sku"])
        result = _stock(number, values, current) if kind == "stock" else _product(number, values, current, known)
        if isinstance(result, Planned):
            checked.planned.append(result)
        else:
            errors += result
    errors.sort(key=lambda error: (error.row or 0, error.column or ""))
    checked.errors = errors[:MAX_ERRORS]
    checked.errors_total = len(errors)
    return checked


def _product(number: int, values: dict[str, Any], current: Product | None, known: set[str]) -> Planned | list[RowError]:
    errors: list[RowError] = []
    sku = values["sku"]
    if "category" in values:
        key = category_key(values["category"])
        if key not in known:
            hint = ", ".join(sorted(known)[:10]) or "none yet"
            message = f"unknown category {values['category']!r}: create it first, or use one of: {hint}"
            errors.append(RowError(number, "category", message))
        values = {**values, "category": key}
    if current is None:
        for name in NEW_PRODUCT_NEEDS:
            if name not in values:
                errors.append(RowError(number, name, f"{name} is required for a new product ({sku} is not one yet)"))
        if errors:
            return errors
        return Planned(number, sku, "create", {name: value for name, value in values.items() if name != "sku"})
    if errors:
        return errors
    changes = {}
    for name in UPDATABLE:
        if name in values and _now(current, name) != values[name]:
            changes[name] = {"from": _now(current, name), "to": values[name]}
    ignored = ("stock",) if "stock" in values and values["stock"] != current.stock_available else ()
    if not changes:
        return Planned(number, sku, "unchanged", ignored=ignored)
    fields = {name: values[name] for name in changes}
    if "options" in changes:  # shown as the cell is written
        changes["options"] = {
            "from": format_options(changes["options"]["from"]),
            "to": format_options(values["options"]),
        }
    return Planned(number, sku, "update", fields, changes, ignored)


def _now(product: Product, name: str) -> Any:
    value = getattr(product, name)
    return category_key(value) if name == "category" else value


def _stock(number: int, values: dict[str, Any], current: Product | None) -> Planned | list[RowError]:
    sku = values["sku"]
    if current is None:
        return [RowError(number, "sku", f"unknown SKU {sku}: no such product (a product import adds it)")]
    if "stock" not in values:
        return [RowError(number, "stock", "stock is required: the number of units counted")]
    level = values["stock"]
    fields = {"stock": level, **({"note": values["note"]} if "note" in values else {})}
    if level == current.stock_available:
        return Planned(number, sku, "unchanged", fields)
    return Planned(number, sku, "update", fields, {"stock": {"from": current.stock_available, "to": level}})


def chunks(items: list[str], size: int = 100) -> Iterator[list[str]]:
    """``items`` in lists of at most ``size`` (a BatchGetItem reads 100 keys)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class Applier:
    """Who pressed apply: the principal whose changes each row's audit entry names."""

    subject: str
    groups: tuple[str, ...]
    source_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class ImportJob:
    """An import as its job item keeps it (``adapters/dynamo/imports_repo.py``)."""

    import_id: str
    kind: str
    file_format: str
    status: str
    created_at: str
    created_by: str
    updated_at: str
    rows_total: int | None = None
    rows_valid: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_total: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)
    object_etag: str | None = None
    applier: Applier | None = None
    apply_attempts: int = 0
    position: int = 0  # rows of the parsed file done (applied, unchanged or failed)
    rows_applied: int = 0
    rows_unchanged: int = 0
    rows_failed: int = 0
    finished_at: str | None = None
    failure: str | None = None

    @property
    def can_apply(self) -> bool:
        """Ready, or failed while applying (its retries ran out): applying goes on from where it stopped."""
        return self.status == "ready" or (self.status == "failed" and self.applier is not None)

    def view(self) -> dict[str, Any]:
        """As ``GET /staff/imports/{id}`` shows it."""
        return {
            "import_id": self.import_id,
            "kind": self.kind,
            "format": self.file_format,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "rows_total": self.rows_total,
            "rows_valid": self.rows_valid,
            "rows_applied": self.rows_applied,
            "rows_unchanged": self.rows_unchanged,
            "rows_failed": self.rows_failed,
            "errors": self.errors,
            "errors_total": self.errors_total,
            "preview": self.preview,
            "failure": self.failure,
        }
