"""What a customer may see of their own order's history: no staff identities, internal references or flags.

Staff see a timeline event's ``actor`` as recorded (``staff:<sub>``, ``stripe``, ...) and
every ``data`` field. A customer sees the actor's kind (``customer``, ``staff``,
``system`` or ``provider``) and only the data fields below, in the order view and in
the notifications sent to them alike.
"""

from __future__ import annotations

from typing import Any

# data fields of a timeline event that tell the customer about their own order
CUSTOMER_FIELDS = frozenset(
    {
        "order_number", "total", "currency", "lines", "method", "amount", "payment_id", "refund_id",
        "reserved_until", "reference_code", "carrier", "tracking_number", "occurred_at", "status",
        "expected_amount", "received_amount", "from_version", "to_version", "total_from", "balance_due",
        "address_changed",
    }
)  # fmt: skip

_ACTOR_KINDS = {"customer": "customer", "staff": "staff", "admin": "staff", "system": "system"}


def actor(recorded: str) -> str:
    """``customer:<sub>`` → ``customer``, ``staff:<sub>``/``admin:<sub>`` → ``staff``; Stripe, the warehouse → ``provider``."""
    return _ACTOR_KINDS.get(recorded.split(":", 1)[0], "provider")


def data(recorded: dict[str, Any], recorded_actor: str = "") -> dict[str, Any]:
    """The fields of an event's data a customer may see (and a ``reason`` they gave themselves)."""
    own = recorded_actor.startswith("customer:")
    return {key: value for key, value in recorded.items() if key in CUSTOMER_FIELDS or (own and key == "reason")}


def approval(recorded: dict[str, Any] | None) -> dict[str, Any] | None:
    """An order's approval as its customer sees it: each step's role, status and time, not who decided or their note."""
    if recorded is None:
        return None
    steps = [{key: step[key] for key in ("role", "status", "at") if step.get(key)} for step in recorded["steps"]]
    return {**recorded, "steps": steps}
