"""The payment ledger alone (pure domain): provider facts in any order, any number of times."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import payments as ledger
from chalicelib.domain.errors import Conflict, InvalidTransition
from chalicelib.domain.orders import OrderLine, new_order
from chalicelib.domain.payments import ProviderEvent, ProviderRefund, RefundExceedsPaid

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
AT = "2026-11-26T08:00:00.000Z"
PI = "pi_test_1"


def an_order(total_units: int = 2):
    return new_order(
        order_id="o1",
        order_number="20261126-000001",
        customer_id="c1",
        lines=[OrderLine("TEE", "T恤", 5000, total_units)],
        currency="CNY",
        shipping_address={"name": "王", "phone": "+86 1", "line1": "路", "city": "上海", "country": "CN"},
        channel="web",
        note=None,
        now=NOW,
        payment_ttl=timedelta(minutes=30),
        actor="customer:c1",
    )


def paying(order, method: str = "card"):
    payment, created = ledger.start(order, method, "customer:c1", AT)
    assert created
    payment.provider_reference = PI if method in ledger.ONLINE_METHODS else None
    ledger.record_started(order, payment, "customer:c1", AT)
    return payment


def event(kind: str, n: int = 0, **fields) -> ProviderEvent:
    return ProviderEvent(event_id=f"evt_{kind}_{n}", type=kind, payment_intent=PI, **fields)


def state(order):
    return (
        order.status,
        order.payment_status,
        order.amount_paid,
        order.amount_refunded,
        sorted(order.flags),
        {k: (p.status, p.received_amount) for k, p in order.payments.items()},
        {k: (r.status, r.amount, r.provider_reference) for k, r in order.refunds.items()},
    )


def test_a_succeeded_payment_pays_the_order_and_clears_its_schedule():
    order = an_order()
    paying(order)
    assert order.payment_status == "pending"
    assert ledger.next_due(order)[0] == "reminder"

    ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)

    assert (order.payment_status, order.amount_paid) == ("paid", 10000)
    assert ledger.next_due(order) is None
    assert [e.type for e in order.timeline][-1] == "payment_received"


@pytest.mark.parametrize(("amount", "currency"), [(9999, "cny"), (10000, "usd")])
def test_a_payment_that_does_not_match_the_order_is_flagged_not_paid(amount, currency):
    order = an_order()
    paying(order)
    ledger.apply_event(order, event("payment_intent.succeeded", amount=amount, currency=currency), AT)
    assert order.payment_status == "unpaid"
    assert order.amount_paid == 0
    assert order.flags == ["payment_mismatch"]
    mismatch = order.timeline[-1]
    assert mismatch.type == "payment_mismatch"
    assert mismatch.data["received_amount"] == amount and mismatch.data["expected_amount"] == 10000


def test_a_failure_after_success_does_not_unpay():
    order = an_order()
    paying(order)
    ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)
    ledger.apply_event(order, event("payment_intent.payment_failed", failure={"code": "card_declined"}), AT)
    assert order.payment_status == "paid"
    assert order.timeline[-1].data["ignored"] == "payment already succeeded"


def test_a_refund_seen_before_the_payment_settles_both():
    order = an_order()
    paying(order)
    refund = ProviderRefund("re_1", 3000, "succeeded")
    ledger.apply_event(order, event("refund.created", refund=refund), AT)
    assert (order.payment_status, order.amount_paid, order.amount_refunded) == ("partially_refunded", 10000, 3000)
    ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)
    assert (order.payment_status, order.amount_paid, order.amount_refunded) == ("partially_refunded", 10000, 3000)


def test_a_payment_after_expiry_is_flagged_and_refunded_in_full():
    order = an_order()
    paying(order)
    ledger.expire(order, "system", AT)
    assert order.status == "expired"

    refunds = ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)

    assert order.status == "expired"
    assert "paid_after_expiry" in order.flags
    assert [(r.amount, r.automatic, r.status) for r in refunds] == [(10000, True, "requested")]
    assert order.payment_status == "refunded"  # never expired *and* paid
    assert ledger.next_due(order)[0] == "provider_retry"


def test_staff_refunds_never_exceed_what_was_paid():
    order = an_order()
    paying(order)
    ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)
    ledger.request_refund(order, 6000, "damaged", "rf_a", "staff:s", AT)
    with pytest.raises(RefundExceedsPaid) as refused:
        ledger.request_refund(order, 4001, None, "rf_b", "staff:s", AT)
    assert refused.value.details == {"requested": 4001, "refundable": 4000}
    ledger.request_refund(order, 4000, None, "rf_c", "staff:s", AT)
    assert (order.amount_refunded, order.payment_status) == (10000, "refunded")
    with pytest.raises(InvalidTransition):
        ledger.request_refund(order, 1, None, "rf_d", "staff:s", AT)


def test_a_failed_refund_gives_the_amount_back_to_refund_later():
    order = an_order()
    paying(order)
    ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)
    [refund] = ledger.request_refund(order, 10000, None, "rf_a", "staff:s", AT)
    ledger.refund_sent(order, refund.refund_id, None, "card expired", AT)
    assert (order.amount_refunded, order.payment_status) == (0, "paid")
    assert order.timeline[-1].type == "refund_failed"


def test_offline_refunds_wait_for_staff_to_pay_them_back():
    order = an_order()
    payment = paying(order, "bank_transfer")
    assert payment.reference_code == "PAY-20261126-000001"
    ledger.confirm_offline(order, payment.payment_id, 10000, "BANK-REF-1", "staff:s", AT)
    assert order.payment_status == "paid"
    assert ledger.request_refund(order, 2500, "goodwill", "rf_a", "staff:s", AT) == []  # nothing for a provider
    refund = order.refunds["rf_a"]
    assert refund.status == "pending"  # promised, not yet sent
    assert (order.amount_refunded, order.payment_status) == (2500, "partially_refunded")
    to_send = order.timeline[-1]
    assert to_send.type == "refund_to_send"
    assert (to_send.data["amount"], to_send.data["reference_code"]) == (2500, refund.reference_code)
    assert to_send.data["paid_with_reference"] == "BANK-REF-1"

    ledger.mark_refund_sent(order, "rf_a", "ICBC-OUT-7", "staff:s", AT)
    assert (refund.status, refund.sent_reference) == ("succeeded", "ICBC-OUT-7")
    assert order.timeline[-1].type == "refund_issued"
    ledger.mark_refund_sent(order, "rf_a", "ICBC-OUT-7", "staff:s", AT)  # again: nothing more
    assert [e.type for e in order.timeline].count("refund_issued") == 1
    with pytest.raises(Conflict):
        ledger.mark_refund_sent(order, "rf_a", "ANOTHER-REF", "staff:s", AT)
    assert order.amount_refunded == 2500


def test_cancelling_a_paid_order_refunds_what_is_left():
    order = an_order()
    paying(order)
    ledger.apply_event(order, event("payment_intent.succeeded", amount=10000, currency="cny"), AT)
    ledger.request_refund(order, 1000, None, "rf_a", "staff:s", AT)
    refunds = ledger.cancel(order, "changed mind", "customer:c1", AT, "cancel-o1")
    assert order.status == "cancelled"
    assert [r.amount for r in refunds] == [9000]
    assert order.payment_status == "refunded"


# --- any order, any number of times -------------------------------------------------------------------------------

STAFF_REFUND = ProviderRefund("re_staff", 2500, "succeeded", refund_id="rf_staff")
FACTS = [
    event("payment_intent.payment_failed", 1, failure={"code": "card_declined"}),
    event("payment_intent.succeeded", 2, amount=10000, currency="cny"),
    event("refund.created", 3, refund=ProviderRefund("re_staff", 2500, "pending", refund_id="rf_staff")),
    event("refund.updated", 4, refund=STAFF_REFUND),
    event("charge.refunded", 5, amount=10000, currency="cny", charge_refunded=2500, refunds=(STAFF_REFUND,)),
    # a refund made in the dashboard, seen only as the charge's running total (no refunds list, as in newer API versions)
    event("charge.refunded", 7, amount=10000, currency="cny", charge_refunded=4000),
    event("charge.dispute.created", 8, dispute={"dispute_id": "dp_1", "amount": 6000, "reason": "fraudulent"}),
]  # fmt: skip


def with_staff_refund_reserved():
    """A card payment under way; its refunds (staff's rf_staff, one from the dashboard) arrive only as events."""
    order = an_order()
    paying(order)
    return order


def expected_final_state():
    order = with_staff_refund_reserved()
    for fact in FACTS:
        ledger.apply_event(order, fact, AT)
    return state(order)


@settings(max_examples=300, deadline=None)
@given(st.permutations(FACTS), st.lists(st.sampled_from(FACTS), max_size=8), st.randoms())
def test_shuffled_and_duplicated_events_always_reach_the_same_state(order_of_facts, duplicates, rnd):
    stream = list(order_of_facts) + duplicates
    rnd.shuffle(stream)
    order = with_staff_refund_reserved()
    for fact in stream:
        ledger.apply_event(order, copy.deepcopy(fact), AT)
    assert state(order) == expected_final_state()
    assert (order.payment_status, order.amount_paid, order.amount_refunded) == ("partially_refunded", 10000, 4000)
    assert order.flags == ["disputed"]
