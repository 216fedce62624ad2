"""A customer's cart: the lines they mean to order, shared by all their devices. Pure; no I/O.

A cart reserves nothing. Each line remembers the unit price it was added (or last set) at, so the
cart can say when the catalogue's price has changed since. Its prices and stock are always read live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib.domain import pricing
from chalicelib.domain.catalogue import Product
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.pricing import RequestedLine

MAX_LINES = 100
MAX_QUANTITY = 999
LAPSES_AFTER = timedelta(days=30)  # after its last change (a DynamoDB TTL)
WARNINGS = ("inactive", "out_of_stock", "insufficient_stock", "price_changed")


class CartFull(Conflict):
    code = "cart_full"


class CartEmpty(Conflict):
    code = "cart_empty"


class CartTooLarge(Conflict):
    """More lines than one order may have (an order's lines are reserved in one transaction)."""

    code = "too_many_lines"


@dataclass(frozen=True)
class CartLine:
    sku: str
    quantity: int
    price_seen: int  # the unit price when the line was added or last set
    name_seen: str  # shown if the product leaves the catalogue
    added_at: str


@dataclass(frozen=True)
class Cart:
    customer_id: str
    lines: tuple[CartLine, ...] = ()
    version: int = 0  # 0: never written
    updated_at: str | None = None

    @property
    def skus(self) -> list[str]:
        return [line.sku for line in self.lines]

    def line(self, sku: str) -> CartLine | None:
        return next((line for line in self.lines if line.sku == sku), None)


@dataclass(frozen=True)
class CartItem:
    """A line as the customer sees it: today's price and stock, and what changed."""

    sku: str
    name: str
    unit_price: int
    quantity: int
    stock_available: int
    warnings: list[str] = field(default_factory=list)

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class CartView:
    items: list[CartItem]
    subtotal: int
    currency: str
    updated_at: str | None


def set_quantity(cart: Cart, sku: str, quantity: int, product: Product | None, currency: str, at: str) -> Cart:
    """The cart with the line of ``sku`` set to ``quantity`` at today's price (``0`` removes it)."""
    if quantity == 0:
        return remove(cart, sku, at)
    if product is None or not product.active:
        raise _not_orderable(f"unknown or unavailable sku: {sku}")
    if product.currency != currency:
        raise _not_orderable(f"priced in {product.currency}, not {currency}")
    check_room(cart, sku)
    existing = cart.line(sku)
    line = CartLine(sku, quantity, product.price, product.name, existing.added_at if existing else at)
    if line == existing:
        return cart  # nothing changes: nothing to write
    lines = tuple(line if item.sku == sku else item for item in cart.lines) if existing else (*cart.lines, line)
    return replace(cart, lines=lines, updated_at=at)


def check_room(cart: Cart, sku: str) -> None:
    """A new line needs room: ``409 cart_full`` at ``MAX_LINES``."""
    if cart.line(sku) is None and len(cart.lines) >= MAX_LINES:
        raise CartFull(f"A cart holds at most {MAX_LINES} lines; remove one first.", max_lines=MAX_LINES)


def _not_orderable(reason: str) -> ValidationFailed:
    return ValidationFailed("This product cannot be ordered.", fields={"sku": reason}, code="unknown_sku")


def remove(cart: Cart, sku: str, at: str) -> Cart:
    """The cart without the line of ``sku`` (the same cart if it has none)."""
    if cart.line(sku) is None:
        return cart
    return replace(cart, lines=tuple(line for line in cart.lines if line.sku != sku), updated_at=at)


def emptied(cart: Cart, at: str) -> Cart:
    return cart if not cart.lines else replace(cart, lines=(), updated_at=at)


def expires_at(updated_at: datetime) -> datetime:
    return updated_at + LAPSES_AFTER


def requested(cart: Cart) -> list[RequestedLine]:
    """The cart's lines as an order's request."""
    return [RequestedLine(line.sku, line.quantity) for line in cart.lines]


def view(cart: Cart, catalogue: Mapping[str, Product], currency: str) -> CartView:
    """Each line at today's price and stock, with its warnings; the subtotal of the lines that can be ordered."""
    items, orderable = [], []
    for line in cart.lines:
        product = catalogue.get(line.sku)
        if product is None or not product.active or product.currency != currency:
            price = product.price if product is not None and product.currency == currency else line.price_seen
            name = product.name if product is not None else line.name_seen
            stock = max(product.stock_available, 0) if product is not None else 0
            items.append(CartItem(line.sku, name, price, line.quantity, stock, ["inactive"]))
            continue
        stock = max(product.stock_available, 0)
        warnings = []
        if stock == 0:
            warnings.append("out_of_stock")
        elif stock < line.quantity:
            warnings.append("insufficient_stock")
        if product.price != line.price_seen:
            warnings.append("price_changed")
        items.append(CartItem(line.sku, product.name, product.price, line.quantity, stock, warnings))
        orderable.append(RequestedLine(line.sku, line.quantity))
    subtotal = sum(line.line_total for line in pricing.price_lines(orderable, catalogue, currency))
    return CartView(items, subtotal, currency, cart.updated_at)
