"""An order as DynamoDB items, and back: the header (with its ledger and index keys) and its timeline events.

The header carries the keys of every index it is listed in; those over all orders are
written to ``ORDER_SHARDS`` partitions (``<value>#<shard>``, the shard from the order id),
so no index partition is one constant.
"""

from __future__ import annotations

import hashlib

from chalicelib.adapters.dynamo.models import (
    ORDER_SK,
    ApprovalMap,
    EventRecord,
    LineMap,
    OrderRecord,
    PaymentMap,
    RefundMap,
    ShipmentMap,
    StepMap,
    event_sk,
    order_pk,
)
from chalicelib.domain import payments as ledger
from chalicelib.domain.approval import Approval, Step
from chalicelib.domain.orders import Order, OrderLine, Shipment, TimelineEvent
from chalicelib.domain.payments import Payment, Refund
from chalicelib.domain.pricing import Discount, Terms

ORDER_SHARDS = 4  # partitions of the indexes over all orders: writes spread over them, a listing reads each once
LISTED = "ORDER"


def shard_of(order_id: str) -> int:
    return int(hashlib.sha256(order_id.encode()).hexdigest()[:8], 16) % ORDER_SHARDS


def sharded(value: str, shard: int) -> str:
    return f"{value}#{shard}"


def to_record(order: Order) -> OrderRecord:
    due, expires, shard = ledger.next_due(order), ledger.expiry_due(order), shard_of(order.order_id)
    return OrderRecord(
        order_pk(order.order_id),
        ORDER_SK,
        order_id=order.order_id,
        order_number=order.order_number,
        customer_id=order.customer_id,
        status=order.status,
        payment_status=order.payment_status,
        fulfilment_status=order.fulfilment_status,
        lines=[
            LineMap(sku=line.sku, name=line.name, unit_price=line.unit_price, quantity=line.quantity)
            for line in order.lines
        ],
        subtotal=order.subtotal,
        discount=order.discount,
        shipping=order.shipping,
        total=order.total,
        currency=order.currency,
        amount_paid=order.amount_paid,
        amount_refunded=order.amount_refunded,
        shipping_address=order.shipping_address,
        channel=order.channel,
        note=order.note,
        flags=list(order.flags),
        reserved_until=order.reserved_until,
        created_at=order.created_at,
        updated_at=order.updated_at,
        version=order.version,
        payments=[PaymentMap(**vars(payment)) for payment in order.payments.values()],
        refunds=[RefundMap(**vars(refund)) for refund in order.refunds.values()],
        shipments=[ShipmentMap(**vars(shipment)) for shipment in order.shipments],
        reminded=order.reminded,
        due_kind=sharded(due[0], shard) if due else None,
        due_at=due[1] if due else None,
        expiry_kind=sharded("unpaid", shard) if expires else None,
        expiry_at=expires,
        listed=sharded(LISTED, shard),
        customer_status=f"{order.customer_id}#{order.status}",
        status_shard=sharded(order.status, shard),
        pricing=pricing_of(order),
        **approval_attributes(order, shard),
    )


def pricing_of(order: Order) -> dict | None:
    """The terms an order was priced on and its discounts, as JSON (none: priced before terms existed)."""
    if order.terms is None and not order.discounts:
        return None
    return {"terms": vars(order.terms) if order.terms else None,
            "discounts": [vars(discount) for discount in order.discounts]}  # fmt: skip


def _pricing(stored: dict | None) -> tuple[list[Discount], Terms | None]:
    if not stored:
        return [], None
    terms = Terms(**stored["terms"]) if stored.get("terms") else None
    return [Discount(**discount) for discount in stored.get("discounts") or []], terms


