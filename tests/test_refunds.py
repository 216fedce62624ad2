"""Refunds, as the shop's staff and the customer see them (API.md, Payments and Orders: cancel).

Every test goes through the HTTP API (verifying gateway, real Cognito tokens, real
moto tables); Stripe is the in-memory stand-in reached by Stripe's own SDK over a
fake transport, so each refund is checked both in our ledger (the order's
``amount_refunded`` / ``payment_status`` / timeline) and where Stripe holds it.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.entrypoints.http import wiring
from tests.conftest import Reply, Sent, assert_error, events_of, types, view

SKU, PRICE, QUANTITY, STOCK = "TEE-RF", 5000, 2, 20
TOTAL = PRICE * QUANTITY  # 10000 fen = 100.00 CNY
REFUNDS_PATH = "/v1/refunds"


# --- helpers ---------------------------------------------------------------------------------------------------


def refund_requests(sent: list[Sent]) -> list[Sent]:
    return [s for s in sent if (s.method, s.path) == ("POST", REFUNDS_PATH)]


@dataclass(frozen=True)
class Paid:
    order_id: str
    pi: str  # the Stripe PaymentIntent the customer paid

    def charge(self, stripe_world) -> dict[str, Any]:
        """The PaymentIntent's charge as Stripe holds it (amount_refunded, refunds)."""
        standin = stripe_world.standin
        return standin.get(standin.get(self.pi)["latest_charge"])


@pytest.fixture
def card_paid(api, seed, place, stripe_world, deliver) -> Paid:
    """An order of "customer" for TOTAL CNY, paid by card: PaymentIntent created, succeeded, webhook delivered."""
    seed(SKU, stock=STOCK, price=PRICE)
    placed = place((SKU, QUANTITY), as_="customer")
    assert placed.status == 201, placed.body
    order_id = placed.body["order_id"]
    started = api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_="customer")
    assert started.status == 201, started.body
    pi = started.body["provider_reference"]
    assert deliver(stripe_world.standin.succeed(pi)).status == 200
    order = view(api, order_id)
    assert (order["payment_status"], order["amount_paid"]) == ("paid", TOTAL)
    return Paid(order_id, pi)


def refund(api, order_id: str, amount: int, *, key: str | None = None, reason: str = "damaged item") -> Reply:
    headers = {"idempotency-key": key or uuid.uuid4().hex}
    return api.post(f"/staff/orders/{order_id}/refunds", {"amount": amount, "reason": reason}, as_="staff",
                    headers=headers)  # fmt: skip


def money(order: dict[str, Any]) -> tuple[str, int, int]:
    return order["payment_status"], order["amount_paid"], order["amount_refunded"]


def stock_of(api) -> int:
    return api.get(f"/products/{SKU}").body["stock_available"]


def move_clock(monkeypatch, delta: timedelta) -> None:
    """Payments, webhooks and schedules now see a clock ``delta`` ahead."""
    monkeypatch.setattr(wiring.changes(), "clock", lambda: datetime.now(UTC) + delta)


