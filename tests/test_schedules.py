"""The payment schedules as customers, staff and the warehouse see them: reminders, expiry, refunds retried.

The schedules are called directly (``wiring.schedules()``), as EventBridge would call
them every minute, with time under the test's control: one clock drives both placing
orders and the schedules. Orders are placed, paid and read through the API; Stripe is
the in-memory stand-in behind the real SDK.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.entrypoints.http import wiring
from tests.conftest import KEY, events_of, view

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TTL = timedelta(minutes=settings.payment_ttl_minutes)
PRICE = 2500
STOCK = 50


class Clock:
    """What time it is for the app: placing orders, payments, webhooks and schedules."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, offset: timedelta) -> None:
        """Set the time to ``offset`` after START."""
        self.now = START + offset


@pytest.fixture
def clock(api, monkeypatch) -> Clock:
    clock = Clock(START)
    monkeypatch.setattr(wiring.orders(), "clock", clock)
    monkeypatch.setattr(wiring.changes(), "clock", clock)
    return clock


@pytest.fixture
def shop(api, seed, place, clock):
    """A catalogue of one T-shirt with STOCK units; ``shop()`` places an order of ``quantity`` as the customer."""
    seed("TEE", stock=STOCK, price=PRICE)

    def order(quantity: int = 2) -> dict[str, Any]:
        reply = place(("TEE", quantity))
        assert reply.status == 201, reply.body
        return reply.body

    return order


def stock(api) -> int:
    return api.get("/products/TEE").body["stock_available"]


def pay_by_card(api, order: dict[str, Any]) -> str:
    """The customer starts paying by card; returns the PaymentIntent id."""
    reply = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    assert reply.status == 201, reply.body
    return reply.body["provider_reference"]


def paid(api, deliver, stripe_world, order: dict[str, Any]) -> None:
    """The customer pays by card and Stripe's webhook arrives."""
    pi = pay_by_card(api, order)
    assert deliver(stripe_world.standin.succeed(pi)).body["result"] == "applied"
    assert view(api, order["order_id"])["payment_status"] == "paid"


schedules = wiring.schedules


# --- reminders --------------------------------------------------------------------------------------------------


def test_one_reminder_at_half_the_payment_time_and_none_for_paid_orders(api, shop, clock, deliver, stripe_world):
    """Unpaid orders get exactly one payment_reminder once half of PAYMENT_TTL_MINUTES has passed; never before,
    never twice, and never for an order already paid."""
    unpaid = [shop(), shop()]
    pending = shop()
    pay_by_card(api, pending)  # started paying but not done yet: still reminded
    done = shop()
    paid(api, deliver, stripe_world, done)

    clock.at(TTL / 2 - timedelta(seconds=1))
    assert schedules().send_reminders() == 0
    for order in [*unpaid, pending, done]:
        assert events_of(view(api, order["order_id"]), "payment_reminder") == []

    clock.at(TTL / 2)
    assert schedules().send_reminders() == 3
    for order in [*unpaid, pending]:
        [reminder] = events_of(view(api, order["order_id"]), "payment_reminder")
        assert reminder["actor"] == "system"
        assert reminder["data"] == {"reserved_until": order["reserved_until"], "total": order["total"]}
        assert view(api, order["order_id"])["status"] == "confirmed"
    assert events_of(view(api, done["order_id"]), "payment_reminder") == []

    assert schedules().send_reminders() == 0
    clock.at(TTL / 2 + timedelta(minutes=5))
    assert schedules().send_reminders() == 0
    for order in [*unpaid, pending]:
        assert len(events_of(view(api, order["order_id"]), "payment_reminder")) == 1


# --- expiry --------------------------------------------------------------------------------------------------


def test_an_unpaid_order_expires_at_its_deadline_and_gives_its_stock_back(api, shop, clock):
    """At reserved_until the order becomes expired, the product's stock is back, the timeline says order_expired;
    a second run changes nothing (the stock is not released twice)."""
    order = shop(3)
    assert stock(api) == STOCK - 3
    clock.at(TTL / 2)
    schedules().send_reminders()

    clock.at(TTL - timedelta(seconds=1))
    assert schedules().expire_unpaid() == 0
    assert view(api, order["order_id"])["status"] == "confirmed"
    assert stock(api) == STOCK - 3

    clock.at(TTL)
    assert schedules().expire_unpaid() == 1

    expired = view(api, order["order_id"])
    assert (expired["status"], expired["payment_status"]) == ("expired", "unpaid")
    [event] = events_of(expired, "order_expired")
    assert event["actor"] == "system"
    assert event["data"] == {"reserved_until": order["reserved_until"]}
    assert stock(api) == STOCK

    clock.at(TTL + timedelta(minutes=1))
    assert schedules().expire_unpaid() == 0
    assert schedules().send_reminders() == 0
    assert stock(api) == STOCK
    assert view(api, order["order_id"]) == expired


