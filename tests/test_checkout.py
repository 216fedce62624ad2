"""POST /cart/checkout: the cart's lines placed as an order, the cart emptied in the order's own transaction."""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.conftest import ADDRESS, KEY, assert_error, order_body

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
BODY = {"shipping_address": ADDRESS, "channel": "mobile", "note": "请下午送货"}


def stock_of(api, sku: str) -> int:
    return api.get(f"/products/{sku}").body["stock_available"]


def put(api, sku: str, quantity: int, as_="customer"):
    reply = api.request("PUT", f"/cart/items/{sku}", as_=as_, json_body={"quantity": quantity})
    assert reply.status == 200, reply.body
    return reply


def cart_lines(api, as_="customer") -> list[tuple[str, int]]:
    return [(item["sku"], item["quantity"]) for item in api.get("/cart", as_=as_).body["items"]]


def checkout(api, body=None, *, key: str | None = None, as_="customer"):
    return api.post("/cart/checkout", BODY if body is None else body, as_=as_,
                    headers={"idempotency-key": key or uuid.uuid4().hex})  # fmt: skip


def order_count(api, as_="customer") -> int:
    return len(api.get("/orders", as_=as_).body["items"])


def test_a_checkout_is_post_orders_with_the_carts_lines_and_empties_the_cart(api, seed):
    seed("TEE-1", stock=5, price=1999, name="纯棉圆领T恤")
    seed("MUG-1", stock=3, price=4500)
    put(api, "TEE-1", 2)
    put(api, "MUG-1", 1)

    reply = checkout(api)

    assert reply.status == 201, reply.body
    assert reply.headers["idempotent-replayed"] == "false"
    order = reply.body
    assert reply.headers["location"] == f"/orders/{order['order_id']}"
    assert api.get(f"/orders/{order['order_id']}", as_="customer").body == order
    assert cart_lines(api) == []
    assert (stock_of(api, "TEE-1"), stock_of(api, "MUG-1")) == (3, 2)
    assert (order["channel"], order["note"], order["shipping_address"]) == ("mobile", "请下午送货", ADDRESS)
    assert order["customer_id"] == api.users["customer"].sub
    same = api.post("/orders", order_body(("TEE-1", 2), ("MUG-1", 1), channel="mobile", note="请下午送货"),
                    as_="customer", headers=KEY())  # fmt: skip
    differs = {"order_id", "order_number", "created_at", "updated_at", "reserved_until", "timeline"}
    assert {k: v for k, v in same.body.items() if k not in differs} == {
        k: v for k, v in order.items() if k not in differs
    }
    assert [e["type"] for e in order["timeline"]] == ["order_placed"]


def test_the_same_key_again_answers_the_first_order_even_after_the_cart_was_refilled(api, seed):
    seed("A", stock=10, price=100)
    seed("B", stock=10, price=200)
    put(api, "A", 2)
    first = checkout(api, key="checkout-1")
    put(api, "B", 1)

    again = checkout(api, key="checkout-1")

    assert first.status == 201 and again.status == 200, again.body
    assert again.headers["idempotent-replayed"] == "true"
    assert again.body["order_id"] == first.body["order_id"]
    assert [(line["sku"], line["quantity"]) for line in again.body["lines"]] == [("A", 2)]
    assert cart_lines(api) == [("B", 1)]  # the refill is kept, nothing reserved for it
    assert (stock_of(api, "A"), stock_of(api, "B")) == (8, 10)
    assert order_count(api) == 1
    after_emptying = api.request("DELETE", "/cart", as_="customer")
    assert after_emptying.status == 200
    assert checkout(api, key="checkout-1").body["order_id"] == first.body["order_id"]  # an empty cart: still replayed