# --- card refunds --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "status"), [(TOTAL, "refunded"), (3000, "partially_refunded")], ids=["full", "partial"]
)
def test_a_card_refund_goes_to_stripe_once_and_the_order_follows(
    api, stripe_world, deliver, sent, card_paid, amount, status
):
    """Staff refund an order paid by card: Stripe refunds that amount on the order's PaymentIntent (tagged with our
    refund and order ids, sent with an idempotency key); the order shows what was refunded, and the refund's own
    webhooks, however often they arrive, change nothing more."""
    reply = refund(api, card_paid.order_id, amount)

    assert reply.status == 201, reply.body
    [made] = reply.body["refunds"]
    assert (made["amount"], made["currency"], made["status"]) == (amount, "CNY", "succeeded")
    assert made["reason"] == "damaged item" and made["automatic"] is False
    re_id = made["provider_reference"]
    assert re_id and re_id.startswith("re_")

    [request] = refund_requests(sent)
    assert request.idempotency_key, "the refund must be sent with an Idempotency-Key"
    assert request.params["payment_intent"] == card_paid.pi
    in_stripe = stripe_world.standin.get(re_id)
    assert in_stripe["amount"] == amount and in_stripe["status"] == "succeeded"
    assert in_stripe["metadata"] == {"order_id": card_paid.order_id, "refund_id": made["refund_id"]}
    assert card_paid.charge(stripe_world)["amount_refunded"] == amount

    order = view(api, card_paid.order_id)
    assert reply.body["order"]["amount_refunded"] == amount
    assert money(order) == (status, TOTAL, amount)
    assert order["status"] == "confirmed"
    [requested] = events_of(order, "refund_requested")
    [issued] = events_of(order, "refund_issued")
    assert requested["data"]["amount"] == issued["data"]["amount"] == amount
    assert requested["actor"] == f"staff:{api.users['staff'].sub}"
    assert issued["data"]["provider_reference"] == re_id
    settled = view(api, card_paid.order_id)

    events = stripe_world.standin.refund_events(re_id)
    assert [event["type"] for event in events] == ["refund.created", "charge.refunded"]
    for event in events + events[::-1]:
        assert deliver(event).status == 200

    order = view(api, card_paid.order_id)
    assert money(order) == (status, TOTAL, amount)
    assert order["refunds"] == settled["refunds"]
    assert types(order).count("refund_issued") == 1
    assert types(order).count("refund_requested") == 1
    assert len(refund_requests(sent)) == 1


def test_two_partial_refunds_add_up_and_their_webhooks_in_any_order_do_not_double_count(
    api, stripe_world, deliver, card_paid
):
    """3000 then 7000 refunds the order in full; delivering both refunds' events, newest first, leaves it at
    exactly 10000 refunded."""
    first = refund(api, card_paid.order_id, 3000)
    assert first.status == 201, first.body
    assert money(first.body["order"]) == ("partially_refunded", TOTAL, 3000)
    second = refund(api, card_paid.order_id, 7000)
    assert second.status == 201, second.body
    assert money(second.body["order"]) == ("refunded", TOTAL, TOTAL)

    for reply in (second, first):
        for event in stripe_world.standin.refund_events(reply.body["refunds"][0]["provider_reference"])[::-1]:
            assert deliver(event).status == 200

    order = view(api, card_paid.order_id)
    assert money(order) == ("refunded", TOTAL, TOTAL)
    assert len(order["refunds"]) == 2
    assert types(order).count("refund_issued") == 2
    assert card_paid.charge(stripe_world)["amount_refunded"] == TOTAL


@pytest.mark.parametrize("already", [0, 3000, TOTAL], ids=["nothing-refunded", "partly-refunded", "all-refunded"])
def test_a_refund_above_what_is_left_is_refused_and_nothing_changes(api, stripe_world, card_paid, already):
    """Asking for more than was paid and not yet refunded answers 409 refund_exceeds_paid with what was requested
    and what can still be refunded; the order is unchanged and Stripe is not called."""
    if already:
        assert refund(api, card_paid.order_id, already).status == 201
    before = view(api, card_paid.order_id)
    calls = stripe_world.transport.count("POST", REFUNDS_PATH)
    left = TOTAL - already

    reply = refund(api, card_paid.order_id, left + 1)

    if left:
        details = assert_error(reply, 409, "refund_exceeds_paid")
        assert details == {"requested": left + 1, "refundable": left}
    else:  # nothing left to refund: the lifecycle refuses a refund of a refunded order (also a 409)
        assert reply.status == 409, reply.body
        assert reply.error["code"] in ("refund_exceeds_paid", "invalid_transition")
    assert view(api, card_paid.order_id) == before
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == calls


