"""Paying an order, as a checkout and the shop's staff see it (API.md, Payments).

Every test goes through the HTTP API (the verifying gateway, real Cognito tokens,
real moto tables). Stripe is the in-memory stand-in reached by Stripe's own SDK over
a fake transport, so what the app sent to Stripe is checked where Stripe would see it.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.orders import parse_iso
from chalicelib.entrypoints.http import wiring
from tests.conftest import KEY, WEBHOOK_SECRET, Reply, assert_error, events_of, types, view
from tests.stripe_transport import API_KEY

SKU, PRICE, QUANTITY, STOCK = "TEE-PAY", 1999, 2, 50
TOTAL = PRICE * QUANTITY  # 3998 fen = 39.98 CNY
ONLINE = ("card", "alipay", "wechat_pay")
OFFLINE = ("bank_transfer", "cash")
INTENTS_PATH = "/v1/payment_intents"


# --- helpers ---------------------------------------------------------------------------------------------------


@pytest.fixture
def order_id(seed, place) -> str:
    """A fresh confirmed, unpaid order of "customer" for TOTAL CNY (two units of SKU reserved)."""
    seed(SKU, stock=STOCK, price=PRICE)
    reply = place((SKU, QUANTITY), as_="customer")
    assert reply.status == 201, reply.body
    assert reply.body["total"] == TOTAL
    return reply.body["order_id"]


def pay(api, order_id: str, method: str, as_: str = "customer") -> Reply:
    return api.post(f"/orders/{order_id}/payments", {"method": method}, as_=as_)


def stock_of(api) -> int:
    return api.get(f"/products/{SKU}").body["stock_available"]


def stripe_calls(stripe_world) -> int:
    return sum(stripe_world.transport.calls.values())


def snapshot(api, stripe_world, order_id: str) -> dict[str, Any]:
    """Everything a refused request could have changed: the order, the stock, Stripe."""
    return {
        "order": view(api, order_id),
        "stock": stock_of(api),
        "intents": stripe_world.standin.find_payment_intents(),
        "stripe_calls": stripe_world.transport.calls.copy(),
    }


def move_clock(monkeypatch, delta: timedelta) -> None:
    """Payments, webhooks and schedules now see a clock ``delta`` ahead."""
    monkeypatch.setattr(wiring.changes(), "clock", lambda: datetime.now(UTC) + delta)


def pay_by_card(api, stripe_world, deliver, order_id: str) -> str:
    """The customer pays the order by card, and Stripe tells the webhook. Returns the PaymentIntent id."""
    started = pay(api, order_id, "card")
    assert started.status == 201, started.body
    pi_id = started.body["provider_reference"]
    assert deliver(stripe_world.standin.succeed(pi_id)).status == 200
    assert view(api, order_id)["payment_status"] == "paid"
    return pi_id


# --- online payments: a Stripe PaymentIntent ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ONLINE)
def test_paying_online_creates_one_payment_intent_for_the_order_total(api, stripe_world, sent, order_id, method):
    """The checkout gets a PaymentIntent for exactly the order's total, in CNY, for the chosen method, and the
    order shows the payment as pending with a payment_started event."""
    reply = pay(api, order_id, method)

    assert reply.status == 201, reply.body
    body = reply.body
    [intent] = stripe_world.standin.find_payment_intents(order_id)
    assert intent["amount"] == TOTAL
    assert intent["currency"] == "cny"
    assert intent["payment_method_types"] == [method]
    assert intent["metadata"]["order_id"] == order_id
    assert intent["status"] == "requires_payment_method"

    assert body["provider_reference"] == intent["id"]
    assert body["client_secret"] == intent["client_secret"]
    assert body["order_id"] == order_id
    assert (body["method"], body["amount"], body["currency"], body["status"]) == (method, TOTAL, "CNY", "pending")
    assert body["payment_id"] and body["instructions"] is None

    [create] = [s for s in sent if (s.method, s.path) == ("POST", INTENTS_PATH)]
    assert create.idempotency_key, "the PaymentIntent must be created with an Idempotency-Key"
    assert create.params["amount"] == str(TOTAL)
    assert create.params["metadata"]["order_id"] == order_id

    order = view(api, order_id)
    assert order["payment_status"] == "pending"
    assert order["status"] == "confirmed"
    assert order["amount_paid"] == 0
    [started] = events_of(order, "payment_started")
    assert started["data"]["method"] == method
    assert started["data"]["amount"] == TOTAL
    assert started["data"]["provider_reference"] == intent["id"]
    assert body["client_secret"] not in str(order)  # the secret is for the checkout only, never stored


def test_paying_again_while_pending_returns_the_same_payment_intent(api, stripe_world, order_id):
    """A second tap on 'pay' answers 200 with the same PaymentIntent and client secret; Stripe makes no second one."""
    first = pay(api, order_id, "card")
    again = pay(api, order_id, "card")

    assert first.status == 201 and again.status == 200, (first.body, again.body)
    assert again.body["payment_id"] == first.body["payment_id"]
    assert again.body["provider_reference"] == first.body["provider_reference"]
    assert again.body["client_secret"] == first.body["client_secret"]
    assert len(stripe_world.standin.find_payment_intents(order_id)) == 1
    assert stripe_world.transport.count("POST", INTENTS_PATH) == 1
    assert types(view(api, order_id)).count("payment_started") == 1


def test_concurrent_pay_requests_share_one_payment_intent(api, stripe_world, sent, order_id):
    """Eight simultaneous 'pay by card' requests (a double-clicking checkout) all get the same PaymentIntent;
    Stripe holds exactly one for the order, and the order records one payment."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: pay(api, order_id, "card"), range(8)))

    assert all(reply.status in (200, 201) for reply in replies), [(r.status, r.body) for r in replies]
    assert [reply.status for reply in replies].count(201) == 1
    assert len({reply.body["provider_reference"] for reply in replies}) == 1
    assert len({reply.body["client_secret"] for reply in replies}) == 1
    [intent] = stripe_world.standin.find_payment_intents(order_id)
    assert replies[0].body["provider_reference"] == intent["id"]
    creates = [s for s in sent if (s.method, s.path) == ("POST", INTENTS_PATH)]
    assert len({s.idempotency_key for s in creates}) == 1 and creates[0].idempotency_key
    order = view(api, order_id)
    assert len(order["payments"]) == 1
    assert types(order).count("payment_started") == 1


