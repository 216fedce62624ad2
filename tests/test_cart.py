"""The cart: one per customer, shared by their devices, live prices and stock, at most 100 lines, lapsing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack import resources
from tests.conftest import PASSWORD, User, assert_error

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def second_device(stack, user: User) -> User:
    """The same customer signed in again (another device): another token, the same ``sub``."""
    token = resources.sign_in(stack.cognito, stack.client_id, user.email, PASSWORD)
    assert token != user.token
    return User(user.email, user.sub, token, user.role)


def put(api, sku: str, quantity, as_="customer"):
    return api.request("PUT", f"/cart/items/{sku}", as_=as_, json_body={"quantity": quantity})


def lines(reply) -> list[tuple[str, int]]:
    assert reply.status == 200, reply.body
    return [(item["sku"], item["quantity"]) for item in reply.body["items"]]


def cart_item(stack, tables, user: User) -> dict:
    item = stack.dynamodb.get_item(
        TableName=tables["OrdersTable"], Key={"pk": {"S": f"CUSTOMER#{user.sub}"}, "sk": {"S": "#CART"}}
    )
    return item.get("Item", {})


def test_a_new_customer_has_an_empty_cart(api):
    reply = api.get("/cart", as_="customer")
    assert reply.status == 200
    assert reply.body == {"items": [], "subtotal": 0, "currency": "CNY", "updated_at": None}


def test_lines_are_set_replaced_and_removed(api, seed):
    seed("TEE-1", stock=10, price=1999, name="纯棉圆领T恤")
    seed("MUG-1", stock=10, price=4500)

    first = put(api, "TEE-1", 2)
    assert first.body["items"] == [
        {"sku": "TEE-1", "name": "纯棉圆领T恤", "unit_price": 1999, "quantity": 2, "line_total": 3998,
         "stock_available": 10, "warnings": []}
    ]  # fmt: skip
    assert first.body["subtotal"] == 3998 and first.body["updated_at"].endswith("Z")
    assert lines(put(api, "MUG-1", 1)) == [("TEE-1", 2), ("MUG-1", 1)]
    assert lines(put(api, "TEE-1", 5)) == [("TEE-1", 5), ("MUG-1", 1)]
    assert api.get("/cart", as_="customer").body["subtotal"] == 5 * 1999 + 4500
    assert lines(put(api, "TEE-1", 0)) == [("MUG-1", 1)]
    assert lines(api.request("DELETE", "/cart/items/MUG-1", as_="customer")) == []
    assert lines(put(api, "MUG-1", 3)) == [("MUG-1", 3)]
    emptied = api.request("DELETE", "/cart", as_="customer")
    assert lines(emptied) == [] and emptied.body["subtotal"] == 0
    assert lines(api.get("/cart", as_="customer")) == []


def test_removing_a_line_the_cart_does_not_have_changes_nothing(api, seed, dynamodb_calls):
    seed("A", stock=10)
    put(api, "A", 1)
    dynamodb_calls.clear()

    reply = api.request("DELETE", "/cart/items/NOT-THERE", as_="customer")

    assert lines(reply) == [("A", 1)]
    assert not WRITES & set(dynamodb_calls)


def test_the_cart_is_shared_by_two_sign_ins_of_one_customer_and_invisible_to_another(api, stack, seed):
    seed("A", stock=10)
    seed("B", stock=10)
    phone, web = stack.users["customer"], second_device(stack, stack.users["customer"])

    put(api, "A", 1, as_=phone)
    put(api, "B", 2, as_=web)

    assert lines(api.get("/cart", as_=phone)) == [("A", 1), ("B", 2)]
    assert lines(api.get("/cart", as_=web)) == [("A", 1), ("B", 2)]
    assert lines(api.get("/cart", as_="other")) == []
    put(api, "A", 7, as_="other")
    assert lines(api.request("DELETE", "/cart", as_="other")) == []
    assert lines(api.get("/cart", as_=phone)) == [("A", 1), ("B", 2)]


def test_each_warning_is_shown_with_todays_price_and_stock(api, seed):
    seed("GONE", stock=10, price=100)
    seed("NONE", stock=10, price=200)
    seed("FEW", stock=10, price=300)
    seed("DEARER", stock=10, price=400)
    seed("FINE", stock=10, price=500)
    for sku in ("GONE", "NONE", "FEW", "DEARER", "FINE"):
        put(api, sku, 3)
    seed("GONE", stock=10, price=100, active=False)
    seed("NONE", stock=0, price=200)
    seed("FEW", stock=2, price=300)
    seed("DEARER", stock=10, price=450)

    cart = api.get("/cart", as_="customer").body

    shown = {item["sku"]: (item["unit_price"], item["stock_available"], item["warnings"]) for item in cart["items"]}
    assert shown == {
        "GONE": (100, 10, ["inactive"]),
        "NONE": (200, 0, ["out_of_stock"]),
        "FEW": (300, 2, ["insufficient_stock"]),
        "DEARER": (450, 10, ["price_changed"]),
        "FINE": (500, 10, []),
    }
    assert cart["subtotal"] == 3 * (200 + 300 + 450 + 500)  # an inactive line is not counted
    assert put(api, "DEARER", 3).body["items"][3]["warnings"] == []  # set again: today's price is taken


def test_a_cart_holds_at_most_100_lines(api, seed, dynamodb_calls):
    for n in range(101):
        seed(f"S{n:03d}", stock=5)
    for n in range(100):
        assert put(api, f"S{n:03d}", 1).status == 200
    dynamodb_calls.clear()

    refused = put(api, "S100", 1)

    details = assert_error(refused, 409, "cart_full")
    assert details == {"max_lines": 100}
    assert dynamodb_calls == ["GetItem"]  # refused from the cart alone: nothing written, no catalogue read
    assert len(api.get("/cart", as_="customer").body["items"]) == 100
    assert lines(put(api, "S000", 4))[0] == ("S000", 4)  # a line it has can still change
    assert len(lines(put(api, "S000", 0))) == 99
    assert len(lines(put(api, "S100", 1))) == 100


def test_the_cart_lapses_30_days_after_its_last_change(api, stack, tables, seed):
    table = stack.dynamodb.describe_time_to_live(TableName=tables["OrdersTable"])["TimeToLiveDescription"]
    assert table["AttributeName"] == "expires_at" and table["TimeToLiveStatus"] == "ENABLED"
    seed("A", stock=5)
    user = stack.users["customer"]

    put(api, "A", 1)
    first = int(cart_item(stack, tables, user)["expires_at"]["N"])
    time.sleep(1.1)
    put(api, "A", 2)
    second = int(cart_item(stack, tables, user)["expires_at"]["N"])

    assert abs(first - (time.time() - 1.1 + 30 * 86400)) < 30
    assert second > first  # a change moves it on


def test_concurrent_changes_from_two_devices_never_lose_a_line(api, stack, seed):
    skus = [f"C{n}" for n in range(12)]
    for sku in skus:
        seed(sku, stock=5)
    devices = [stack.users["customer"], second_device(stack, stack.users["customer"])]

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda n: put(api, skus[n], n + 1, as_=devices[n % 2]), range(len(skus))))

    assert [reply.status for reply in replies] == [200] * len(skus)
    assert sorted(lines(api.get("/cart", as_="customer"))) == sorted((sku, n + 1) for n, sku in enumerate(skus))


def test_reading_the_cart_is_two_dynamodb_calls_whatever_it_holds(api, seed, dynamodb_calls):
    for n in range(20):
        seed(f"R{n}", stock=5)
        put(api, f"R{n}", 1)
    dynamodb_calls.clear()

    assert len(lines(api.get("/cart", as_="customer"))) == 20

    assert dynamodb_calls == ["GetItem", "BatchGetItem"]


@pytest.mark.parametrize(
    ("sku", "body", "status", "code", "field"),
    [
        ("NOPE", {"quantity": 1}, 422, "unknown_sku", "sku"),
        ("INACTIVE", {"quantity": 1}, 422, "unknown_sku", "sku"),
        ("USD-1", {"quantity": 1}, 422, "unknown_sku", "sku"),
        ("bad sku!", {"quantity": 1}, 422, "unknown_sku", "sku"),
        ("A", {"quantity": 1000}, 422, "validation_failed", "quantity"),
        ("A", {"quantity": -1}, 422, "validation_failed", "quantity"),
        ("A", {"quantity": 1.5}, 422, "validation_failed", "quantity"),
        ("A", {"quantity": "2"}, 422, "validation_failed", "quantity"),
        ("A", {"quantity": None}, 422, "validation_failed", "quantity"),
        ("A", {}, 422, "validation_failed", "quantity"),
        ("A", {"quantity": 1, "price": 1}, 422, "validation_failed", "price"),
        ("A", [1], 422, "validation_failed", "body"),
    ],
)
def test_a_bad_line_is_refused_and_nothing_is_written(api, seed, dynamodb_calls, sku, body, status, code, field):
    seed("A", stock=5)
    seed("INACTIVE", stock=5, active=False)
    seed("USD-1", stock=5, currency="USD")
    put(api, "A", 1)
    dynamodb_calls.clear()

    reply = api.request("PUT", f"/cart/items/{sku}", as_="customer", json_body=body)

    details = assert_error(reply, status, code)
    assert field in details["fields"], details
    assert not WRITES & set(dynamodb_calls)
    assert lines(api.get("/cart", as_="customer")) == [("A", 1)]


def test_a_malformed_body_is_a_400(api, seed):
    seed("A", stock=5)
    headers = {"content-type": "application/json"}
    assert_error(api.request("PUT", "/cart/items/A", as_="customer", body=b"{", headers=headers), 400, "malformed_json")
    assert_error(
        api.request("PUT", "/cart/items/A", as_="customer", body=b"", headers=headers), 400, "malformed_request"
    )
    assert lines(api.get("/cart", as_="customer")) == []


CART_ROUTES = [("GET", "/cart"), ("PUT", "/cart/items/A"), ("DELETE", "/cart/items/A"), ("DELETE", "/cart")]


@pytest.mark.parametrize(("method", "path"), CART_ROUTES, ids=[f"{m} {p}" for m, p in CART_ROUTES])
@pytest.mark.parametrize(
    ("caller", "status"), [("anonymous", 401), ("customer", 200), ("other", 200), ("staff", 403), ("admin", 403)]
)
def test_cart_routes_by_caller(api, seed, method, path, caller, status):
    seed("A", stock=5)
    seed("B", stock=5)
    put(api, "B", 2)  # "customer"'s cart; "other" must neither see nor change it

    reply = api.request(method, path, as_=None if caller == "anonymous" else caller,
                        json_body={"quantity": 1} if method == "PUT" else None)  # fmt: skip

    assert reply.status == status, reply.body
    if status >= 400:
        assert_error(reply, status, {401: "unauthorized", 403: "forbidden"}[status])
    expected_own = {
        ("customer", "GET"): [("B", 2)],
        ("customer", "PUT"): [("B", 2), ("A", 1)],
        ("customer", "DELETE /cart/items/A"): [("B", 2)],
        ("customer", "DELETE /cart"): [],
        ("other", "PUT"): [("A", 1)],
    }
    if status == 200:
        key = (caller, method if method != "DELETE" else f"{method} {path}")
        assert lines(reply) == expected_own.get(key, [])
    mine = [("B", 2)] if (caller, method, path) != ("customer", "DELETE", "/cart") else []
    if (caller, method) == ("customer", "PUT"):
        mine = [("B", 2), ("A", 1)]
    assert lines(api.get("/cart", as_="customer")) == mine
