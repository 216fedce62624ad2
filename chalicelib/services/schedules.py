"""What the schedules do: remind unpaid orders, expire them, finish refunds the provider did not take.

Each finds its orders through a sparse index (``payment-due`` for reminders and
refund retries, ``payment-expiry`` for unpaid orders; never a Scan) and
re-checks every order on a consistent read before changing it, so overlapping or
repeated runs do each thing once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.domain import payments as ledger
from chalicelib.domain.errors import DomainError
from chalicelib.domain.orders import Order, iso
from chalicelib.services.changes import Changes

log = logging.getLogger("orders.schedules")
ACTOR = "system"
REFUND_RETRY_AFTER = timedelta(minutes=1)


@dataclass
class PaymentSchedules:
    changes: Changes
    batch: int = 100
    max_batches: int = 20

    def send_reminders(self) -> int:
        """One payment reminder per unpaid order, at half its payment time."""

        def remind(order: Order, at: str) -> bool:
            due = ledger.next_due(order)
            if due is None or due[0] != "reminder" or due[1] > at:
                return False
            if order.reserved_until and order.reserved_until <= at:
                return False  # too late to remind: the expiry run takes it
            ledger.remind(order, ACTOR, at)
            return True

        return self._sweep("reminder", self.changes.now, remind)

    def expire_unpaid(self) -> int:
        """Expire orders unpaid at the end of their payment time, give their stock back, cancel their PaymentIntents."""
        expired: dict[str, Order] = {}

        def expire(order: Order, at: str) -> bool:
            deadline = ledger.expiry_due(order)
            if deadline is None or deadline > at:
                return False
            ledger.expire(order, ACTOR, at)
            expired[order.order_id] = order  # the last attempt's: the one that was written
            return True

        count = self._sweep("expiry", self.changes.now, expire, release_stock=True)
        for (
            order
        ) in expired.values():  # a provider outage leaves them to retry_refunds; a late payment is refunded anyway
            if any(p.cancel_pending for p in order.payments.values()):
                self.changes.cancel_intents(order)
        return count

    def retry_refunds(self) -> int:
        """Finish what the provider did not take (an outage, a crash): refunds to send, PaymentIntents to cancel."""
        done = 0
        until = iso(self.changes.clock() - REFUND_RETRY_AFTER)
        for order_id in self.changes.orders.due(ledger.PROVIDER_RETRY, until, self.batch):
            order = self.changes.orders.get(order_id)
            if order is None:
                continue
            waiting = [r for r in order.refunds.values() if r.status == "requested"]
            if waiting:
                order = self.changes.send_refunds(order, waiting)
                done += len(waiting)
            closing = sum(p.cancel_pending for p in order.payments.values())
            if closing:
                self.changes.cancel_intents(order)
                done += closing
        return done

    def _sweep(
        self,
        kind: str,
        now: Callable[[], str],
        apply: Callable[[Order, str], bool],
        release_stock: bool = False,
    ) -> int:
        done = 0
        seen: set[str] = set()
        for _ in range(self.max_batches):
            until = now()
            ids = [i for i in self.changes.orders.due(kind, until, self.batch) if i not in seen]
            if not ids:
                break
            for order_id in ids:
                seen.add(order_id)
                try:
                    _, changed = self.changes.change(order_id, apply, release_stock=lambda order: release_stock)
                except DomainError as error:
                    log.info("%s for order %s skipped: %s", kind, order_id, error)
                    continue
                done += bool(changed)
        return done