def test_an_order_whose_reminder_was_never_sent_still_expires_on_time(api, shop, clock):
    """If the reminder schedule was down, the order is not kept forever: it expires at its deadline all the same."""
    order = shop(4)

    clock.at(TTL - timedelta(seconds=1))
    assert schedules().expire_unpaid() == 0
    assert view(api, order["order_id"])["status"] == "confirmed"

    clock.at(TTL)
    assert schedules().expire_unpaid() == 1

    expired = view(api, order["order_id"])
    assert expired["status"] == "expired"
    assert events_of(expired, "payment_reminder") == []
    assert len(events_of(expired, "order_expired")) == 1
    assert stock(api) == STOCK


def test_no_reminder_once_the_payment_time_is_over(api, shop, clock):
    """After a schedule outage the customer is not told to pay an order whose time is already up: it just expires."""
    order = shop(1)

    clock.at(TTL + timedelta(minutes=1))
    assert schedules().send_reminders() == 0
    assert schedules().expire_unpaid() == 1

    expired = view(api, order["order_id"])
    assert expired["status"] == "expired"
    assert events_of(expired, "payment_reminder") == []


def test_never_reminded_orders_expire_even_behind_a_page_of_orders_still_in_time(api, shop, clock, monkeypatch):
    """The reminder schedule was down. Bank-transfer orders (days to pay, reminder not sent) sit first in the
    schedule's queue; a card order placed later is past its 30 minutes. It must expire and free its stock, however
    many not-yet-due orders come before it (a page of the index is ``batch`` orders; 2 here instead of 100)."""
    monkeypatch.setattr(schedules(), "batch", 2)
    for offline in (shop(1), shop(1)):
        reply = api.post(f"/orders/{offline['order_id']}/payments", {"method": "bank_transfer"}, as_="customer")
        assert reply.status == 201, reply.body
    clock.at(timedelta(hours=settings.offline_payment_ttl_hours) / 2)
    late = shop(5)
    assert stock(api) == STOCK - 7

    clock.at(timedelta(hours=settings.offline_payment_ttl_hours) / 2 + TTL + timedelta(minutes=1))
    schedules().expire_unpaid()

    assert view(api, late["order_id"])["status"] == "expired"
    assert stock(api) == STOCK - 2


def test_a_paid_order_never_expires(api, shop, clock, deliver, stripe_world):
    """Paid within its payment time, the order stays confirmed and keeps its stock, however late the schedules run."""
    order = shop(2)
    clock.at(TTL / 3)
    paid(api, deliver, stripe_world, order)

    for later in (TTL, TTL * 2, timedelta(days=30)):
        clock.at(later)
        assert schedules().send_reminders() == 0
        assert schedules().expire_unpaid() == 0

    final = view(api, order["order_id"])
    assert (final["status"], final["payment_status"]) == ("confirmed", "paid")
    assert events_of(final, "order_expired") == [] and events_of(final, "payment_reminder") == []
    assert stock(api) == STOCK - 2


def test_overlapping_expiry_runs_expire_each_order_once(api, shop, clock):
    """Two Lambda invocations of the expiry schedule at once (EventBridge may overlap them): every order expires
    once and its stock comes back once, not twice."""
    orders = [shop(quantity) for quantity in (1, 2, 3, 4, 5)]
    assert stock(api) == STOCK - 15
    clock.at(TTL / 2)
    assert schedules().send_reminders() == 5

    clock.at(TTL + timedelta(minutes=1))
    with ThreadPoolExecutor(max_workers=3) as pool:
        counts = list(pool.map(lambda _: schedules().expire_unpaid(), range(3)))

    assert sum(counts) == 5
    for order in orders:
        assert len(events_of(view(api, order["order_id"]), "order_expired")) == 1
    assert stock(api) == STOCK
    assert schedules().expire_unpaid() == 0


def test_expiry_cancels_the_pending_payment_intent_at_stripe(api, shop, clock, stripe_world):
    """An expired order can no longer be paid: its pending PaymentIntent is canceled at Stripe."""
    order = shop()
    pi = pay_by_card(api, order)

    clock.at(TTL)
    assert schedules().expire_unpaid() == 1

    expired = view(api, order["order_id"])
    assert (expired["status"], expired["payment_status"]) == ("expired", "unpaid")
    assert stripe_world.standin.get(pi)["status"] == "canceled"


