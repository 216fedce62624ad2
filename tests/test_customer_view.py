"""A customer sees a customer's view of their order: no staff identities, bank references or internal flags
(API.md, Conventions). Staff see everything."""

from __future__ import annotations

import json

from tests.conftest import events_of

SKU, PRICE = "TEE-VIEW", 3000


def test_a_customer_never_sees_who_on_the_staff_did_what_nor_the_banks_reference(api, seed, place, stripe_world):
    seed(SKU, stock=10, price=PRICE)
    order_id = place((SKU, 1)).body["order_id"]
    payment = api.post(f"/orders/{order_id}/payments", {"method": "bank_transfer"}, as_="customer").body
    confirm = f"/staff/orders/{order_id}/payments/{payment['payment_id']}/confirm"
    assert api.post(confirm, {"amount": PRICE, "reference": "ICBC-SECRET-42"}, as_="staff").status == 200

    mine = api.get(f"/orders/{order_id}", as_="customer").body
    staff = api.get(f"/orders/{order_id}", as_="staff").body

    staff_sub = api.users["staff"].sub
    assert {event["actor"] for event in mine["timeline"]} <= {"customer", "staff", "system", "provider"}
    [received] = events_of(mine, "payment_received")
    assert received["actor"] == "staff"
    assert received["data"] == {"payment_id": payment["payment_id"], "method": "bank_transfer", "amount": PRICE,
                                "currency": "CNY"}  # fmt: skip
    assert staff_sub not in json.dumps(mine) and "ICBC-SECRET-42" not in json.dumps(mine)
    listed = api.get("/orders", as_="customer").body["items"]
    assert staff_sub not in json.dumps(listed) and "ICBC-SECRET-42" not in json.dumps(listed)
    [seen_by_staff] = events_of(staff, "payment_received")
    assert seen_by_staff["actor"] == f"staff:{staff_sub}"
    assert seen_by_staff["data"]["reference"] == "ICBC-SECRET-42"


def test_a_customer_does_not_see_the_flags_staff_work_from(api, seed, place, stripe_world, deliver):
    """A payment for less than the total flags the order ``payment_mismatch`` for staff; the customer's view has no
    flags, and no event ids of the provider."""
    seed(SKU, stock=10, price=PRICE)
    order_id = place((SKU, 1)).body["order_id"]
    pi = api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_="customer").body["provider_reference"]
    event = stripe_world.standin.succeed(pi, amount=PRICE - 1)
    assert deliver(event).status == 200

    mine = api.get(f"/orders/{order_id}", as_="customer").body
    staff = api.get(f"/orders/{order_id}", as_="staff").body

    assert staff["flags"] == ["payment_mismatch"] and mine["flags"] == []
    assert event["id"] not in json.dumps(mine) and event["id"] in json.dumps(staff)
    [mismatch] = events_of(mine, "payment_mismatch")
    assert mismatch["actor"] == "provider"
