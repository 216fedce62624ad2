"""Payment requests on an order's ledger: pay, confirm an offline payment, refund, cancel, expire, remind.

Each request is checked against the lifecycle table (``domain/lifecycle.py``) before it
touches the ledger. What the ledger holds and derives is in ``domain/payment_records.py``
(re-exported here), the provider's events in ``domain/payment_events.py``.

Two rules keep money moving one way only:

- at most one payment attempt is open: starting one with another method closes the
  earlier one, and a paid, cancelled or expired order keeps none open;
- a refund is reserved in the ledger before it is sent (never more than was paid); an
  offline refund stays ``pending`` until staff record that the money went back.
"""

from __future__ import annotations

from chalicelib.domain import lifecycle
from chalicelib.domain.errors import Conflict, NotFound, ValidationFailed
from chalicelib.domain.payment_events import apply_event, find_payment, update_refund
from chalicelib.domain.payment_records import (
    EDIT_REFUND,
    HANDLED_EVENTS,
    METHODS,
    OFFLINE_METHODS,
    ONLINE_METHODS,
    PAYMENT_FINAL,
    PROVIDER_RETRY,
    REFUND_COUNTED,
    Payment,
    ProviderEvent,
    ProviderRefund,
    Refund,
    RefundExceedsPaid,
    amount_due,
    amount_paid,
    amount_refunded,
    balance_due,
    close_open,
    derived_payment_status,
    expiry_due,
    flag,
    next_due,
    payment_id_for,
    reference_code,
    settle,
    unpaid,
    without_none,
)

__all__ = [
    "HANDLED_EVENTS", "METHODS", "OFFLINE_METHODS", "ONLINE_METHODS", "PAYMENT_FINAL", "PROVIDER_RETRY",
    "REFUND_COUNTED", "Payment", "ProviderEvent", "ProviderRefund", "Refund", "RefundExceedsPaid", "amount_paid",
    "amount_refunded", "apply_event", "derived_payment_status", "expiry_due", "find_payment", "next_due",
    "payment_id_for", "reference_code", "settle", "unpaid",
]  # fmt: skip


def _paying(order) -> str:
    """The lifecycle action of paying now: the order, or the balance an edit added to a paid one."""
    return "pay_balance" if order.payment_status in lifecycle.PAID and balance_due(order) > 0 else "start_payment"


def closing_for(order, method: str) -> list[Payment]:
    """The open attempts that starting a payment with ``method`` would close (those of other methods)."""
    return [p for p in order.payments.values() if p.status == "pending" and p.method != method]


def start(
    order, method: str, actor: str, at: str, closed_at_provider: frozenset[str] = frozenset()
) -> tuple[Payment, bool]:
    """The order's open attempt for ``method``: the pending one again, or a new one. Returns (payment, created).

    Open attempts of other methods are closed (see ``close_open``); ``closed_at_provider``
    names PaymentIntents the provider already has closed, including a pending one of this
    method, which then gives way to a new attempt (a canceled PaymentIntent cannot be paid).
    """
    lifecycle.apply(order.states, _paying(order))
    close_open(order, actor, at, "replaced", keep_method=method, closed_at_provider=closed_at_provider)
    same = [p for p in order.payments.values() if p.method == method]
    current = same[-1] if same else None
    if current is not None and current.status == "pending":
        settle(order)
        return current, False
    if current is not None and current.status == "failed" and current.online:
        current.status = "pending"  # a declined PaymentIntent may be confirmed again
        order.record("payment_retried", actor, at, {"payment_id": current.payment_id, "method": method})
        settle(order)
        return current, False
    payment = Payment(
        payment_id=payment_id_for(order.order_id, method, len(same)),
        method=method,
        amount=amount_due(order),
        currency=order.currency,
        status="pending",
        created_at=at,
        reference_code=None if method in ONLINE_METHODS else reference_code(order.order_number),
    )
    order.payments[payment.payment_id] = payment
    settle(order)
    return payment, True