def approval_attributes(order: Order, shard: int) -> dict:
    """The approval in the header, and the approvals-waiting index keys while a step waits (sparse)."""
    approval = order.approval
    if approval is None:
        return {}
    stored = ApprovalMap(
        status=approval.status, rule=approval.rule, for_version=approval.for_version, placed_by=approval.placed_by,
        deadline=approval.deadline, waiting_since=approval.waiting_since, reminded=approval.reminded,
        decided_at=approval.decided_at, steps=[StepMap(**vars(step)) for step in approval.steps],
    )  # fmt: skip
    role = approval.waiting_role if order.status == "pending_approval" else None
    if role is None:
        return {"approval": stored}
    return {
        "approval": stored,
        "approval_queue": sharded(role, shard),
        "approval_since": approval.waiting_since,
        "approval_excluded": approval.excluded,
    }


def to_approval(stored: ApprovalMap | None) -> Approval | None:
    if stored is None:
        return None
    return Approval(
        status=stored.status, rule=stored.rule, for_version=int(stored.for_version), placed_by=stored.placed_by,
        deadline=stored.deadline, waiting_since=stored.waiting_since, reminded=bool(stored.reminded),
        decided_at=stored.decided_at,
        steps=[Step(s.role, s.status, s.by, s.at, s.note) for s in stored.steps or []],
    )  # fmt: skip


def event_records(order: Order) -> list[EventRecord]:
    return [
        EventRecord(
            order_pk(order.order_id),
            event_sk(event.seq),
            order_id=order.order_id,
            customer_id=order.customer_id,
            order_number=order.order_number,
            seq=event.seq,
            at=event.at,
            type=event.type,
            actor=event.actor,
            data=event.data,
        )
        for event in order.new_events
    ]


def to_order(record: OrderRecord, events: list[EventRecord] | None) -> Order:
    return Order(
        order_id=record.order_id,
        order_number=record.order_number,
        customer_id=record.customer_id,
        status=record.status,
        payment_status=record.payment_status,
        fulfilment_status=record.fulfilment_status,
        lines=[OrderLine(line.sku, line.name, int(line.unit_price), int(line.quantity)) for line in record.lines],
        subtotal=int(record.subtotal),
        discount=int(record.discount),
        shipping=int(record.shipping),
        total=int(record.total),
        currency=record.currency,
        amount_paid=int(record.amount_paid or 0),
        amount_refunded=int(record.amount_refunded or 0),
        shipping_address=record.shipping_address.as_dict(),
        channel=record.channel,
        note=record.note,
        flags=list(record.flags or []),
        reserved_until=record.reserved_until,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version),
        payments={p.payment_id: _payment(p) for p in record.payments or []},
        refunds={r.refund_id: _refund(r) for r in record.refunds or []},
        shipments=[Shipment(s.carrier, s.tracking_number, s.shipped_at) for s in record.shipments or []],
        reminded=bool(record.reminded),
        approval=to_approval(record.approval),
        discounts=_pricing(record.pricing)[0],
        terms=_pricing(record.pricing)[1],
        timeline=[
            TimelineEvent(int(e.seq), e.at, e.type, e.actor, e.data.as_dict() if e.data else {})
            for e in sorted(events or [], key=lambda e: e.seq)
        ],
    )


def _payment(item: PaymentMap) -> Payment:
    return Payment(
        payment_id=item.payment_id,
        method=item.method,
        amount=int(item.amount),
        currency=item.currency,
        status=item.status,
        created_at=item.created_at,
        provider_reference=item.provider_reference,
        reference_code=item.reference_code,
        received_amount=int(item.received_amount or 0),
        received_currency=item.received_currency,
        reported_refunded=int(item.reported_refunded or 0),
        cancel_pending=bool(item.cancel_pending),
        received_reference=item.received_reference,
    )


def _refund(item: RefundMap) -> Refund:
    return Refund(
        refund_id=item.refund_id,
        payment_id=item.payment_id,
        amount=int(item.amount),
        status=item.status,
        created_at=item.created_at,
        reason=item.reason,
        provider_reference=item.provider_reference,
        automatic=bool(item.automatic),
        reference_code=item.reference_code,
        sent_reference=item.sent_reference,
    )
