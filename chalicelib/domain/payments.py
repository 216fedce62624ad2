"""The payment ledger of an order: attempts, refunds and what the provider told us.

An order's ``amount_paid``, ``amount_refunded`` and ``payment_status`` are not set by
hand: they follow from its ledger. Provider events are *facts* (money moved), so they
are recorded whatever order they arrive in; each rule below is written so that
applying the same facts in any order, any number of times, ends in the same ledger:

- a payment only moves forward: pending → succeeded | failed | canceled | mismatched,
  and ``succeeded``/``mismatched`` are final (a late ``payment_failed`` cannot unpay);
- a refund's status only moves forward: requested → pending → succeeded | failed | canceled;
- a refund or a refunded charge proves its payment succeeded, so it settles it too;
- what a charge reports as refunded in total only ever raises our figure (max).

Requests (pay, confirm an offline payment, refund, cancel) are checked against the
lifecycle table in ``domain/lifecycle.py`` before they touch the ledger.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import lifecycle
from chalicelib.domain.errors import Conflict, ValidationFailed

ONLINE_METHODS = ("card", "alipay", "wechat_pay")
OFFLINE_METHODS = ("bank_transfer", "cash")
METHODS = ONLINE_METHODS + OFFLINE_METHODS

PAYMENT_FINAL = frozenset({"succeeded", "mismatched"})
_REFUND_RANK = {"requested": 0, "pending": 1, "succeeded": 2, "failed": 2, "canceled": 2}
REFUND_COUNTED = frozenset({"requested", "pending", "succeeded"})  # money out, or promised


class RefundExceedsPaid(Conflict):
    code = "refund_exceeds_paid"


@dataclass
class Payment:
    payment_id: str
    method: str
    amount: int
    currency: str
    status: str  # pending | succeeded | failed | canceled | mismatched
    created_at: str
    provider_reference: str | None = None  # Stripe PaymentIntent id
    reference_code: str | None = None  # offline: what the customer quotes
    received_amount: int = 0
    received_currency: str | None = None
    reported_refunded: int = 0  # the provider's running total for this payment's charge

    @property
    def online(self) -> bool:
        return self.method in ONLINE_METHODS


@dataclass
class Refund:
    refund_id: str
    payment_id: str
    amount: int
    status: str  # requested | pending | succeeded | failed | canceled
    created_at: str
    reason: str | None = None
    provider_reference: str | None = None  # Stripe Refund id
    automatic: bool = False


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider describes it."""

    provider_reference: str
    amount: int
    status: str
    refund_id: str | None = None  # ours, from metadata, when we asked for it
    reason: str | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """A provider's webhook event, reduced to what the ledger needs (no SDK objects)."""

    event_id: str
    type: str
    payment_intent: str | None
    order_id: str | None = None
    charge: str | None = None
    amount: int | None = None
    currency: str | None = None
    method: str | None = None
    refund: ProviderRefund | None = None
    refunds: tuple[ProviderRefund, ...] = ()
    charge_refunded: int | None = None
    failure: dict[str, str] = field(default_factory=dict)
    dispute: dict[str, Any] = field(default_factory=dict)


HANDLED_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.closed",
)


def payment_id_for(order_id: str, method: str) -> str:
    """One payment per order and method, so concurrent 'pay' requests converge on it."""
    return "pay_" + hashlib.sha256(f"{order_id}:{method}".encode()).hexdigest()[:20]


def reference_code(order_number: str) -> str:
    return f"PAY-{order_number}"


# --- reading the ledger ---------------------------------------------------------------


def amount_paid(order) -> int:
    return sum(p.amount for p in order.payments.values() if p.status == "succeeded")


def amount_refunded(order) -> int:
    total = 0
    for payment in order.payments.values():
        ours = sum(
            r.amount
            for r in order.refunds.values()
            if r.payment_id == payment.payment_id and r.status in REFUND_COUNTED
        )
        total += max(ours, payment.reported_refunded)
    return total


def derived_payment_status(order) -> str:
    paid, refunded = amount_paid(order), amount_refunded(order)
    if paid == 0:
        return "pending" if any(p.status == "pending" for p in order.payments.values()) else "unpaid"
    net = paid - refunded
    if net <= 0:
        return "refunded"
    if net >= order.total:
        return "paid"
    return "partially_refunded"


def settle(order) -> None:
    """Bring the order's money figures and payment status in line with its ledger."""
    order.amount_paid = amount_paid(order)
    order.amount_refunded = amount_refunded(order)
    order.payment_status = derived_payment_status(order)


