"""Exports (API.md, "Imports and exports"): what each kind holds, its columns, its filters, and the job's states.

An export is built in the background (``services/export_worker.py``) from the indexes over all orders,
products, profiles and stock movements, row after row into a file, so neither its size nor its memory
grows with a table. Money is in minor units (fen/cents) as everywhere in the API; times are ISO 8601 UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import ValidationFailed

KINDS = ("orders", "payments", "customers", "products", "stock_movements", "sales")
FORMATS = ("csv", "xlsx")
STATUSES = ("queued", "running", "done", "failed")

COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("order_number", "order_id", "created_at", "customer_id", "status", "payment_status",
               "fulfilment_status", "channel", "items", "subtotal", "discount", "shipping", "total", "amount_paid",
               "amount_refunded", "currency", "ship_to_name", "ship_to_phone", "ship_to_city", "ship_to_country",
               "lines"),
    "payments": ("order_number", "order_id", "kind", "id", "payment_id", "method", "status", "amount", "currency",
                 "created_at", "provider_reference", "reference_code"),
    "customers": ("customer_id", "email", "name", "phone", "birthday", "language", "marketing_opt_in",
                  "addresses_count", "created_at"),
    "products": ("sku", "name", "category", "price", "currency", "stock_available", "low_stock_threshold", "active",
                 "product_group", "options", "description", "sales_count", "rating_avg", "rating_count",
                 "created_at", "updated_at"),
    "stock_movements": ("at", "sku", "seq", "delta", "reason", "balance_after", "actor", "order_id", "return_id",
                        "note"),
    "sales": ("day", "sku", "name", "orders", "units", "gross", "currency"),
}  # fmt: skip

# Which filters each kind takes (anything else: 422). Times filter what each row is dated by: an order's
# created_at (orders, payments, sales: the orders placed in the range), a movement's at.
FILTERS: dict[str, frozenset[str]] = {
    "orders": frozenset({"created_from", "created_to", "status"}),
    "payments": frozenset({"created_from", "created_to"}),
    "customers": frozenset({"created_from", "created_to"}),
    "products": frozenset({"category", "active"}),
    "stock_movements": frozenset({"created_from", "created_to", "sku"}),
    "sales": frozenset({"created_from", "created_to"}),
}


def check_filters(kind: str, filters: dict[str, Any]) -> dict[str, Any]:
    """The filters without empty ones; 422 naming any the kind does not take."""
    given = {name: value for name, value in filters.items() if value is not None}
    unknown = sorted(set(given) - FILTERS[kind])
    if unknown:
        allowed = ", ".join(sorted(FILTERS[kind]))
        raise ValidationFailed(f"An export of {kind} cannot be filtered by {', '.join(unknown)}.",
                               {f"filters.{name}": f"not a filter of {kind} (those are: {allowed})" for name in unknown})  # fmt: skip
    return given


def empty_range(filters: dict[str, Any]) -> bool:
    """A range that ends before it starts selects nothing (as ``GET /orders`` does)."""
    start, end = filters.get("created_from"), filters.get("created_to")
    return bool(start and end and end < start)


@dataclass(frozen=True)
class ExportJob:
    export_id: str
    kind: str
    file_format: str
    status: str
    filters: dict[str, Any]
    created_at: str
    created_by: str
    updated_at: str
    rows: int = 0
    attempts: int = 0
    object_key: str | None = None
    finished_at: str | None = None
    failure: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def view(self, download_url: str | None = None, expires_at: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "export_id": self.export_id, "kind": self.kind, "format": self.file_format, "status": self.status,
            "filters": self.filters, "rows": self.rows, "created_at": self.created_at, "created_by": self.created_by,
            "updated_at": self.updated_at, "finished_at": self.finished_at, "failure": self.failure,
        }  # fmt: skip
        if download_url:
            body["download_url"], body["download_expires_at"] = download_url, expires_at
            body["filename"] = self.filename
        return body

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.created_at[:10]}-{self.export_id[:8]}.{self.file_format}"


# --- rows ------------------------------------------------------------------------------------------------------


def order_row(order: Any) -> tuple[Any, ...]:
    address = order.shipping_address or {}
    lines = "; ".join(f"{line.sku} × {line.quantity} @ {line.unit_price}" for line in order.lines)
    return (
        order.order_number, order.order_id, order.created_at, order.customer_id, order.status, order.payment_status,
        order.fulfilment_status, order.channel, sum(line.quantity for line in order.lines), order.subtotal,
        order.discount, order.shipping, order.total, order.amount_paid, order.amount_refunded, order.currency,
        address.get("name"), address.get("phone"), address.get("city"), address.get("country"), lines,
    )  # fmt: skip


def payment_rows(order: Any) -> Iterator[tuple[Any, ...]]:
    """One row per payment and per refund of the order, each in the order's currency."""
    for payment in order.payments.values():
        yield (order.order_number, order.order_id, "payment", payment.payment_id, payment.payment_id, payment.method,
               payment.status, payment.amount, payment.currency, payment.created_at, payment.provider_reference,
               payment.reference_code)  # fmt: skip
    for refund in order.refunds.values():
        method = order.payments[refund.payment_id].method if refund.payment_id in order.payments else None
        yield (order.order_number, order.order_id, "refund", refund.refund_id, refund.payment_id, method,
               refund.status, -refund.amount, order.currency, refund.created_at, refund.provider_reference,
               refund.reference_code)  # fmt: skip


def customer_row(profile: Any) -> tuple[Any, ...]:
    return (profile.customer_id, profile.email, profile.name, profile.phone, profile.birthday, profile.language,
            profile.marketing_opt_in, profile.address_count, profile.created_at)  # fmt: skip


def product_row(product: Any) -> tuple[Any, ...]:
    options = "; ".join(f"{name}={value}" for name, value in sorted(product.options.items()))
    return (product.sku, product.name, product.category, product.price, product.currency, product.stock_available,
            product.low_stock_threshold, product.active, product.product_group, options or None, product.description,
            product.sales_count, product.rating_avg, product.rating_count, product.created_at,
            product.updated_at)  # fmt: skip


def movement_row(move: Any) -> tuple[Any, ...]:
    return (move.at, move.sku, move.seq, move.delta, move.reason, move.balance_after, move.actor, move.order_id,
            move.return_id, move.note)  # fmt: skip


def sales_rows(orders: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Per day (UTC, of the order's placing) and SKU: the orders paid (in part or whole), their units and gross
    (unit price times quantity). One total per (day, SKU, currency) is held while the orders stream past."""
    totals: dict[tuple[str, str, str], list[Any]] = {}
    for order in orders:
        if not order.amount_paid:  # never paid: not a sale
            continue
        for line in order.lines:
            entry = totals.setdefault((order.created_at[:10], line.sku, order.currency), [line.name, 0, 0, 0])
            entry[1] += 1
            entry[2] += line.quantity
            entry[3] += line.unit_price * line.quantity
    for (day, sku, currency), (name, count, units, gross) in sorted(totals.items()):
        yield day, sku, name, count, units, gross, currency


def rows_for(kind: str, items: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows of an export of ``kind`` from what its source yields (orders for orders, payments and sales)."""
    if kind == "payments":
        return (row for order in items for row in payment_rows(order))
    if kind == "sales":
        return sales_rows(items)
    return map(ROW[kind], items)


ROW = {"orders": order_row, "customers": customer_row, "products": product_row, "stock_movements": movement_row}
