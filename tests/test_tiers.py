"""A customer's tier follows what they paid less refunds over the last 365 days (API.md, "Customers"): kept from
the orders stream when money moves (each record once, in any order) and by the daily sweep for spend that left
the window, announced as ``tier_changed``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.test_audit import pay_offline, refund
from tests.test_notifications import Feed
from tests.test_packaged_template import template as template  # the session's packaged template

SILVER = 200_000


@pytest.fixture
def big_order(seed, place) -> dict[str, Any]:
    seed("SOFA-1", price=SILVER // 2, stock=10)
    reply = place(("SOFA-1", 2))
    assert reply.status == 201 and reply.body["total"] == SILVER, reply.body
    return reply.body


def me(api) -> dict[str, Any]:
    reply = api.get("/me", as_="customer")
    assert reply.status == 200, reply.body
    return reply.body


def told(event_world) -> list[tuple[str, str]]:
    return [(n["message"]["from"], n["message"]["to"]) for n in event_world.customer.drain()
            if n["attributes"]["event_type"] == "tier_changed"]  # fmt: skip


def test_paying_exactly_the_threshold_reaches_the_tier_once_however_often_the_stream_is_delivered(
    api, stack, tables, event_world, big_order
):
    assert me(api)["tier"] == "standard"
    pay_offline(api, big_order)
    event_world.pump()
    profile = me(api)
    assert (profile["tier"], profile["spent_12m"]) == ("silver", SILVER)
    event_world.pump()  # the profile's own change: announced
    assert told(event_world) == [("standard", "silver")]

    replayed = Feed(stack, tables)  # every record again, from the start
    assert replayed.pump() > 0 and replayed.failures == []
    assert (me(api)["tier"], me(api)["spent_12m"]) == ("silver", SILVER)
    event_world.pump()
    assert told(event_world) == []  # said once


def test_a_refund_that_takes_the_spend_below_the_threshold_drops_the_tier(api, event_world, big_order):
    me(api)
    pay_offline(api, big_order)
    event_world.pump()
    assert refund(api, big_order["order_id"], 1).status in (200, 201)
    event_world.pump()
    event_world.pump()
    profile = me(api)
    assert (profile["tier"], profile["spent_12m"]) == ("standard", SILVER - 1)
    assert told(event_world) == [("standard", "silver"), ("silver", "standard")]


def test_a_profile_made_after_paying_starts_in_the_tier_it_earned(api, event_world, big_order):
    pay_offline(api, big_order)  # no profile yet: GET /me was never called
    event_world.pump()
    assert (me(api)["tier"], me(api)["spent_12m"]) == ("silver", SILVER)


def test_an_older_record_never_overwrites_a_newer_one(tables):
    from chalicelib.adapters.dynamo.spend_repo import SpendRepository

    spend = SpendRepository()
    assert spend.record("cust-1", "ord_1", 3, 500, "2026-11-01T10:00:00.000Z")
    assert not spend.record("cust-1", "ord_1", 2, 9_999, "2026-11-01T10:00:00.000Z")  # late, older
    assert spend.record("cust-1", "ord_1", 3, 500, "2026-11-01T10:00:00.000Z") is False  # the same again
    assert spend.total("cust-1", "2026-01-01") == 500


def test_the_365th_day_still_counts_and_the_daily_sweep_drops_the_366th(api, event_world, big_order, monkeypatch,
                                                                         dynamodb_calls):  # fmt: skip
    from chalicelib.entrypoints.http import wiring

    me(api)
    pay_offline(api, big_order)
    event_world.pump()
    paid_day = datetime.now(UTC)
    keeper = wiring.tier_keeper()
    monkeypatch.setattr(keeper, "clock", lambda: paid_day + timedelta(days=364))  # the 365th day, counting it
    assert keeper.sweep() == 0 and me(api)["tier"] == "silver"

    monkeypatch.setattr(keeper, "clock", lambda: paid_day + timedelta(days=365))  # the 366th: it left the window
    dynamodb_calls.clear()
    assert keeper.sweep() == 1
    profile = me(api)
    assert (profile["tier"], profile["spent_12m"]) == ("standard", 0)
    assert "Scan" not in dynamodb_calls
    assert dynamodb_calls.count("Query") == 4 + 1  # the day's 4 partitions, then that customer's spend
    event_world.pump()
    assert told(event_world) == [("standard", "silver"), ("silver", "standard")]


def test_the_orders_stream_may_put_only_customer_and_rating_items_of_the_orders_table(template):
    """It writes each order's spend and the profile's tier (``CUSTOMER#...``) and rating markers, nothing else."""
    role = template["Resources"]["OrdersStreamRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (put,) = [statement for statement in role if "dynamodb:PutItem" in statement["Action"]]
    assert put["Resource"] == [{"Fn::GetAtt": ["OrdersTable", "Arn"]}]
    assert put["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RATED#*", "CUSTOMER#*"]}}
