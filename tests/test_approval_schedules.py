"""Orders waiting for approval over time, and what staff and customers are told.

Time is the test's (the schedule tests' ``Clock``): placing, deciding and the schedules all
read it. Notifications are read from queues subscribed to the staff and customer topics.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.entrypoints.http import wiring
from tests.conftest import events_of, view
from tests.test_schedules import START, Clock

APPROVAL_TTL = timedelta(hours=settings.approval_ttl_hours)
PAYMENT_TTL = timedelta(minutes=settings.payment_ttl_minutes)
PRICE = 1_000_000
STOCK = 10
schedules = wiring.schedules


@pytest.fixture
def clock(api, monkeypatch) -> Clock:
    clock = Clock(START)
    monkeypatch.setattr(wiring.orders(), "clock", clock)
    monkeypatch.setattr(wiring.changes(), "clock", clock)
    return clock


@pytest.fixture
def shop(api, seed, place, clock):
    seed("GOLD", stock=STOCK, price=PRICE)

    def order(quantity: int = 1) -> dict[str, Any]:
        reply = place(("GOLD", quantity))
        assert reply.status == 201 and reply.body["status"] == "pending_approval", reply.body
        return reply.body

    return order


def stock(api) -> int:
    return api.get("/products/GOLD").body["stock_available"]


def waiting(api) -> list[str]:
    return [item["order_id"] for item in api.get("/staff/approvals", as_="admin").body["items"]]


def kinds(notes: list[dict[str, Any]]) -> Counter:
    return Counter(n["attributes"]["event_type"] for n in notes)


def test_approvers_are_reminded_once_at_half_the_approval_time(api, shop, clock):
    order = shop(3)
    approve = api.post(f"/staff/orders/{order['order_id']}/approve", {}, as_="staff")
    assert approve.status == 200

    clock.at(APPROVAL_TTL / 2 - timedelta(seconds=1))
    assert schedules().send_approval_reminders() == 0
    assert schedules().send_reminders() == 0  # no payment reminder for an order nobody may pay yet
    clock.at(APPROVAL_TTL / 2)
    assert schedules().send_approval_reminders() == 1
    [reminder] = events_of(view(api, order["order_id"]), "approval_reminder")
    assert reminder["actor"] == "system"
    assert reminder["data"]["role"] == "admin" and reminder["data"]["step"] == 2
    assert schedules().send_approval_reminders() == 0
    clock.at(APPROVAL_TTL / 2 + timedelta(hours=1))
    assert schedules().send_approval_reminders() == 0
    assert len(events_of(view(api, order["order_id"]), "approval_reminder")) == 1


def test_an_undecided_order_expires_at_the_approval_time_and_frees_its_stock(api, shop, clock):
    decided, undecided = shop(1), shop(2)
    assert api.post(f"/staff/orders/{decided['order_id']}/approve", {}, as_="staff").status == 200
    assert stock(api) == STOCK - 3

    clock.at(APPROVAL_TTL - timedelta(seconds=1))
    assert schedules().expire_unpaid() == 1  # the approved one's payment time (30 minutes) is long over
    assert view(api, undecided["order_id"])["status"] == "pending_approval"
    clock.at(APPROVAL_TTL)
    assert schedules().expire_unpaid() == 1
    after = view(api, undecided["order_id"])
    assert after["status"] == "expired"
    assert stock(api) == STOCK
    assert waiting(api) == []
    late = api.post(f"/staff/orders/{undecided['order_id']}/approve", {}, as_="staff")
    assert late.status == 409 and late.body["error"]["code"] == "invalid_transition"
    assert schedules().expire_unpaid() == 0


def test_after_approval_the_payment_reminder_and_expiry_count_from_the_decision(api, shop, clock):
    order = shop(1)
    decided_at = timedelta(hours=5)
    clock.at(decided_at)
    assert api.post(f"/staff/orders/{order['order_id']}/approve", {}, as_="staff").status == 200

    clock.at(decided_at + PAYMENT_TTL / 2 - timedelta(seconds=1))
    assert schedules().send_reminders() == 0
    clock.at(decided_at + PAYMENT_TTL / 2)
    assert schedules().send_reminders() == 1
    clock.at(decided_at + PAYMENT_TTL - timedelta(seconds=1))
    assert schedules().expire_unpaid() == 0
    clock.at(decided_at + PAYMENT_TTL)
    assert schedules().expire_unpaid() == 1
    assert view(api, order["order_id"])["status"] == "expired"
    assert stock(api) == STOCK
    assert schedules().send_approval_reminders() == 0  # decided: nobody to remind


# --- notifications -------------------------------------------------------------------------------------------------


@pytest.fixture
def told(event_world):
    def drained() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        event_world.pump()
        return event_world.staff.drain(), event_world.customer.drain()

    return drained


def test_staff_are_asked_for_each_step_by_role_and_the_customer_hears_the_outcome(api, shop, told, stack):
    order = shop(3)
    staff, customer = told()
    assert kinds(staff) == {"order_placed": 1, "approval_required": 1} and customer == []  # not confirmed yet
    [asked] = [n for n in staff if n["attributes"]["event_type"] == "approval_required"]
    assert asked["attributes"] == {"event_type": "approval_required", "approval_role": "staff"}
    assert asked["message"]["order_id"] == order["order_id"] and order["order_number"] in asked["subject"]

    assert api.post(f"/staff/orders/{order['order_id']}/approve", {"note": "ok"}, as_="staff").status == 200
    staff, customer = told()
    assert [n["attributes"] for n in staff] == [{"event_type": "approval_required", "approval_role": "admin"}]
    assert customer == []

    assert api.post(f"/staff/orders/{order['order_id']}/approve", {}, as_="admin").status == 200
    staff, customer = told()
    assert staff == []
    assert [n["attributes"] for n in customer] == [
        {"event_type": "order_approved", "customer_id": stack.users["customer"].sub}
    ]
    assert customer[0]["message"]["data"] == {"reserved_until": view(api, order["order_id"])["reserved_until"]}
    assert told() == ([], [])  # each once


def test_a_rejection_reaches_the_customer_without_staff_identities(api, shop, told, stack):
    order = shop(1)
    told()
    reply = api.post(f"/staff/orders/{order['order_id']}/reject", {"reason": "internal: fraud score 91"}, as_="staff")
    assert reply.status == 200
    staff, customer = told()
    assert kinds(customer) == {"order_rejected": 1}
    note = customer[0]
    assert note["attributes"] == {"event_type": "order_rejected", "customer_id": stack.users["customer"].sub}
    assert "fraud" not in str(note) and stack.users["staff"].sub not in str(note)
    assert "approval_required" not in kinds(staff)


def test_the_approval_reminder_tells_staff_with_the_waiting_role(api, shop, told, clock):
    order = shop(1)
    told()
    clock.at(APPROVAL_TTL / 2)
    assert schedules().send_approval_reminders() == 1
    staff, customer = told()
    assert [n["attributes"] for n in staff] == [{"event_type": "approval_reminder", "approval_role": "staff"}]
    assert staff[0]["message"]["order_id"] == order["order_id"] and customer == []
    clock.at(APPROVAL_TTL)
    assert schedules().expire_unpaid() == 1
    staff, customer = told()
    assert kinds(customer) == {"order_expired": 1}
