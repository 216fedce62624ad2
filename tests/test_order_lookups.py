"""Staff finding orders (API.md: Looking orders up): by the number or payment reference a customer reads out, and
``GET /orders`` filtered by payment and fulfilment status, channel and dates, each page a bounded number of calls;
and ``shipments`` on the order, as the warehouse reported them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from tests.conftest import assert_error, events_of, view


def ids(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [order["order_id"] for order in reply.body["items"]]


@pytest.fixture
def shop(api, seed, place, deliver, stripe_world):
    """Orders of two customers in several states, on two channels."""
    seed("LK-1", stock=1000, price=1500)

    def pay_by_card(order_id: str, as_: str) -> dict:
        started = api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_=as_)
        assert started.status == 201, started.body
        assert deliver(stripe_world.standin.succeed(started.body["provider_reference"])).status == 200
        return started.body

    web_unpaid = place(("LK-1", 1)).body
    mobile_paid = place(("LK-1", 2), channel="mobile").body
    card = pay_by_card(mobile_paid["order_id"], "customer")
    other_paid = place(("LK-1", 3), as_="other").body
    pay_by_card(other_paid["order_id"], "other")
    transfer_order = place(("LK-1", 1), as_="other").body
    transfer = api.post(f"/orders/{transfer_order['order_id']}/payments", {"method": "bank_transfer"}, as_="other")
    assert transfer.status == 201, transfer.body
    return {
        "web_unpaid": web_unpaid,
        "mobile_paid": mobile_paid,
        "other_paid": other_paid,
        "transfer_order": transfer_order,
        "intent": card["provider_reference"],
        "transfer_code": transfer.body["instructions"]["reference_code"],
    }


# --- lookups -----------------------------------------------------------------------------------------------------


def test_staff_find_an_order_by_its_number_by_a_payment_intent_and_by_an_offline_reference(api, shop):
    by_number = api.get(f"/staff/orders/lookup?order_number={shop['web_unpaid']['order_number']}", as_="staff")
    assert by_number.status == 200 and by_number.body["order_id"] == shop["web_unpaid"]["order_id"]
    assert by_number.body["timeline"]  # the whole order, as GET /orders/{id} shows staff

    by_intent = api.get(f"/staff/orders/lookup?payment_reference={shop['intent']}", as_="admin")
    assert by_intent.status == 200 and by_intent.body["order_id"] == shop["mobile_paid"]["order_id"]

    by_code = api.get(f"/staff/orders/lookup?payment_reference={shop['transfer_code']}", as_="staff")
    assert by_code.status == 200 and by_code.body["order_id"] == shop["transfer_order"]["order_id"]


def test_a_reference_code_no_payment_was_given_finds_nothing(api, shop):
    """``PAY-<number>`` of an order that was never asked to pay offline is not that order's reference."""
    made_up = f"PAY-{shop['web_unpaid']['order_number']}"
    assert_error(api.get(f"/staff/orders/lookup?payment_reference={made_up}", as_="staff"), 404, "not_found")
    assert_error(api.get("/staff/orders/lookup?payment_reference=pi_unknown123", as_="staff"), 404, "not_found")
    assert_error(api.get("/staff/orders/lookup?order_number=20200101-000001", as_="staff"), 404, "not_found")


def test_an_offline_refund_code_finds_its_order(api, shop):
    order = shop["transfer_order"]
    payment_id = api.get(f"/orders/{order['order_id']}", as_="staff").body["payments"][0]["payment_id"]
    confirmed = api.post(
        f"/staff/orders/{order['order_id']}/payments/{payment_id}/confirm",
        {"amount": order["total"], "reference": "BANK-REF-1"},
        as_="staff",
    )
    assert confirmed.status == 200, confirmed.body
    refunded = api.post(
        f"/staff/orders/{order['order_id']}/refunds",
        {"amount": 100, "reason": "goodwill"},
        as_="staff",
        headers={"idempotency-key": uuid.uuid4().hex},
    )
    assert refunded.status == 201, refunded.body
    code = refunded.body["refunds"][0]["reference_code"]
    assert code.startswith("RF-")
    found = api.get(f"/staff/orders/lookup?payment_reference={code}", as_="staff")
    assert found.status == 200 and found.body["order_id"] == order["order_id"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "order_number"),
        ("?order_number=20261201-000001&payment_reference=pi_abc", "order_number"),
        ("?order_number=42", "order_number"),
        ("?payment_reference=ch_123", "payment_reference"),
        ("?order_number=20261201-000001&extra=1", "extra"),
    ],
)
def test_lookup_needs_exactly_one_well_formed_key(api, query, field):
    details = assert_error(api.get(f"/staff/orders/lookup{query}", as_="staff"), 422, "validation_failed")
    assert field in details["fields"]


def test_only_staff_look_orders_up(api, shop):
    path = f"/staff/orders/lookup?order_number={shop['web_unpaid']['order_number']}"
    assert_error(api.get(path), 401, "unauthorized")
    assert_error(api.get(path, as_="customer"), 403, "forbidden")
    assert_error(api.get(path, as_="other"), 403, "forbidden")


def test_a_lookup_costs_two_queries(api, shop, dynamodb_calls):
    reply = api.get(f"/staff/orders/lookup?order_number={shop['mobile_paid']['order_number']}", as_="staff")
    assert reply.status == 200
    assert dynamodb_calls == ["Query", "Query"]  # the number index, then the order


# --- filters -----------------------------------------------------------------------------------------------------


