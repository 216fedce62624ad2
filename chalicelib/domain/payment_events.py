"""The provider's events applied to an order's payment ledger: facts, in any order, any number of times.

Provider events are *facts* (money moved), so they are recorded whatever order they
arrive in; each rule is written so that the same facts in any order, any number of
times, end in the same ledger:

- a payment only moves forward: pending → succeeded | failed | canceled | mismatched,
  and ``succeeded``/``mismatched`` are final (a late ``payment_failed`` cannot unpay; a
  payment we canceled that succeeds after all is recorded, and refunded if unwanted);
- a refund's status only moves forward: requested → pending → succeeded | failed | canceled;
- a refund or a refunded charge proves its payment succeeded, so it settles it too;
- what a charge reports as refunded in total only ever raises our figure (max).
"""

from __future__ import annotations

from chalicelib.domain.payment_records import (
    EDIT_REFUND,
    ONLINE_METHODS,
    PAYMENT_FINAL,
    REFUND_RANK,
    Payment,
    ProviderEvent,
    ProviderRefund,
    Refund,
    amount_due,
    close_open,
    excess_paid,
    flag,
    payment_id_for,
    settle,
    without_none,
)

PROVIDER = "stripe"


def find_payment(order, provider_reference: str | None) -> Payment | None:
    if provider_reference is None:
        return None
    return next((p for p in order.payments.values() if p.provider_reference == provider_reference), None)


def apply_event(order, event: ProviderEvent, at: str) -> list[Refund]:
    """Apply one provider event to the ledger. Returns refunds to send (money that must go back).

    Attempts the event closes (another open attempt of an order now paid) are left
    ``cancel_pending``, for the caller to cancel at the provider once this is written.
    """
    payment = find_payment(order, event.payment_intent)
    if payment is None:
        if event.type != "payment_intent.succeeded" or event.method not in ONLINE_METHODS:
            order.record("provider_event_unmatched", PROVIDER, at, {"event_id": event.event_id, "type": event.type})
            return []
        # our write after creating the PaymentIntent was lost: the event tells us enough to record it
        attempts = sum(p.method == event.method for p in order.payments.values())
        ours = event.payment_id if event.payment_id and event.payment_id not in order.payments else None
        payment = Payment(
            payment_id=ours or payment_id_for(order.order_id, event.method, attempts),
            method=event.method,
            amount=order.total,
            currency=order.currency,
            status="pending",
            created_at=at,
            provider_reference=event.payment_intent,
        )
        order.payments[payment.payment_id] = payment
    refunds: list[Refund] = []
    kind = event.type
    if kind == "payment_intent.succeeded":
        refunds = _succeeded(order, payment, event.amount, event.currency, event.event_id, at)
    elif kind == "payment_intent.payment_failed":
        _failed(order, payment, event, at)
    elif kind == "payment_intent.canceled":
        payment.cancel_pending = False  # the provider confirms what we asked for (or did it itself)
        if payment.status == "pending":
            payment.status = "canceled"
            order.record("payment_canceled", PROVIDER, at, {"payment_id": payment.payment_id})
    elif kind == "charge.refunded":
        refunds = _succeeded(order, payment, event.amount, event.currency, event.event_id, at)
        for provider in event.refunds:
            _upsert_refund(order, payment, provider, at)
        if event.charge_refunded is not None and event.charge_refunded > payment.reported_refunded:
            payment.reported_refunded = event.charge_refunded
    elif kind in ("refund.created", "refund.updated", "refund.failed") and event.refund is not None:
        if payment.status not in PAYMENT_FINAL:
            refunds = _succeeded(order, payment, payment.amount, payment.currency, event.event_id, at)
        _upsert_refund(order, payment, event.refund, at)
    elif kind == "charge.dispute.created":
        flag(order, "disputed")
        order.record("dispute_opened", PROVIDER, at, {"payment_id": payment.payment_id, **event.dispute})
    elif kind == "charge.dispute.closed":
        order.record("dispute_closed", PROVIDER, at, {"payment_id": payment.payment_id, **event.dispute})
    settle(order)
    return refunds


