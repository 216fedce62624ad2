"""What ``make run`` prints for a notification the app published: one readable line.

``[staff] payment_received  Payment received for order 20261126-000003``
``[customer] shipped  Order 20261126-000003 is on its way  (SF Express SF1234567890; customer 5f0c1a2b)``
``[staff] approval_required  Order 20261126-000004 needs approval  (admin decides step 2 of rule very_large_order)``
"""

from __future__ import annotations

from typing import Any

REASON_CHARS = 160


def describe(audience: str, published: dict[str, Any]) -> str:
    """``published`` as a ``TopicTap`` reads it: ``subject``, ``attributes`` and the parsed ``message``."""
    message = published.get("message") if isinstance(published.get("message"), dict) else {}
    attributes = published.get("attributes") or {}
    event_type = attributes.get("event_type") or message.get("event_type") or "?"
    subject = published.get("subject") or event_type.replace("_", " ")
    notes = _details(event_type, message)
    customer = attributes.get("customer_id") or message.get("customer_id")
    if audience == "customer" and customer:
        notes.append(f"customer {str(customer)[:8]}")
    suffix = f"  ({'; '.join(notes)})" if notes else ""
    return f"[{audience}] {event_type}  {subject}{suffix}"


def _details(event_type: str, message: dict[str, Any]) -> list[str]:
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    if event_type == "low_stock":
        return [f"{message.get('available')} left, threshold {message.get('threshold')}"]
    if event_type == "fulfilment_dead_letter":
        reason = str(message.get("reason", ""))
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 3] + "..."
        return [f"message {message.get('message_id')}, {message.get('receive_count')} receives: {reason}"]
    if event_type in ("approval_required", "approval_reminder"):
        return [f"{data.get('role')} decides step {data.get('step')} of rule {data.get('rule')}"]
    if event_type == "order_approved" and data.get("reserved_until"):
        return [f"pay by {data['reserved_until']}"]
    if event_type in ("refund_to_send", "refund_failed", "refund_issued", "refunded") and "amount" in data:
        paid_back = f"{_money(data['amount'], data.get('currency', ''))}"
        if event_type == "refund_to_send":
            paid_back += f" by {data.get('method')} to {data.get('customer_name')}, quote {data.get('reference_code')}"
        return [paid_back]
    shipment = " ".join(str(data[k]) for k in ("carrier", "tracking_number") if data.get(k))
    return [shipment] if shipment else []


def _money(amount: Any, currency: str) -> str:
    from chalicelib.domain.money import minor_digits

    if not isinstance(amount, int):
        return f"{amount} {currency}"
    digits = minor_digits(currency)
    return f"{amount / 10**digits:.{digits}f} {currency}".strip()
