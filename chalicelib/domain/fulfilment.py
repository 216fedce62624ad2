"""The warehouse's reports (picked, packed, shipped, delivered, returned) applied through the lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.orders import Shipment

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
    shipment, so it applies, and the ``shipped`` that arrives after it is late. ``shipped`` and
    ``delivered`` add their carrier and tracking number to the order's ``shipments`` when no
    shipment has them yet, a late ``shipped`` too (as ``shipment_recorded``). An update the
    lifecycle does not allow (an unpaid or cancelled order) raises ``InvalidTransition``: the
    queue retries it and, in the end, dead-letters it.
    """
    data = {"update_id": update.update_id, "occurred_at": update.occurred_at}
    data.update({k: v for k, v in (("carrier", update.carrier), ("tracking_number", update.tracking_number)) if v})
    parcel = _new_shipment(order, update)
    if _PROGRESS[update.event] <= _PROGRESS[order.fulfilment_status]:
        if parcel is None or update.event != "shipped":
            return False
        order.record("shipment_recorded", "warehouse", at, data)
    else:
        order.transition(EVENTS[update.event], "warehouse", at, update.event, data)
    if parcel is not None:
        order.shipments.append(parcel)
    return True


def _new_shipment(order, update: FulfilmentUpdate) -> Shipment | None:
    """The parcel a ``shipped`` or ``delivered`` names, if it names one the order does not have yet."""
    if update.event not in ("shipped", "delivered") or not (update.carrier or update.tracking_number):
        return None
    if any((s.carrier, s.tracking_number) == (update.carrier, update.tracking_number) for s in order.shipments):
        return None
    return Shipment(update.carrier, update.tracking_number, update.occurred_at)
