"""The audit log: who changed what through a staff route, from where, and what the change was.

An entry is written in the same transaction as its change (never a second write), so a
change without its entry, or an entry without its change, cannot exist. Its id is
deterministic (``entry_id``), so a retried transaction cannot write it twice.

How a capability audits its changes: build the entries from the changed state with
``entry`` (or, for an order, ``order_change``) and hand them to the write that commits the
change (``Changes.change(..., audit=...)``, ``OrdersRepo.save/create(..., audit=...)``, or
``adapters/dynamo/audit_repo.add_audit`` for any other TransactWrite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.identity import Origin, Principal
from chalicelib.domain.orders import Order

MAX_USER_AGENT = 512
MAX_TEXT = 500  # any text kept in ``data`` (a reason, a reference) is cut to this


@dataclass(frozen=True)
class AuditEntry:
    entry_id: str
    at: str
    actor: str
    action: str
    target_type: str
    target_id: str
    data: dict[str, Any] = field(default_factory=dict)
    source_ip: str | None = None
    user_agent: str | None = None


def entry_id(target_type: str, target_id: str, key: str) -> str:
    """The id of the entry for one change: the same change (``key``: e.g. the version it wrote) gives the same id."""
    return hashlib.sha256(f"{target_type}#{target_id}#{key}".encode()).hexdigest()[:24]


def entry(
    principal: Principal,
    action: str,
    target: tuple[str, str],
    *,
    at: str,
    key: str,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """An entry for ``principal``'s change of ``target`` (type, id); ``key`` names the change (a version, a
    request's Idempotency-Key) so a retry of the same write makes the same entry."""
    origin = principal.origin or Origin()
    target_type, target_id = target
    return AuditEntry(
        entry_id=entry_id(target_type, target_id, f"{key}#{action}"),
        at=at,
        actor=principal.actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=_clean(data or {}),
        source_ip=origin.source_ip,
        user_agent=(origin.user_agent or None) and origin.user_agent[:MAX_USER_AGENT],
    )


# What of an order change's timeline events an entry keeps: what the change was, never personal data
# (the refund_to_send event also names the customer and their phone, for staff paying it back: left out).
ORDER_EVENT_FIELDS = (
    "payment_id",
    "refund_id",
    "method",
    "amount",
    "currency",
    "reason",
    "reference",
    "reference_code",
)
ORDER_STATUSES = ("status", "payment_status", "fulfilment_status")


def order_change(
    principal: Principal, action: str, *, when: Callable[[Order], bool] | None = None
) -> Callable[[Order, Order], list[AuditEntry]]:
    """The entries of a staff change of an order, computed from the order before and after it (so a retried write
    computes them again from what it really writes): one entry ``action`` on ``("order", order_id)`` whose data is
    the statuses that moved (``{"status": {"from", "to"}}``), the amounts and totals that changed and the events
    the change recorded (their type and the fields of ``ORDER_EVENT_FIELDS``). No entry for a customer's change
    (nor when ``when(order)`` is false); the entry's id is the order's new version, which one write alone takes."""

    def entries(before: Order, after: Order) -> list[AuditEntry]:
        if not principal.is_staff or (when is not None and not when(after)):
            return []
        data: dict[str, Any] = {"order_number": after.order_number}
        for name in (*ORDER_STATUSES, "amount_paid", "amount_refunded", "total"):
            old, new = getattr(before, name), getattr(after, name)
            if old != new:
                data[name] = {"from": old, "to": new}
        events = [
            {"type": event.type, **{k: event.data[k] for k in ORDER_EVENT_FIELDS if event.data.get(k) is not None}}
            for event in after.new_events
        ]
        if events:
            data["events"] = events
        return [
            entry(principal, action, ("order", after.order_id), at=after.updated_at, key=f"v{after.version}", data=data)
        ]

    return entries


def _clean(value: Any) -> Any:
    """``data`` as stored: plain JSON values, texts cut to ``MAX_TEXT``."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return value[:MAX_TEXT]
    return value