def next_due(order) -> tuple[str, str] | None:
    """Reminder or refund work a schedule must do for this order, and from when (the ``payment-due`` index key)."""
    if any(r.status == "requested" for r in order.refunds.values()):
        return "refund_retry", order.updated_at
    if unpaid(order) and not order.reminded:
        return "reminder", _halfway(order.created_at, order.reserved_until)
    return None


def expiry_due(order) -> str | None:
    """When this unpaid order expires (the ``payment-expiry`` index key), or None once nothing can expire it."""
    return order.reserved_until if unpaid(order) else None


def unpaid(order) -> bool:
    return order.status == "confirmed" and order.payment_status in lifecycle.UNPAID and bool(order.reserved_until)


def _halfway(start: str, end: str) -> str:
    from chalicelib.domain.orders import iso, parse_iso

    begin = parse_iso(start)
    return iso(begin + (parse_iso(end) - begin) / 2)


# --- requests ------------------------------------------------------------------------


def start(order, method: str, actor: str, at: str) -> tuple[Payment, bool]:
    """The order's payment for ``method``: the pending one again, or a new one. Returns (payment, created)."""
    lifecycle.apply(order.states, "start_payment")
    payment_id = payment_id_for(order.order_id, method)
    existing = order.payments.get(payment_id)
    if existing is not None and existing.status == "pending":
        return existing, False
    if existing is not None and existing.status in ("failed", "canceled"):
        existing.status = "pending"  # the same PaymentIntent may be confirmed again
        order.record("payment_retried", actor, at, {"payment_id": payment_id, "method": method})
        settle(order)
        return existing, False
    payment = Payment(
        payment_id=payment_id,
        method=method,
        amount=order.total - order.amount_paid,
        currency=order.currency,
        status="pending",
        created_at=at,
        reference_code=None if method in ONLINE_METHODS else reference_code(order.order_number),
    )
    order.payments[payment_id] = payment
    return payment, True


