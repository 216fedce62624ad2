"""The warehouse's reports (picked, packed, shipped, delivered, returned) applied through the lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

EVENTS = {"picked": "pick", "packed": "pack", "shipped": "ship", "delivered": "deliver", "returned": "return"}
_PROGRESS = {"unfulfilled": 0, "picked": 1, "packed": 2, "shipped": 3, "delivered": 4, "returned": 5}


@dataclass(frozen=True)
class FulfilmentUpdate:
    update_id: str
    order_id: str
    event: str
    occurred_at: str
    carrier: str | None = None
    tracking_number: str | None = None


def apply_update(order, update: FulfilmentUpdate, at: str) -> bool:
    """Apply the update; False when the order is already at or past it (a duplicate or a late arrival).

    A carrier's ``delivered`` may overtake the warehouse's ``shipped``: delivery proves the
    shipment, so it applies, and the ``shipped`` that arrives after it is late. An update the
    lifecycle does not allow (an unpaid or cancelled order) raises ``InvalidTransition``: the
    queue retries it and, in the end, dead-letters it.
    """
    if _PROGRESS[update.event] <= _PROGRESS[order.fulfilment_status]:
        return False
    data = {"update_id": update.update_id, "occurred_at": update.occurred_at}
    data.update({k: v for k, v in (("carrier", update.carrier), ("tracking_number", update.tracking_number)) if v})
    order.transition(EVENTS[update.event], "warehouse", at, update.event, data)
    return True
