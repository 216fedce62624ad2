"""The order: its lines, totals, statuses and timeline."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import lifecycle, pricing
from chalicelib.domain.approval import Approval
from chalicelib.domain.errors import OutOfStock
from chalicelib.domain.payments import Payment, Refund
from chalicelib.domain.pricing import OrderLine, RequestedLine, price_lines  # noqa: F401 (priced there, named here)

# Lines one order may have: its reservations (each a product update and its ledger entry) share one
# transaction with the order, its events and records, which DynamoDB caps at 100 items.
MAX_ORDER_LINES = 40
CHANNELS = ("web", "mobile", "marketplace", "pos", "api", "phone")  # phone: taken by staff (an extension)


@dataclass(frozen=True)
class Shipment:
    """A parcel on its way, as the warehouse reported it."""

    carrier: str | None
    tracking_number: str | None
    shipped_at: str


@dataclass(frozen=True)
class TimelineEvent:
    seq: int
    at: str
    type: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Order:
    order_id: str
    order_number: str
    customer_id: str
    status: str
    payment_status: str
    fulfilment_status: str
    lines: list[OrderLine]
    subtotal: int
    discount: int
    shipping: int
    total: int
    currency: str
    shipping_address: dict[str, str]
    channel: str
    created_at: str
    updated_at: str
    reserved_until: str | None
    note: str | None = None
    amount_paid: int = 0
    amount_refunded: int = 0
    flags: list[str] = field(default_factory=list)
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    shipments: list[Shipment] = field(default_factory=list)
    reminded: bool = False
    version: int = 0
    approval: Approval | None = None  # see domain/approval.py
    discounts: list[pricing.Discount] = field(default_factory=list)  # they add up to ``discount``
    terms: pricing.Terms | None = None  # what it was priced on (an edit prices on them too)
    timeline: list[TimelineEvent] = field(default_factory=list)
    new_events: list[TimelineEvent] = field(default_factory=list, repr=False)

    @property
    def states(self) -> lifecycle.States:
        return lifecycle.States(self.status, self.payment_status, self.fulfilment_status)

    def record(self, type_: str, actor: str, at: str, data: dict[str, Any] | None = None) -> TimelineEvent:
        """Add an event to the timeline; it is written in the same transaction as the change."""
        self.version += 1
        event = TimelineEvent(seq=self.version, at=at, type=type_, actor=actor, data=data or {})
        self.timeline.append(event)
        self.new_events.append(event)
        self.updated_at = at
        return event

    def transition(
        self, action: str, actor: str, at: str, event_type: str, data: dict[str, Any] | None = None
    ) -> TimelineEvent:
        """Apply a lifecycle action (or raise ``InvalidTransition``) and record its event."""
        after = lifecycle.apply(self.states, action)
        self.status, self.payment_status, self.fulfilment_status = (
            after.status,
            after.payment_status,
            after.fulfilment_status,
        )
        return self.record(event_type, actor, at, data)


def check_stock(requested: list[RequestedLine], available: dict[str, int]) -> None:
    """Refuse early what the catalogue already shows cannot be reserved."""
    short = [
        {"sku": item.sku, "requested": item.quantity, "available": max(available.get(item.sku, 0), 0)}
        for item in requested
        if item.quantity > available.get(item.sku, 0)
    ]
    if short:
        raise OutOfStock("Not enough stock for some items.", skus=short)


def new_order(
    *,
    order_id: str,
    order_number: str,
    customer_id: str,
    lines: list[OrderLine],
    currency: str,
    shipping_address: dict[str, str],
    channel: str,
    note: str | None,
    now: datetime,
    payment_ttl: timedelta,
    actor: str,
    review: Callable[[Order], Approval | None] | None = None,
    terms: pricing.Terms | None = None,
) -> Order:
    """A confirmed, unpaid order whose stock is reserved until ``now + payment_ttl``.

    ``review`` (the approval policy) sees the priced order: an ``Approval`` holds it in
    ``pending_approval``, its stock reserved until the approval's deadline.
    """
    priced = pricing.totals(lines, currency, terms=terms)  # 422 beyond MAX_AMOUNT
    subtotal, discount, shipping, total = priced.subtotal, priced.discount, priced.shipping, priced.total
    at = iso(now)
    order = Order(
        order_id=order_id,
        order_number=order_number,
        customer_id=customer_id,
        status="confirmed",
        payment_status="unpaid",
        fulfilment_status="unfulfilled",
        lines=lines,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        total=total,
        currency=currency,
        shipping_address=shipping_address,
        channel=channel,
        note=note,
        created_at=at,
        updated_at=at,
        reserved_until=iso(now + payment_ttl),
        discounts=priced.discounts,
        terms=terms,
    )
    order.approval = review(order) if review else None
    if order.approval is not None:
        order.status, order.reserved_until = "pending_approval", order.approval.deadline
    order.record(
        "order_placed",
        actor,
        at,
        {
            "order_number": order_number,
            "total": total,
            "currency": currency,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
            **({"status": order.status} if order.approval else {}),
        },
    )
    return order


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z, which also sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def order_number(day: datetime, sequence: int) -> str:
    return f"{day.astimezone(UTC):%Y%m%d}-{sequence:06d}"


_REFERENCE = re.compile(r"^(?:PAY-(\d{8}-\d{6,9})|RF-(\d{8}-\d{6,9})-\d{1,4})$")


def number_in_reference(reference: str) -> str | None:
    """The order number an offline reference code was made from (``PAY-<number>``, ``RF-<number>-<n>``)."""
    found = _REFERENCE.match(reference)
    return (found.group(1) or found.group(2)) if found else None


def has_reference(order: Order, reference: str) -> bool:
    """Whether one of the order's payments or refunds was given this reference code."""
    return any(p.reference_code == reference for p in order.payments.values()) or any(
        r.reference_code == reference for r in order.refunds.values()
    )
