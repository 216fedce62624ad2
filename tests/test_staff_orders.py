"""Orders staff take for a customer (API.md: ``POST /staff/orders``): owned by the customer, named for the staff
member in the timeline, idempotent like ``POST /orders``, refused for an unknown customer."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ADDRESS, assert_error


@pytest.fixture
def body(api, seed):
    seed("DESK-1", stock=10, price=2500, name="电话订单商品")

    def make(**extra):
        return {"customer_id": api.users["customer"].sub, "items": [{"sku": "DESK-1", "quantity": 2}],
                "shipping_address": ADDRESS, "channel": "phone", **extra}  # fmt: skip

    return make


def stock(api) -> int:
    return api.get("/products/DESK-1").body["stock_available"]


def test_staff_place_an_order_the_customer_owns_and_sees(api, body):
    reply = api.post("/staff/orders", body(note="客户来电"), as_="staff", headers={"idempotency-key": "phone-1"})
    assert reply.status == 201, reply.body
    order = reply.body
    assert reply.headers["location"] == f"/orders/{order['order_id']}"
    assert (order["customer_id"], order["channel"], order["total"]) == (api.users["customer"].sub, "phone", 5000)
    assert order["timeline"][0]["actor"] == f"staff:{api.users['staff'].sub}"
    assert stock(api) == 8
    mine = api.get("/orders", as_="customer").body["items"]
    assert [o["order_id"] for o in mine] == [order["order_id"]]
    seen = api.get(f"/orders/{order['order_id']}", as_="customer").body
    assert seen["timeline"][0]["actor"] == "staff"  # the customer sees that staff placed it, not who
    assert api.get(f"/orders/{order['order_id']}", as_="other").status == 404
    paid = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    assert paid.status == 201  # the customer pays it like their own


def test_the_same_key_again_is_the_same_order_and_another_body_is_refused(api, body):
    first = api.post("/staff/orders", body(), as_="staff", headers={"idempotency-key": "phone-2"})
    again = api.post("/staff/orders", body(), as_="staff", headers={"idempotency-key": "phone-2"})
    assert (first.status, again.status) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true" and again.body["order_id"] == first.body["order_id"]
    other = body(customer_id=api.users["other"].sub)
    assert_error(
        api.post("/staff/orders", other, as_="staff", headers={"idempotency-key": "phone-2"}),
        422,
        "idempotency_key_reused",
    )
    assert stock(api) == 8


def test_a_replay_is_answered_even_after_the_customer_could_not_order_again(api, body, monkeypatch):
    """The key is looked up before anything that can refuse: a replay does not ask who the customer is."""
    from chalicelib.entrypoints.http import wiring

    first = api.post("/staff/orders", body(), as_="staff", headers={"idempotency-key": "phone-3"})
    assert first.status == 201
    gone = type("Gone", (), {"is_customer": lambda self, customer_id: False})()
    monkeypatch.setattr(wiring, "directory", lambda: gone)
    again = api.post("/staff/orders", body(), as_="staff", headers={"idempotency-key": "phone-3"})
    assert again.status == 200 and again.body["order_id"] == first.body["order_id"]
    fresh = api.post("/staff/orders", body(), as_="staff", headers={"idempotency-key": "phone-4"})
    assert_error(fresh, 422, "unknown_customer")


def test_an_unknown_customer_is_refused_and_nothing_is_written(api, body):
    reply = api.post(
        "/staff/orders", body(customer_id=str(uuid.uuid4())), as_="admin", headers={"idempotency-key": "phone-5"}
    )
    details = assert_error(reply, 422, "unknown_customer")
    assert details["fields"] == {"customer_id": "no such customer"}
    assert stock(api) == 10
    assert api.get("/orders", as_="staff").body["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [({"channel": None}, "channel"), ({"channel": "fax"}, "channel"), ({"customer_id": "bad id"}, "customer_id"),
     ({"items": []}, "items"), ({"total": 1}, "total"), ({"customer_id": None}, "customer_id")],
)  # fmt: skip
def test_bad_staff_orders_are_refused_by_field(api, body, change, field):
    sent = {k: v for k, v in {**body(), **change}.items() if v is not None}
    details = assert_error(
        api.post("/staff/orders", sent, as_="staff", headers={"idempotency-key": uuid.uuid4().hex}),
        422,
        "validation_failed",
    )
    assert any(name.startswith(field) for name in details["fields"]), details
    assert stock(api) == 10


def test_only_staff_place_orders_for_customers_and_a_key_is_required(api, body):
    assert_error(api.post("/staff/orders", body(), headers={"idempotency-key": "k"}), 401, "unauthorized")
    assert_error(api.post("/staff/orders", body(), as_="customer", headers={"idempotency-key": "k"}), 403, "forbidden")
    assert_error(api.post("/staff/orders", body(), as_="staff"), 400, "idempotency_key_required")
    assert stock(api) == 10


def test_not_enough_stock_is_the_same_conflict_as_for_a_customer(api, body):
    too_many = body(items=[{"sku": "DESK-1", "quantity": 11}])
    details = assert_error(
        api.post("/staff/orders", too_many, as_="staff", headers={"idempotency-key": "phone-6"}), 409, "out_of_stock"
    )
    assert details["skus"] == [{"sku": "DESK-1", "requested": 11, "available": 10}]


def test_a_staff_order_is_audited_in_its_own_transaction_and_a_customers_is_not(api, body, place, dynamodb_calls):
    from tests.test_audit import entries

    reply = api.post("/staff/orders", body(), as_="staff", headers={"idempotency-key": "phone-7"})
    assert reply.status == 201
    assert dynamodb_calls.count("TransactWriteItems") == 1 and "PutItem" not in dynamodb_calls
    (entry,) = entries(api, target_type="order", target_id=reply.body["order_id"])
    assert (entry["action"], entry["actor"]) == ("order.create", f"staff:{api.users['staff'].sub}")
    assert entry["data"]["customer_id"] == api.users["customer"].sub and entry["data"]["total"] == 5000
    assert entry["source_ip"] and "王小明" not in str(entry)  # no address in the log
    own = place(("DESK-1", 1))
    assert entries(api, target_type="order", target_id=own.body["order_id"]) == []
    refused = api.post("/staff/orders", body(customer_id=str(uuid.uuid4())), as_="staff",
                       headers={"idempotency-key": "phone-8"})  # fmt: skip
    assert refused.status == 422
    assert [e["action"] for e in entries(api, actor=f"staff:{api.users['staff'].sub}")] == ["order.create"]
