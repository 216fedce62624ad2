"""The warehouse's fulfilment updates, each applied once to its order."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import NotFound
from chalicelib.domain.fulfilment import FulfilmentUpdate, apply_update
from chalicelib.services.changes import WRITE_ATTEMPTS, Busy, Changes
from chalicelib.services.ports import WriteConflict


@dataclass
class FulfilmentService:
    changes: Changes

    def apply(self, update: FulfilmentUpdate) -> str:
        """``applied``, ``duplicate`` (this update_id was applied) or ``late`` (the order is past it).

        Raises ``NotFound`` or ``InvalidTransition`` for an update that cannot apply (now),
        so its message is retried and, in the end, dead-lettered. DynamoDB calls: one Query
        and one TransactWriteItems that writes the change, its timeline event and the
        ``FULFIL#<update_id>`` marker together.
        """
        orders = self.changes.orders
        for attempt in range(WRITE_ATTEMPTS):
            order, applied = orders.get_with_applied(update.order_id)
            if order is None:
                raise NotFound("No such order.", order_id=update.order_id)
            if f"FULFIL#{update.update_id}" in applied:
                return "duplicate"
            version = order.version
            if not apply_update(order, update, self.changes.now()):
                return "late"
            try:
                orders.save(order, version, [], applied_event=("FULFIL", update.update_id, update.event))
                return "applied"
            except WriteConflict:
                self.changes.backoff(attempt)
        raise Busy("The order is being changed by someone else; the queue will retry.")