def record_started(order, payment: Payment, actor: str, at: str, extend_to: str | None = None) -> None:
    """The new payment is in the ledger (with its provider reference, if online)."""
    if extend_to and (order.reserved_until is None or extend_to > order.reserved_until):
        order.reserved_until = extend_to  # offline payments take days, not minutes
    order.record(
        "payment_started",
        actor,
        at,
        without_none(
            {
                "payment_id": payment.payment_id,
                "method": payment.method,
                "amount": payment.amount,
                "currency": payment.currency,
                "provider_reference": payment.provider_reference,
                "reference_code": payment.reference_code,
                "reserved_until": order.reserved_until if extend_to else None,
            }
        ),
    )
    settle(order)


def confirm_offline(order, payment_id: str, amount: int, reference: str, actor: str, at: str) -> Payment:
    """Staff received an offline payment of exactly what is due; any other open attempt is closed."""
    lifecycle.apply(order.states, "confirm_payment" if order.payment_status in lifecycle.UNPAID else _paying(order))
    payment = order.payments.get(payment_id)
    if payment is None or payment.online:
        raise NotFound("No such offline payment on this order.", payment_id=payment_id)
    if payment.status != "pending":
        raise Conflict(f"This payment is {payment.status}.", payment_id=payment_id, status=payment.status)
    due = amount_due(order)
    if amount != due:
        raise ValidationFailed(
            f"The amount received must be the amount due ({due}).", fields={"amount": f"must be {due}"}
        )
    payment.status = "succeeded"
    payment.received_amount, payment.received_currency = amount, order.currency
    payment.received_reference = reference
    order.record(
        "payment_received",
        actor,
        at,
        {"payment_id": payment_id, "method": payment.method, "amount": amount, "currency": order.currency,
         "reference": reference},
    )  # fmt: skip
    close_open(order, actor, at, "order_paid")
    settle(order)
    return payment


def request_refund(order, amount: int, reason: str | None, refund_id: str, actor: str, at: str) -> list[Refund]:
    """Reserve a refund against what was paid (never more); online parts are then sent to the provider."""
    if refund_id in order.refunds:  # the same request again (a retried write, a repeated Idempotency-Key)
        return []
    lifecycle.apply(order.states, "refund")
    refundable = order.amount_paid - order.amount_refunded
    if amount > refundable:
        raise RefundExceedsPaid(
            "The refund is more than what was paid and not yet refunded.", requested=amount, refundable=refundable
        )
    return _reserve_refunds(order, amount, reason, refund_id, actor, at)


def refund_sent(order, refund_id: str, provider: ProviderRefund | None, error: str | None, at: str) -> None:
    """What the provider answered when we asked for a refund (``error``: it refused for good)."""
    refund = order.refunds.get(refund_id)
    if refund is None:
        return
    if provider is not None:
        update_refund(order, refund, provider, "system", at)
    elif error is not None and refund.status == "requested":
        refund.status = "failed"
        flag(order, "refund_failed")
        order.record(
            "refund_failed", "system", at, {"refund_id": refund_id, "amount": refund.amount, "error": error[:300]}
        )
    settle(order)


def mark_refund_sent(order, refund_id: str, reference: str, actor: str, at: str) -> Refund:
    """Staff paid an offline refund back (bank transfer, cash): it succeeds now. The same reference again is a no-op."""
    refund = order.refunds.get(refund_id)
    payment = order.payments.get(refund.payment_id) if refund else None
    if refund is None or payment is None or payment.online:
        raise NotFound("No such offline refund on this order.", refund_id=refund_id)
    if refund.status == "succeeded" and refund.sent_reference == reference:
        return refund
    if refund.status != "pending":
        raise Conflict(f"This refund is already {refund.status}.", refund_id=refund_id, status=refund.status)
    refund.status, refund.sent_reference = "succeeded", reference
    order.record(
        "refund_issued",
        actor,
        at,
        {"refund_id": refund_id, "payment_id": payment.payment_id, "amount": refund.amount, "currency": order.currency,
         "manual": True, "reference": reference, "reference_code": refund.reference_code},
    )  # fmt: skip
    settle(order)
    return refund