def test_an_unpaid_or_unknown_order_cannot_be_refunded(api, seed, place, stripe_world):
    """Nothing was paid yet (a card payment still pending): 409 and no refund at Stripe; an order that does not
    exist: 404."""
    seed(SKU, stock=STOCK, price=PRICE)
    order_id = place((SKU, QUANTITY)).body["order_id"]
    assert api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_="customer").status == 201
    before = view(api, order_id)

    assert_error(refund(api, order_id, 100), 409, "invalid_transition")
    assert_error(refund(api, "f" * 32, 100), 404, "not_found")
    assert view(api, order_id) == before
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == 0


def test_concurrent_refunds_never_refund_more_than_was_paid(api, stripe_world, card_paid):
    """Ten staff members each refund 30% at the same moment: at most three succeed, the rest are refused, and
    both our ledger and Stripe's charge show exactly what the successful ones refunded, never above the total."""
    share = TOTAL * 30 // 100

    with ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(lambda _: refund(api, card_paid.order_id, share), range(10)))

    statuses = [reply.status for reply in replies]
    assert set(statuses) <= {201, 409, 429}, [(r.status, r.body) for r in replies]
    assert 1 <= statuses.count(201) <= 3
    assert all(r.error["code"] == "refund_exceeds_paid" for r in replies if r.status == 409)
    refunded = statuses.count(201) * share
    order = view(api, card_paid.order_id)
    assert order["amount_refunded"] == refunded <= TOTAL
    assert card_paid.charge(stripe_world)["amount_refunded"] == refunded
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == statuses.count(201)
    assert [r["status"] for r in order["refunds"]] == ["succeeded"] * statuses.count(201)


def test_the_same_idempotency_key_twice_refunds_once(api, stripe_world, card_paid):
    """Staff's client retries a refund with the same Idempotency-Key: the same refund comes back, nothing more is
    refunded, in our ledger or at Stripe."""
    first = refund(api, card_paid.order_id, 2500, key="refund-ticket-77")
    again = refund(api, card_paid.order_id, 2500, key="refund-ticket-77")

    assert (first.status, again.status) == (201, 200), (first.body, again.body)
    assert (first.headers["idempotent-replayed"], again.headers["idempotent-replayed"]) == ("false", "true")
    assert [r["refund_id"] for r in again.body["refunds"]] == [r["refund_id"] for r in first.body["refunds"]]
    order = view(api, card_paid.order_id)
    assert money(order) == ("partially_refunded", TOTAL, 2500)
    assert len(order["refunds"]) == 1
    assert types(order).count("refund_requested") == 1
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == 1
    assert card_paid.charge(stripe_world)["amount_refunded"] == 2500


def test_a_refund_without_an_idempotency_key_is_refused_and_refunds_nothing(api, stripe_world, card_paid):
    """A retried keyless request could refund twice, so a refund needs a key: 400, and nothing moves."""
    reply = api.post(f"/staff/orders/{card_paid.order_id}/refunds", {"amount": 1000}, as_="staff")

    assert_error(reply, 400, "idempotency_key_required")
    assert money(view(api, card_paid.order_id)) == ("paid", TOTAL, 0)
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == 0


def test_the_same_idempotency_key_with_another_request_is_refused(api, stripe_world, seed, place, deliver, card_paid):
    """The key names one refund: another amount, another reason, or another order with it is ``422
    idempotency_key_reused``, and nothing more is refunded anywhere."""
    assert refund(api, card_paid.order_id, 1000, key="ticket-9", reason="late").status == 201
    other_order = place((SKU, 1)).body["order_id"]
    pi = api.post(f"/orders/{other_order}/payments", {"method": "card"}, as_="customer").body["provider_reference"]
    assert deliver(stripe_world.standin.succeed(pi)).status == 200

    for order_id, amount, reason in [(card_paid.order_id, 2000, "late"), (card_paid.order_id, 1000, "broken"),
                                     (other_order, 1000, "late")]:  # fmt: skip
        reply = refund(api, order_id, amount, key="ticket-9", reason=reason)
        details = assert_error(reply, 422, "idempotency_key_reused")
        assert "Idempotency-Key" in details["fields"]

    assert money(view(api, card_paid.order_id)) == ("partially_refunded", TOTAL, 1000)
    assert view(api, other_order)["amount_refunded"] == 0
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == 1


