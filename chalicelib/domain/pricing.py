"""Pricing: requested lines and the catalogue in, priced lines and totals out. Pure; no I/O.

One module for quotes, carts, orders and (later) edits, so they cannot disagree. Today there are no
discounts and no shipping fee (tiers, points and shipping settings arrive with the customers issue):
``discounts`` is empty and ``shipping`` 0, but every caller already reads them from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from chalicelib.domain.catalogue import Product
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.money import MAX_AMOUNT, line_total


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class OrderLine:
    sku: str
    name: str
    unit_price: int
    quantity: int

    @property
    def line_total(self) -> int:
        return line_total(self.unit_price, self.quantity)


@dataclass(frozen=True)
class Discount:
    """One reduction of the subtotal: ``kind`` is ``tier`` or ``points`` (both arrive with customers)."""

    kind: str
    name: str
    amount: int


@dataclass(frozen=True)
class StockWarning:
    """A line the catalogue shows cannot be reserved now (a quote warns; placing the order refuses)."""

    code: str  # out_of_stock | insufficient_stock
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class Priced:
    lines: list[OrderLine]
    subtotal: int
    discounts: list[Discount]
    shipping: int
    currency: str
    warnings: list[StockWarning] = field(default_factory=list)

    @property
    def discount(self) -> int:
        return sum(item.amount for item in self.discounts)

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.shipping


def price_lines(
    requested: list[RequestedLine],
    catalogue: Mapping[str, Product],
    currency: str,
    kept: Mapping[str, OrderLine] | None = None,
) -> list[OrderLine]:
    """Lines priced from the catalogue. Unknown or inactive SKUs and foreign currencies are refused.

    ``kept`` (an edit of an order): the lines it already has, by SKU. A kept SKU keeps its unit
    price and name (and needs no catalogue entry: it was sold); a new one takes today's.
    """
    kept = kept or {}
    bad: dict[str, str] = {}
    for index, item in enumerate(requested):
        if item.sku in kept:
            continue
        product = catalogue.get(item.sku)
        if product is None or not product.active:
            bad[f"items[{index}].sku"] = f"unknown or unavailable sku: {item.sku}"
        elif product.currency != currency:
            bad[f"items[{index}].sku"] = f"priced in {product.currency}, not {currency}"
    if bad:
        raise ValidationFailed("Some items cannot be ordered.", fields=bad, code="unknown_sku")
    return [
        OrderLine(item.sku, kept[item.sku].name, kept[item.sku].unit_price, item.quantity)
        if item.sku in kept
        else OrderLine(item.sku, catalogue[item.sku].name, catalogue[item.sku].price, item.quantity)
        for item in requested
    ]


def totals(lines: list[OrderLine], currency: str, warnings: Iterable[StockWarning] = ()) -> Priced:
    """Subtotal, discounts, shipping and total of priced lines (``422`` if the total is beyond ``MAX_AMOUNT``)."""
    priced = Priced(
        lines=list(lines),
        subtotal=sum(line.line_total for line in lines),
        discounts=[],
        shipping=0,
        currency=currency,
        warnings=list(warnings),
    )
    if priced.total > MAX_AMOUNT:
        raise ValidationFailed("The order total is too large.", fields={"items": "total too large"})
    return priced


def stock_warnings(requested: list[RequestedLine], catalogue: Mapping[str, Product]) -> list[StockWarning]:
    """What the catalogue's stock says about each line: nothing, ``out_of_stock`` or ``insufficient_stock``."""
    found = []
    for item in requested:
        product = catalogue.get(item.sku)
        available = max(product.stock_available, 0) if product else 0
        if available < item.quantity:
            code = "out_of_stock" if available == 0 else "insufficient_stock"
            found.append(StockWarning(code, item.sku, item.quantity, available))
    return found


def quote(
    requested: list[RequestedLine],
    catalogue: Mapping[str, Product],
    currency: str,
    kept: Mapping[str, OrderLine] | None = None,
) -> Priced:
    """What placing these lines would charge now, with a warning (not a refusal) for each short line."""
    lines = price_lines(requested, catalogue, currency, kept)
    return totals(lines, currency, stock_warnings(requested, catalogue))
