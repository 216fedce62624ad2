"""The audit entries a change makes (chalicelib/domain/audit.py), alone: pure functions of the order and caller."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from chalicelib.domain.audit import entry, order_change
from chalicelib.domain.identity import Origin, Principal
from chalicelib.domain.orders import Order, OrderLine, new_order

STAFF = Principal("s-1", frozenset({"staff"}), origin=Origin("203.0.113.9", "Console/1" + "x" * 600))
CUSTOMER = Principal("c-1", origin=Origin("198.51.100.1", "Shop/1"))


def an_order() -> Order:
    order = new_order(
        order_id="o-1", order_number="20261201-000001", customer_id="c-1", lines=[OrderLine("A", "A", 500, 2)],
        currency="CNY", shipping_address={"name": "王小明", "phone": "+86 138 0000 0000"}, channel="web", note=None,
        now=datetime(2026, 12, 1, tzinfo=UTC), payment_ttl=timedelta(minutes=30), actor="customer:c-1",
    )  # fmt: skip
    order.new_events.clear()
    return order


def changed(order: Order, at: str) -> Order:
    after = copy.deepcopy(order)
    after.status = "cancelled"
    after.record("refund_to_send", STAFF.actor, at, {"amount": 100, "customer_name": "王小明",
                                                     "customer_phone": "+86 138 0000 0000", "reason": "r" * 900})  # fmt: skip
    return after


def test_an_order_change_is_one_entry_of_what_moved_from_where():
    before = an_order()
    after = changed(before, "2026-12-01T01:00:00.000Z")

    (made,) = order_change(STAFF, "order.cancel")(before, after)

    assert (made.actor, made.action, made.target_type, made.target_id) == ("staff:s-1", "order.cancel", "order", "o-1")
    assert made.at == "2026-12-01T01:00:00.000Z" and made.source_ip == "203.0.113.9"
    assert made.user_agent.startswith("Console/1") and len(made.user_agent) == 512
    assert made.data["status"] == {"from": "confirmed", "to": "cancelled"}
    (event,) = made.data["events"]
    assert event == {"type": "refund_to_send", "amount": 100, "reason": "r" * 500}  # no name or phone, text cut


def test_the_same_write_makes_the_same_entry_id_and_another_write_another():
    before = an_order()
    first = order_change(STAFF, "order.cancel")(before, changed(before, "2026-12-01T01:00:00.000Z"))[0]
    retried = order_change(STAFF, "order.cancel")(before, changed(before, "2026-12-01T01:00:00.500Z"))[0]
    later = changed(before, "2026-12-01T02:00:00.000Z")
    later.version += 1
    other = order_change(STAFF, "order.cancel")(before, later)[0]
    assert first.entry_id == retried.entry_id != other.entry_id
    assert entry(STAFF, "x.y", ("settings", "approval"), at="t", key="v3").entry_id != entry(
        STAFF, "x.y", ("settings", "approval"), at="t", key="v4").entry_id  # fmt: skip


def test_customers_changes_make_no_entry():
    before = an_order()
    assert order_change(CUSTOMER, "order.cancel")(before, changed(before, "2026-12-01T01:00:00.000Z")) == []
