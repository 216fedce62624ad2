"""Review and approval of large orders, as customers and staff see it through the API.

The default policy holds an order of total ≥ 500000 for one staff approval and one of
≥ 2000000 for staff then admin. Orders are placed by "customer"; approvers are the stack's
staff and admin users and more made here (``people``), so "one person never decides two
steps" can be told apart from "the role may not".
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.domain.orders import parse_iso
from chalicelib.entrypoints.http import wiring
from tests.conftest import KEY, assert_error, events_of, order_body, types, view

SKU = "GOLD"
PRICE = 1_000_000  # one unit: the staff step; three: staff then admin
STOCK = 20
_PEOPLE: dict[str, Any] = {}


@pytest.fixture
def people(stack):
    """More approvers than the stack's own: ``people("staff", 2)`` is a second staff member (made once per session)."""

    def person(role: str, n: int):
        key = f"{role}{n}"
        if key not in _PEOPLE:
            _PEOPLE[key] = stack.new_user(role)
        return _PEOPLE[key]

    return person


@pytest.fixture
def shop(api, seed, place):
    """``shop(quantity)`` places an order of the gold bar as "customer"; returns the customer's view of it."""
    seed(SKU, stock=STOCK, price=PRICE)
    seed("PEN", stock=STOCK, price=1500)

    def order(quantity: int = 1, sku: str = SKU, as_: str = "customer") -> dict[str, Any]:
        reply = place((sku, quantity), as_=as_)
        assert reply.status == 201, reply.body
        return reply.body

    return order


def stock(api, sku: str = SKU) -> int:
    return api.get(f"/products/{sku}").body["stock_available"]


def approve(api, order_id: str, as_, note: str | None = None):
    return api.post(f"/staff/orders/{order_id}/approve", {"note": note} if note else {}, as_=as_)


def reject(api, order_id: str, as_, reason: str = "too risky"):
    return api.post(f"/staff/orders/{order_id}/reject", {"reason": reason}, as_=as_)


def waiting(api, as_, **query: Any) -> list[str]:
    path = "/staff/approvals" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    reply = api.get(path, as_=as_)
    assert reply.status == 200, reply.body
    return [item["order_id"] for item in reply.body["items"]]


# --- placing --------------------------------------------------------------------------------------------------------


def test_an_order_matching_no_rule_is_confirmed_at_once(api, shop):
    order = shop(2, sku="PEN")
    assert order["status"] == "confirmed" and order["approval"] is None
    minutes = (parse_iso(order["reserved_until"]) - parse_iso(order["created_at"])).total_seconds() / 60
    assert minutes == 30
    assert types(view(api, order["order_id"])) == ["order_placed"]


def test_a_large_order_waits_for_approval_with_its_stock_reserved(api, shop, stack):
    order = shop(1)

    assert order["status"] == "pending_approval" and order["payment_status"] == "unpaid"
    assert stock(api) == STOCK - 1
    hours = (parse_iso(order["reserved_until"]) - parse_iso(order["created_at"])).total_seconds() / 3600
    assert hours == 48  # APPROVAL_TTL_HOURS
    assert order["approval"] == {"status": "pending", "rule": "large_order", "steps": [
        {"role": "staff", "status": "pending"}], "for_version": 1}  # fmt: skip
    staff_view = view(api, order["order_id"])
    assert types(staff_view) == ["order_placed", "approval_required"]
    assert events_of(staff_view, "approval_required")[0]["data"] == {"rule": "large_order", "step": 1, "role": "staff"}


def test_the_rule_with_the_most_steps_wins(api, shop):
    order = shop(3)  # 3000000 matches both default rules
    assert order["approval"]["rule"] == "very_large_order"
    assert [step["role"] for step in order["approval"]["steps"]] == ["staff", "admin"]


