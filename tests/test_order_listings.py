"""Order listings and sweeps cost the same whatever the table holds (issue 9: bounded work per request).

No index has one constant partition: everyone's orders (all, or by status) are spread over
``ORDER_SHARDS`` partitions and read by one Query per shard, merged newest first; a
customer's orders by status have their own index. Checked as a client sees it (every order
once, in order, across pages) and by the DynamoDB calls each request makes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.dynamo.order_records import ORDER_SHARDS, shard_of
from chalicelib.entrypoints.http import wiring
from tests.conftest import assert_error

SKU = "LIST-1"


@pytest.fixture
def orders(api, seed, place) -> list[dict]:
    """Fourteen orders, newest last: ten of "customer", four of "other"; three of the customer's are cancelled."""
    seed(SKU, stock=1000)
    made = [place((SKU, 1), as_="customer" if n % 7 < 5 else "other").body for n in range(14)]
    for order in [o for o in made if o["customer_id"] == api.users["customer"].sub][:3]:
        assert api.post(f"/orders/{order['order_id']}/cancel", as_="customer").status == 200
    assert len({shard_of(o["order_id"]) for o in made}) > 1, "the orders must land in more than one shard"
    return made


def every_page(api, path: str, as_: str, limit: int = 3) -> list[str]:
    seen, cursor = [], None
    while True:
        reply = api.get(f"{path}{'&' if '?' in path else '?'}limit={limit}" + (f"&cursor={cursor}" if cursor else ""),
                        as_=as_)  # fmt: skip
        assert reply.status == 200, reply.body
        assert len(reply.body["items"]) <= limit
        seen.extend(item["order_id"] for item in reply.body["items"])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return seen


def newest_first(made: list[dict]) -> list[str]:
    return [o["order_id"] for o in sorted(made, key=lambda o: o["created_at"], reverse=True)]


@pytest.mark.parametrize("limit", [1, 3, 5, 100])
def test_staff_page_through_every_order_once_newest_first_across_the_shards(api, orders, limit):
    assert every_page(api, "/orders", "staff", limit) == newest_first(orders)


def test_staff_page_through_one_status_across_the_shards(api, orders):
    cancelled = [o for o in orders if api.get(f"/orders/{o['order_id']}", as_="staff").body["status"] == "cancelled"]
    confirmed = [o for o in orders if o not in cancelled]
    assert every_page(api, "/orders?status=cancelled", "staff", 2) == newest_first(cancelled)
    assert every_page(api, "/orders?status=confirmed", "staff", 4) == newest_first(confirmed)


def test_a_customer_lists_one_status_from_its_own_index(api, orders, dynamodb_calls, items_read):
    """The issue's case: a customer's ``?status=`` with no match costs one Query that reads nothing, however many
    orders they have (a filter over their orders would read every one of them)."""
    mine = [o for o in orders if o["customer_id"] == api.users["customer"].sub]
    dynamodb_calls.clear()
    items_read.clear()

    reply = api.get("/orders?status=expired", as_="customer")

    assert reply.status == 200 and reply.body == {"items": [], "next_cursor": None}
    assert dynamodb_calls == ["Query"]
    assert items_read == [0]
    assert every_page(api, "/orders?status=cancelled", "customer", 2) == newest_first(mine[:3])


def test_a_listing_costs_one_query_per_shard_at_most(api, orders, dynamodb_calls):
    dynamodb_calls.clear()
    first = api.get("/orders?limit=3", as_="staff")
    assert dynamodb_calls == ["Query"] * ORDER_SHARDS
    dynamodb_calls.clear()
    api.get(f"/orders?limit=3&cursor={first.body['next_cursor']}", as_="staff")
    assert len(dynamodb_calls) <= ORDER_SHARDS


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "eyJzaGFyZHMiOnt9fQ", "eyJzaGFyZHMiOnsiT1JERVIjOSI6bnVsbH19", "eyJzaGFyZHMiOnsiT1JERVIjMCI6WzFdfX0"],
    ids=["not base64 json", "no shards", "a shard of no listing", "a position that is not a key"],
)
def test_a_cursor_the_listing_did_not_hand_out_is_a_400(api, orders, cursor):
    assert_error(api.get(f"/orders?cursor={cursor}", as_="staff"), 400, "invalid_cursor")


def test_a_customers_cursor_does_not_page_the_staff_listing(api, orders):
    theirs = api.get("/orders?limit=2", as_="customer").body["next_cursor"]
    assert_error(api.get(f"/orders?cursor={theirs}", as_="staff"), 400, "invalid_cursor")


def test_a_sweep_out_of_time_stops_and_the_next_run_goes_on(api, orders, monkeypatch):
    """With no time left in its invocation the expiry sweep touches nothing; the next run expires every order due."""
    from datetime import UTC, datetime

    monkeypatch.setattr(wiring.changes(), "clock", lambda: datetime.now(UTC) + timedelta(hours=1))
    open_orders = [o for o in orders if api.get(f"/orders/{o['order_id']}", as_="staff").body["status"] == "confirmed"]

    assert wiring.schedules().expire_unpaid(time_left=lambda: 0.0) == 0
    assert wiring.schedules().expire_unpaid(time_left=lambda: 60.0) == len(open_orders)
    assert {api.get(f"/orders/{o['order_id']}", as_="staff").body["status"] for o in open_orders} == {"expired"}


def test_a_sweep_skips_from_the_index_what_it_cannot_act_on(api, orders, monkeypatch, dynamodb_calls):
    """Past their payment time, never-reminded orders are for the expiry sweep: the reminder sweep sees that in the
    index and reads none of them (one Query per shard, nothing else)."""
    from datetime import UTC, datetime

    monkeypatch.setattr(wiring.changes(), "clock", lambda: datetime.now(UTC) + timedelta(hours=1))
    dynamodb_calls.clear()

    assert wiring.schedules().send_reminders() == 0

    assert dynamodb_calls == ["Query"] * ORDER_SHARDS
