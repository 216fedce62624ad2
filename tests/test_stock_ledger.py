"""The stock ledger: every change of a SKU's stock is a movement written with it, and the ledger sums to the stock."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_error
from tests.test_audit import entries


def adjust(api, sku, delta, reason="restock", key=None, as_="staff", **extra):
    return api.post("/staff/stock/adjustments", {"sku": sku, "delta": delta, "reason": reason, **extra}, as_=as_,
                    headers={"idempotency-key": key or uuid.uuid4().hex})  # fmt: skip


def ledger(api, sku):
    items, cursor = [], None
    while True:
        path = f"/staff/products/{sku}/stock-movements?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(path, as_="staff")
        assert page.status == 200, page.body
        items += page.body["items"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return items


def stock(api, sku):
    return api.get(f"/staff/products/{sku}", as_="staff").body["stock_available"]


def assert_ledger_true(api, sku):
    """Newest first, gapless, each balance the one before plus its delta, the newest the stock itself."""
    moves = ledger(api, sku)
    oldest_first = list(reversed(moves))
    assert [m["seq"] for m in oldest_first] == list(range(1, len(moves) + 1))
    balance = 0
    for move in oldest_first:
        balance += move["delta"]
        assert move["balance_after"] == balance >= 0, move
    assert balance == stock(api, sku)
    return moves


def test_an_adjustment_moves_stock_with_its_movement_and_audit_entry(api, seed):
    seed("TEE", stock=10)
    reply = adjust(api, "TEE", 25, "restock", note="PO 4711 from the mill")

    assert reply.status == 201, reply.body
    assert reply.headers["idempotent-replayed"] == "false"
    assert reply.body["sku"] == "TEE" and reply.body["stock_available"] == 35
    movement = reply.body["movement"]
    assert (movement["delta"], movement["reason"], movement["balance_after"]) == (25, "restock", 35)
    assert movement["note"] == "PO 4711 from the mill" and movement["actor"].startswith("staff:")
    assert ledger(api, "TEE")[0] == movement
    assert_ledger_true(api, "TEE")
    logged = entries(api, target_type="product", target_id="TEE")
    assert [(e["action"], e["data"]["delta"]) for e in logged] == [("stock.adjust", 25)]


def test_a_replay_answers_the_first_result_whatever_the_stock_is_now(api, seed, place):
    seed("TEE", stock=10)
    first = adjust(api, "TEE", -4, "damaged", key="count-1")
    place(("TEE", 6))  # the stock is now 0: the same adjustment again could not be made
    again = adjust(api, "TEE", -4, "damaged", key="count-1")

    assert first.status == 201 and again.status == 200
    assert again.headers["idempotent-replayed"] == "true" and again.body == first.body
    assert stock(api, "TEE") == 0
    assert len([m for m in ledger(api, "TEE") if m["reason"] == "damaged"]) == 1
    reused = adjust(api, "TEE", -3, "damaged", key="count-1")
    assert_error(reused, 422, "idempotency_key_reused")


def test_stock_never_goes_below_zero_and_a_refusal_changes_nothing(api, seed):
    seed("TEE", stock=3)
    details = assert_error(adjust(api, "TEE", -4, "stocktake"), 409, "insufficient_stock")
    assert details["stock_available"] == 3
    assert stock(api, "TEE") == 3 and [m["reason"] for m in ledger(api, "TEE")] == ["created"]
    assert entries(api, target_type="product", target_id="TEE") == []


def test_concurrent_adjustments_are_each_applied_once(api, seed):
    seed("TEE", stock=0)
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda n: adjust(api, "TEE", n + 1, key=f"k{n}"), range(8)))
        again = list(pool.map(lambda n: adjust(api, "TEE", n + 1, key=f"k{n}"), range(8)))
    assert [r.status for r in replies] == [201] * 8, [r.body for r in replies]
    assert all(r.status == 200 for r in again)
    assert stock(api, "TEE") == sum(range(1, 9))
    assert len(assert_ledger_true(api, "TEE")) == 8  # seeded with none: no first movement


def test_orders_write_their_movements_reserve_cancel_and_expire(api, seed, place):
    seed("TEE", stock=10)
    kept = place(("TEE", 2))
    cancelled = place(("TEE", 3))
    api.post(f"/orders/{cancelled.body['order_id']}/cancel", {"reason": "changed my mind"}, as_="customer")

    moves = assert_ledger_true(api, "TEE")
    assert [(m["reason"], m["delta"], m.get("order_id")) for m in moves[:3]] == [
        ("order_cancelled", 3, cancelled.body["order_id"]),
        ("order_placed", -3, cancelled.body["order_id"]),
        ("order_placed", -2, kept.body["order_id"]),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"sku": "TEE", "delta": 0, "reason": "restock"}, "delta"),
     ({"sku": "TEE", "delta": 1.5, "reason": "restock"}, "delta"),
     ({"sku": "TEE", "delta": "2", "reason": "restock"}, "delta"),
     ({"sku": "TEE", "delta": 2, "reason": "gift"}, "reason"),
     ({"sku": "TEE", "delta": 2}, "reason"),
     ({"sku": "bad sku", "delta": 2, "reason": "restock"}, "sku"),
     ({"sku": "TEE", "delta": 2, "reason": "restock", "extra": 1}, "extra")],
)  # fmt: skip
def test_a_bad_adjustment_is_422_and_moves_nothing(api, seed, body, field):
    seed("TEE", stock=5)
    reply = api.post("/staff/stock/adjustments", body, as_="staff", headers={"idempotency-key": "k"})
    assert field in assert_error(reply, 422, "validation_failed")["fields"]
    assert stock(api, "TEE") == 5 and len(ledger(api, "TEE")) == 1


def test_an_adjustment_needs_a_key_a_known_sku_and_staff(api, seed):
    seed("TEE", stock=5)
    body = {"sku": "TEE", "delta": 1, "reason": "restock"}
    assert_error(api.post("/staff/stock/adjustments", body, as_="staff"), 400, "idempotency_key_required")
    assert_error(adjust(api, "NOPE", 1), 404, "not_found")
    assert adjust(api, "TEE", 1, as_="customer").status == 403
    assert adjust(api, "TEE", 1, as_=None).status == 401
    assert api.get("/staff/products/TEE/stock-movements", as_="customer").status == 403
    assert api.get("/staff/stock/low", as_="customer").status == 403
    assert stock(api, "TEE") == 5


def test_low_stock_lists_what_is_under_its_threshold_largest_shortfall_first(api, seed, place):
    seed("TEE", stock=10, low_stock_threshold=5)
    seed("MUG", stock=3, low_stock_threshold=10)
    seed("CAP", stock=50, low_stock_threshold=5)
    seed("PEN", stock=0)  # no threshold: never low
    place(("TEE", 8))

    low = api.get("/staff/stock/low", as_="staff").body["items"]
    assert [(item["sku"], item["shortfall"]) for item in low] == [("MUG", 7), ("TEE", 3)]
    adjust(api, "MUG", 20)
    assert [item["sku"] for item in api.get("/staff/stock/low", as_="staff").body["items"]] == ["TEE"]


def test_low_stock_follows_a_threshold_edit(api, seed):
    seed("TEE", stock=10)
    api.request("PUT", "/staff/categories/general", json_body={"name": "General"}, as_="staff")
    edited = api.request("PATCH", "/staff/products/TEE", json_body={"low_stock_threshold": 12}, as_="staff",
                         headers={"if-match": '"1"'})  # fmt: skip
    assert edited.status == 200, edited.body
    assert [item["sku"] for item in api.get("/staff/stock/low", as_="staff").body["items"]] == ["TEE"]


def test_the_low_stock_list_is_index_reads(api, seed, dynamodb_calls):
    seed("TEE", stock=1, low_stock_threshold=5)
    dynamodb_calls.clear()
    assert api.get("/staff/stock/low", as_="staff").status == 200
    assert set(dynamodb_calls) == {"Query"} and "Scan" not in dynamodb_calls


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(1, 4)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("adjust"), st.integers(-6, 8).filter(bool)),
    ),
    min_size=3,
    max_size=10,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_the_ledger_sums_to_the_stock_under_concurrent_orders_cancels_and_adjustments(api, seed, place, operations):
    sku = f"P{uuid.uuid4().hex[:8]}"
    seed(sku, stock=10)
    orders: list[str] = []

    def run(operation):
        kind, n = operation
        if kind == "order":
            reply = place((sku, n))
            if reply.status == 201:
                orders.append(reply.body["order_id"])
            return reply.status
        if kind == "cancel":
            if not orders:
                return 0
            order_id = orders[n % len(orders)]
            return api.post(f"/orders/{order_id}/cancel", {"reason": "x"}, as_="customer").status
        return adjust(api, sku, n, "correction").status

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(run, operations))
    assert all(status in (0, 200, 201, 409, 429) for status in statuses), statuses
    moves = assert_ledger_true(api, sku)
    reserved = sum(
        line["quantity"]
        for order_id in orders
        for order in [api.get(f"/orders/{order_id}", as_="customer").body]
        if order["status"] != "cancelled"
        for line in order["lines"]
    )
    adjusted = sum(m["delta"] for m in moves if m["reason"] in ("correction", "created"))
    assert stock(api, sku) == adjusted - reserved