def test_staff_then_admin_confirm_the_order_and_its_payment_time_starts_then(api, shop, people):
    order = shop(3)
    oid = order["order_id"]

    first = approve(api, oid, "staff", note="known customer")
    assert first.status == 200, first.body
    assert first.body["status"] == "pending_approval"
    step1 = first.body["approval"]["steps"][0]
    assert step1["status"] == "approved" and step1["note"] == "known customer"
    assert step1["by"].startswith("staff:")
    assert first.body["reserved_until"] == order["reserved_until"]

    second = approve(api, oid, "admin")
    assert second.status == 200, second.body
    done = second.body
    assert done["status"] == "confirmed" and done["approval"]["status"] == "approved"
    assert [s["status"] for s in done["approval"]["steps"]] == ["approved", "approved"]
    decided = parse_iso(done["approval"]["steps"][1]["at"])
    assert (parse_iso(done["reserved_until"]) - decided).total_seconds() == 30 * 60  # PAYMENT_TTL_MINUTES from now
    assert types(view(api, oid)) == [
        "order_placed", "approval_required", "approval_granted", "approval_required", "order_approved"
    ]  # fmt: skip
    assert stock(api) == STOCK - 3  # still reserved, now for payment
    paying = api.post(f"/orders/{oid}/payments", {"method": "bank_transfer"}, as_="customer")
    assert paying.status == 201, paying.body


def test_the_customer_sees_the_approval_without_staff_identities(api, shop):
    order = shop(3)
    approve(api, order["order_id"], "staff", note="internal: checked the credit line")

    mine = api.get(f"/orders/{order['order_id']}", as_="customer").body
    assert mine["approval"]["steps"][0].keys() == {"role", "status", "at"}
    assert mine["approval"]["steps"][1] == {"role": "admin", "status": "pending"}
    text = str(mine)
    assert "credit line" not in text and "staff:" not in text
    assert {event["actor"] for event in mine["timeline"]} <= {"customer", "staff", "system"}


# --- who may decide ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [("anonymous", 401, "unauthorized"), ("customer", 403, "forbidden"), ("other", 403, "forbidden"),
     ("staff", 200, None), ("admin", 200, None)],
)  # fmt: skip
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_staff_step_is_decided_by_staff_or_admin_only(api, shop, caller, status, code, decision):
    order = shop(1)
    user = None if caller == "anonymous" else caller
    reply = approve(api, order["order_id"], user) if decision == "approve" else reject(api, order["order_id"], user)

    assert reply.status == status, reply.body
    after = view(api, order["order_id"])
    if code:
        assert_error(reply, status, code)
        assert after["status"] == "pending_approval" and after["approval"] == view(api, order["order_id"])["approval"]
        assert types(after) == ["order_placed", "approval_required"]
    else:
        assert after["status"] == ("confirmed" if decision == "approve" else "cancelled")


def test_an_admin_step_is_not_for_staff(api, shop, people):
    order = shop(3)
    assert approve(api, order["order_id"], "staff").status == 200

    for decide in (approve, reject):
        details = assert_error(decide(api, order["order_id"], people("staff", 2)), 403, "forbidden")
        assert details["role"] == "admin"
    assert view(api, order["order_id"])["approval"]["steps"][1]["status"] == "pending"


def test_one_person_never_decides_two_steps_of_one_order(api, shop, people):
    order = shop(3)
    assert approve(api, order["order_id"], "admin").status == 200  # admin may decide the staff step

    assert_error(approve(api, order["order_id"], "admin"), 409, "same_approver")
    assert_error(reject(api, order["order_id"], "admin"), 409, "same_approver")
    assert view(api, order["order_id"])["status"] == "pending_approval"
    assert approve(api, order["order_id"], people("admin", 2)).status == 200