def test_a_replay_answers_the_first_refund_whatever_has_changed_since(api, stripe_world, card_paid):
    """After the rest of the order was refunded, a retry of the first refund would be refused as too much if it were
    a new request; as a replay it answers the first refund again (200), and nothing moves."""
    first = refund(api, card_paid.order_id, 4000, key="first-refund")
    assert refund(api, card_paid.order_id, TOTAL - 4000).status == 201
    assert money(view(api, card_paid.order_id)) == ("refunded", TOTAL, TOTAL)

    again = refund(api, card_paid.order_id, 4000, key="first-refund")

    assert again.status == 200, again.body
    assert [r["refund_id"] for r in again.body["refunds"]] == [r["refund_id"] for r in first.body["refunds"]]
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == 2


@pytest.mark.parametrize("amount", [2500, TOTAL], ids=["partial", "full"])
def test_the_same_idempotency_key_sent_concurrently_refunds_once(api, stripe_world, card_paid, amount):
    """A client that fires the same refund (same Idempotency-Key) five times at once gets the same refund back
    each time; Stripe and the ledger hold one refund, and the timeline records it once."""
    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(pool.map(lambda _: refund(api, card_paid.order_id, amount, key="double-submit"), range(5)))

    assert all(reply.status in (200, 201) for reply in replies), [(r.status, r.body) for r in replies]
    assert len({reply.body["refunds"][0]["refund_id"] for reply in replies}) == 1
    order = view(api, card_paid.order_id)
    assert order["amount_refunded"] == amount
    assert len(order["refunds"]) == 1
    assert card_paid.charge(stripe_world)["amount_refunded"] == amount
    assert len(card_paid.charge(stripe_world)["refunds"]["data"]) == 1
    assert types(order).count("refund_requested") == 1
    assert types(order).count("refund_issued") == 1


# --- Stripe unavailable or refusing --------------------------------------------------------------------------------


@pytest.mark.parametrize("processed", [False, True], ids=["lost-request", "lost-answer"])
def test_a_refund_during_a_stripe_outage_is_kept_reserved_and_sent_once_later(
    api, stripe_world, card_paid, monkeypatch, processed
):
    """Stripe fails through every SDK retry: the refund stays 'requested' and its amount stays reserved (nobody can
    over-refund meanwhile). The retry schedule, once the retry delay has passed, sends it; Stripe then holds
    exactly one refund, even when it had carried out the first request and only its answer was lost."""
    transport = stripe_world.transport
    transport.fail_next(REFUNDS_PATH, times=3, status=500, processed=processed)

    reply = refund(api, card_paid.order_id, 4000)

    assert reply.status == 201, reply.body
    [made] = reply.body["refunds"]
    assert made["status"] == "requested" and made["provider_reference"] is None
    assert transport.count("POST", REFUNDS_PATH) == 3
    order = view(api, card_paid.order_id)
    assert money(order) == ("partially_refunded", TOTAL, 4000)
    assert types(order)[-1] == "refund_requested"
    over = refund(api, card_paid.order_id, TOTAL - 4000 + 1)
    assert assert_error(over, 409, "refund_exceeds_paid")["refundable"] == TOTAL - 4000

    assert wiring.schedules().retry_refunds() == 0  # too early: the request may still be on its way
    assert transport.count("POST", REFUNDS_PATH) == 3

    move_clock(monkeypatch, timedelta(minutes=2))
    assert wiring.schedules().retry_refunds() == 1
    assert wiring.schedules().retry_refunds() == 0

    assert transport.count("POST", REFUNDS_PATH) == 4
    charge = card_paid.charge(stripe_world)
    assert charge["amount_refunded"] == 4000
    assert len(charge["refunds"]["data"]) == 1
    order = view(api, card_paid.order_id)
    assert money(order) == ("partially_refunded", TOTAL, 4000)
    [settled] = order["refunds"]
    assert settled["status"] == "succeeded"
    assert settled["provider_reference"] == charge["refunds"]["data"][0]["id"]
    assert types(order).count("refund_issued") == 1


