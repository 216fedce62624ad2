"""What the schedules do: remind unpaid orders (and approvers), expire them, finish refunds the provider did not take.

Each finds its orders through a sparse index (``payment-due`` for reminders and
refund retries and approval reminders, ``payment-expiry`` for unpaid orders and orders waiting
for approval; never a Scan) and
re-checks every order on a consistent read before changing it, so overlapping or
repeated runs do each thing once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.domain import approval
from chalicelib.domain import payments as ledger
from chalicelib.domain.errors import DomainError
from chalicelib.domain.orders import Order, iso
from chalicelib.services.changes import Changes
from chalicelib.services.ports import DueOrder

log = logging.getLogger("orders.schedules")
ACTOR = "system"
REFUND_RETRY_AFTER = timedelta(minutes=1)


@dataclass
class PaymentSchedules:
    """Each run handles at most ``batch * max_batches`` orders and stops early when ``time_left`` runs low.

    What it leaves is still in the index, so the next run (a minute later) goes on from there.
    """

    changes: Changes
    batch: int = 100
    max_batches: int = 20
    reserve_seconds: float = 5.0  # stop starting new batches when less than this is left of the invocation

    def send_reminders(self, time_left: Callable[[], float] | None = None) -> int:
        """One payment reminder per unpaid order, at half its payment time."""

        def remind(order: Order, at: str) -> bool:
            due = ledger.next_due(order)
            if due is None or due[0] != "reminder" or due[1] > at:
                return False
            if order.reserved_until and order.reserved_until <= at:
                return False  # too late to remind: the expiry run takes it
            ledger.remind(order, ACTOR, at)
            return True

        def too_late(due: DueOrder, at: str) -> bool:
            return bool(due.reserved_until) and str(due.reserved_until) <= at  # seen in the index: no read

        return self._sweep("reminder", remind, time_left, skip=too_late)

    def send_approval_reminders(self, time_left: Callable[[], float] | None = None) -> int:
        """One ``approval_reminder`` per order still waiting for approval at half its approval time."""

        def remind(order: Order, at: str) -> bool:
            due = approval.reminder_due(order)
            if due is None or due > at or (order.reserved_until and order.reserved_until <= at):
                return False
            approval.remind(order, ACTOR, at)
            return True

        return self._sweep(approval.REMINDER_KIND, remind, time_left)

    def expire_unpaid(self, time_left: Callable[[], float] | None = None) -> int:
        """Expire orders unpaid at the end of their payment time, give their stock back, cancel their PaymentIntents."""
        expired: dict[str, Order] = {}

        def expire(order: Order, at: str) -> bool:
            deadline = ledger.expiry_due(order)
            if deadline is None or deadline > at:
                return False
            ledger.expire(order, ACTOR, at)
            expired[order.order_id] = order  # the last attempt's: the one that was written
            return True

        count = self._sweep("expiry", expire, time_left, release_stock=True)
        for order in expired.values():  # Stripe down: retry_refunds cancels later; a late payment is refunded anyway
            if any(p.cancel_pending for p in order.payments.values()):
                self.changes.cancel_intents(order)
        return count

    def retry_refunds(self, time_left: Callable[[], float] | None = None) -> int:
        """Finish what the provider did not take (an outage, a crash): refunds to send, PaymentIntents to cancel."""
        done = 0
        until = iso(self.changes.clock() - REFUND_RETRY_AFTER)
        for due in self._due(ledger.PROVIDER_RETRY, until, time_left):
            order = self.changes.orders.get(due.order_id)
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
        apply: Callable[[Order, str], bool],
        time_left: Callable[[], float] | None,
        *,
        release_stock: bool = False,
        skip: Callable[[DueOrder, str], bool] = lambda due, at: False,
    ) -> int:
        done = 0
        until = self.changes.now()
        for due in self._due(kind, until, time_left):
            if skip(due, until):
                continue
            try:
                _, changed = self.changes.change(due.order_id, apply, release_stock=lambda order: release_stock)
            except DomainError as error:
                log.info("%s for order %s skipped: %s", kind, due.order_id, error)
                continue
            done += bool(changed)
        return done

    def _due(self, kind: str, until: str, time_left: Callable[[], float] | None) -> Iterator[DueOrder]:
        """The orders due, a batch at a time, each once, until none is left, the batches run out or time does."""
        after = None
        for _ in range(self.max_batches):
            if time_left is not None and time_left() < self.reserve_seconds:
                log.warning("%s sweep stopped for time; the next run goes on", kind)
                return
            found, after = self.changes.orders.due(kind, until, self.batch, after)
            yield from found
            if not after:
                return