def _succeeded(
    order, payment: Payment, amount: int | None, currency: str | None, event_id: str, at: str
) -> list[Refund]:
    if payment.status in PAYMENT_FINAL:
        return []
    amount = payment.amount if amount is None else amount
    currency = (currency or payment.currency).upper()
    payment.received_amount, payment.received_currency = amount, currency
    payment.cancel_pending = False  # it went through: nothing left to cancel
    if amount != payment.amount or currency != order.currency:
        payment.status = "mismatched"
        flag(order, "payment_mismatch")
        order.record(
            "payment_mismatch",
            PROVIDER,
            at,
            {"payment_id": payment.payment_id, "provider_reference": payment.provider_reference,
             "expected_amount": payment.amount, "expected_currency": order.currency,
             "received_amount": amount, "received_currency": currency, "event_id": event_id},
        )  # fmt: skip
        return []
    already_settled = order.amount_paid > 0 and amount_due(order) == 0
    reason = _auto_refund_reason(order.status, already_settled)
    payment.status = "succeeded"
    order.record(
        "payment_received",
        PROVIDER,
        at,
        without_none(
            {"payment_id": payment.payment_id, "method": payment.method, "amount": amount, "currency": currency,
             "provider_reference": payment.provider_reference, "event_id": event_id, "auto_refund": reason}
        ),
    )  # fmt: skip
    settle(order)
    if reason is None:
        close_open(order, "system", at, "order_paid")  # one payment pays the order: no other attempt stays open
        excess = excess_paid(order)  # it paid a total an edit has lowered since: the difference goes back
        return [_refund_excess(order, payment, excess, currency, at)] if excess else []
    flag(order, reason)
    auto_refund_id = f"auto-{payment.payment_id}"
    made = Refund(
        refund_id=auto_refund_id, payment_id=payment.payment_id, amount=amount, status="requested",
        created_at=at, reason=reason, automatic=True,
    )  # fmt: skip
    order.refunds[auto_refund_id] = made
    order.record(
        "refund_requested",
        "system",
        at,
        {"refund_id": auto_refund_id, "payment_id": payment.payment_id, "amount": amount, "currency": currency,
         "reason": reason, "automatic": True},
    )  # fmt: skip
    return [made]


def _refund_excess(order, payment: Payment, amount: int, currency: str, at: str) -> Refund:
    made = Refund(
        refund_id=f"excess-{payment.payment_id}", payment_id=payment.payment_id, amount=amount, status="requested",
        created_at=at, reason=EDIT_REFUND, automatic=True,
    )  # fmt: skip
    order.refunds[made.refund_id] = made
    order.record(
        "refund_requested",
        "system",
        at,
        {"refund_id": made.refund_id, "payment_id": payment.payment_id, "amount": amount, "currency": currency,
         "reason": EDIT_REFUND, "automatic": True},
    )  # fmt: skip
    settle(order)
    return made


def _auto_refund_reason(status: str, already_settled: bool) -> str | None:
    """Why money that just arrived must go back: the order is gone, or was already paid."""
    if status == "expired":
        return "paid_after_expiry"
    if status == "cancelled":
        return "paid_after_cancel"
    return "duplicate_payment" if already_settled else None


def _failed(order, payment: Payment, event: ProviderEvent, at: str) -> None:
    data = {"payment_id": payment.payment_id, "provider_reference": payment.provider_reference, **event.failure}
    if payment.status == "pending":
        payment.status = "failed"
    else:
        data["ignored"] = f"payment already {payment.status}"
    order.record("payment_failed", PROVIDER, at, data)


def _upsert_refund(order, payment: Payment, provider: ProviderRefund, at: str) -> None:
    refund = order.refunds.get(provider.refund_id or "") or next(
        (r for r in order.refunds.values() if r.provider_reference == provider.provider_reference), None
    )
    if refund is None:  # made outside this system (e.g. the Stripe dashboard)
        refund = Refund(
            refund_id=provider.provider_reference,
            payment_id=payment.payment_id,
            amount=provider.amount,
            status="requested",
            created_at=at,
            reason=provider.reason,
            provider_reference=provider.provider_reference,
        )
        order.refunds[refund.refund_id] = refund
        order.record(
            "refund_requested",
            PROVIDER,
            at,
            {"refund_id": refund.refund_id, "payment_id": payment.payment_id, "amount": provider.amount,
             "currency": order.currency, "external": True},
        )  # fmt: skip
    update_refund(order, refund, provider, PROVIDER, at)


def update_refund(order, refund: Refund, provider: ProviderRefund, actor: str, at: str) -> None:
    """What the provider says of one of our refunds; a refund it refuses for good flags the order."""
    refund.provider_reference = refund.provider_reference or provider.provider_reference
    status = provider.status if provider.status in REFUND_RANK else "pending"
    if REFUND_RANK[status] <= REFUND_RANK[refund.status]:
        return
    refund.status = status
    data = {"refund_id": refund.refund_id, "amount": refund.amount, "currency": order.currency,
            "provider_reference": refund.provider_reference, "status": status}  # fmt: skip
    if status == "succeeded":
        order.record("refund_issued", actor, at, data)
    elif status in ("failed", "canceled"):
        flag(order, "refund_failed")
        order.record("refund_failed", actor, at, data)
