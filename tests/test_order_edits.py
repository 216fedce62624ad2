"""Editing an order (API.md: ``PATCH /orders/{id}`` with ``If-Match``): a new version whose stock difference, money
and warehouse request move with it, and nothing at all when it is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import assert_error, events_of, view


def stock(api, sku: str) -> int:
    return api.get(f"/products/{sku}").body["stock_available"]


def patch(api, order: dict, body: dict, *, as_: str = "customer", version: int | str | None = None):
    tag = f'"{order["version"] if version is None else version}"'
    return api.request("PATCH", f"/orders/{order['order_id']}", as_=as_, json_body=body, headers={"if-match": tag})


@pytest.fixture
def order(api, seed, place):
    """An unpaid order of "customer": 2 TEE (1000 each) and 1 CAP (500); 20 of each in stock."""
    seed("TEE", stock=20, price=1000, name="圆领T恤")
    seed("CAP", stock=20, price=500)
    seed("SOCK", stock=5, price=300)
    placed = place(("TEE", 2), ("CAP", 1))
    assert placed.status == 201, placed.body
    return api.get(f"/orders/{placed.body['order_id']}", as_="customer").body


@pytest.fixture
def pay(api, deliver, stripe_world):
    def _pay(order_id: str, as_: str = "customer") -> dict:
        started = api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_=as_)
        assert started.status == 201, started.body
        assert deliver(stripe_world.standin.succeed(started.body["provider_reference"])).status == 200
        return started.body

    return _pay


def test_the_owner_changes_lines_kept_ones_keep_their_price_and_stock_moves_by_the_difference(api, seed, order):
    seed("TEE", stock=18, price=1500, name="圆领T恤")  # the price went up since the order; its 2 units are reserved
    reply = patch(api, order, {"items": [{"sku": "TEE", "quantity": 3}, {"sku": "SOCK", "quantity": 2}]})

    assert reply.status == 200, reply.body
    edited = reply.body
    assert reply.headers["etag"] == f'"{edited["version"]}"' and edited["version"] > order["version"]
    lines = {line["sku"]: (line["unit_price"], line["quantity"]) for line in edited["lines"]}
    assert lines == {"TEE": (1000, 3), "SOCK": (300, 2)}  # TEE at the price it was ordered at
    assert (edited["subtotal"], edited["total"]) == (3600, 3600)
    assert (stock(api, "TEE"), stock(api, "CAP"), stock(api, "SOCK")) == (17, 20, 3)
    [modified] = events_of(edited, "order_modified")
    assert modified["data"]["from_version"] == order["version"]
    assert modified["data"]["to_version"] == edited["version"]
    assert modified["data"]["lines"] == [
        {"sku": "TEE", "from": 2, "to": 3}, {"sku": "CAP", "from": 1, "to": 0}, {"sku": "SOCK", "from": 0, "to": 2}
    ]  # fmt: skip
    again = api.get(f"/orders/{order['order_id']}", as_="customer")
    assert again.body == edited and again.headers["etag"] == f'"{edited["version"]}"'


def test_the_address_and_note_change_alone_and_an_empty_note_clears_it(api, order):
    address = {"name": "李雷", "phone": "+86 139 0000 0000", "line1": "南京路 1 号", "city": "上海", "country": "CN"}
    moved = patch(api, order, {"shipping_address": address, "note": "请放门口"})
    assert moved.status == 200, moved.body
    assert moved.body["shipping_address"] == address and moved.body["note"] == "请放门口"
    cleared = patch(api, moved.body, {"note": ""})
    assert cleared.status == 200 and cleared.body["note"] is None
    assert cleared.body["lines"] == order["lines"]


def test_the_same_content_again_writes_no_new_version(api, order):
    reply = patch(api, order, {"items": [{"sku": "TEE", "quantity": 2}, {"sku": "CAP", "quantity": 1}]})
    assert reply.status == 200 and reply.body["version"] == order["version"]
    assert events_of(reply.body, "order_modified") == []


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [({}, 428, "precondition_required"), ({"if-match": '"0"'}, 412, "version_mismatch"),
     ({"if-match": "1"}, 412, "version_mismatch"), ({"if-match": '"abc"'}, 412, "version_mismatch")],
)  # fmt: skip
def test_without_the_current_version_nothing_changes(api, order, headers, status, code):
    before = (view(api, order["order_id"]), stock(api, "TEE"))
    reply = api.request(
        "PATCH", f"/orders/{order['order_id']}", as_="customer", json_body={"items": [{"sku": "TEE", "quantity": 5}]},
        headers=headers,
    )  # fmt: skip
    assert_error(reply, status, code)
    assert (view(api, order["order_id"]), stock(api, "TEE")) == before


def test_a_version_read_before_a_payment_is_stale_after_it(api, order, pay):
    pay(order["order_id"])
    assert_error(patch(api, order, {"note": "late"}, as_="staff"), 412, "version_mismatch")


def test_not_enough_stock_refuses_the_whole_edit(api, order):
    before = view(api, order["order_id"])
    reply = patch(api, order, {"items": [{"sku": "TEE", "quantity": 2}, {"sku": "SOCK", "quantity": 6}]})
    details = assert_error(reply, 409, "out_of_stock")
    assert details["skus"] == [{"sku": "SOCK", "requested": 6, "available": 5}]
    assert view(api, order["order_id"]) == before
    assert (stock(api, "TEE"), stock(api, "SOCK")) == (18, 5)


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "body"), ({"items": []}, "items"), ({"items": [{"sku": "NOPE", "quantity": 1}]}, "items[0].sku"),
     ({"items": [{"sku": "TEE", "quantity": 1}, {"sku": "TEE", "quantity": 1}]}, "items"),
     ({"items": [{"sku": "TEE", "quantity": 0}]}, "items[0].quantity"),
     ({"items": [{"sku": "TEE", "quantity": 1, "unit_price": 1}]}, "items[0].unit_price"),
     ({"note": "x", "total": 1}, "total"), ({"items": "TEE"}, "items")],
)  # fmt: skip
def test_bad_edits_are_refused_by_field_and_change_nothing(api, order, body, field):
    before = view(api, order["order_id"])
    details = assert_error(
        patch(api, order, body), 422, "validation_failed" if field != "items[0].sku" else "unknown_sku"
    )
    if field != "body":
        assert any(name.startswith(field) for name in details["fields"]), details
    assert view(api, order["order_id"]) == before


def test_who_may_edit_and_until_when(api, order, pay, event_world):
    assert_error(patch(api, order, {"note": "x"}, as_="other"), 404, "not_found")
    reply = api.request("PATCH", f"/orders/{order['order_id']}", json_body={"note": "x"}, headers={"if-match": '"1"'})
    assert_error(reply, 401, "unauthorized")
    pay(order["order_id"])
    paid = view(api, order["order_id"])
    refused = assert_error(patch(api, paid, {"note": "x"}), 409, "invalid_transition")
    assert refused["payment_status"] == "paid"  # the owner may not change a paid order; staff may
    by_staff = patch(api, paid, {"note": "gift wrap"}, as_="staff")
    assert by_staff.status == 200 and events_of(by_staff.body, "order_modified")[0]["actor"].startswith("staff:")
    event_world.send_update({"update_id": "u1", "order_id": order["order_id"], "event": "shipped",
                             "occurred_at": "2026-12-01T10:00:00Z"})  # fmt: skip
    assert event_world.updates.pump() == (1, 0)
    shipped = view(api, order["order_id"])
    assert_error(patch(api, shipped, {"note": "too late"}, as_="admin"), 409, "invalid_transition")


def test_an_open_card_payment_is_canceled_at_stripe_and_the_customer_pays_the_new_total(api, order, stripe_world):
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer").body
    order = view(api, order["order_id"])
    reply = patch(api, order, {"items": [{"sku": "TEE", "quantity": 1}]})
    assert reply.status == 200, reply.body
    assert stripe_world.standin.get(started["provider_reference"])["status"] == "canceled"
    assert {p["payment_id"]: p["status"] for p in reply.body["payments"]} == {started["payment_id"]: "canceled"}
    again = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    assert again.status == 201 and again.body["amount"] == 1000
    assert again.body["provider_reference"] != started["provider_reference"]


def test_staff_lowering_a_paid_order_refunds_the_difference(api, order, pay, stripe_world):
    pay(order["order_id"])
    paid = view(api, order["order_id"])
    reply = patch(api, paid, {"items": [{"sku": "TEE", "quantity": 1}]}, as_="staff")
    assert reply.status == 200, reply.body
    edited = reply.body
    assert (edited["total"], edited["amount_paid"], edited["amount_refunded"]) == (1000, 2500, 1500)
    assert (edited["payment_status"], edited["balance_due"]) == ("paid", 0)
    [refund] = edited["refunds"]
    assert (refund["amount"], refund["reason"]) == (1500, "order_modified")
    assert stripe_world.standin.get(refund["provider_reference"])["amount"] == 1500  # sent to Stripe
    assert stock(api, "TEE") == 19 and stock(api, "CAP") == 20


def test_staff_raising_a_paid_order_sets_a_balance_the_customer_pays(api, order, pay, deliver, stripe_world):
    pay(order["order_id"])
    paid = view(api, order["order_id"])
    edited = patch(api, paid, {"items": [{"sku": "TEE", "quantity": 2}, {"sku": "CAP", "quantity": 3}]}, as_="staff")
    assert edited.status == 200, edited.body
    assert (edited.body["total"], edited.body["balance_due"], edited.body["payment_status"]) == (3500, 1000, "paid")
    balance = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    assert balance.status == 201 and balance.body["amount"] == 1000
    assert deliver(stripe_world.standin.succeed(balance.body["provider_reference"])).status == 200
    settled = view(api, order["order_id"])
    assert (settled["amount_paid"], settled["balance_due"], settled["payment_status"]) == (3500, 0, "paid")
    assert settled["refunds"] == [] and settled["flags"] == []
    assert_error(api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer"), 409,
                 "invalid_transition")  # fmt: skip


def test_lowered_then_raised_the_customer_owes_only_what_went_back(api, order, pay):
    """Paid 2500; lowered to 1000 (1500 refunded); raised to 2000: 1000 is due, not 0 (2500 was paid once)."""
    pay(order["order_id"])
    lowered = patch(api, view(api, order["order_id"]), {"items": [{"sku": "TEE", "quantity": 1}]}, as_="staff").body
    raised = patch(api, lowered, {"items": [{"sku": "TEE", "quantity": 2}]}, as_="staff")
    assert raised.status == 200, raised.body
    assert (raised.body["total"], raised.body["balance_due"]) == (2000, 1000)


def test_a_paid_order_edit_sends_the_warehouse_a_revised_request(api, order, pay, event_world):
    pay(order["order_id"])
    event_world.pump()
    first = event_world.messages("fulfilment-requests")
    assert [m["revised"] for m in first] == [False]
    edited = patch(api, view(api, order["order_id"]), {"items": [{"sku": "TEE", "quantity": 1}]}, as_="staff").body
    event_world.pump()
    event_world.pump()  # a redelivery sends nothing twice
    [revised] = event_world.messages("fulfilment-requests")
    assert revised["order_id"] == order["order_id"] and revised["revised"] is True
    assert revised["version"] >= edited["version"] > first[0]["version"]
    assert revised["lines"] == [{"sku": "TEE", "name": "圆领T恤", "quantity": 1}]


def test_an_edit_racing_a_cancel_ends_with_stock_that_matches_the_order(api, order):
    def edit(_):
        return patch(api, order, {"items": [{"sku": "TEE", "quantity": 5}]})

    def cancel(_):
        return api.post(f"/orders/{order['order_id']}/cancel", as_="customer")

    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda f: f(None), [edit, cancel, edit, cancel]))
    final = view(api, order["order_id"])
    assert [r.status for r in replies].count(200) >= 1
    assert all(r.status in (200, 409, 412, 429) for r in replies), [r.body for r in replies]
    assert final["status"] == "cancelled"  # a cancel always goes through: before or after the edit
    assert (stock(api, "TEE"), stock(api, "CAP")) == (20, 20)  # all back, whatever came first
    assert len(events_of(final, "order_modified")) <= 1  # two edits from one version: at most one wins


def test_an_edit_costs_three_dynamodb_calls(api, order, dynamodb_calls):
    reply = patch(api, order, {"items": [{"sku": "TEE", "quantity": 3}]})
    assert reply.status == 200
    assert sorted(dynamodb_calls) == ["BatchGetItem", "Query", "TransactWriteItems"]


def test_a_payment_of_the_old_total_arriving_after_an_edit_lowered_it_gets_the_excess_back():
    """The ledger alone: the PaymentIntent of 10000 succeeds after the order became 5000 (our cancel was lost in a
    crash): the payment is recorded, the order is paid, and 5000 goes back as an ``order_modified`` refund."""
    from chalicelib.domain import payments as ledger
    from chalicelib.domain.edits import Revision, revise
    from chalicelib.domain.orders import RequestedLine
    from tests.test_payment_ledger import AT, PI, an_order, event, paying

    order = an_order(total_units=2)
    paying(order)
    revise(order, Revision(items=[RequestedLine("TEE", 1)]), {}, "staff:s1", AT, staff=True,
           closed_at_provider=frozenset({PI}))  # fmt: skip
    assert (order.total, order.payment_status) == (5000, "unpaid")
    refunds = ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)
    assert [(r.amount, r.reason, r.status) for r in refunds] == [(5000, "order_modified", "requested")]
    assert (order.amount_paid, order.amount_refunded, order.payment_status) == (10000, 5000, "paid")
    assert ledger.amount_due(order) == 0 and order.flags == []


def test_a_staff_edit_is_audited_and_a_customers_is_not(api, order, pay):
    from tests.test_audit import entries

    mine = patch(api, order, {"note": "by me"})
    assert mine.status == 200
    assert entries(api, target_type="order", target_id=order["order_id"]) == []
    pay(order["order_id"])
    edited = patch(api, view(api, order["order_id"]), {"items": [{"sku": "TEE", "quantity": 1}]}, as_="staff")
    assert edited.status == 200
    (entry,) = entries(api, target_type="order", target_id=order["order_id"])
    assert entry["action"] == "order.edit" and entry["actor"] == f"staff:{api.users['staff'].sub}"
    assert entry["data"]["total"] == {"from": 2500, "to": 1000}
    assert entry["data"]["amount_refunded"] == {"from": 0, "to": 1500}
    assert [e["type"] for e in entry["data"]["events"]] == ["refund_requested", "order_modified"]


@pytest.mark.parametrize("first", ["edit", "pay", "together"])
def test_an_edit_racing_the_payment_of_its_order_ends_in_one_consistent_outcome(
    api, order, deliver, stripe_world, first
):
    """The customer pays by card while changing the order. Either the payment wins (the edit is refused: 409
    payment_in_progress, or 412 once the payment is recorded) and the order is paid as it was, or the edit wins
    (the PaymentIntent is canceled first, so Stripe refuses the payment) and the order is unpaid as edited. Stock
    always matches what the order holds."""
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer").body
    current = view(api, order["order_id"])

    def edit():
        return patch(api, current, {"items": [{"sku": "TEE", "quantity": 4}, {"sku": "CAP", "quantity": 1}]})

    def pay():
        try:
            return deliver(stripe_world.standin.succeed(started["provider_reference"]))
        except Exception as refused:  # the PaymentIntent was canceled first: Stripe will not take the money
            return refused

    if first == "together":
        with ThreadPoolExecutor(max_workers=2) as pool:
            edited, paid = [future.result() for future in [pool.submit(edit), pool.submit(pay)]]
    elif first == "edit":
        edited, paid = edit(), pay()
    else:
        paid = pay()
        edited = edit()
    final = view(api, order["order_id"])
    tee = {line["sku"]: line["quantity"] for line in final["lines"]}["TEE"]
    assert stock(api, "TEE") == 20 - tee and stock(api, "CAP") == 19
    if final["payment_status"] == "paid":
        assert edited.status in (409, 412) and tee == 2 and final["amount_paid"] == 2500
    else:
        assert edited.status == 200 and tee == 4 and final["amount_paid"] == 0
        assert stripe_world.standin.get(started["provider_reference"])["status"] == "canceled"
        assert not (hasattr(paid, "status") and paid.status == 200 and final["payment_status"] == "paid")
