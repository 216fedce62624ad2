"""POST /orders/quote: what an order would cost, from the same pricing as POST /orders, writing nothing."""

from __future__ import annotations

import pytest

from tests.conftest import ADDRESS, KEY, assert_error, order_body

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def stock_of(api, sku: str) -> int:
    return api.get(f"/products/{sku}").body["stock_available"]


def test_a_quote_writes_nothing_and_is_what_the_order_then_charges(api, seed, dynamodb_calls):
    seed("TEE-1", stock=5, price=1999, name="纯棉圆领T恤")
    seed("MUG-1", stock=3, price=4500)
    body = order_body(("TEE-1", 2), ("MUG-1", 1), channel="mobile")

    api.post("/orders/quote", body, as_="other")  # the settings pricing reads are cached now (30 s)
    dynamodb_calls.clear()
    quote = api.post("/orders/quote", body, as_="customer")
    quote_calls = list(dynamodb_calls)

    assert quote.status == 200, quote.body
    assert sorted(quote_calls) == ["BatchGetItem", "GetItem"]  # the products; the customer's profile (tier)
    assert not WRITES & set(quote_calls)
    assert stock_of(api, "TEE-1") == 5 and stock_of(api, "MUG-1") == 3
    assert api.get("/orders", as_="customer").body["items"] == []
    assert quote.body == {
        "lines": [
            {"sku": "TEE-1", "name": "纯棉圆领T恤", "unit_price": 1999, "quantity": 2, "line_total": 3998},
            {"sku": "MUG-1", "name": "Product MUG-1", "unit_price": 4500, "quantity": 1, "line_total": 4500},
        ],
        "subtotal": 8498,
        "discounts": [],
        "discount": 0,
        "shipping": 0,
        "total": 8498,
        "currency": "CNY",
        "points_available": 0,
        "warnings": [],
    }
    order = api.post("/orders", body, as_="customer", headers=KEY())
    assert order.status == 201, order.body
    charged = {name: order.body[name] for name in ("subtotal", "discount", "shipping", "total", "currency")}
    assert charged == {name: quote.body[name] for name in charged}
    assert order.body["lines"] == quote.body["lines"]


def test_short_stock_is_a_warning_not_an_error(api, seed):
    seed("FEW", stock=2, price=100)
    seed("NONE", stock=0, price=200)
    seed("PLENTY", stock=50, price=300)

    reply = api.post("/orders/quote", order_body(("FEW", 3), ("NONE", 1), ("PLENTY", 4)), as_="customer")

    assert reply.status == 200, reply.body
    assert reply.body["warnings"] == [
        {"code": "insufficient_stock", "sku": "FEW", "requested": 3, "available": 2},
        {"code": "out_of_stock", "sku": "NONE", "requested": 1, "available": 0},
    ]
    assert reply.body["total"] == 3 * 100 + 200 + 4 * 300
    placed = api.post("/orders", order_body(("FEW", 3), ("NONE", 1), ("PLENTY", 4)), as_="customer", headers=KEY())
    assert_error(placed, 409, "out_of_stock")  # what the warnings announced


@pytest.mark.parametrize("active", [True, False], ids=["unknown", "inactive"])
def test_an_unknown_or_inactive_sku_is_refused_like_post_orders(api, seed, active):
    seed("OK", stock=5)
    if not active:
        seed("GONE", stock=5, active=False)
    body = order_body(("OK", 1), ("GONE", 1))

    quote = api.post("/orders/quote", body, as_="customer")
    order = api.post("/orders", body, as_="customer", headers=KEY())

    details = assert_error(quote, 422, "unknown_sku")
    assert set(details["fields"]) == {"items[1].sku"}
    assert details == assert_error(order, 422, "unknown_sku")


def test_an_address_id_is_refused_until_the_address_book_exists(api, seed):
    seed("A", stock=5)
    body = {"items": [{"sku": "A", "quantity": 1}], "address_id": "home"}

    details = assert_error(api.post("/orders/quote", body, as_="customer"), 422, "validation_failed")
    assert details["fields"] == {"address_id": "no such address in your address book"}


def test_points_to_redeem_beyond_the_zero_available_are_refused(api, seed):
    seed("A", stock=5)

    none = api.post("/orders/quote", order_body(("A", 1), points_to_redeem=0), as_="customer")
    some = api.post("/orders/quote", order_body(("A", 1), points_to_redeem=100), as_="customer")

    assert none.status == 200 and none.body["points_available"] == 0
    assert assert_error(some, 422, "validation_failed")["fields"] == {
        "points_to_redeem": "at most 0 points are available"
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"sku": "A", "quantity": 1}]}, "shipping_address"),
        ({"items": [{"sku": "A", "quantity": 1}], "shipping_address": ADDRESS, "address_id": "x"}, "shipping_address"),
        ({**order_body(("A", 1)), "total": 1}, "total"),
        ({"items": [{"sku": "A", "quantity": 1, "unit_price": 1}], "shipping_address": ADDRESS}, "items[0].unit_price"),
        (order_body(("A", 0)), "items[0].quantity"),
        (order_body(("A", 1000)), "items[0].quantity"),
        (order_body(("A", "2")), "items[0].quantity"),
        (order_body(("A", 1), ("A", 2)), "items"),
        ({"items": [], "shipping_address": ADDRESS}, "items"),
        (order_body(("A", 1), points_to_redeem=-1), "points_to_redeem"),
        (order_body(("A", 1), points_to_redeem="lots"), "points_to_redeem"),
        ({"items": [{"sku": "A", "quantity": 1}], "address_id": "no spaces allowed"}, "address_id"),
        (order_body(*[(f"S{n}", 1) for n in range(41)]), "items"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(api, seed, dynamodb_calls, body, field):
    seed("A", stock=5)
    dynamodb_calls.clear()

    details = assert_error(api.post("/orders/quote", body, as_="customer"), 422, "validation_failed")

    assert field in details["fields"], details
    assert not WRITES & set(dynamodb_calls)


def test_malformed_or_missing_json_is_a_400(api):
    malformed = api.request(
        "POST", "/orders/quote", as_="customer", body=b"{", headers={"content-type": "application/json"}
    )
    missing = api.request(
        "POST", "/orders/quote", as_="customer", body=b"", headers={"content-type": "application/json"}
    )
    assert_error(malformed, 400, "malformed_json")
    assert_error(missing, 400, "malformed_request")


@pytest.mark.parametrize(
    ("caller", "status"),
    [("anonymous", 401), ("customer", 200), ("other", 200), ("staff", 403), ("admin", 403)],
)
def test_quotes_are_for_customers(api, seed, caller, status):
    seed("A", stock=5, price=700)

    reply = api.post("/orders/quote", order_body(("A", 2)), as_=None if caller == "anonymous" else caller)

    assert reply.status == status, reply.body
    if status == 200:
        assert reply.body["total"] == 1400
    else:
        assert_error(reply, status, {401: "unauthorized", 403: "forbidden"}[status])