def test_the_same_key_with_another_body_is_refused(api, seed):
    seed("A", stock=10)
    put(api, "A", 1)
    checkout(api, key="k-1")
    put(api, "A", 1)

    reply = checkout(api, {"shipping_address": ADDRESS, "channel": "web"}, key="k-1")

    assert_error(reply, 422, "idempotency_key_reused")
    assert cart_lines(api) == [("A", 1)] and stock_of(api, "A") == 9 and order_count(api) == 1


def test_an_empty_cart_is_a_409(api, seed, dynamodb_calls):
    seed("A", stock=10)
    dynamodb_calls.clear()
    never = checkout(api)
    put(api, "A", 1)
    api.request("DELETE", "/cart/items/A", as_="customer")
    emptied = checkout(api)

    assert_error(never, 409, "cart_empty")
    assert_error(emptied, 409, "cart_empty")
    assert order_count(api) == 0


def test_out_of_stock_keeps_the_cart_and_reserves_nothing(api, seed):
    seed("A", stock=10)
    seed("FEW", stock=1)
    put(api, "A", 3)
    put(api, "FEW", 2)

    reply = checkout(api)

    details = assert_error(reply, 409, "out_of_stock")
    assert details["skus"] == [{"sku": "FEW", "requested": 2, "available": 1}]
    assert cart_lines(api) == [("A", 3), ("FEW", 2)]
    assert (stock_of(api, "A"), stock_of(api, "FEW")) == (10, 1)
    assert order_count(api) == 0


def test_an_inactive_line_is_refused_and_the_cart_kept(api, seed):
    seed("A", stock=10)
    seed("GONE", stock=10)
    put(api, "A", 1)
    put(api, "GONE", 1)
    seed("GONE", stock=10, active=False)

    details = assert_error(checkout(api), 422, "unknown_sku")

    assert set(details["fields"]) == {"items[1].sku"}
    assert cart_lines(api) == [("A", 1), ("GONE", 1)] and stock_of(api, "A") == 10


