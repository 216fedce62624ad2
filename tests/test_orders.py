"""Placing, reading, listing and cancelling orders, as a checkout sees them."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ADDRESS, order_body


def stock_of(api, sku: str) -> int:
    return api.get(f"/products/{sku}").body["stock_available"]


def test_an_order_is_priced_by_the_server_and_reserves_its_stock(api, seed, place):
    seed("TEE-1", stock=5, price=1999, name="纯棉圆领T恤")
    seed("MUG-1", stock=3, price=4500, name="Enamel mug")
    reply = place(("TEE-1", 2), ("MUG-1", 1), note="请下午送货", channel="mobile")

    assert reply.status == 201
    order = reply.body
    assert reply.headers["location"] == f"/orders/{order['order_id']}"
    assert [(line["sku"], line["unit_price"], line["quantity"], line["line_total"]) for line in order["lines"]] == [
        ("TEE-1", 1999, 2, 3998),
        ("MUG-1", 4500, 1, 4500),
    ]
    assert order["lines"][0]["name"] == "纯棉圆领T恤"
    assert (order["subtotal"], order["discount"], order["shipping"], order["total"]) == (8498, 0, 0, 8498)
    assert order["currency"] == "CNY"
    assert (order["status"], order["payment_status"], order["fulfilment_status"]) == (
        "confirmed",
        "unpaid",
        "unfulfilled",
    )
    assert order["customer_id"] == api.users["customer"].sub
    assert order["shipping_address"] == ADDRESS
    assert order["channel"] == "mobile" and order["note"] == "请下午送货"
    assert order["flags"] == [] and order["amount_paid"] == 0 and order["amount_refunded"] == 0
    assert order["reserved_until"] > order["created_at"]
    assert [event["type"] for event in order["timeline"]] == ["order_placed"]
    assert order["timeline"][0]["actor"] == "customer"  # the customer's view; staff see customer:<sub>
    staff_view = api.get(f"/orders/{order['order_id']}", as_="staff").body
    assert staff_view["timeline"][0]["actor"] == f"customer:{api.users['customer'].sub}"
    assert stock_of(api, "TEE-1") == 3
    assert stock_of(api, "MUG-1") == 2
    assert api.get("/products/TEE-1").body["sales_count"] == 2


def test_order_numbers_are_readable_unique_and_increasing(seed, place):
    seed("A", stock=100)
    numbers = [place(("A", 1)).body["order_number"] for _ in range(5)]
    assert all(re.fullmatch(r"\d{8}-\d{6}", number) for number in numbers)
    assert numbers == sorted(numbers) and len(set(numbers)) == 5


def test_the_same_key_and_body_returns_the_same_order_and_reserves_once(api, seed, place):
    seed("A", stock=10)
    first = place(("A", 3), key="checkout-42")
    again = place(("A", 3), key="checkout-42")

    assert first.status == 201 and again.status == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.body["order_id"] == first.body["order_id"]
    assert stock_of(api, "A") == 7
    assert len(api.get("/orders", as_="customer").body["items"]) == 1


def test_the_same_key_with_a_different_body_is_refused(api, seed, place):
    seed("A", stock=10)
    place(("A", 1), key="k-1")
    reply = place(("A", 2), key="k-1")
    assert reply.status == 422
    assert reply.error["code"] == "idempotency_key_reused"
    assert stock_of(api, "A") == 9


def test_idempotency_keys_belong_to_one_customer(api, seed, place):
    seed("A", stock=10)
    mine = place(("A", 1), key="shared-key")
    theirs = place(("A", 1), key="shared-key", as_="other")
    assert theirs.status == 201
    assert theirs.body["order_id"] != mine.body["order_id"]
    assert theirs.body["customer_id"] == api.users["other"].sub


def test_concurrent_duplicates_make_one_order(api, seed):
    seed("A", stock=100)
    body = order_body(("A", 2))

    def submit(_):
        return api.post("/orders", body, as_="customer", headers={"idempotency-key": "double-click"})

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(submit, range(20)))

    assert {reply.status for reply in replies} <= {200, 201, 409}
    assert [reply.status for reply in replies].count(201) == 1
    order_ids = {reply.body["order_id"] for reply in replies if reply.status in (200, 201)}
    assert len(order_ids) == 1
    assert all(reply.error["code"] == "request_in_progress" for reply in replies if reply.status == 409)
    assert stock_of(api, "A") == 98
    assert [order["order_id"] for order in api.get("/orders", as_="customer").body["items"]] == list(order_ids)


def test_fifty_customers_racing_for_the_last_ten_units(api, stack, seed):
    seed("LAST", stock=10)
    buyers = [stack.new_user() for _ in range(5)]

    def buy(index: int):
        return api.post(
            "/orders",
            order_body(("LAST", 1)),
            as_=buyers[index % len(buyers)],
            headers={"idempotency-key": uuid.uuid4().hex},
        )

    with ThreadPoolExecutor(max_workers=25) as pool:
        replies = list(pool.map(buy, range(50)))

    statuses = [reply.status for reply in replies]
    assert statuses.count(201) == 10
    assert statuses.count(409) == 40
    assert all(reply.error["code"] == "out_of_stock" for reply in replies if reply.status == 409)
    assert stock_of(api, "LAST") == 0
    staff_view = api.get("/orders?limit=100", as_="staff").body["items"]
    assert len(staff_view) == 10


def test_an_order_that_cannot_be_fully_reserved_reserves_nothing(api, seed, place):
    seed("PLENTY", stock=50)
    seed("SCARCE", stock=1)
    reply = place(("PLENTY", 5), ("SCARCE", 2))
    assert reply.status == 409
    assert reply.error["code"] == "out_of_stock"
    assert reply.error["details"]["skus"] == [{"sku": "SCARCE", "requested": 2, "available": 1}]
    assert stock_of(api, "PLENTY") == 50 and stock_of(api, "SCARCE") == 1
    assert api.get("/orders", as_="customer").body["items"] == []


def test_stock_taken_between_pricing_and_reserving_is_still_refused(api, seed, place, monkeypatch):
    """The transaction's condition, not the earlier read, is what guards stock."""
    from chalicelib.domain import orders as domain

    seed("A", stock=2)
    monkeypatch.setattr(domain, "check_stock", lambda requested, available: None)
    reply = place(("A", 3))
    assert reply.status == 409
    assert reply.error["details"]["skus"] == [{"sku": "A", "requested": 3, "available": 2}]
    assert stock_of(api, "A") == 2


