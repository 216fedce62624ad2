"""Domain objects as the contract's JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.domain import customer_view
from chalicelib.domain import payments as ledger
from chalicelib.domain.approval import Policy
from chalicelib.domain.catalogue import Category, Product
from chalicelib.domain.orders import Order, TimelineEvent
from chalicelib.domain.payments import Payment, Refund
from chalicelib.services.ports import Page

if TYPE_CHECKING:
    from chalicelib.services.payments import StartedPayment


def product(item: Product) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "name": item.name,
        "description": item.description,
        "category": item.category,
        "price": item.price,
        "currency": item.currency,
        "images": item.images,
        "attributes": item.attributes,
        "stock_available": max(item.stock_available, 0),
        "sales_count": item.sales_count,
        "active": item.active,
        "product_group": item.product_group,
        "options": item.options,
        "low_stock_threshold": item.low_stock_threshold,
        "rating_avg": item.rating_avg,
        "rating_count": item.rating_count,
        "version": item.version,
        "updated_at": item.updated_at,
    }


def category(item: Category) -> dict[str, Any]:
    return {"category": item.category, "name": item.name, "sort_order": item.sort_order,
            "product_count": max(item.product_count, 0)}  # fmt: skip


def low_stock(item: Product) -> dict[str, Any]:
    return {"sku": item.sku, "name": item.name, "category": item.category, "stock_available": item.stock_available,
            "low_stock_threshold": item.low_stock_threshold,
            "shortfall": item.low_stock_threshold - item.stock_available, "active": item.active}  # fmt: skip


def order(item: Order, *, staff: bool) -> dict[str, Any]:
    """The order as staff see it, or (``staff=False``) as its customer does: see ``domain/customer_view.py``."""
    return {
        "order_id": item.order_id,
        "order_number": item.order_number,
        "customer_id": item.customer_id,
        "status": item.status,
        "payment_status": item.payment_status,
        "fulfilment_status": item.fulfilment_status,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "unit_price": line.unit_price,
                "quantity": line.quantity,
                "line_total": line.line_total,
            }
            for line in item.lines
        ],
        "subtotal": item.subtotal,
        "discounts": [discount_view(d) for d in item.discounts],
        "discount": item.discount,
        "shipping": item.shipping,
        "total": item.total,
        "currency": item.currency,
        "amount_paid": item.amount_paid,
        "amount_refunded": item.amount_refunded,
        "shipping_address": item.shipping_address,
        "channel": item.channel,
        "note": item.note,
        "flags": item.flags if staff else [],
        "reserved_until": item.reserved_until,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "payments": [payment(p) for p in item.payments.values()],
        "refunds": [refund(r, item.currency, staff=staff) for r in item.refunds.values()],
        "shipments": [
            {"carrier": s.carrier, "tracking_number": s.tracking_number, "shipped_at": s.shipped_at}
            for s in item.shipments
        ],
        "timeline": [timeline_event(event, staff=staff) for event in item.timeline],
        "version": item.version,
        "balance_due": ledger.balance_due(item),
        "approval": approval(item, staff=staff),
    }


def approval(item: Order, *, staff: bool) -> dict[str, Any] | None:
    """``{status, rule, steps: [{role, status, by?, at?, note?}], for_version}``; a customer sees no staff identities."""
    if item.approval is None:
        return None
    shown = {
        "status": item.approval.status,
        "rule": item.approval.rule,
        "steps": [
            {key: value for key, value in vars(step).items() if value is not None} for step in item.approval.steps
        ],
        "for_version": item.approval.for_version,
    }
    return shown if staff else customer_view.approval(shown)


def waiting_order(item: Order, *, staff: bool = True) -> dict[str, Any]:
    """An order in the approvals list: what the approvals-waiting index projects."""
    return {
        "order_id": item.order_id,
        "order_number": item.order_number,
        "customer_id": item.customer_id,
        "status": item.status,
        "total": item.total,
        "currency": item.currency,
        "channel": item.channel,
        "created_at": item.created_at,
        "reserved_until": item.reserved_until,
        "waiting_since": item.approval.waiting_since if item.approval else None,
        "waiting_role": item.approval.waiting_role if item.approval else None,
        "approval": approval(item, staff=staff),
    }


def approval_policy(policy: Policy) -> dict[str, Any]:
    return {
        "version": policy.version,
        "rules": [{"name": r.name, "when": dict(r.when), "steps": list(r.steps)} for r in policy.rules],
    }


def timeline_event(event: TimelineEvent, *, staff: bool) -> dict[str, Any]:
    if staff:
        return {"at": event.at, "type": event.type, "actor": event.actor, "data": event.data}
    return {"at": event.at, "type": event.type, "actor": customer_view.actor(event.actor),
            "data": customer_view.data(event.data, event.actor)}  # fmt: skip


def payment(item: Payment) -> dict[str, Any]:
    return {
        "payment_id": item.payment_id,
        "method": item.method,
        "amount": item.amount,
        "currency": item.currency,
        "status": item.status,
        "provider_reference": item.provider_reference,
        "reference_code": item.reference_code,
        "created_at": item.created_at,
    }


def refund(item: Refund, currency: str, *, staff: bool = True) -> dict[str, Any]:
    return {
        "refund_id": item.refund_id,
        "payment_id": item.payment_id,
        "amount": item.amount,
        "currency": currency,
        "status": item.status,
        "reason": item.reason if staff else None,
        "provider_reference": item.provider_reference,
        "reference_code": item.reference_code,
        "automatic": item.automatic,
        "created_at": item.created_at,
    }


def started_payment(started: StartedPayment) -> dict[str, Any]:
    item = started.payment
    return {
        "payment_id": item.payment_id,
        "order_id": started.order.order_id,
        "method": item.method,
        "amount": item.amount,
        "currency": item.currency,
        "status": item.status,
        "provider_reference": item.provider_reference,
        "client_secret": started.client_secret,
        "instructions": started.instructions,
    }


def refund_result(item: Order, refunds: list[Refund]) -> dict[str, Any]:
    return {"refunds": [refund(r, item.currency) for r in refunds], "order": order(item, staff=True)}


def page(result: Page[Any], present) -> dict[str, Any]:
    return {"items": [present(item) for item in result.items], "next_cursor": result.next_cursor}


def discount_view(discount: Any) -> dict[str, Any]:
    view = {"kind": discount.kind, "name": discount.name, "amount": discount.amount}
    if discount.percent is not None:
        view["percent"] = discount.percent
    return view
