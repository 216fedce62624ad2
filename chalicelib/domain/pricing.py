"""Pricing: requested lines and the catalogue in, priced lines and totals out. Pure; no I/O.

One module for quotes, carts, orders and edits, so they cannot disagree. Integer minor units throughout;
the one rounding is ``round_half_up``. ``Terms`` are what a customer's tier and the shipping settings give
one order (its tier's discount, free shipping or the destination's fee); with no terms nothing is taken
off and shipping is 0 (what orders are charged until the terms are applied at checkout).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    """One reduction of the subtotal: ``kind`` is ``tier`` or ``points``."""

    kind: str
    name: str
    amount: int
    percent: int | float | None = None  # a tier's


SHIPPING_SETTING = "shipping"
COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class Fees:
    flat_fee: int | None = None  # None: the default's
    free_over: int | None = None  # merchandise (after the tier discount) at or over this ships free


@dataclass(frozen=True)
class ShippingSettings:
    """The shop's shipping: a flat fee, free over an amount, and per destination country overrides."""

    version: int = 1  # 1: never written, the default in effect
    flat_fee: int = 1000
    free_over: int | None = 19_900
    countries: Mapping[str, Fees] = field(default_factory=dict)

    def fees(self, country: str | None) -> tuple[int, int | None]:
        """(flat fee, free over) for ``country`` (ISO alpha-2), its override's fields over the defaults."""
        override = self.countries.get((country or "").upper(), Fees())
        flat = self.flat_fee if override.flat_fee is None else override.flat_fee
        free = self.free_over if override.free_over is None else override.free_over
        return flat, free


DEFAULT_SHIPPING = ShippingSettings()


@dataclass(frozen=True)
class Terms:
    """What one order is priced on: the customer's tier and the destination's shipping (an order keeps them,
    so an edit prices its new lines on the terms it was placed on)."""

    tier: str = "standard"
    tier_name: str = "Standard"
    discount_bp: int = 0  # hundredths of a percent off the subtotal
    free_shipping: bool = False  # the tier's
    flat_fee: int = 0
    free_over: int | None = None

    @property
    def percent(self) -> int | float:
        whole, rest = divmod(self.discount_bp, 100)
        return whole if not rest else self.discount_bp / 100


def terms_for(tier: Any, shipping: ShippingSettings, country: str | None) -> Terms:
    """The terms a customer of ``tier`` (``domain/tiers.Tier``) gets for an order shipped to ``country``."""
    flat, free = shipping.fees(country)
    return Terms(tier.tier, tier.name, tier.discount_bp, tier.free_shipping, flat, free)


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` to the nearest integer, halves up (both non-negative): the one rounding."""
    return (2 * numerator + denominator) // (2 * denominator)


def tier_discount(subtotal: int, discount_bp: int) -> int:
    """``round_half_up(subtotal * percent / 100)``, never more than the subtotal."""
    return min(round_half_up(subtotal * discount_bp, 10_000), subtotal)


def shipping_fee(terms: Terms, merchandise: int) -> int:
    """0 for a free-shipping tier or merchandise at or over ``free_over``; else the flat fee."""
    if terms.free_shipping or (terms.free_over is not None and merchandise >= terms.free_over):
        return 0
    return terms.flat_fee


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


def totals(
    lines: list[OrderLine], currency: str, warnings: Iterable[StockWarning] = (), terms: Terms | None = None
) -> Priced:
    """Subtotal, discounts, shipping and total of priced lines (``422`` if the total is beyond ``MAX_AMOUNT``).

    With ``terms``: the tier's discount off the subtotal, then shipping on what is left (free for the tier, or
    at or over ``free_over``). Without: no discount, no shipping."""
    subtotal = sum(line.line_total for line in lines)
    discounts: list[Discount] = []
    shipping = 0
    if terms is not None:
        off = tier_discount(subtotal, terms.discount_bp)
        if off:
            discounts.append(Discount("tier", terms.tier_name, off, terms.percent))
        shipping = shipping_fee(terms, subtotal - off) if lines else 0
    priced = Priced(
        lines=list(lines),
        subtotal=subtotal,
        discounts=discounts,
        shipping=shipping,
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
    terms: Terms | None = None,
) -> Priced:
    """What placing these lines would charge now, with a warning (not a refusal) for each short line."""
    lines = price_lines(requested, catalogue, currency, kept)
    return totals(lines, currency, stock_warnings(requested, catalogue), terms=terms)