def test_expiry_while_stripe_is_down_cancels_the_payment_intent_once_stripe_is_back(api, shop, clock, stripe_world):
    """The expiry run cannot reach Stripe: the order expires (stock back) and the PaymentIntent stays marked to cancel;
    the retry schedule cancels it later, once, and then has nothing left to do."""
    order = shop()
    pi = pay_by_card(api, order)
    stripe_world.transport.fail_next("/v1/payment_intents/*/cancel", times=3)  # the try and the SDK's 2 retries

    clock.at(TTL)
    assert schedules().expire_unpaid() == 1
    assert view(api, order["order_id"])["status"] == "expired"
    assert stripe_world.standin.get(pi)["status"] == "requires_payment_method"

    clock.at(TTL + timedelta(minutes=5))
    assert schedules().retry_refunds() == 1
    assert stripe_world.standin.get(pi)["status"] == "canceled"
    assert schedules().retry_refunds() == 0


def test_a_payment_arriving_after_expiry_is_refunded_in_full_once(api, shop, clock, deliver, stripe_world):
    """The customer paid at the last second but Stripe's webhook came after the order expired: the order stays
    expired (its stock is gone), is flagged paid_after_expiry, and the money goes back automatically, once,
    however often Stripe delivers the event."""
    order = shop(3)
    pi = pay_by_card(api, order)
    clock.at(TTL - timedelta(seconds=1))
    succeeded = stripe_world.standin.succeed(pi)  # paid now; the webhook is delayed

    clock.at(TTL)
    assert schedules().expire_unpaid() == 1
    assert view(api, order["order_id"])["status"] == "expired"
    assert stock(api) == STOCK

    clock.at(TTL + timedelta(minutes=2))
    assert deliver(succeeded).body == {"received": True, "result": "applied"}

    final = view(api, order["order_id"])
    assert final["status"] == "expired"
    assert "paid_after_expiry" in final["flags"]
    assert final["payment_status"] == "refunded"
    assert final["amount_paid"] == final["amount_refunded"] == order["total"]
    [refund] = final["refunds"]
    assert refund["automatic"] is True and refund["amount"] == order["total"] and refund["status"] == "succeeded"
    assert [e["data"]["amount"] for e in events_of(final, "refund_issued")] == [order["total"]]
    charge = stripe_world.standin.get(stripe_world.standin.get(pi)["latest_charge"])
    assert charge["amount_refunded"] == order["total"] and charge["refunded"] is True
    assert stripe_world.transport.count("POST", "/v1/refunds") == 1

    assert deliver(succeeded).body["result"] == "duplicate"
    for event in list(stripe_world.transport.events):  # the refund's own events, as Stripe sends them
        assert deliver(event).status == 200
    assert schedules().retry_refunds() == 0

    again = view(api, order["order_id"])
    assert (again["status"], again["payment_status"], again["amount_refunded"]) == ("expired", "refunded", 3 * PRICE)
    assert len(again["refunds"]) == 1
    assert stripe_world.transport.count("POST", "/v1/refunds") == 1
    assert stock(api) == STOCK


def test_a_payment_racing_the_expiry_ends_paid_or_expired_and_refunded_never_half(
    api, shop, clock, deliver, stripe_world
):
    """Stripe's webhooks arrive while the expiry runs, for orders paid at their last second. Each order ends
    either paid (and keeps its stock) or expired, flagged and refunded in full (its stock back), never both or
    neither; no stock is released twice and no money is kept for an expired order."""
    orders = [shop(1) for _ in range(4)]
    intents = [pay_by_card(api, order) for order in orders]
    clock.at(TTL - timedelta(seconds=1))
    events = [stripe_world.standin.succeed(pi) for pi in intents]

    def late(numbered: tuple[int, dict[str, Any]]):
        time.sleep(0.08 * numbered[0])  # staggered, so some land before the expiry run and some during or after
        return deliver(numbered[1])

    clock.at(TTL)
    with ThreadPoolExecutor(max_workers=len(events) + 1) as pool:
        expiry = pool.submit(schedules().expire_unpaid)
        replies = list(pool.map(late, enumerate(events)))
    expired_count = expiry.result()

    assert [reply.status for reply in replies] == [200] * len(events)
    kept = 0
    for order in orders:
        final = view(api, order["order_id"])
        if final["status"] == "expired":
            assert (final["payment_status"], final["amount_refunded"]) == ("refunded", order["total"])
            assert "paid_after_expiry" in final["flags"]
        else:
            assert (final["status"], final["payment_status"], final["flags"]) == ("confirmed", "paid", [])
            kept += 1
    assert expired_count == len(orders) - kept
    assert stock(api) == STOCK - kept
    assert stripe_world.transport.count("POST", "/v1/refunds") == len(orders) - kept


