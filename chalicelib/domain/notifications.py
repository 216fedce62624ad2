"""Who hears about what: timeline events → staff and customer notifications.

One table per audience. Staff notifications carry ``event_type``; customer ones
``customer_id`` and ``event_type`` (SNS message attributes, so subscribers filter).
Pure: no AWS here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain import customer_view

STAFF = "staff"
CUSTOMER = "customer"

# timeline event type -> staff notification event_type
STAFF_EVENTS: dict[str, str] = {
    "order_placed": "order_placed",
    "approval_required": "approval_required",
    "approval_reminder": "approval_reminder",
    "payment_received": "payment_received",
    "payment_failed": "payment_failed",
    "payment_mismatch": "payment_mismatch",
    "refund_issued": "refund_issued",
    "refund_to_send": "refund_to_send",
    "refund_failed": "refund_failed",
    "dispute_opened": "dispute_opened",
    "order_cancelled": "order_cancelled",
}

# staff notifications that also carry ``approval_role`` (the role of the step now waiting; from the event's data)
APPROVAL_ROLE_EVENTS = frozenset({"approval_required", "approval_reminder"})

# timeline event type -> customer notification event_type
CUSTOMER_EVENTS: dict[str, str] = {
    "order_placed": "order_confirmed",
    "order_approved": "order_approved",
    "order_rejected": "order_rejected",
    "payment_reminder": "payment_reminder",
    "payment_received": "payment_received",
    "shipped": "shipped",
    "delivered": "delivered",
    "refund_issued": "refunded",
    "order_cancelled": "order_cancelled",
    "order_expired": "order_expired",
    "order_modified": "order_modified",
}

SUBJECTS: dict[str, str] = {
    "order_placed": "New order {number}",
    "order_confirmed": "Your order {number} is confirmed",
    "approval_required": "Order {number} needs approval",
    "approval_reminder": "Order {number} is still waiting for approval",
    "order_approved": "Your order {number} is approved",
    "order_rejected": "Your order {number} was not accepted",
    "payment_received": "Payment received for order {number}",
    "payment_failed": "A payment for order {number} failed",
    "payment_mismatch": "Order {number}: the payment does not match the order",
    "payment_reminder": "Order {number} is waiting for your payment",
    "refund_issued": "Refund issued for order {number}",
    "refunded": "Your refund for order {number}",
    "refund_to_send": "Order {number}: pay a refund back to the customer",
    "refund_failed": "Order {number}: the payment provider refused a refund",
    "dispute_opened": "Order {number}: the customer disputes the payment",
    "order_cancelled": "Order {number} was cancelled",
    "order_expired": "Order {number} expired unpaid",
    "order_modified": "Your order {number} was changed",
    "shipped": "Order {number} is on its way",
    "delivered": "Order {number} was delivered",
    "low_stock": "Low stock: {sku}",
    "fulfilment_dead_letter": "A fulfilment update could not be applied",
}


@dataclass(frozen=True)
class TimelineFact:
    """A committed timeline event, as the orders table's stream delivers it."""

    order_id: str
    seq: int
    type: str
    at: str
    actor: str
    customer_id: str | None
    order_number: str | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    audience: str  # STAFF or CUSTOMER
    event_type: str
    subject: str
    message: dict[str, Any]
    customer_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # more SNS message attributes, e.g. approval_role

    @property
    def key(self) -> str:
        """Names this notification among those of its event (for the sent-marker)."""
        return f"{self.audience}:{self.event_type}"


def for_event(fact: TimelineFact) -> list[Notification]:
    """The notifications a committed timeline event calls for (none for most)."""
    if fact.type == "payment_failed" and fact.data.get("ignored"):
        return []  # a late failure of a payment that already succeeded: nothing to act on
    made = []
    message = {
        "order_id": fact.order_id,
        "order_number": fact.order_number,
        "customer_id": fact.customer_id,
        "at": fact.at,
        "timeline_event": fact.type,
        "data": fact.data,
    }
    if fact.type in STAFF_EVENTS:
        kind = STAFF_EVENTS[fact.type]
        extra = {"approval_role": str(fact.data.get("role"))} if kind in APPROVAL_ROLE_EVENTS else {}
        made.append(
            Notification(
                STAFF, kind, subject(kind, number=fact.order_number), {**message, "event_type": kind}, None, extra
            )
        )
    if fact.type in CUSTOMER_EVENTS and fact.customer_id and not _unwanted_payment(fact) and not _waiting(fact):
        kind = CUSTOMER_EVENTS[fact.type]
        seen = {**message, "data": customer_view.data(fact.data, fact.actor), "event_type": kind}
        made.append(Notification(CUSTOMER, kind, subject(kind, number=fact.order_number), seen, fact.customer_id))
    return made


def _waiting(fact: TimelineFact) -> bool:
    """An order placed to wait for approval is not confirmed yet: the customer hears when it is decided."""
    return fact.type == "order_placed" and fact.data.get("status") == "pending_approval"


def _unwanted_payment(fact: TimelineFact) -> bool:
    """Money that arrived for an order that is gone or already paid is refunded: the customer hears of the refund."""
    return fact.type == "payment_received" and bool(fact.data.get("auto_refund"))


def low_stock(sku: str, name: str, available: int, threshold: int, at: str) -> Notification:
    message = {"event_type": "low_stock", "sku": sku, "name": name, "available": available,
               "threshold": threshold, "at": at}  # fmt: skip
    return Notification(STAFF, "low_stock", subject("low_stock", sku=sku), message)


def crossed_below(before: int | None, after: int | None, threshold: int) -> bool:
    """A change that takes stock from at or above ``threshold`` to below it: one alert per crossing."""
    return threshold > 0 and before is not None and after is not None and before >= threshold > after


def dead_letter(reason: str, body: str, message_id: str, receive_count: int, at: str) -> Notification:
    message = {"event_type": "fulfilment_dead_letter", "message_id": message_id, "reason": reason[:500],
               "body": body[:2000], "receive_count": receive_count, "at": at}  # fmt: skip
    return Notification(STAFF, "fulfilment_dead_letter", subject("fulfilment_dead_letter"), message)


def subject(event_type: str, **values: Any) -> str:
    template = SUBJECTS.get(event_type, event_type.replace("_", " "))
    return template.format(**{k: v if v is not None else "?" for k, v in values.items()})[:100]