def test_a_refund_stripe_refuses_fails_releases_the_amount_and_answers_502(api, stripe_world, card_paid, monkeypatch):
    """Stripe refuses the refund outright (400): staff get 502 payment_provider_error, the refund is recorded as
    failed, nothing counts as refunded, and the full amount can be refunded afterwards."""
    stripe_world.transport.fail_next(REFUNDS_PATH, times=1, status=400)

    reply = refund(api, card_paid.order_id, 6000)

    assert_error(reply, 502, "payment_provider_error")
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == 1  # a refusal is not retried
    order = view(api, card_paid.order_id)
    assert money(order) == ("paid", TOTAL, 0)
    [failed] = order["refunds"]
    assert (failed["amount"], failed["status"]) == (6000, "failed")
    assert events_of(order, "refund_failed")
    assert "refund_failed" in order["flags"]  # a person must look at it
    move_clock(monkeypatch, timedelta(minutes=10))
    assert wiring.schedules().retry_refunds() == 0  # refused for good: never retried
    assert stripe_world.transport.count("POST", REFUNDS_PATH) == 1
    assert card_paid.charge(stripe_world)["amount_refunded"] == 0

    again = refund(api, card_paid.order_id, TOTAL)
    assert again.status == 201, again.body
    assert money(view(api, card_paid.order_id)) == ("refunded", TOTAL, TOTAL)
    assert card_paid.charge(stripe_world)["amount_refunded"] == TOTAL


def test_a_refund_refused_for_a_revoked_api_key_is_kept_and_retried_once_the_key_is_fixed(
    api, stripe_world, card_paid, monkeypatch
):
    """A 401 from Stripe (a revoked or mistyped key) is a fault a person fixes, not a refusal of this refund: the
    refund stays reserved and the schedule sends it once Stripe accepts the key again."""
    stripe_world.transport.fail_next(REFUNDS_PATH, times=1, status=401)

    reply = refund(api, card_paid.order_id, 3000)

    assert reply.status == 201, reply.body
    assert [r["status"] for r in reply.body["refunds"]] == ["requested"]
    assert "refund_failed" not in view(api, card_paid.order_id)["flags"]
    move_clock(monkeypatch, timedelta(minutes=2))
    assert wiring.schedules().retry_refunds() == 1
    assert money(view(api, card_paid.order_id)) == ("partially_refunded", TOTAL, 3000)
    assert card_paid.charge(stripe_world)["amount_refunded"] == 3000


def test_a_refund_of_a_disputed_charge_is_refused_by_stripe_and_not_counted(api, stripe_world, card_paid):
    """Stripe will not refund a charged-back payment: 502, and the order does not claim a refund it never got."""
    stripe_world.standin.dispute(card_paid.pi)

    reply = refund(api, card_paid.order_id, 1000)

    assert_error(reply, 502, "payment_provider_error")
    order = view(api, card_paid.order_id)
    assert money(order) == ("paid", TOTAL, 0)
    assert [r["status"] for r in order["refunds"]] == ["failed"]


# --- offline payments ----------------------------------------------------------------------------------------------