def test_a_customer_lists_their_own_orders_newest_first_in_pages(api, seed, place):
    seed("A", stock=100)
    placed = [place(("A", 1)).body["order_id"] for _ in range(7)]
    place(("A", 1), as_="other")

    seen, cursor = [], None
    while True:
        reply = api.get("/orders?limit=3" + (f"&cursor={cursor}" if cursor else ""), as_="customer")
        assert reply.status == 200
        assert len(reply.body["items"]) <= 3
        seen.extend(reply.body["items"])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            break

    assert sorted(order["order_id"] for order in seen) == sorted(placed)
    created = [order["created_at"] for order in seen]
    assert created == sorted(created, reverse=True)


def test_staff_list_all_orders_and_filter_by_status_and_customer(api, seed, place):
    seed("A", stock=100)
    mine = place(("A", 1)).body["order_id"]
    theirs = place(("A", 1), as_="other").body["order_id"]
    api.post(f"/orders/{theirs}/cancel", {}, as_="other")

    everything = {order["order_id"] for order in api.get("/orders", as_="staff").body["items"]}
    assert everything == {mine, theirs}
    cancelled = api.get("/orders?status=cancelled", as_="admin").body["items"]
    assert [order["order_id"] for order in cancelled] == [theirs]
    other_sub = api.users["other"].sub
    by_customer = api.get(f"/orders?customer_id={other_sub}", as_="staff").body["items"]
    assert [order["order_id"] for order in by_customer] == [theirs]
    confirmed_for_other = api.get(f"/orders?customer_id={other_sub}&status=confirmed", as_="staff").body["items"]
    assert confirmed_for_other == []


def test_cancelling_releases_the_reservation_and_records_why(api, seed, place):
    seed("A", stock=10)
    order = place(("A", 4)).body
    reply = api.post(f"/orders/{order['order_id']}/cancel", {"reason": "ordered the wrong size"}, as_="customer")

    assert reply.status == 200
    assert reply.body["status"] == "cancelled"
    assert [event["type"] for event in reply.body["timeline"]] == ["order_placed", "order_cancelled"]
    assert reply.body["timeline"][1]["data"] == {"reason": "ordered the wrong size"}
    assert stock_of(api, "A") == 10
    assert api.get("/products/A").body["sales_count"] == 0
    stored = api.get(f"/orders/{order['order_id']}", as_="customer").body
    assert stored["status"] == "cancelled" and len(stored["timeline"]) == 2