def test_nobody_decides_an_order_they_placed(api, seed, stack):
    """A staff member who takes an order for a customer (POST /staff/orders) never approves it: the placer is compared
    by subject with the decider, whoever owns the order."""
    seed(SKU, stock=STOCK, price=PRICE)
    body = {**order_body((SKU, 1)), "customer_id": stack.users["customer"].sub, "channel": "phone"}
    placed = api.post("/staff/orders", body, as_="staff", headers=KEY())
    assert placed.status == 201, placed.body
    order = placed.body
    assert order["status"] == "pending_approval" and order["customer_id"] == stack.users["customer"].sub

    assert_error(approve(api, order["order_id"], "staff"), 409, "same_approver")
    assert_error(reject(api, order["order_id"], "staff"), 409, "same_approver")
    assert order["order_id"] not in waiting(api, "staff")
    assert order["order_id"] in waiting(api, "admin")
    assert approve(api, order["order_id"], "admin").status == 200


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_an_order_not_waiting_cannot_be_decided(api, shop, decision):
    confirmed = shop(1, sku="PEN")
    decide = approve if decision == "approve" else reject
    assert_error(decide(api, confirmed["order_id"], "staff"), 409, "invalid_transition")
    approved = shop(1)
    assert approve(api, approved["order_id"], "staff").status == 200
    assert_error(decide(api, approved["order_id"], "admin"), 409, "invalid_transition")
    assert_error(decide(api, uuid.uuid4().hex, "staff"), 404, "not_found")
    assert_error(decide(api, "not an id!", "staff"), 404, "not_found")


def _all_read_first(monkeypatch, parties: int) -> None:
    """Every decider's first write waits until all have read the order: they race on the same version."""
    repo = wiring.orders_repo()
    barrier, original, seen = threading.Barrier(parties, timeout=10), repo.save, threading.local()

    def save(*args, **kwargs):
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(repo, "save", save)


@pytest.mark.parametrize("quantity", [1, 3])
def test_concurrent_approvals_of_one_step_exactly_one_wins(api, shop, people, monkeypatch, quantity):
    order = shop(quantity)
    deciders = [people("staff", n) for n in range(1, 4)] + [people("admin", 1)]
    _all_read_first(monkeypatch, len(deciders))

    with ThreadPoolExecutor(len(deciders)) as pool:
        replies = list(pool.map(lambda who: approve(api, order["order_id"], who), deciders))

    assert sorted(r.status for r in replies) == [200, 409, 409, 409]
    for reply in replies:
        if reply.status == 409:
            assert reply.error["code"] in ("step_already_decided", "invalid_transition")
    after = view(api, order["order_id"])
    assert [s["status"] for s in after["approval"]["steps"]] == ["approved"] + ["pending"] * (quantity == 3)
    assert len([e for e in after["timeline"] if e["type"] in ("approval_granted", "order_approved")]) == 1
    assert after["status"] == ("confirmed" if quantity == 1 else "pending_approval")


def test_a_concurrent_approve_and_reject_one_decision_wins(api, shop, people, monkeypatch):
    order = shop(1)
    _all_read_first(monkeypatch, 2)
    with ThreadPoolExecutor(2) as pool:
        yes = pool.submit(approve, api, order["order_id"], people("staff", 1))
        no = pool.submit(reject, api, order["order_id"], people("staff", 2))
    statuses = sorted([yes.result().status, no.result().status])
    assert statuses == [200, 409]
    after = view(api, order["order_id"])
    assert after["status"] in ("confirmed", "cancelled")
    assert stock(api) == (STOCK - 1 if after["status"] == "confirmed" else STOCK)


# --- rejecting, paying, cancelling ----------------------------------------------------------------------------------


def test_a_rejected_order_is_cancelled_and_its_stock_released(api, shop):
    order = shop(3)
    assert stock(api) == STOCK - 3
    reply = reject(api, order["order_id"], "staff", reason="address on the watch list")

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "cancelled" and reply.body["approval"]["status"] == "rejected"
    assert reply.body["approval"]["steps"][0]["note"] == "address on the watch list"
    assert stock(api) == STOCK
    assert order["order_id"] not in waiting(api, "admin")
    mine = api.get(f"/orders/{order['order_id']}", as_="customer").body
    assert "watch list" not in str(mine)


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": 5}, "reason"), ({"reason": "x" * 501}, "reason"),
     ({"reason": "no", "extra": 1}, "extra")],
)  # fmt: skip
def test_bad_decisions_are_refused_and_nothing_changes(api, shop, body, field):
    order = shop(1)
    before = view(api, order["order_id"])
    reply = api.post(f"/staff/orders/{order['order_id']}/reject", body, as_="staff")
    assert field in assert_error(reply, 422, "validation_failed")["fields"]
    bad_note = api.post(f"/staff/orders/{order['order_id']}/approve", {"note": ["x"]}, as_="staff")
    assert "note" in assert_error(bad_note, 422, "validation_failed")["fields"]
    malformed = api.request(
        "POST", f"/staff/orders/{order['order_id']}/approve", body=b"{", headers={"content-type": "application/json"},
        as_="staff",
    )  # fmt: skip
    assert_error(malformed, 400, "malformed_json")
    assert view(api, order["order_id"]) == before