def test_two_checkouts_of_one_cart_at_once_place_one_order(api, seed):
    seed("A", stock=100)
    seed("B", stock=100)
    for attempt in range(3):
        put(api, "A", 2)
        put(api, "B", 1)
        barrier = threading.Barrier(2)
        replies = []

        def go(barrier=barrier, replies=replies):
            barrier.wait()
            replies.append(checkout(api))

        threads = [threading.Thread(target=go) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(reply.status for reply in replies) == [201, 409], [r.body for r in replies]
        assert_error(next(r for r in replies if r.status == 409), 409, "cart_empty")
        assert order_count(api) == attempt + 1
        assert (stock_of(api, "A"), stock_of(api, "B")) == (100 - 2 * (attempt + 1), 100 - (attempt + 1))
        assert cart_lines(api) == []


def test_a_cart_changed_after_it_was_read_is_read_again_never_half_applied(api, seed, monkeypatch, dynamodb_calls):
    from chalicelib.entrypoints.http import wiring

    seed("A", stock=10)
    seed("B", stock=10)
    put(api, "A", 1)
    carts = wiring.cart().carts
    original = carts.checkout_inputs
    reads = []

    def read_then_another_device_adds_a_line(customer_id, key, address_id=None):
        found = original(customer_id, key, address_id)
        reads.append(found[1])
        if len(reads) == 1:
            put(api, "B", 2)  # the web shop adds a line while the phone checks out
        return found

    monkeypatch.setattr(carts, "checkout_inputs", read_then_another_device_adds_a_line)
    dynamodb_calls.clear()

    reply = checkout(api)

    assert reply.status == 201, reply.body
    assert [len(cart.lines) for cart in reads] == [1, 2]
    assert dynamodb_calls.count("TransactWriteItems") == 2  # the first failed on the cart's version
    assert [(line["sku"], line["quantity"]) for line in reply.body["lines"]] == [("A", 1), ("B", 2)]
    assert cart_lines(api) == [] and (stock_of(api, "A"), stock_of(api, "B")) == (9, 8)
    assert order_count(api) == 1


def test_a_checkout_takes_at_most_one_orders_lines(api, seed):
    for n in range(41):
        seed(f"S{n:02d}", stock=5)
        put(api, f"S{n:02d}", 1)

    details = assert_error(checkout(api), 409, "too_many_lines")

    assert details == {"lines": 41, "max_lines": 40}
    api.request("DELETE", "/cart/items/S40", as_="customer")
    placed = checkout(api)
    assert placed.status == 201 and len(placed.body["lines"]) == 40


def test_a_checkout_costs_four_dynamodb_calls(api, seed, place, dynamodb_calls):
    seed("A", stock=10)
    seed("B", stock=10)
    assert place(("A", 1)).status == 201  # the approval policy is cached from here on, as in a warm container
    put(api, "A", 1)
    put(api, "B", 1)
    dynamodb_calls.clear()

    assert checkout(api, key="calls").status == 201
    placed = list(dynamodb_calls)
    dynamodb_calls.clear()
    assert checkout(api, key="calls").status == 200
    replayed = list(dynamodb_calls)

    assert sorted(placed) == sorted(["BatchGetItem", "BatchGetItem", "UpdateItem", "TransactWriteItems"])
    assert replayed == ["BatchGetItem", "Query"]  # the key with the cart, then the first order


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (BODY, {}, 400, "idempotency_key_required"),
        (BODY, {"idempotency-key": "has space"}, 400, "invalid_idempotency_key"),
        ({}, None, 422, "validation_failed"),
        ({"shipping_address": ADDRESS, "address_id": "home"}, None, 422, "validation_failed"),
        ({"address_id": "home"}, None, 422, "validation_failed"),
        ({"shipping_address": ADDRESS, "points_to_redeem": 100}, None, 422, "validation_failed"),
        ({"shipping_address": ADDRESS, "items": [{"sku": "A", "quantity": 1}]}, None, 422, "validation_failed"),
        ({"shipping_address": {**ADDRESS, "country": "China"}}, None, 422, "validation_failed"),
        ({"shipping_address": ADDRESS, "channel": "fax"}, None, 422, "validation_failed"),
        ({"shipping_address": ADDRESS, "note": "x" * 501}, None, 422, "validation_failed"),
        ([ADDRESS], None, 422, "validation_failed"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(api, seed, dynamodb_calls, body, headers, status, code):
    seed("A", stock=10)
    put(api, "A", 1)
    dynamodb_calls.clear()

    reply = api.post("/cart/checkout", body, as_="customer", headers=KEY() if headers is None else headers)

    assert_error(reply, status, code)
    assert not WRITES & set(dynamodb_calls)
    assert cart_lines(api) == [("A", 1)] and stock_of(api, "A") == 10


def test_malformed_json_is_a_400(api, seed):
    seed("A", stock=10)
    put(api, "A", 1)
    reply = api.request("POST", "/cart/checkout", as_="customer", body=b"{\"shipping_address\":",
                        headers={**KEY(), "content-type": "application/json"})  # fmt: skip
    assert_error(reply, 400, "malformed_json")
    assert cart_lines(api) == [("A", 1)]


@pytest.mark.parametrize(
    ("caller", "status"), [("anonymous", 401), ("customer", 201), ("other", 409), ("staff", 403), ("admin", 403)]
)
def test_checkout_by_caller(api, seed, caller, status):
    seed("A", stock=10)
    put(api, "A", 2)  # "customer"'s cart: "other" checks out their own (empty) one

    reply = checkout(api, as_=None if caller == "anonymous" else caller)

    assert reply.status == status, reply.body
    if status == 201:
        assert reply.body["customer_id"] == api.users["customer"].sub
        assert cart_lines(api) == [] and stock_of(api, "A") == 8
        return
    assert_error(reply, status, {401: "unauthorized", 403: "forbidden", 409: "cart_empty"}[status])
    assert cart_lines(api) == [("A", 2)] and stock_of(api, "A") == 10
