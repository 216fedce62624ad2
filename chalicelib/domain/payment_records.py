"""What an order's payment ledger holds (payment attempts, refunds, provider facts) and what follows from it.

An order's ``amount_paid``, ``amount_refunded`` and ``payment_status`` are never set by
hand: ``settle`` derives them from the ledger. The requests that change the ledger are
in ``domain/payments.py``; the provider's events in ``domain/payment_events.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import approval, lifecycle
from chalicelib.domain.errors import Conflict

ONLINE_METHODS = ("card", "alipay", "wechat_pay")
OFFLINE_METHODS = ("bank_transfer", "cash")
METHODS = ONLINE_METHODS + OFFLINE_METHODS

PAYMENT_FINAL = frozenset({"succeeded", "mismatched"})
REFUND_RANK = {"requested": 0, "pending": 1, "succeeded": 2, "failed": 2, "canceled": 2}
REFUND_COUNTED = frozenset({"requested", "pending", "succeeded"})  # money out, or promised
PROVIDER_RETRY = "provider_retry"  # the payment-due index's kind for refunds to send and intents to cancel


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
    cancel_pending: bool = False  # closed here, but the provider has not yet confirmed its PaymentIntent is canceled
    received_reference: str | None = None  # offline: the bank's or till's reference staff recorded (staff only)

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
    reference_code: str | None = None  # offline: what staff quote when they pay the money back
    sent_reference: str | None = None  # offline: the bank's reference of the payout (staff only)


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
    payment_id: str | None = None  # ours, from the PaymentIntent's metadata


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


def payment_id_for(order_id: str, method: str, attempt: int = 0) -> str:
    """The id of an order's ``attempt``-th payment with ``method``: concurrent 'pay' requests converge on it."""
    seed = f"{order_id}:{method}" if attempt == 0 else f"{order_id}:{method}:{attempt}"
    return "pay_" + hashlib.sha256(seed.encode()).hexdigest()[:20]


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


EDIT_REFUND = "order_modified"  # the reason of a refund an edit made (the order costs less now)


def edit_refunded(order) -> int:
    """What went back because edits lowered the order's total (not a refund of the goods: the order shrank)."""
    return sum(r.amount for r in order.refunds.values() if r.reason == EDIT_REFUND and r.status in REFUND_COUNTED)


def amount_due(order) -> int:
    """What the customer still owes: the whole total of an unpaid order; of a paid one that an edit made dearer,
    the difference (``balance_due``); else 0. Refunds other than an edit's (goodwill, a return) owe nothing back."""
    covered = amount_paid(order) - edit_refunded(order)
    return max(order.total - covered, 0)


def balance_due(order) -> int:
    """``amount_due`` of an order already paid once (an edit raised its total), else 0."""
    return amount_due(order) if amount_paid(order) > 0 else 0


def excess_paid(order) -> int:
    """What a paid order holds beyond its total (an edit lowered it after the customer paid the old one)."""
    covered = amount_paid(order) - edit_refunded(order)
    return max(covered - order.total, 0) if amount_paid(order) > 0 else 0


def derived_payment_status(order) -> str:
    paid, refunded = amount_paid(order), amount_refunded(order)
    if paid == 0:
        return "pending" if any(p.status == "pending" for p in order.payments.values()) else "unpaid"
    net = paid - refunded
    if net <= 0:
        return "refunded"
    if net >= order.total or refunded == edit_refunded(order):
        return "paid"  # paid in full, or in full for what it cost before an edit made it dearer (balance_due)
    return "partially_refunded"


def settle(order) -> None:
    """Bring the order's money figures and payment status in line with its ledger."""
    order.amount_paid = amount_paid(order)
    order.amount_refunded = amount_refunded(order)
    order.payment_status = derived_payment_status(order)


def next_due(order) -> tuple[str, str] | None:
    """Work a schedule must do for this order, and from when (the ``payment-due`` index key).

    ``provider_retry``: a refund the provider has not taken yet, or a PaymentIntent we closed
    that the provider has not confirmed canceled; ``reminder``: the unpaid order's one reminder.
    """
    if any(r.status == "requested" for r in order.refunds.values()) or any(
        p.cancel_pending for p in order.payments.values()
    ):
        return PROVIDER_RETRY, order.updated_at
    if unpaid(order) and not order.reminded:
        return "reminder", _halfway(_window_opened(order), order.reserved_until)
    approval_reminder = approval.reminder_due(order)
    if approval_reminder is not None:
        return approval.REMINDER_KIND, approval_reminder
    return None


def expiry_due(order) -> str | None:
    """When this unpaid order expires (the ``payment-expiry`` index key), or None once nothing can expire it."""
    waiting = order.status == "pending_approval" and bool(order.reserved_until)  # approval time (domain/approval.py)
    return order.reserved_until if unpaid(order) or waiting else None


def unpaid(order) -> bool:
    return order.status == "confirmed" and order.payment_status in lifecycle.UNPAID and bool(order.reserved_until)


def _window_opened(order) -> str:
    """When the payment time began: at placement, or when the order's last approval step was decided."""
    decided = order.approval.decided_at if getattr(order, "approval", None) is not None else None
    return decided or order.created_at


def _halfway(start: str, end: str) -> str:
    from chalicelib.domain.orders import iso, parse_iso

    begin = parse_iso(start)
    return iso(begin + (parse_iso(end) - begin) / 2)


# --- shared rules ----------------------------------------------------------------------


def close_open(
    order,
    actor: str,
    at: str,
    reason: str,
    *,
    keep_method: str | None = None,
    closed_at_provider: frozenset[str] = frozenset(),
) -> list[Payment]:
    """Close the order's open (pending) attempts, but one of ``keep_method`` the provider still has open.

    An offline attempt is voided; an online one is canceled here and, unless the provider
    already has it closed (``closed_at_provider``: canceled there, or already paid), marked
    ``cancel_pending`` so its PaymentIntent is canceled at the provider (now or by the
    retry schedule). A payment that succeeds after all is still recorded (and refunded when
    not wanted): closing never loses money that arrives.
    """
    closed = []
    for payment in order.payments.values():
        if payment.status != "pending":
            continue
        if payment.method == keep_method and payment.provider_reference not in closed_at_provider:
            continue
        payment.status = "canceled"
        payment.cancel_pending = bool(payment.online and payment.provider_reference) and (
            payment.provider_reference not in closed_at_provider
        )
        order.record(
            "payment_canceled" if payment.online else "payment_voided",
            actor,
            at,
            {"payment_id": payment.payment_id, "method": payment.method, "reason": reason},
        )
        closed.append(payment)
    return closed


def flag(order, name: str) -> None:
    if name not in order.flags:
        order.flags.append(name)


def without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
