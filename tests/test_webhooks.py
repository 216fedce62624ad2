"""Stripe's webhook as Stripe and staff see it: signed events applied once, in any order, or refused whole.

Every test goes through ``POST /webhooks/stripe`` (the ``deliver`` fixture signs the
exact bytes it posts, as Stripe does) and reads the result back as staff would, with
``GET /orders/{id}``. Stripe itself is the in-memory stand-in behind the real SDK.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import WEBHOOK_SECRET, events_of, types, view
from tests.stripe_transport import make_client

PRICE, QUANTITY = 2500, 2
TOTAL = PRICE * QUANTITY


@dataclass
class CardOrder:
    """An order the customer is paying by card: its id, total and Stripe PaymentIntent."""

    order_id: str
    total: int
    pi: str


@pytest.fixture
def card_order(api, seed, place):
    """Make a fresh order with a pending card payment (a PaymentIntent in the stand-in)."""
    seed("TEE", stock=10_000, price=PRICE)

    def make() -> CardOrder:
        order = place(("TEE", QUANTITY)).body
        reply = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
        assert reply.status == 201, reply.body
        return CardOrder(order["order_id"], order["total"], reply.body["provider_reference"])

    return make


def markers(stack, order_id: str) -> list[str]:
    """The provider-event markers (``STRIPE#<event id>``) stored in the order's item collection."""
    items = stack.dynamodb.query(
        TableName="orders",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ORDER#{order_id}"}},
        ConsistentRead=True,
    )["Items"]
    return [item["sk"]["S"] for item in items if item["sk"]["S"].startswith("STRIPE#")]


def money(order: dict[str, Any]) -> tuple[Any, ...]:
    return order["status"], order["payment_status"], order["amount_paid"], order["amount_refunded"]


def raw_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's v1 scheme computed over raw bytes (for bodies that are not text)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# --- refused deliveries: 400/413, nothing written --------------------------------------------------------------


def _missing_header(world, event):
    return {"omit_signature": True}


def _wrong_secret(world, event):
    return {"secret": "whsec_not_ours_at_all"}


def _tampered_body(world, event):
    signed = world.payload(event)
    forged = copy.deepcopy(event)
    forged["data"]["object"]["amount_received"] = 1
    return {"payload": world.payload(forged), "signature": world.signature(signed)}


def _stale_timestamp(world, event):
    return {"timestamp": int(time.time()) - 301}


def _hour_old_replay(world, event):
    return {"timestamp": int(time.time()) - 3600}


def _malformed_json(world, event):
    return {"payload": world.payload(event)[:-20]}  # signed, but cut off mid-object


def _not_an_object(world, event):
    return {"payload": b'["payment_intent.succeeded"]'}


def _object_is_a_string(world, event):
    broken = copy.deepcopy(event)
    broken["data"]["object"] = event["data"]["object"]["id"]
    return {"payload": world.payload(broken)}


def _object_is_a_list(world, event):
    broken = copy.deepcopy(event)
    broken["data"]["object"] = [event["data"]["object"]]
    return {"payload": world.payload(broken)}


def _not_utf8(world, event):
    payload = world.payload(event).replace(b'"type"', b'"\xff\xfetype"')
    return {"payload": payload, "signature": raw_signature(payload, WEBHOOK_SECRET)}


def _future_timestamp(world, event):
    return {"timestamp": int(time.time()) + 3600}  # signed "an hour from now": as unacceptable as an hour ago


def _nested_deep(world, event):
    deep = world.payload(event).replace(b'"metadata": {', b'"deep": ' + b"[" * 1200 + b"]" * 1200 + b', "metadata": {')
    assert deep != world.payload(event)
    return {"payload": deep}


def _lone_surrogate(world, event):
    # JSON may spell a lone surrogate (\ud800): it is valid JSON, but no UTF-8 text, so nothing can store it
    odd = world.payload(event).replace(b'"metadata": {', b'"metadata": {"note": "\\ud800", ')
    assert odd != world.payload(event)
    return {"payload": odd}


REFUSED = {
    "missing Stripe-Signature": _missing_header,
    "signed with another secret": _wrong_secret,
    "body tampered after signing": _tampered_body,
    "timestamp just over 300 s old": _stale_timestamp,
    "an hour-old replay": _hour_old_replay,
    "malformed JSON, signed": _malformed_json,
    "JSON that is not an event": _not_an_object,
    "data.object is a string": _object_is_a_string,
    "data.object is a list": _object_is_a_list,
    "body is not UTF-8": _not_utf8,
    "timestamp an hour in the future": _future_timestamp,
    "nested 1200 levels deep, signed": _nested_deep,
    "a lone surrogate in a string, signed": _lone_surrogate,
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_a_badly_signed_or_malformed_delivery_is_refused_and_changes_nothing(
    case, api, deliver, stack, stripe_world, card_order
):
    """Stripe (or an attacker) gets 400 in the contract's error shape; the order is exactly as before.

    The event is a genuine ``payment_intent.succeeded`` for the order, so if a check were
    skipped the order would show as paid. Afterwards the proper delivery still applies:
    a refused attempt did not use the event up.
    """
    order = card_order()
    event = stripe_world.standin.succeed(order.pi)
    before = view(api, order.order_id)

    how = REFUSED[case](stripe_world, event)
    if how.pop("omit_signature", False):
        headers = {"content-type": "application/json; charset=utf-8"}
        reply = api.request("POST", "/webhooks/stripe", body=stripe_world.payload(event), headers=headers)
    else:
        reply = deliver(event, **how)

    assert reply.status == 400, reply.body
    assert set(reply.body) == {"error"} and set(reply.error) == {"code", "message", "details"}
    assert reply.error["code"] == "invalid_webhook"
    assert isinstance(reply.error["message"], str) and reply.error["message"]
    after = view(api, order.order_id)
    assert after == before
    assert after["payment_status"] == "pending" and "payment_received" not in types(after)
    assert markers(stack, order.order_id) == []

    retry = deliver(event)
    assert retry.status == 200 and retry.body == {"received": True, "result": "applied"}
    assert view(api, order.order_id)["payment_status"] == "paid"


def test_an_oversize_body_is_refused_with_413_before_anything_is_read(api, deliver, stack, stripe_world, card_order):
    """A body over MAX_BODY_BYTES (64 KiB), even correctly signed, gets 413 payload_too_large; nothing changes."""
    order = card_order()
    event = stripe_world.standin.succeed(order.pi)
    event["data"]["object"]["description"] = "x" * 70_000
    before = view(api, order.order_id)

    reply = deliver(event)

    assert reply.status == 413, reply.body
    assert set(reply.body) == {"error"} and set(reply.error) == {"code", "message", "details"}
    assert reply.error["code"] == "payload_too_large"
    assert view(api, order.order_id) == before
    assert markers(stack, order.order_id) == []


def test_a_fault_on_our_side_answers_5xx_so_stripe_retries_and_the_retry_applies(
    api, deliver, stack, stripe_world, card_order, monkeypatch
):
    """DynamoDB fails while the event is written: Stripe gets a 5xx (it will retry), the order is untouched and
    the event is not marked seen; Stripe's retry is then applied normally."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib.entrypoints.http import wiring

    order = card_order()
    event = stripe_world.standin.succeed(order.pi)
    before = view(api, order.order_id)
    repo = wiring.orders_repo()
    real_commit = repo._commit
    outage = iter([True])

    def commit(puts, stock, *args, **kwargs):
        if next(outage, False):
            raise TransactWriteError("InternalServerError: DynamoDB is having a bad day")
        return real_commit(puts, stock, *args, **kwargs)

    monkeypatch.setattr(repo, "_commit", commit)

    reply = deliver(event)

    assert reply.status >= 500, reply.body
    assert set(reply.error) >= {"code", "message"}
    assert view(api, order.order_id) == before
    assert markers(stack, order.order_id) == []

    retry = deliver(event)
    assert retry.body == {"received": True, "result": "applied"}
    assert view(api, order.order_id)["payment_status"] == "paid"


# --- payment_intent.succeeded --------------------------------------------------------------------------------


def test_a_succeeded_payment_marks_the_order_paid_once(api, deliver, stack, stripe_world, card_order):
    """Staff see the order paid in full with a payment_received entry naming the PaymentIntent; a redelivery
    of the same event answers "duplicate" and changes nothing."""
    order = card_order()
    event = stripe_world.standin.succeed(order.pi)

    reply = deliver(event)

    assert reply.status == 200
    assert reply.body == {"received": True, "result": "applied"}
    paid = view(api, order.order_id)
    assert paid["status"] == "confirmed"
    assert paid["payment_status"] == "paid"
    assert paid["amount_paid"] == paid["total"] == TOTAL
    assert paid["amount_refunded"] == 0 and paid["flags"] == []
    [received] = events_of(paid, "payment_received")
    assert received["actor"] == "stripe"
    assert received["data"]["provider_reference"] == order.pi
    assert received["data"]["amount"] == TOTAL and received["data"]["currency"] == "CNY"
    assert markers(stack, order.order_id) == [f"STRIPE#{event['id']}"]

    again = deliver(event)

    assert again.status == 200
    assert again.body == {"received": True, "result": "duplicate"}
    assert view(api, order.order_id) == paid


def test_twenty_simultaneous_deliveries_apply_the_event_once(api, deliver, stripe_world, card_order):
    """Stripe retrying aggressively: twenty copies at once all get 2xx; the money is counted once."""
    order = card_order()
    event = stripe_world.standin.succeed(order.pi)

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: deliver(event), range(20)))

    assert [reply.status for reply in replies] == [200] * 20, [r.body for r in replies if r.status != 200]
    assert Counter(reply.body["result"] for reply in replies) == {"applied": 1, "duplicate": 19}
    paid = view(api, order.order_id)
    assert paid["payment_status"] == "paid"
    assert paid["amount_paid"] == TOTAL
    assert len(events_of(paid, "payment_received")) == 1


def test_a_declined_attempt_then_a_success_leaves_the_order_paid_with_both_recorded(
    api, deliver, stripe_world, card_order
):
    """The customer's card is declined, they try again and pay: the timeline shows both, the order is paid."""
    order = card_order()
    declined = stripe_world.standin.fail(order.pi)

    assert deliver(declined).body["result"] == "applied"
    failed = view(api, order.order_id)
    assert failed["status"] == "confirmed" and failed["payment_status"] == "unpaid"
    [attempt] = events_of(failed, "payment_failed")
    assert attempt["data"]["provider_reference"] == order.pi
    assert attempt["data"]["code"] == "card_declined"

    assert deliver(stripe_world.standin.succeed(order.pi)).body["result"] == "applied"
    paid = view(api, order.order_id)
    assert (paid["payment_status"], paid["amount_paid"]) == ("paid", TOTAL)
    assert types(paid).index("payment_failed") < types(paid).index("payment_received")


def test_a_late_failure_event_does_not_unpay_a_paid_order(api, deliver, stripe_world, card_order):
    """Events can arrive out of order: a decline delivered after the success is recorded, the order stays paid."""
    order = card_order()
    declined = stripe_world.standin.fail(order.pi)
    succeeded = stripe_world.standin.succeed(order.pi)

    assert deliver(succeeded).body["result"] == "applied"
    assert deliver(declined).body["result"] == "applied"

    paid = view(api, order.order_id)
    assert (paid["status"], paid["payment_status"], paid["amount_paid"]) == ("confirmed", "paid", TOTAL)
    assert len(events_of(paid, "payment_failed")) == 1
    assert len(events_of(paid, "payment_received")) == 1


@pytest.mark.parametrize(
    ("paid_amount", "paid_currency", "received_currency"),
    [(TOTAL - 1, None, "CNY"), (TOTAL + 100, None, "CNY"), (None, "usd", "USD")],
    ids=["one fen short", "too much", "wrong currency"],
)
def test_a_payment_that_does_not_match_the_order_is_flagged_not_paid(
    paid_amount, paid_currency, received_currency, api, deliver, stripe_world, card_order
):
    """Staff see payment_mismatch in the flags and the timeline (expected vs received); the order is not paid."""
    order = card_order()
    event = stripe_world.standin.succeed(order.pi, amount=paid_amount, currency=paid_currency)

    assert deliver(event).body == {"received": True, "result": "applied"}

    flagged = view(api, order.order_id)
    assert flagged["status"] == "confirmed"
    assert flagged["payment_status"] != "paid"
    assert flagged["amount_paid"] == 0
    assert "payment_mismatch" in flagged["flags"]
    assert "payment_received" not in types(flagged)
    [mismatch] = events_of(flagged, "payment_mismatch")
    assert mismatch["data"]["expected_amount"] == TOTAL
    assert mismatch["data"]["expected_currency"] == "CNY"
    assert mismatch["data"]["received_amount"] == (TOTAL if paid_amount is None else paid_amount)
    assert mismatch["data"]["received_currency"] == received_currency

    assert deliver(event).body["result"] == "duplicate"
    assert len(events_of(view(api, order.order_id), "payment_mismatch")) == 1


# --- refunds and disputes, in any order ------------------------------------------------------------------------


def test_refund_events_arriving_before_the_payment_event_end_partially_refunded(api, deliver, stripe_world, card_order):
    """Stripe does not promise order: a refund's events delivered before payment_intent.succeeded still leave the
    order paid in full and partly refunded, and the late success changes nothing."""
    order = card_order()
    succeeded = stripe_world.standin.succeed(order.pi)
    refund = make_client(stripe_world.transport).v1.refunds.create(params={"payment_intent": order.pi, "amount": 1200})
    refund_created, charge_refunded = stripe_world.standin.refund_events(refund.id)
    assert (refund_created["type"], charge_refunded["type"]) == ("refund.created", "charge.refunded")

    assert deliver(refund_created).body["result"] == "applied"
    assert deliver(charge_refunded).body["result"] == "applied"
    middle = view(api, order.order_id)
    assert deliver(succeeded).body["result"] == "applied"

    final = view(api, order.order_id)
    assert (final["status"], final["payment_status"]) == ("confirmed", "partially_refunded")
    assert (final["amount_paid"], final["amount_refunded"]) == (TOTAL, 1200)
    assert money(final) == money(middle)
    assert len(events_of(final, "payment_received")) == 1
    assert [e["data"]["amount"] for e in events_of(final, "refund_issued")] == [1200]


def test_a_full_refund_made_in_the_stripe_dashboard_shows_as_refunded(api, deliver, stripe_world, card_order):
    """A refund staff make in Stripe's dashboard reaches the order through charge.refunded."""
    order = card_order()
    deliver(stripe_world.standin.succeed(order.pi))
    refund = make_client(stripe_world.transport).v1.refunds.create(params={"payment_intent": order.pi})
    for event in stripe_world.standin.refund_events(refund.id):
        assert deliver(event).body["result"] == "applied"

    final = view(api, order.order_id)
    assert (final["payment_status"], final["amount_paid"], final["amount_refunded"]) == ("refunded", TOTAL, TOTAL)


def test_a_dispute_flags_the_order_for_staff(api, deliver, stripe_world, card_order):
    """charge.dispute.created (it names the charge and PaymentIntent, not our order) flags the order 'disputed'."""
    order = card_order()
    deliver(stripe_world.standin.succeed(order.pi))
    dispute = stripe_world.standin.dispute(order.pi, reason="fraudulent")

    assert deliver(dispute).body["result"] == "applied"

    disputed = view(api, order.order_id)
    assert disputed["flags"] == ["disputed"]
    [opened] = events_of(disputed, "dispute_opened")
    assert opened["data"]["dispute_id"] == dispute["data"]["object"]["id"]
    assert opened["data"]["amount"] == TOTAL and opened["data"]["reason"] == "fraudulent"
    assert disputed["payment_status"] == "paid"

    assert deliver(dispute).body["result"] == "duplicate"
    assert len(events_of(view(api, order.order_id), "dispute_opened")) == 1


def order_history(standin, transport, pi: str) -> list[dict[str, Any]]:
    """What Stripe sends for one order: a decline, the payment, a partial refund and a dispute."""
    declined = standin.fail(pi)
    succeeded = standin.succeed(pi)
    refund = make_client(transport).v1.refunds.create(params={"payment_intent": pi, "amount": 700})
    refund_created, charge_refunded = standin.refund_events(refund.id)
    dispute = standin.dispute(pi)
    return [declined, succeeded, refund_created, charge_refunded, dispute]


EXPECTED_END = {
    "status": "confirmed",
    "payment_status": "partially_refunded",
    "amount_paid": TOTAL,
    "amount_refunded": 700,
    "flags": ["disputed"],
}


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),  # each example is a few HTTP round trips: report, do not shrink
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_order_and_any_repetition_of_an_orders_events_ends_the_same(data, api, deliver, stripe_world, card_order):
    """Whatever order Stripe delivers an order's events in, and however often, staff see the same end state."""
    order = card_order()
    history = order_history(stripe_world.standin, stripe_world.transport, order.pi)
    repeats = data.draw(st.lists(st.sampled_from(history), max_size=4), label="redelivered")
    deliveries = data.draw(st.permutations(history + repeats), label="deliveries")

    results = Counter()
    for event in deliveries:
        reply = deliver(event)
        assert reply.status == 200, reply.body
        results[reply.body["result"]] += 1

    assert results == Counter(applied=len(history), duplicate=len(repeats)), [e["type"] for e in deliveries]
    final = view(api, order.order_id)
    assert {key: final[key] for key in EXPECTED_END} == EXPECTED_END
    assert len(events_of(final, "payment_received")) == 1
    assert len(events_of(final, "dispute_opened")) == 1


# --- events that are not ours, or not interesting -----------------------------------------------------------


def test_an_event_for_a_payment_we_never_made_is_acknowledged_and_logged(api, deliver, stripe_world, caplog):
    """A PaymentIntent created elsewhere on the Stripe account (no order metadata): 200 "unmatched", logged."""
    caplog.set_level(logging.INFO)
    foreign = make_client(stripe_world.transport).v1.payment_intents.create(params={"amount": 999, "currency": "cny"})
    event = stripe_world.standin.succeed(foreign.id)

    reply = deliver(event)

    assert reply.status == 200
    assert reply.body == {"received": True, "result": "unmatched"}
    assert any(event["id"] in record.getMessage() for record in caplog.records)


def test_an_event_naming_an_order_that_does_not_exist_is_acknowledged_and_logged(api, deliver, stripe_world, caplog):
    """metadata.order_id of an order we do not have (another environment's, or deleted): 200 "unmatched"."""
    caplog.set_level(logging.INFO)
    params = {"amount": 999, "currency": "cny", "metadata": {"order_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ"}}
    foreign = make_client(stripe_world.transport).v1.payment_intents.create(params=params)
    event = stripe_world.standin.succeed(foreign.id)

    reply = deliver(event)

    assert reply.status == 200
    assert reply.body == {"received": True, "result": "unmatched"}
    assert any(event["id"] in record.getMessage() for record in caplog.records)


def test_event_types_we_do_not_handle_are_acknowledged_and_ignored(api, deliver, stack, stripe_world, card_order):
    """A plan.created, or a payment_intent.created for one of our orders: 200 "ignored" and the order unchanged."""
    order = card_order()
    before = view(api, order.order_id)
    plan = {"id": "plan_1Pgc76B7WZ01zgkW", "object": "plan", "amount": 2000, "currency": "usd", "interval": "month"}
    created = stripe_world.standin.event("payment_intent.created", stripe_world.standin.get(order.pi))

    for event in (stripe_world.standin.event("plan.created", plan), created):
        reply = deliver(event)
        assert reply.status == 200
        assert reply.body == {"received": True, "result": "ignored"}

    assert view(api, order.order_id) == before
    assert markers(stack, order.order_id) == []


# --- cost and what Stripe sends ----------------------------------------------------------------------------------


def test_a_payment_event_costs_one_query_and_one_transaction_and_a_duplicate_one_query(
    api, deliver, stripe_world, card_order, dynamodb_calls
):
    """DynamoDB calls per webhook: succeeded = Query + TransactWriteItems; a redelivery = one Query."""
    order = card_order()
    event = stripe_world.standin.succeed(order.pi)

    dynamodb_calls.clear()
    assert deliver(event).body["result"] == "applied"
    assert sorted(dynamodb_calls) == ["Query", "TransactWriteItems"]

    dynamodb_calls.clear()
    assert deliver(event).body["result"] == "duplicate"
    assert dynamodb_calls == ["Query"]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/json", "application/json;charset=UTF-8"]
)
def test_the_webhook_accepts_the_content_type_stripe_sends(content_type, api, stripe_world, card_order):
    """Stripe posts ``Content-Type: application/json; charset=utf-8``; it must not get 415."""
    order = card_order()
    event = stripe_world.standin.succeed(order.pi)
    payload = stripe_world.payload(event)

    reply = api.request(
        "POST",
        "/webhooks/stripe",
        body=payload,
        headers={"content-type": content_type, "stripe-signature": stripe_world.signature(payload)},
    )

    assert reply.status == 200, reply.body
    assert reply.body == {"received": True, "result": "applied"}
    assert view(api, order.order_id)["payment_status"] == "paid"