def test_after_a_declined_card_the_customer_pays_again_on_the_same_payment_intent(api, stripe_world, deliver, order_id):
    """Stripe reports the card declined: the order shows the attempt failed and is payable again; paying again
    gives the same PaymentIntent back (Stripe lets it be confirmed again), and no second one is created."""
    first = pay(api, order_id, "card")
    pi_id = first.body["provider_reference"]
    assert deliver(stripe_world.standin.fail(pi_id)).status == 200
    failed = view(api, order_id)
    assert failed["payment_status"] == "unpaid"
    assert [p["status"] for p in failed["payments"]] == ["failed"]
    assert events_of(failed, "payment_failed")

    again = pay(api, order_id, "card")

    assert again.status in (200, 201), again.body
    assert again.body["provider_reference"] == pi_id
    assert again.body["status"] == "pending"
    assert len(stripe_world.standin.find_payment_intents(order_id)) == 1
    assert view(api, order_id)["payment_status"] == "pending"
    assert deliver(stripe_world.standin.succeed(pi_id)).status == 200
    assert view(api, order_id)["payment_status"] == "paid"


@pytest.mark.parametrize(
    ("status", "processed"),
    [(500, False), (500, True), (None, False)],
    ids=["http-500", "http-500-after-stripe-made-it", "connection-error"],
)
def test_stripe_down_is_a_502_and_after_it_is_back_one_payment_intent(api, stripe_world, order_id, status, processed):
    """While Stripe fails (every retry of the SDK), the checkout gets 502 payment_provider_error and the order is
    untouched. Once Stripe answers again, paying works and Stripe holds exactly one PaymentIntent: even when Stripe
    had made one whose answer was lost, the idempotency key gives that same one back."""
    before = view(api, order_id)
    stripe_world.transport.fail_next(INTENTS_PATH, times=3, status=status, processed=processed)

    reply = pay(api, order_id, "card")

    assert_error(reply, 502, "payment_provider_error")
    assert stripe_world.transport.count("POST", INTENTS_PATH) == 3  # the first try and the SDK's 2 retries
    assert view(api, order_id) == before
    assert len(stripe_world.standin.find_payment_intents(order_id)) == (1 if processed else 0)

    again = pay(api, order_id, "card")

    assert again.status == 201, again.body
    [intent] = stripe_world.standin.find_payment_intents(order_id)
    assert again.body["provider_reference"] == intent["id"]
    assert view(api, order_id)["payment_status"] == "pending"