def test_an_order_waiting_for_approval_cannot_be_paid_but_its_owner_may_cancel_it(api, shop):
    order = shop(1)
    for method in ("card", "bank_transfer"):
        reply = api.post(f"/orders/{order['order_id']}/payments", {"method": method}, as_="customer")
        assert_error(reply, 409, "invalid_transition")
    assert view(api, order["order_id"])["payments"] == []

    cancelled = api.post(f"/orders/{order['order_id']}/cancel", {"reason": "too slow"}, as_="customer")
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    assert stock(api) == STOCK
    assert order["order_id"] not in waiting(api, "staff")
    assert_error(approve(api, order["order_id"], "staff"), 409, "invalid_transition")


# --- the list of orders waiting ---------------------------------------------------------------------------------------


def test_each_approver_sees_the_orders_waiting_on_a_step_they_may_decide_oldest_first(api, shop, people):
    small = [shop(1) for _ in range(3)]  # a staff step each
    big = shop(3)  # staff, then admin
    ids = [o["order_id"] for o in small]

    assert waiting(api, "staff") == [*ids, big["order_id"]]
    assert approve(api, big["order_id"], "staff").status == 200
    assert waiting(api, "staff") == ids  # its next step is admin's
    assert waiting(api, "admin") == [*ids, big["order_id"]]  # staff steps too; the admin step waited the least
    assert waiting(api, people("admin", 2)) == [*ids, big["order_id"]]

    pages, cursor = [], None
    while True:
        reply = api.get("/staff/approvals?limit=2" + (f"&cursor={cursor}" if cursor else ""), as_="admin")
        assert reply.status == 200, reply.body
        pages.append([item["order_id"] for item in reply.body["items"]])
        cursor = reply.body["next_cursor"]
        if not cursor:
            break
    assert [oid for page in pages for oid in page] == [*ids, big["order_id"]]
    assert all(len(page) <= 2 for page in pages)

    item = api.get("/staff/approvals?limit=100", as_="admin").body["items"][-1]
    assert item["order_number"] == big["order_number"] and item["total"] == 3 * PRICE
    assert item["waiting_role"] == "admin" and item["status"] == "pending_approval"
    assert item["approval"]["steps"][0]["status"] == "approved"


def test_the_approvals_list_costs_one_query_per_role_and_shard(api, shop, dynamodb_calls):
    from chalicelib.adapters.dynamo.order_records import ORDER_SHARDS

    shop(1)
    dynamodb_calls.clear()
    waiting(api, "staff")
    assert dynamodb_calls == ["Query"] * ORDER_SHARDS
    dynamodb_calls.clear()
    waiting(api, "admin")
    assert dynamodb_calls == ["Query"] * 2 * ORDER_SHARDS


@pytest.mark.parametrize(
    ("caller", "status"), [("anonymous", 401), ("customer", 403), ("other", 403), ("staff", 200), ("admin", 200)]
)
def test_only_staff_list_approvals(api, shop, caller, status):
    order = shop(1)
    reply = api.get("/staff/approvals", as_=None if caller == "anonymous" else caller)
    assert reply.status == status, reply.body
    if status == 200:
        assert [item["order_id"] for item in reply.body["items"]] == [order["order_id"]]
    else:
        assert_error(reply, status, "unauthorized" if status == 401 else "forbidden")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [("limit=0", 422, "validation_failed"), ("limit=101", 422, "validation_failed"), ("limit=x", 422,
     "validation_failed"), ("cursor=bm9wZQ", 400, "invalid_cursor"), ("sort=name", 422, "validation_failed")],
)  # fmt: skip
def test_bad_approvals_queries_are_refused(api, shop, query, status, code):
    shop(1)
    assert_error(api.get(f"/staff/approvals?{query}", as_="staff"), status, code)
