"""At most one payment attempt is open, and nothing can be charged after the order is gone (API.md, Payments).

Through the HTTP API; Stripe is the in-memory stand-in reached by Stripe's own SDK over
the fake transport, so whether a PaymentIntent can still be paid is checked where a
customer's card would meet it: at "Stripe".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stripe

from chalicelib.entrypoints.http import wiring
from tests.conftest import assert_error, events_of, view
from tests.stripe_transport import API_KEY

SKU, PRICE, QUANTITY = "TEE-ATT", 2500, 2
TOTAL = PRICE * QUANTITY
CANCEL_PATH = "/v1/payment_intents/*/cancel"


@pytest.fixture
def order_id(seed, place) -> str:
    seed(SKU, stock=20, price=PRICE)
    reply = place((SKU, QUANTITY), as_="customer")
    assert reply.status == 201, reply.body
    return reply.body["order_id"]


def pay(api, order_id: str, method: str):
    return api.post(f"/orders/{order_id}/payments", {"method": method}, as_="customer")


def intent_status(stripe_world, pi: str) -> str:
    return stripe_world.standin.get(pi)["status"]


def can_be_charged(stripe_world, pi: str) -> bool:
    """Whether the customer's card could still pay this PaymentIntent (the stand-in refuses a canceled one)."""
    try:
        stripe_world.standin.succeed(pi)
    except Exception:  # the stand-in's own "unexpected state" refusal
        return False
    return True


def statuses(order: dict) -> list[tuple[str, str]]:
    return [(p["method"], p["status"]) for p in order["payments"]]


def outside_payment(stripe_world, order_id: str) -> str:
    """A PaymentIntent for the order made outside the shop's flow (e.g. in the Stripe dashboard)."""
    made = stripe.StripeClient(API_KEY, http_client=stripe_world.transport).v1.payment_intents.create(
        params={
            "amount": TOTAL,
            "currency": "cny",
            "payment_method_types": ["card"],
            "metadata": {"order_id": order_id},
        }
    )
    return made.id


# --- no charge after cancel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["customer", "staff"])
def test_cancelling_an_unpaid_order_cancels_its_payment_intent_so_it_can_never_be_charged(
    api, stripe_world, order_id, who
):
    """The customer started a card payment, then the order is cancelled (by them or by staff): the PaymentIntent is
    canceled at Stripe before the order is, so the card can no longer pay it."""
    pi = pay(api, order_id, "card").body["provider_reference"]

    reply = api.post(f"/orders/{order_id}/cancel", {"reason": "no longer needed"}, as_=who)

    assert reply.status == 200, reply.body
    assert intent_status(stripe_world, pi) == "canceled"
    assert not can_be_charged(stripe_world, pi)
    order = view(api, order_id)
    assert (order["status"], order["payment_status"], order["amount_paid"]) == ("cancelled", "unpaid", 0)
    assert statuses(order) == [("card", "canceled")]


def test_a_cancel_while_stripe_is_down_still_cancels_and_the_intent_is_canceled_later(
    api, stripe_world, order_id, monkeypatch
):
    """Stripe does not answer the cancel: the order is cancelled anyway (its stock is back), and the retry schedule
    cancels the PaymentIntent once Stripe is back, once."""
    pi = pay(api, order_id, "card").body["provider_reference"]
    stripe_world.transport.fail_next(CANCEL_PATH, times=3)  # the first try and the SDK's two retries

    assert api.post(f"/orders/{order_id}/cancel", as_="customer").status == 200
    assert view(api, order_id)["status"] == "cancelled"
    assert intent_status(stripe_world, pi) == "requires_payment_method"  # still open at Stripe

    monkeypatch.setattr(wiring.changes(), "clock", lambda: datetime.now(UTC) + timedelta(minutes=2))
    assert wiring.schedules().retry_refunds() == 1
    assert intent_status(stripe_world, pi) == "canceled"
    calls = stripe_world.transport.count("POST", CANCEL_PATH)
    assert wiring.schedules().retry_refunds() == 0  # done: nothing left to retry
    assert stripe_world.transport.count("POST", CANCEL_PATH) == calls


def test_a_payment_that_succeeds_after_the_cancel_anyway_is_refunded_and_not_announced_as_received(
    api, stripe_world, deliver, order_id, event_world
):
    """The card was paid a moment before the cancel reached Stripe: the order stays cancelled, the money goes back
    (``paid_after_cancel``), and the customer is not told "payment received" for a cancelled order."""
    pi = pay(api, order_id, "card").body["provider_reference"]
    succeeded = stripe_world.standin.succeed(pi)  # paid at Stripe; its webhook is still on its way

    assert api.post(f"/orders/{order_id}/cancel", as_="customer").status == 200
    assert deliver(succeeded).status == 200

    order = view(api, order_id)
    assert order["status"] == "cancelled" and "paid_after_cancel" in order["flags"]
    assert order["amount_refunded"] == order["amount_paid"] == TOTAL
    event_world.pump()
    told = {n["attributes"]["event_type"] for n in event_world.customer.drain()}
    assert "payment_received" not in told and "order_cancelled" in told