# --- offline payments: instructions --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", OFFLINE)
def test_paying_offline_gives_instructions_and_holds_the_stock_for_days(api, stripe_world, order_id, method):
    """Bank transfer or cash: the customer gets a reference code to quote (PAY-<order number>), the amount, the
    currency and a pay-by date; the reservation is extended to 72 hours; Stripe is not involved at all."""
    placed = view(api, order_id)
    reply = pay(api, order_id, method)
    now = datetime.now(UTC)

    assert reply.status == 201, reply.body
    body = reply.body
    assert (body["method"], body["amount"], body["currency"], body["status"]) == (method, TOTAL, "CNY", "pending")
    assert body["provider_reference"] is None and body["client_secret"] is None
    instructions = body["instructions"]
    assert instructions["reference_code"] == f"PAY-{placed['order_number']}"
    assert instructions["amount"] == TOTAL
    assert instructions["currency"] == "CNY"

    order = view(api, order_id)
    assert instructions["pay_by"] == order["reserved_until"]
    assert order["reserved_until"] > placed["reserved_until"]
    extended = parse_iso(order["reserved_until"]) - now
    assert timedelta(hours=72) - timedelta(minutes=1) <= extended <= timedelta(hours=72)
    assert order["payment_status"] == "pending"
    [started] = events_of(order, "payment_started")
    assert started["data"]["reference_code"] == instructions["reference_code"]
    assert stripe_calls(stripe_world) == 0
    assert stripe_world.standin.find_payment_intents() == []

    again = pay(api, order_id, method)
    assert again.status == 200, again.body
    assert again.body["payment_id"] == body["payment_id"]
    assert again.body["instructions"]["reference_code"] == instructions["reference_code"]
    assert stripe_calls(stripe_world) == 0


def test_an_offline_order_is_not_expired_at_the_online_payment_deadline(api, stripe_world, order_id, monkeypatch):
    """An order waiting for a bank transfer keeps its stock past the usual 30 minutes."""
    assert pay(api, order_id, "bank_transfer").status == 201
    move_clock(monkeypatch, timedelta(hours=2))

    wiring.schedules().expire_unpaid()

    order = view(api, order_id)
    assert order["status"] == "confirmed"
    assert stock_of(api) == STOCK - QUANTITY


# --- refusals ------------------------------------------------------------------------------------------------------


def cancelled(api, stripe_world, deliver, order_id: str, monkeypatch) -> None:
    assert api.post(f"/orders/{order_id}/cancel", {"reason": "changed my mind"}, as_="customer").status == 200


def expired(api, stripe_world, deliver, order_id: str, monkeypatch) -> None:
    move_clock(monkeypatch, timedelta(minutes=31))
    assert wiring.schedules().expire_unpaid() == 1
    assert view(api, order_id)["status"] == "expired"


def already_paid(api, stripe_world, deliver, order_id: str, monkeypatch) -> None:
    pay_by_card(api, stripe_world, deliver, order_id)


def pending_approval(api, stripe_world, deliver, order_id: str, monkeypatch) -> None:
    """No route makes such an order yet: write one through the app's own repository."""
    repo = wiring.orders_repo()
    order = repo.get(order_id)
    version = order.version
    order.status, order.version = "pending_approval", version + 1
    repo.save(order, version, [])
    assert view(api, order_id)["status"] == "pending_approval"


@pytest.mark.parametrize("make", [cancelled, expired, already_paid, pending_approval], ids=lambda f: f.__name__)
@pytest.mark.parametrize("method", ["card", "bank_transfer"])
def test_an_order_that_cannot_be_paid_is_refused_with_409_and_nothing_changes(
    api, stripe_world, deliver, order_id, monkeypatch, make, method
):
    """Paying a cancelled, expired, already paid or not yet approved order answers 409 invalid_transition; the
    order, its stock and Stripe stay as they were."""
    make(api, stripe_world, deliver, order_id, monkeypatch)
    before = snapshot(api, stripe_world, order_id)

    reply = pay(api, order_id, method)

    details = assert_error(reply, 409, "invalid_transition")
    assert details["status"] == before["order"]["status"]
    assert snapshot(api, stripe_world, order_id) == before


def test_another_customers_order_cannot_be_paid_and_looks_missing(api, stripe_world, order_id):
    """Another customer gets the same 404 as for an order that does not exist; nothing is created at Stripe."""
    before = snapshot(api, stripe_world, order_id)

    theirs = pay(api, order_id, "card", as_="other")
    missing = pay(api, "0" * len(order_id), "card", as_="other")

    assert_error(theirs, 404, "not_found")
    assert_error(missing, 404, "not_found")
    assert theirs.error["message"] == missing.error["message"]
    assert snapshot(api, stripe_world, order_id) == before


@pytest.mark.parametrize("body", [{"method": "paypal"}, {"method": "CARD"}, {}, {"method": "card", "amount": 1}])
def test_an_unknown_method_is_a_422_naming_the_field(api, stripe_world, order_id, body):
    """Only card, alipay, wechat_pay, bank_transfer and cash are accepted; anything else is 422 and writes nothing."""
    before = snapshot(api, stripe_world, order_id)

    reply = api.post(f"/orders/{order_id}/payments", body, as_="customer")

    details = assert_error(reply, 422, "validation_failed")
    expected = "amount" if "amount" in body else "method"
    assert expected in details["fields"], details
    assert snapshot(api, stripe_world, order_id) == before


# --- staff confirm an offline payment ----------------------------------------------------------------------------