def test_offline_payments_extend_the_deadline(api, shop, clock):
    """Choosing bank transfer keeps the stock reserved for days (OFFLINE_PAYMENT_TTL_HOURS), not minutes: the order
    does not expire at the normal payment time, and does expire at the extended deadline if nothing arrives."""
    order = shop(2)
    reply = api.post(f"/orders/{order['order_id']}/payments", {"method": "bank_transfer"}, as_="customer")
    assert reply.status == 201, reply.body
    deadline = START + timedelta(hours=settings.offline_payment_ttl_hours)
    assert reply.body["instructions"]["pay_by"] == deadline.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    for later in (TTL / 2, TTL, TTL * 4):
        clock.at(later)
        assert schedules().send_reminders() == 0
        assert schedules().expire_unpaid() == 0
    waiting = view(api, order["order_id"])
    assert (waiting["status"], waiting["payment_status"]) == ("confirmed", "pending")
    assert waiting["reserved_until"] == reply.body["instructions"]["pay_by"]
    assert stock(api) == STOCK - 2

    clock.now = deadline
    assert schedules().expire_unpaid() == 1
    assert view(api, order["order_id"])["status"] == "expired"
    assert stock(api) == STOCK


# --- refunds the provider did not take --------------------------------------------------------------------------


def test_a_refund_stripe_could_not_take_is_sent_again_by_the_schedule(api, shop, clock, deliver, stripe_world):
    """Stripe is down when staff refund: the refund waits (requested); the retry schedule sends it once Stripe is
    back, and running it again sends nothing more."""
    order = shop(2)
    paid(api, deliver, stripe_world, order)
    stripe_world.transport.fail_next("/v1/refunds", times=3, status=500)  # the first try and the SDK's 2 retries

    reply = api.post(
        f"/staff/orders/{order['order_id']}/refunds", {"amount": 1000, "reason": "damaged"}, as_="staff", headers=KEY()
    )
    assert reply.status == 201, reply.body
    assert [r["status"] for r in reply.body["refunds"]] == ["requested"]
    assert stripe_world.transport.count("POST", "/v1/refunds") == 3

    assert schedules().retry_refunds() == 0  # not before a minute has passed
    clock.at(timedelta(minutes=5))
    assert schedules().retry_refunds() == 1

    final = view(api, order["order_id"])
    assert [r["status"] for r in final["refunds"]] == ["succeeded"]
    assert (final["payment_status"], final["amount_refunded"]) == ("partially_refunded", 1000)
    assert stripe_world.transport.count("POST", "/v1/refunds") == 4
    clock.at(timedelta(minutes=10))
    assert schedules().retry_refunds() == 0
    assert stripe_world.transport.count("POST", "/v1/refunds") == 4


# --- how the schedules find their work ------------------------------------------------------------------------


@pytest.fixture
def dynamodb_requests(monkeypatch):
    """Every DynamoDB request made: (operation, index name or None)."""
    import botocore.client

    seen: list[tuple[str, str | None]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            seen.append((operation_name, api_params.get("IndexName")))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return seen


def test_the_schedules_query_the_payment_due_index_and_never_scan(
    api, shop, clock, deliver, stripe_world, dynamodb_requests
):
    """However many orders there are, the schedules read only what is due, from the sparse index: no Scan."""
    for _ in range(3):
        shop(1)
    paid(api, deliver, stripe_world, shop(1))

    dynamodb_requests.clear()
    for offset in (TTL / 2, TTL, TTL * 2):
        clock.at(offset)
        schedules().send_reminders()
        schedules().expire_unpaid()
        schedules().retry_refunds()

    operations = {operation for operation, _ in dynamodb_requests}
    assert "Scan" not in operations
    assert ("Query", "payment-due") in dynamodb_requests
    # BatchGetItem: the released SKUs' stock, read consistently, which each expiry's ledger entries are computed from
    assert operations <= {"Query", "BatchGetItem", "TransactWriteItems"}, operations


def test_the_chalice_schedule_handlers_run_the_schedules(api, shop, clock):
    """The functions EventBridge invokes (through Chalice's handler, with a scheduled event) do the work."""
    from app import app
    from devstack.scheduler import scheduled_event

    def run(name: str) -> dict[str, int]:
        return app.handler_map[name](scheduled_event(name, "us-east-1"), None)

    order = shop(2)
    clock.at(TTL / 2)
    assert run("payment_reminders") == {"reminded": 1, "approval_reminders": 0}
    clock.at(TTL)
    assert run("expire_unpaid_orders") == {"expired": 1}
    assert run("retry_refunds") == {"retried": 0}

    final = view(api, order["order_id"])
    assert final["status"] == "expired"
    assert len(events_of(final, "payment_reminder")) == 1
    assert stock(api) == STOCK