# --- one open attempt ---------------------------------------------------------------------------------------------


def test_paying_another_way_cancels_the_earlier_attempt_so_only_one_is_ever_open(api, stripe_world, deliver, order_id):
    """Alipay, then WeChat Pay, then cash: each new attempt closes the one before (its PaymentIntent canceled at
    Stripe, an offline one voided). Going back to a method gets a fresh PaymentIntent, never a canceled one."""
    alipay = pay(api, order_id, "alipay").body
    wechat = pay(api, order_id, "wechat_pay").body
    cash = pay(api, order_id, "cash")
    assert cash.status == 201, cash.body

    assert intent_status(stripe_world, alipay["provider_reference"]) == "canceled"
    assert intent_status(stripe_world, wechat["provider_reference"]) == "canceled"
    order = view(api, order_id)
    assert statuses(order) == [("alipay", "canceled"), ("wechat_pay", "canceled"), ("cash", "pending")]
    assert order["payment_status"] == "pending"

    again = pay(api, order_id, "alipay")
    assert again.status == 201, again.body
    assert again.body["provider_reference"] != alipay["provider_reference"]
    assert again.body["payment_id"] != alipay["payment_id"]
    order = view(api, order_id)
    assert [s for _, s in statuses(order)].count("pending") == 1
    assert [e["data"]["method"] for e in events_of(order, "payment_voided")] == ["cash"]
    open_at_stripe = [pi for pi in stripe_world.standin.find_payment_intents(order_id) if pi["status"] != "canceled"]
    assert [pi["id"] for pi in open_at_stripe] == [again.body["provider_reference"]]

    assert deliver(stripe_world.standin.succeed(again.body["provider_reference"])).status == 200
    paid = view(api, order_id)
    assert (paid["payment_status"], paid["amount_paid"]) == ("paid", TOTAL)  # once, not twice


def test_another_method_is_refused_while_the_earlier_payment_is_going_through(api, stripe_world, deliver, order_id):
    """The card payment already succeeded at Stripe (its webhook not here yet): switching to Alipay would let two
    payments through, so it is refused with 409 and nothing is created; the card payment then pays the order."""
    pi = pay(api, order_id, "card").body["provider_reference"]
    succeeded = stripe_world.standin.succeed(pi)
    intents_before = stripe_world.transport.count("POST", "/v1/payment_intents")

    reply = pay(api, order_id, "alipay")

    details = assert_error(reply, 409, "payment_in_progress")
    assert details["method"] == "card"
    assert stripe_world.transport.count("POST", "/v1/payment_intents") == intents_before
    assert statuses(view(api, order_id)) == [("card", "pending")]
    assert deliver(succeeded).status == 200
    assert view(api, order_id)["payment_status"] == "paid"


def test_stripe_down_when_switching_methods_is_a_502_and_nothing_changes(api, stripe_world, order_id):
    pi = pay(api, order_id, "card").body["provider_reference"]
    before = view(api, order_id)
    stripe_world.transport.fail_next(CANCEL_PATH, times=3)

    reply = pay(api, order_id, "wechat_pay")

    assert_error(reply, 502, "payment_provider_error")
    assert view(api, order_id) == before
    assert intent_status(stripe_world, pi) == "requires_payment_method"


def test_when_the_order_is_paid_its_other_open_attempts_are_closed(api, stripe_world, deliver, order_id):
    """A cash attempt is open when a payment made outside the shop's flow pays the order: the cash attempt is voided,
    so staff cannot take the money a second time at the counter."""
    cash = pay(api, order_id, "cash").body
    outside = outside_payment(stripe_world, order_id)

    assert deliver(stripe_world.standin.succeed(outside)).status == 200

    order = view(api, order_id)
    assert order["payment_status"] == "paid"
    assert ("cash", "canceled") in statuses(order)
    [voided] = events_of(order, "payment_voided")
    assert voided["data"] == {"payment_id": cash["payment_id"], "method": "cash", "reason": "order_paid"}
    refused = api.post(f"/staff/orders/{order_id}/payments/{cash['payment_id']}/confirm",
                       {"amount": TOTAL, "reference": "TILL-1"}, as_="staff")  # fmt: skip
    assert refused.status == 409, refused.body


def test_when_the_order_is_paid_another_open_payment_intent_is_canceled_at_stripe(api, stripe_world, deliver, order_id):
    card = pay(api, order_id, "card").body
    outside = outside_payment(stripe_world, order_id)

    assert deliver(stripe_world.standin.succeed(outside)).status == 200

    assert view(api, order_id)["payment_status"] == "paid"
    assert intent_status(stripe_world, card["provider_reference"]) == "canceled"
    assert not can_be_charged(stripe_world, card["provider_reference"])