def test_staff_filter_by_payment_status_channel_and_combine_them(api, shop):
    paid = set(ids(api.get("/orders?payment_status=paid", as_="staff")))
    assert paid == {shop["mobile_paid"]["order_id"], shop["other_paid"]["order_id"]}
    assert ids(api.get("/orders?channel=mobile", as_="staff")) == [shop["mobile_paid"]["order_id"]]
    assert ids(api.get("/orders?payment_status=paid&channel=web", as_="staff")) == [shop["other_paid"]["order_id"]]
    assert set(ids(api.get("/orders?payment_status=pending", as_="staff"))) == {shop["transfer_order"]["order_id"]}
    assert ids(api.get("/orders?payment_status=refunded", as_="staff")) == []
    mine_paid = api.get(f"/orders?customer_id={api.users['other'].sub}&payment_status=paid", as_="staff")
    assert ids(mine_paid) == [shop["other_paid"]["order_id"]]
    assert ids(api.get("/orders?status=confirmed&payment_status=unpaid", as_="staff")) == [
        shop["web_unpaid"]["order_id"]
    ]


def test_dates_bound_the_listing_inclusively(api, shop):
    today = shop["web_unpaid"]["created_at"][:10]
    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    everyone = set(ids(api.get("/orders", as_="staff")))
    assert set(ids(api.get(f"/orders?created_from={today}&created_to={today}", as_="staff"))) == everyone
    assert ids(api.get(f"/orders?created_to={yesterday}", as_="staff")) == []
    assert set(ids(api.get(f"/orders?created_from={yesterday}", as_="staff"))) == everyone
    assert ids(api.get(f"/orders?created_from={today}&created_to={yesterday}", as_="staff")) == []  # empty range
    mine = set(ids(api.get(f"/orders?created_from={today}", as_="customer")))
    assert mine == {shop["web_unpaid"]["order_id"], shop["mobile_paid"]["order_id"]}


def test_order_number_filters_to_one_order_and_a_customer_only_finds_their_own(api, shop):
    number = shop["other_paid"]["order_number"]
    assert ids(api.get(f"/orders?order_number={number}", as_="staff")) == [shop["other_paid"]["order_id"]]
    assert ids(api.get(f"/orders?order_number={number}", as_="other")) == [shop["other_paid"]["order_id"]]
    assert ids(api.get(f"/orders?order_number={number}", as_="customer")) == []  # someone else's: not there
    assert ids(api.get(f"/orders?order_number={number}&payment_status=unpaid", as_="staff")) == []


def test_a_customer_filters_only_their_own_orders(api, shop):
    assert ids(api.get("/orders?payment_status=paid", as_="customer")) == [shop["mobile_paid"]["order_id"]]
    assert ids(api.get("/orders?channel=web", as_="other")) == [
        shop["transfer_order"]["order_id"],
        shop["other_paid"]["order_id"],
    ]


@pytest.mark.parametrize(
    "query",
    ["created_from=2026-13-01", "created_to=26-11-01", "created_from=2026-11-01T00:00:00Z", "payment_status=owed",
     "fulfilment_status=lost", "channel=fax", "order_number=1"],
)  # fmt: skip
def test_bad_filters_are_refused_by_name(api, query):
    details = assert_error(api.get(f"/orders?{query}", as_="staff"), 422, "validation_failed")
    assert query.split("=")[0] in details["fields"]


def test_a_filtered_page_costs_one_query_per_partition_and_pages_on(api, shop, dynamodb_calls):
    reply = api.get("/orders?payment_status=paid&created_from=2026-01-01&limit=1", as_="staff")
    assert len(ids(reply)) == 1 and reply.body["next_cursor"]
    assert dynamodb_calls == ["Query"] * 4  # one per shard of the all-orders index
    dynamodb_calls.clear()
    rest = api.get(
        f"/orders?payment_status=paid&created_from=2026-01-01&limit=1&cursor={reply.body['next_cursor']}",
        as_="staff",
    )
    assert len(dynamodb_calls) <= 4
    assert set(ids(reply) + ids(rest)) == {shop["mobile_paid"]["order_id"], shop["other_paid"]["order_id"]}
    dynamodb_calls.clear()
    assert ids(api.get("/orders?payment_status=paid", as_="customer")) == [shop["mobile_paid"]["order_id"]]
    assert dynamodb_calls == ["Query"]


# --- shipments ---------------------------------------------------------------------------------------------------


def test_shipments_are_on_the_order_and_a_late_shipped_adds_only_a_new_parcel(api, shop, event_world):
    order_id = shop["mobile_paid"]["order_id"]

    def send(event: str, **extra: str) -> dict:
        event_world.send_update(
            {"update_id": uuid.uuid4().hex, "order_id": order_id, "event": event,
             "occurred_at": "2026-11-26T08:00:00Z", **extra}
        )  # fmt: skip
        assert event_world.updates.pump() == (1, 0)
        return view(api, order_id)

    assert view(api, order_id)["shipments"] == []
    delivered = send("delivered", carrier="顺丰速运", tracking_number="SF100")
    assert delivered["shipments"] == [
        {"carrier": "顺丰速运", "tracking_number": "SF100", "shipped_at": "2026-11-26T08:00:00Z"}
    ]
    assert send("shipped", carrier="顺丰速运", tracking_number="SF100") == delivered  # nothing new: ignored
    second = send("shipped", carrier="EMS", tracking_number="EMS200")
    assert [s["tracking_number"] for s in second["shipments"]] == ["SF100", "EMS200"]
    assert len(events_of(second, "shipment_recorded")) == 1
    assert second["fulfilment_status"] == "delivered"
    customer = api.get(f"/orders/{order_id}", as_="customer").body
    assert customer["shipments"] == second["shipments"]
    assert events_of(customer, "shipment_recorded")[0]["data"]["tracking_number"] == "EMS200"
