"""Orders priced on the customer's terms (API.md, "Customers"): the tier's discount and free shipping, the shop's
shipping fees by destination, alike for quotes, orders, checkouts, staff orders and edits; the order keeps its
``discounts`` and the terms it was placed on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import ADDRESS, order_body
from tests.test_audit import pay_offline

pytestmark = pytest.mark.shop_shipping  # the shop's default shipping: 1000, free over 19900

GOLD_AT = 100_000
TIERS = {"items": [
    {"tier": "standard", "name": "Standard", "min_spent_12m": 0},
    {"tier": "gold", "name": "Gold", "min_spent_12m": GOLD_AT, "discount_percent": 5, "free_shipping": True},
]}  # fmt: skip


def order(api, *items: tuple[str, int], as_: str = "customer", **extra: Any) -> dict[str, Any]:
    reply = api.post("/orders", order_body(*items, **extra), as_=as_, headers={"idempotency-key": uuid.uuid4().hex})
    assert reply.status == 201, reply.body
    return reply.body


def make_gold(api, event_world, seed) -> None:
    """The admin's tier table with gold at 1,000.00; the customer pays that much; the stream makes them gold."""
    assert api.request("PUT", "/staff/settings/tiers", json_body=TIERS, as_="admin",
                       headers={"if-match": '"1"'}).status == 200  # fmt: skip
    seed("SOFA-1", price=GOLD_AT, stock=10)
    assert api.get("/me", as_="customer").status == 200
    pay_offline(api, order(api, ("SOFA-1", 1)))
    event_world.pump()
    assert api.get("/me", as_="customer").body["tier"] == "gold"


def test_a_standard_customer_pays_the_flat_fee_under_the_threshold_and_none_at_it(api, seed):
    seed("TEE-1", price=12_900)
    seed("COAT-1", price=19_900)
    small = order(api, ("TEE-1", 1))
    assert (small["subtotal"], small["discounts"], small["discount"], small["shipping"], small["total"]) == (
        12_900, [], 0, 1000, 13_900)  # fmt: skip
    assert order(api, ("COAT-1", 1))["shipping"] == 0  # at free_over


def test_a_destination_with_its_own_fee_pays_it(api, seed):
    seed("TEE-1", price=12_900)
    shipping = {"flat_fee": 1000, "free_over": 19_900, "countries": {"HK": {"flat_fee": 3000, "free_over": 50_000}}}
    assert api.request("PUT", "/staff/settings/shipping", json_body=shipping, as_="admin",
                       headers={"if-match": '"1"'}).status == 200  # fmt: skip
    hong_kong = {**ADDRESS, "city": "香港", "country": "HK"}
    assert order(api, ("TEE-1", 2), shipping_address=hong_kong)["shipping"] == 3000  # 25,800: under HK's 50,000
    assert order(api, ("TEE-1", 2))["shipping"] == 0  # CN: over the default 19,900


def test_a_gold_customer_gets_5_percent_off_and_free_shipping_on_quotes_orders_and_checkouts(api, seed, event_world):
    make_gold(api, event_world, seed)
    seed("TEE-1", price=12_345)
    quote = api.post("/orders/quote", order_body(("TEE-1", 1)), as_="customer").body
    assert (quote["discounts"], quote["shipping"], quote["total"]) == (
        [{"kind": "tier", "name": "Gold", "amount": 617, "percent": 5}], 0, 11_728)  # 617.25 -> 617  # fmt: skip

    placed = order(api, ("TEE-1", 1))
    assert (placed["discounts"], placed["discount"], placed["shipping"], placed["total"]) == (
        quote["discounts"], 617, 0, quote["total"])  # the quote is what the order charges  # fmt: skip
    assert api.get(f"/orders/{placed['order_id']}", as_="customer").body["discounts"] == quote["discounts"]

    assert api.request("PUT", "/cart/items/TEE-1", json_body={"quantity": 2}, as_="customer").status == 200
    checkout = api.post("/cart/checkout", {"shipping_address": ADDRESS}, as_="customer",
                        headers={"idempotency-key": uuid.uuid4().hex})  # fmt: skip
    assert checkout.status == 201, checkout.body
    assert (checkout.body["discount"], checkout.body["shipping"]) == (1235, 0)  # 1234.5 -> 1235 (half up)


def test_a_staff_order_is_priced_on_its_customers_tier_not_the_staff_members(api, seed, event_world):
    make_gold(api, event_world, seed)
    seed("TEE-1", price=10_000)
    body = {**order_body(("TEE-1", 1)), "customer_id": api.users["customer"].sub, "channel": "phone"}
    reply = api.post("/staff/orders", body, as_="staff", headers={"idempotency-key": uuid.uuid4().hex})
    assert reply.status == 201, reply.body
    assert (reply.body["discount"], reply.body["shipping"], reply.body["total"]) == (500, 0, 9_500)
    other = {**body, "customer_id": api.users["other"].sub}
    reply = api.post("/staff/orders", other, as_="staff", headers={"idempotency-key": uuid.uuid4().hex})
    assert (reply.body["discount"], reply.body["shipping"]) == (0, 1000)  # standard, no profile yet


def test_an_edit_prices_on_the_terms_the_order_was_placed_on(api, seed, event_world):
    make_gold(api, event_world, seed)
    seed("TEE-1", price=10_000)
    placed = order(api, ("TEE-1", 1))
    flat = {"items": [{"tier": "standard", "name": "Standard", "min_spent_12m": 0}]}  # gold is gone now
    assert api.request("PUT", "/staff/settings/tiers", json_body=flat, as_="admin",
                       headers={"if-match": '"2"'}).status == 200  # fmt: skip
    edited = api.request("PATCH", f"/orders/{placed['order_id']}", as_="customer",
                         json_body={"items": [{"sku": "TEE-1", "quantity": 2}]},
                         headers={"if-match": f'"{placed["version"]}"'})  # fmt: skip
    assert edited.status == 200, edited.body
    assert (edited.body["discount"], edited.body["shipping"], edited.body["total"]) == (1000, 0, 19_000)
    assert order(api, ("TEE-1", 2))["discount"] == 0  # a new order: the new table's terms


def test_placing_an_order_reads_the_customers_tier_in_the_batch_it_makes_anyway(api, seed, dynamodb_calls):
    seed("TEE-1", price=100)
    order(api, ("TEE-1", 1))  # the settings are cached now
    dynamodb_calls.clear()
    order(api, ("TEE-1", 1))
    assert dynamodb_calls.count("BatchGetItem") == 1 and "GetItem" not in dynamodb_calls