def cancel(
    order, reason: str | None, actor: str, at: str, refund_id: str, closed_at_provider: frozenset[str] = frozenset()
) -> list[Refund]:
    """Cancel before shipment: open attempts are closed, a paid order is refunded in full. Returns refunds to send."""
    paid = order.payment_status in lifecycle.PAID
    data = {"reason": reason} if reason else {}
    order.transition("cancel_paid" if paid else "cancel", actor, at, "order_cancelled", data)
    close_open(order, actor, at, "order_cancelled", closed_at_provider=closed_at_provider)
    remaining = order.amount_paid - order.amount_refunded
    refunds = _reserve_refunds(order, remaining, "order_cancelled", refund_id, actor, at) if remaining else []
    settle(order)
    return refunds


def expire(order, actor: str, at: str) -> None:
    order.transition("expire", actor, at, "order_expired", {"reserved_until": order.reserved_until})
    close_open(order, actor, at, "order_expired")
    settle(order)


def intent_closed(order, payment_id: str) -> None:
    """The provider confirmed (or showed) that a PaymentIntent we closed is no longer open."""
    payment = order.payments.get(payment_id)
    if payment is not None:
        payment.cancel_pending = False


def remind(order, actor: str, at: str) -> None:
    lifecycle.apply(order.states, "remind")
    order.reminded = True
    order.record("payment_reminder", actor, at, {"reserved_until": order.reserved_until, "total": order.total})


def refund_difference(order, amount: int, refund_id: str, actor: str, at: str) -> list[Refund]:
    """Give back what a paid order no longer costs after an edit (reason ``order_modified``)."""
    return _reserve_refunds(order, amount, EDIT_REFUND, refund_id, actor, at)


def _reserve_refunds(order, amount: int, reason: str | None, refund_id: str, actor: str, at: str) -> list[Refund]:
    """Split ``amount`` over the succeeded payments with money left on them, largest first.

    Online parts are ``requested`` (returned, to send to the provider); offline parts are
    ``pending`` until staff pay them back (``refund_to_send`` tells them what and to whom).
    """
    made: list[Refund] = []
    left = amount
    for payment in sorted(order.payments.values(), key=lambda p: -_left_on(order, p)):
        if left <= 0:
            break
        take = min(left, _left_on(order, payment))
        if payment.status != "succeeded" or take <= 0:
            continue
        rid = refund_id if not made else f"{refund_id}-{len(made) + 1}"
        refund = Refund(
            refund_id=rid,
            payment_id=payment.payment_id,
            amount=take,
            status="requested" if payment.online else "pending",
            created_at=at,
            reason=reason,
            reference_code=None if payment.online else f"RF-{order.order_number}-{len(order.refunds) + 1}",
        )
        order.refunds[rid] = refund
        made.append(refund)
        left -= take
        data = {"refund_id": rid, "payment_id": payment.payment_id, "amount": take, "currency": order.currency,
                "reason": reason}  # fmt: skip
        if payment.online:
            order.record("refund_requested", actor, at, without_none(data))
        else:
            order.record("refund_to_send", actor, at, without_none({**data, **_payout(order, payment, refund)}))
    settle(order)
    return [r for r in made if r.status == "requested"]


def _payout(order, payment: Payment, refund: Refund) -> dict[str, str | None]:
    """What staff need to pay an offline refund back: to whom, how it was paid, what to quote."""
    address = order.shipping_address or {}
    return {
        "method": payment.method,
        "reference_code": refund.reference_code,
        "paid_with_reference": payment.received_reference,
        "customer_name": address.get("name"),
        "customer_phone": address.get("phone"),
    }


def _left_on(order, payment: Payment) -> int:
    if payment.status != "succeeded":
        return 0
    refunded = sum(
        r.amount for r in order.refunds.values() if r.payment_id == payment.payment_id and r.status in REFUND_COUNTED
    )
    return payment.amount - max(refunded, payment.reported_refunded)