def confirm(api, order_id: str, payment_id: str, amount: int, reference: str = "ICBC-20261123-0042") -> Reply:
    return api.post(
        f"/staff/orders/{order_id}/payments/{payment_id}/confirm",
        {"amount": amount, "reference": reference},
        as_="staff",
    )


def test_staff_confirm_a_bank_transfer_of_the_exact_amount_and_the_order_is_paid(api, stripe_world, order_id):
    """Staff record the transfer: the order is paid, and its timeline says who received what, with the bank's
    reference."""
    payment_id = pay(api, order_id, "bank_transfer").body["payment_id"]

    reply = confirm(api, order_id, payment_id, TOTAL, reference="ICBC-20261123-0042")

    assert reply.status == 200, reply.body
    assert reply.body["payment_status"] == "paid" and reply.body["amount_paid"] == TOTAL
    order = view(api, order_id)
    assert (order["status"], order["payment_status"], order["amount_paid"]) == ("confirmed", "paid", TOTAL)
    [received] = events_of(order, "payment_received")
    assert received["data"]["reference"] == "ICBC-20261123-0042"
    assert received["data"]["amount"] == TOTAL
    assert received["data"]["payment_id"] == payment_id
    assert received["actor"] == f"staff:{api.users['staff'].sub}"
    assert stripe_calls(stripe_world) == 0


@pytest.mark.parametrize("amount", [TOTAL - 1, TOTAL + 1, 1])
def test_confirming_a_wrong_amount_is_a_422_naming_amount(api, stripe_world, order_id, amount):
    """A transfer of the wrong amount cannot be recorded as payment: 422 naming `amount`, the order stays unpaid."""
    payment_id = pay(api, order_id, "bank_transfer").body["payment_id"]
    before = snapshot(api, stripe_world, order_id)

    reply = confirm(api, order_id, payment_id, amount)

    details = assert_error(reply, 422, "validation_failed")
    assert "amount" in details["fields"]
    assert snapshot(api, stripe_world, order_id) == before
    assert before["order"]["payment_status"] == "pending"


def test_confirming_the_same_payment_twice_is_a_409(api, stripe_world, order_id):
    """The second confirmation is refused with 409; the order is paid once."""
    payment_id = pay(api, order_id, "cash").body["payment_id"]
    assert confirm(api, order_id, payment_id, TOTAL).status == 200
    before = snapshot(api, stripe_world, order_id)

    reply = confirm(api, order_id, payment_id, TOTAL, reference="again")

    assert_error(reply, 409, "invalid_transition")
    after = snapshot(api, stripe_world, order_id)
    assert after == before
    assert after["order"]["amount_paid"] == TOTAL
    assert types(after["order"]).count("payment_received") == 1


def test_a_card_payment_cannot_be_confirmed_by_staff(api, stripe_world, order_id):
    """Only offline payments are confirmed by hand: a card payment's id (or an unknown one) is 404."""
    payment_id = pay(api, order_id, "card").body["payment_id"]
    before = snapshot(api, stripe_world, order_id)

    assert_error(confirm(api, order_id, payment_id, TOTAL), 404, "not_found")
    assert_error(confirm(api, order_id, "pay_does_not_exist", TOTAL), 404, "not_found")
    assert snapshot(api, stripe_world, order_id) == before


# --- secrets -------------------------------------------------------------------------------------------------------


def test_secrets_never_reach_the_logs(api, stripe_world, deliver, order_id, caplog):
    """With every logger at DEBUG, a card payment, its webhook, a badly signed webhook and a refund log neither
    the Stripe API key, nor the webhook signing secret, nor the customer's client secret."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="orders")  # as with LOG_LEVEL=DEBUG

    started = pay(api, order_id, "card")
    client_secret = started.body["client_secret"]
    pi_id = started.body["provider_reference"]
    event = stripe_world.standin.succeed(pi_id)
    assert deliver(event, secret="whsec_wrong").status == 400
    assert deliver(event).status == 200
    refund = api.post(
        f"/staff/orders/{order_id}/refunds", {"amount": 100, "reason": "goodwill"}, as_="staff", headers=KEY()
    )
    assert refund.status == 201, refund.body

    assert client_secret and pi_id in client_secret
    assert any("webhook refused" in record.getMessage() for record in caplog.records), "the capture is not working"
    for secret in (API_KEY, WEBHOOK_SECRET, client_secret):
        leaked = [
            f"{record.name}: {record.getMessage()[:200]}"
            for record in caplog.records
            if secret in record.getMessage() or secret in str(record.args) or secret in (record.exc_text or "")
        ]
        assert not leaked, f"{secret[:12]}... was logged by: {leaked}"
    assert API_KEY not in caplog.text and WEBHOOK_SECRET not in caplog.text and client_secret not in caplog.text