def record_started(order, payment: Payment, actor: str, at: str, extend_to: str | None = None) -> None:
    """The new payment is in the ledger (with its provider reference, if online)."""
    if extend_to and (order.reserved_until is None or extend_to > order.reserved_until):
        order.reserved_until = extend_to  # offline payments take days, not minutes
    order.record(
        "payment_started",
        actor,
        at,
        _without_none(
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
    """Staff received an offline payment of exactly what is due."""
    lifecycle.apply(order.states, "confirm_payment")
    payment = order.payments.get(payment_id)
    if payment is None or payment.online:
        from chalicelib.domain.errors import NotFound

        raise NotFound("No such offline payment on this order.", payment_id=payment_id)
    if payment.status != "pending":
        raise Conflict(f"This payment is {payment.status}.", payment_id=payment_id, status=payment.status)
    due = order.total - order.amount_paid
    if amount != due:
        raise ValidationFailed(
            f"The amount received must be the amount due ({due}).", fields={"amount": f"must be {due}"}
        )
    payment.status = "succeeded"
    payment.received_amount, payment.received_currency = amount, order.currency
    order.record(
        "payment_received",
        actor,
        at,
        {"payment_id": payment_id, "method": payment.method, "amount": amount, "currency": order.currency,
         "reference": reference},
    )  # fmt: skip
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
    return _reserve_refunds(order, amount, reason, refund_id, actor, at, automatic=False)


def cancel(order, reason: str | None, actor: str, at: str, refund_id: str) -> list[Refund]:
    """Cancel before shipment; a paid order is refunded in full. Returns refunds to send."""
    paid = order.payment_status in lifecycle.PAID
    data = {"reason": reason} if reason else {}
    order.transition("cancel_paid" if paid else "cancel", actor, at, "order_cancelled", data)
    for payment in order.payments.values():
        if payment.status == "pending":
            payment.status = "canceled"
    remaining = order.amount_paid - order.amount_refunded
    refunds = _reserve_refunds(order, remaining, "order_cancelled", refund_id, actor, at, False) if remaining else []
    settle(order)
    return refunds


def expire(order, actor: str, at: str) -> None:
    order.transition("expire", actor, at, "order_expired", {"reserved_until": order.reserved_until})
    for payment in order.payments.values():
        if payment.status == "pending":
            payment.status = "canceled"
    settle(order)


def remind(order, actor: str, at: str) -> None:
    lifecycle.apply(order.states, "remind")
    order.reminded = True
    order.record("payment_reminder", actor, at, {"reserved_until": order.reserved_until, "total": order.total})


def _reserve_refunds(
    order, amount: int, reason: str | None, refund_id: str, actor: str, at: str, automatic: bool
) -> list[Refund]:
    """Split ``amount`` over the succeeded payments with money left on them, largest first."""
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
            status="requested" if payment.online else "succeeded",
            created_at=at,
            reason=reason,
            automatic=automatic,
        )
        order.refunds[rid] = refund
        made.append(refund)
        left -= take
        order.record(
            "refund_requested" if payment.online else "refund_issued",
            actor,
            at,
            _without_none(
                {"refund_id": rid, "payment_id": payment.payment_id, "amount": take, "currency": order.currency,
                 "reason": reason, "automatic": automatic or None, "manual": None if payment.online else True}
            ),
        )  # fmt: skip
    settle(order)
    return [r for r in made if r.status == "requested"]


def _left_on(order, payment: Payment) -> int:
    if payment.status != "succeeded":
        return 0
    refunded = sum(
        r.amount for r in order.refunds.values() if r.payment_id == payment.payment_id and r.status in REFUND_COUNTED
    )
    return payment.amount - max(refunded, payment.reported_refunded)


def refund_sent(order, refund_id: str, provider: ProviderRefund | None, error: str | None, at: str) -> None:
    """What the provider answered when we asked for a refund (``error`` when it refused)."""
    refund = order.refunds.get(refund_id)
    if refund is None:
        return
    if provider is not None:
        _update_refund(order, refund, provider, "system", at)
    elif error is not None and refund.status == "requested":
        refund.status = "failed"
        order.record(
            "refund_failed", "system", at, {"refund_id": refund_id, "amount": refund.amount, "error": error[:300]}
        )
    settle(order)


# --- provider events -----------------------------------------------------------------


def find_payment(order, provider_reference: str | None) -> Payment | None:
    if provider_reference is None:
        return None
    return next((p for p in order.payments.values() if p.provider_reference == provider_reference), None)


def apply_event(order, event: ProviderEvent, at: str) -> list[Refund]:
    """Apply one provider event to the ledger. Returns refunds to send (money that must go back)."""
    payment = find_payment(order, event.payment_intent)
    if payment is None:
        if event.type != "payment_intent.succeeded" or event.method not in ONLINE_METHODS:
            order.record("provider_event_unmatched", "stripe", at, {"event_id": event.event_id, "type": event.type})
            return []
        # our write after creating the PaymentIntent was lost: the event tells us enough to record it
        payment = Payment(
            payment_id=payment_id_for(order.order_id, event.method),
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
        if payment.status == "pending":
            payment.status = "canceled"
            order.record("payment_canceled", "stripe", at, {"payment_id": payment.payment_id})
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
        _flag(order, "disputed")
        order.record("dispute_opened", "stripe", at, {"payment_id": payment.payment_id, **event.dispute})
    elif kind == "charge.dispute.closed":
        order.record("dispute_closed", "stripe", at, {"payment_id": payment.payment_id, **event.dispute})
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
    if amount != payment.amount or currency != order.currency:
        payment.status = "mismatched"
        _flag(order, "payment_mismatch")
        order.record(
            "payment_mismatch",
            "stripe",
            at,
            {"payment_id": payment.payment_id, "provider_reference": payment.provider_reference,
             "expected_amount": payment.amount, "expected_currency": order.currency,
             "received_amount": amount, "received_currency": currency, "event_id": event_id},
        )  # fmt: skip
        return []
    already_settled = order.amount_paid - order.amount_refunded >= order.total and order.amount_paid > 0
    payment.status = "succeeded"
    order.record(
        "payment_received",
        "stripe",
        at,
        {"payment_id": payment.payment_id, "method": payment.method, "amount": amount, "currency": currency,
         "provider_reference": payment.provider_reference, "event_id": event_id},
    )  # fmt: skip
    settle(order)
    reason = _auto_refund_reason(order.status, already_settled)
    if reason is not None:
        _flag(order, reason)
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
    return []


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
    order.record("payment_failed", "stripe", at, data)


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
            "stripe",
            at,
            {"refund_id": refund.refund_id, "payment_id": payment.payment_id, "amount": provider.amount,
             "currency": order.currency, "external": True},
        )  # fmt: skip
    _update_refund(order, refund, provider, "stripe", at)


def _update_refund(order, refund: Refund, provider: ProviderRefund, actor: str, at: str) -> None:
    refund.provider_reference = refund.provider_reference or provider.provider_reference
    status = provider.status if provider.status in _REFUND_RANK else "pending"
    if _REFUND_RANK[status] <= _REFUND_RANK[refund.status]:
        return
    refund.status = status
    data = {"refund_id": refund.refund_id, "amount": refund.amount, "currency": order.currency,
            "provider_reference": refund.provider_reference, "status": status}  # fmt: skip
    if status == "succeeded":
        order.record("refund_issued", actor, at, data)
    elif status in ("failed", "canceled"):
        order.record("refund_failed", actor, at, data)


def _flag(order, flag: str) -> None:
    if flag not in order.flags:
        order.flags.append(flag)


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