def test_an_offline_refund_stays_pending_until_staff_record_the_money_sent_back(api, seed, place, stripe_world):
    """An order paid by bank transfer: the refund is promised at once (it counts as refunded, so nothing can refund it
    twice) but stays ``pending``, with ``refund_to_send`` telling staff what to pay whom, quoting what. Only staff's
    ``.../sent`` with the bank's reference makes it ``succeeded``; Stripe is never called."""
    seed(SKU, stock=STOCK, price=PRICE)
    order_id = place((SKU, QUANTITY)).body["order_id"]
    payment_id = api.post(f"/orders/{order_id}/payments", {"method": "bank_transfer"}, as_="customer").body[
        "payment_id"
    ]
    confirmed = api.post(f"/staff/orders/{order_id}/payments/{payment_id}/confirm",
                         {"amount": TOTAL, "reference": "ICBC-1"}, as_="staff")  # fmt: skip
    assert confirmed.status == 200, confirmed.body

    reply = refund(api, order_id, 1500)

    assert reply.status == 201, reply.body
    [made] = reply.body["refunds"]
    assert (made["amount"], made["status"], made["provider_reference"]) == (1500, "pending", None)
    order = view(api, order_id)
    assert money(order) == ("partially_refunded", TOTAL, 1500)
    [to_send] = events_of(order, "refund_to_send")
    assert to_send["data"]["amount"] == 1500 and to_send["data"]["reference_code"] == made["reference_code"]
    assert to_send["data"]["paid_with_reference"] == "ICBC-1" and to_send["data"]["customer_name"] == "王小明"
    assert "refund_issued" not in types(order)
    assert refund(api, order_id, TOTAL - 1000).status == 409  # 1500 is already promised: 8500 left, not 9000

    sent_path = f"/staff/orders/{order_id}/refunds/{made['refund_id']}/sent"
    done = api.post(sent_path, {"reference": "ICBC-OUT-9"}, as_="staff")

    assert done.status == 200, done.body
    [settled] = done.body["refunds"]
    assert settled["status"] == "succeeded"
    [issued] = events_of(view(api, order_id), "refund_issued")
    assert issued["data"]["manual"] is True and issued["data"]["reference"] == "ICBC-OUT-9"
    assert api.post(sent_path, {"reference": "ICBC-OUT-9"}, as_="staff").status == 200  # a retry: nothing more
    assert len(events_of(view(api, order_id), "refund_issued")) == 1
    assert_error(api.post(sent_path, {"reference": "OTHER"}, as_="staff"), 409, "conflict")
    assert api.post(sent_path, {"reference": "X"}, as_="customer").status == 403
    assert_error(api.post(f"/staff/orders/{order_id}/refunds/rf_nope/sent", {"reference": "X"}, as_="staff"),
                 404, "not_found")  # fmt: skip
    assert money(view(api, order_id)) == ("partially_refunded", TOTAL, 1500)
    assert sum(stripe_world.transport.calls.values()) == 0


def test_a_card_refund_cannot_be_marked_sent_by_hand(api, stripe_world, card_paid):
    """``.../sent`` is for offline refunds only: a card refund is Stripe's to settle."""
    [made] = refund(api, card_paid.order_id, 1000).body["refunds"]
    reply = api.post(f"/staff/orders/{card_paid.order_id}/refunds/{made['refund_id']}/sent", {"reference": "X"},
                     as_="staff")  # fmt: skip
    assert_error(reply, 404, "not_found")


# --- cancelling a paid order ---------------------------------------------------------------------------------------


def test_cancelling_a_paid_order_refunds_it_in_full_and_releases_the_stock(api, stripe_world, sent, card_paid):
    """The customer cancels a paid order before shipment: it is cancelled, its stock is back on sale, and the whole
    payment goes back to the card at Stripe."""
    assert stock_of(api) == STOCK - QUANTITY

    reply = api.post(f"/orders/{card_paid.order_id}/cancel", {"reason": "ordered by mistake"}, as_="customer")

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "cancelled"
    assert stock_of(api) == STOCK
    order = view(api, card_paid.order_id)
    assert order["status"] == "cancelled"
    assert money(order) == ("refunded", TOTAL, TOTAL)
    [request] = refund_requests(sent)
    assert request.params["amount"] == str(TOTAL) and request.idempotency_key
    assert request.params["metadata"]["order_id"] == card_paid.order_id
    charge = card_paid.charge(stripe_world)
    assert charge["amount_refunded"] == TOTAL and charge["refunded"] is True
    assert [r["status"] for r in order["refunds"]] == ["succeeded"]
    assert {"order_cancelled", "refund_requested", "refund_issued"} <= set(types(order))