def test_staff_can_cancel_a_customers_order(api, seed, place):
    seed("A", stock=10)
    order = place(("A", 1)).body
    reply = api.post(f"/orders/{order['order_id']}/cancel", as_="staff")
    assert reply.status == 200
    assert reply.body["timeline"][-1]["actor"].startswith("staff:")


def test_cancelling_twice_is_an_invalid_transition_that_changes_nothing(api, seed, place):
    seed("A", stock=10)
    order = place(("A", 4)).body
    api.post(f"/orders/{order['order_id']}/cancel", as_="customer")
    before = api.get(f"/orders/{order['order_id']}", as_="customer").body

    reply = api.post(f"/orders/{order['order_id']}/cancel", as_="customer")

    assert reply.status == 409
    assert reply.error["code"] == "invalid_transition"
    assert reply.error["details"]["status"] == "cancelled"
    assert api.get(f"/orders/{order['order_id']}", as_="customer").body == before
    assert stock_of(api, "A") == 10


def test_concurrent_cancels_release_stock_once(api, seed, place):
    seed("A", stock=10)
    order = place(("A", 4)).body

    def cancel(_):
        return api.post(f"/orders/{order['order_id']}/cancel", as_="customer")

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = [reply.status for reply in pool.map(cancel, range(10))]

    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 409}
    assert stock_of(api, "A") == 10
    timeline = api.get(f"/orders/{order['order_id']}", as_="customer").body["timeline"]
    assert [event["type"] for event in timeline] == ["order_placed", "order_cancelled"]


def test_reading_an_order_costs_one_query_and_placing_three_calls(api, seed, place, dynamodb_calls):
    seed("A", stock=10)
    seed("B", stock=10)
    api.get("/staff/settings/approval", as_="staff")  # the container has read the approval policy (cached)
    dynamodb_calls.clear()
    order = place(("A", 1), ("B", 2)).body
    assert dynamodb_calls == ["BatchGetItem", "UpdateItem", "TransactWriteItems"]

    dynamodb_calls.clear()
    api.get(f"/orders/{order['order_id']}", as_="customer")
    assert dynamodb_calls == ["Query"]

    dynamodb_calls.clear()
    api.get("/orders", as_="customer")
    api.get("/orders?status=confirmed", as_="customer")
    assert dynamodb_calls == ["Query", "Query"]  # the customer's own index, or the customer-status one

    from chalicelib.adapters.dynamo.order_records import ORDER_SHARDS

    dynamodb_calls.clear()
    api.get("/orders", as_="staff")
    api.get("/orders?status=confirmed", as_="staff")
    assert dynamodb_calls == ["Query"] * 2 * ORDER_SHARDS  # everyone's: one Query per shard of the index


@pytest.mark.parametrize("since", ["sold out", "retired"])
def test_a_replay_answers_the_first_order_whatever_the_catalogue_says_now(api, seed, place, since):
    """The client retries an order that went through (its answer was lost); meanwhile the last units were sold, or the
    product was retired. The retry is the same request: it answers the first order (200), not out_of_stock or 422."""
    seed("LAST", stock=3)
    first = place(("LAST", 3), key="phone-retry-1")
    assert first.status == 201, first.body
    if since == "sold out":
        assert stock_of(api, "LAST") == 0
    else:
        seed("LAST", stock=0, active=False)

    again = place(("LAST", 3), key="phone-retry-1")

    assert again.status == 200, again.body
    assert again.headers["idempotent-replayed"] == "true"
    assert again.body["order_id"] == first.body["order_id"]
    other = place(("LAST", 1), key="phone-retry-1")  # the same key with another body is still refused
    assert other.status == 422 and other.error["code"] == "idempotency_key_reused", other.body


def test_a_replay_takes_no_order_number_and_costs_two_reads(api, seed, place, dynamodb_calls):
    """The retry is found by the first read (the key's record, read with the prices): no order number is used up, so
    the next order's number follows the first one's, and the replay costs a BatchGetItem and the order's Query."""
    seed("NUM", stock=10)
    first = place(("NUM", 1), key="retry-me").body
    dynamodb_calls.clear()
    assert place(("NUM", 1), key="retry-me").status == 200
    assert dynamodb_calls == ["BatchGetItem", "Query"]
    following = place(("NUM", 1)).body

    day, number = first["order_number"].split("-")
    assert following["order_number"] == f"{day}-{int(number) + 1:06d}"
