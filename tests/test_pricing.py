"""domain/pricing.py alone: the one place lines are priced and totalled (quotes, carts, orders, later edits)."""

from __future__ import annotations

import pytest

from chalicelib.domain import pricing
from chalicelib.domain.catalogue import Product
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.money import MAX_AMOUNT
from chalicelib.domain.pricing import Discount, OrderLine, Priced, RequestedLine


def product(sku: str, price: int, *, stock: int = 10, active: bool = True, currency: str = "CNY") -> Product:
    return Product(sku=sku, name=f"N {sku}", category="c", price=price, currency=currency, stock_available=stock,
                   active=active)  # fmt: skip


CATALOGUE = {"A": product("A", 1999), "B": product("B", 4500, stock=1), "OLD": product("OLD", 10, active=False)}


def test_lines_take_todays_price_and_totals_add_up_in_minor_units():
    priced = pricing.quote([RequestedLine("A", 2), RequestedLine("B", 1)], CATALOGUE, "CNY")
    assert [(line.sku, line.name, line.unit_price, line.line_total) for line in priced.lines] == [
        ("A", "N A", 1999, 3998),
        ("B", "N B", 4500, 4500),
    ]
    assert (priced.subtotal, priced.discounts, priced.discount, priced.shipping, priced.total) == (8498, [], 0, 0, 8498)
    assert all(isinstance(value, int) for value in (priced.subtotal, priced.total))


def test_kept_lines_keep_their_unit_price_and_name_new_ones_take_todays():
    kept = {"A": OrderLine("A", "as sold", 1500, 1), "OLD": OrderLine("OLD", "retired since", 7, 1)}
    requested = [RequestedLine("A", 3), RequestedLine("B", 1), RequestedLine("OLD", 2)]
    lines = pricing.price_lines(requested, CATALOGUE, "CNY", kept)
    assert [(line.name, line.unit_price, line.quantity) for line in lines] == [
        ("as sold", 1500, 3),
        ("N B", 4500, 1),
        ("retired since", 7, 2),  # a kept line needs no active product: it was sold
    ]


def test_discounts_add_up_to_the_discount_and_come_off_the_total():
    priced = Priced(lines=[], subtotal=10000, discounts=[Discount("tier", "Silver 2%", 200), Discount("points",
                    "100 points", 100)], shipping=1000, currency="CNY")  # fmt: skip
    assert (priced.discount, priced.total) == (300, 10700)


@pytest.mark.parametrize(
    ("sku", "reason"), [("NOPE", "unknown or unavailable sku: NOPE"), ("OLD", "unknown or unavailable sku: OLD")]
)
def test_unknown_and_inactive_skus_are_refused_naming_the_line(sku, reason):
    with pytest.raises(ValidationFailed) as refused:
        pricing.price_lines([RequestedLine("A", 1), RequestedLine(sku, 1)], CATALOGUE, "CNY")
    assert refused.value.code == "unknown_sku"
    assert refused.value.details["fields"] == {"items[1].sku": reason}


def test_a_product_priced_in_another_currency_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        pricing.price_lines([RequestedLine("U", 1)], {"U": product("U", 100, currency="USD")}, "CNY")
    assert refused.value.details["fields"] == {"items[0].sku": "priced in USD, not CNY"}


def test_a_total_beyond_max_amount_is_refused():
    huge = {"H": product("H", MAX_AMOUNT // 999 + 1)}
    with pytest.raises(ValidationFailed) as refused:
        pricing.quote([RequestedLine("H", 999)], huge, "CNY")
    assert refused.value.details["fields"] == {"items": "total too large"}
    assert pricing.quote([RequestedLine("H", 1)], huge, "CNY").total == MAX_AMOUNT // 999 + 1


def test_short_stock_is_a_warning_per_line():
    priced = pricing.quote([RequestedLine("A", 10), RequestedLine("B", 2)], {**CATALOGUE, "A": product("A", 1, stock=0)},
                           "CNY")  # fmt: skip
    assert [(w.code, w.sku, w.requested, w.available) for w in priced.warnings] == [
        ("out_of_stock", "A", 10, 0),
        ("insufficient_stock", "B", 2, 1),
    ]