def test_cancelling_a_partly_refunded_order_refunds_only_the_rest(api, stripe_world, sent, card_paid):
    """After a 3000 refund, cancelling sends Stripe only the 7000 left; the order ends refunded at exactly 10000."""
    assert refund(api, card_paid.order_id, 3000).status == 201

    reply = api.post(f"/orders/{card_paid.order_id}/cancel", as_="customer")

    assert reply.status == 200, reply.body
    assert [r.params["amount"] for r in refund_requests(sent)] == ["3000", "7000"]
    order = view(api, card_paid.order_id)
    assert (order["status"], *money(order)) == ("cancelled", "refunded", TOTAL, TOTAL)
    assert card_paid.charge(stripe_world)["amount_refunded"] == TOTAL
    assert stock_of(api) == STOCK


def test_cancelling_a_paid_order_while_stripe_is_down_refunds_it_later(api, stripe_world, card_paid, monkeypatch):
    """Cancelling still works when Stripe is unreachable: the order is cancelled at once, the refund waits, and the
    retry schedule sends it once Stripe is back."""
    stripe_world.transport.fail_next(REFUNDS_PATH, times=3, status=503)

    reply = api.post(f"/orders/{card_paid.order_id}/cancel", as_="customer")

    assert reply.status == 200, reply.body
    order = view(api, card_paid.order_id)
    assert order["status"] == "cancelled" and stock_of(api) == STOCK
    assert [r["status"] for r in order["refunds"]] == ["requested"]
    assert card_paid.charge(stripe_world)["amount_refunded"] == 0

    move_clock(monkeypatch, timedelta(minutes=2))
    assert wiring.schedules().retry_refunds() == 1

    assert card_paid.charge(stripe_world)["amount_refunded"] == TOTAL
    assert money(view(api, card_paid.order_id)) == ("refunded", TOTAL, TOTAL)


# --- cost of webhooks ----------------------------------------------------------------------------------------------


def test_dynamodb_calls_per_webhook_event(api, seed, place, stripe_world, deliver, dynamodb_calls):
    """A payment event costs one Query and one TransactWriteItems. A charge.refunded event carries no order id
    (Stripe does not copy the PaymentIntent's metadata to its charge), so it costs one GetItem more to find the
    order from the PaymentIntent."""
    seed(SKU, stock=STOCK, price=PRICE)
    order_id = place((SKU, QUANTITY)).body["order_id"]
    pi = api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_="customer").body["provider_reference"]

    dynamodb_calls.clear()
    assert deliver(stripe_world.standin.succeed(pi)).body == {"received": True, "result": "applied"}
    succeeded = list(dynamodb_calls)

    re_id = refund(api, order_id, 1000, key=str(uuid.uuid4())).body["refunds"][0]["provider_reference"]
    created, charge_refunded = stripe_world.standin.refund_events(re_id)
    dynamodb_calls.clear()
    assert deliver(charge_refunded).body["result"] == "applied"
    refunded = list(dynamodb_calls)
    dynamodb_calls.clear()
    assert deliver(created).body["result"] == "applied"
    refund_created = list(dynamodb_calls)

    assert succeeded == ["Query", "TransactWriteItems"]
    assert refunded == ["GetItem", "Query", "TransactWriteItems"]
    assert refund_created == ["Query", "TransactWriteItems"]
