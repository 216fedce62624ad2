"""Changing one order safely: read, apply, write if nobody else wrote first, else retry.

Shared by the payment, webhook and schedule use cases, with sending refunds to the
provider, which always happens *after* the refund was reserved in the order's ledger
(so the total refunded can never pass what was paid, whoever asks at the same time).
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from chalicelib.domain import payments as ledger
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.orders import Order, iso
from chalicelib.domain.payments import Refund
from chalicelib.services.ports import (
    IdempotencyClaim,
    OrdersRepo,
    PaymentProvider,
    ProviderError,
    StockChange,
    WriteConflict,
)

if TYPE_CHECKING:
    from chalicelib.domain.audit import AuditEntry
    from chalicelib.domain.catalogue import Product

log = logging.getLogger("orders.changes")
T = TypeVar("T")
WRITE_ATTEMPTS = 6


class Busy(Conflict):
    """Contention outlasted our retries; the client should retry shortly."""

    code = "throttled"


RELEASE_REASONS = {"cancelled": "order_cancelled", "expired": "order_expired"}  # the ledger's reason for each


@dataclass
class Changes:
    orders: OrdersRepo
    provider: Callable[[], PaymentProvider]  # built on first use: routes that move no money never load Stripe
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    pause: Callable[[float], None] = time.sleep

    def now(self) -> str:
        return iso(self.clock())

    def change(
        self,
        order_id: str,
        apply: Callable[[Order, str], T],
        *,
        visible: Callable[[Order], bool] = lambda order: True,
        release_stock: Callable[[Order], bool] = lambda order: False,
        payment_refs: Callable[[Order], tuple[str, ...]] = lambda order: (),
        read: Order | None = None,
        claim: IdempotencyClaim | None = None,
        stock_moves: Callable[[T], list[StockChange]] = lambda result: [],
        audit: Callable[[Order, Order], list[AuditEntry]] | None = None,
        seen: Mapping[str, Product] | None = None,
    ) -> tuple[Order, T]:
        """Apply ``apply(order, now)`` and write it, retrying on a concurrent write.

        ``read`` is the order as the caller just read it, to save the first read; ``claim``
        an Idempotency-Key taken in the same transaction (``IdempotentReplay`` if it was taken);
        ``stock_moves`` the stock the change takes or gives back, written with it (``StockShortage``
        when some SKU has too little); ``audit`` the change's audit entries, ``audit(before, after)``
        (e.g. ``domain.audit.order_change``), computed again on every attempt from what that attempt
        writes, and written in its transaction; ``seen`` the SKUs as the caller just read them (consistently),
        which the stock moves are computed from.
        """
        for attempt in range(WRITE_ATTEMPTS):
            order = read if attempt == 0 and read is not None else self.orders.get(order_id)
            if order is None or not visible(order):
                raise NotFound("No such order.", order_id=order_id)
            before, version, status = copy.deepcopy(order), order.version, order.status
            result = apply(order, self.now())
            if order == before:
                return order, result  # nothing to write
            if order.version == version:
                order.version += 1  # a ledger change without a timeline event still moves the version
            freed = release_stock(order) and status != order.status
            reason = RELEASE_REASONS.get(order.status, "order_released")
            stock = (
                [StockChange(line.sku, line.quantity, reason, order.order_id) for line in order.lines] if freed else []
            )
            stock += stock_moves(result)
            entries = tuple(audit(before, order)) if audit is not None else ()
            try:
                self.orders.save(
                    order, version, stock, payment_refs=payment_refs(order), claim=claim, audit=entries, seen=seen
                )
                return order, result
            except WriteConflict:
                self.backoff(attempt)
        raise Busy("The order is being changed by someone else; retry shortly.")

    def send_refunds(self, order: Order, refunds: list[Refund]) -> Order:
        """Ask the provider for each reserved refund, then record its answer.

        The provider's idempotency key is our refund id, so a retry (after a crash, a
        timeout, or by the schedule) never refunds twice. A provider outage leaves the
        refund ``requested``; the refund-retry schedule finishes it.
        """
        for refund in refunds:
            payment = order.payments[refund.payment_id]
            provider_refund, error = None, None
            try:
                provider_refund = self.provider().refund(
                    provider_reference=payment.provider_reference or "",
                    amount=refund.amount,
                    metadata={"order_id": order.order_id, "refund_id": refund.refund_id},
                    idempotency_key=f"refund-{order.order_id}-{refund.refund_id}",
                )
            except ProviderError as failure:
                if not failure.permanent:
                    log.warning("refund %s of order %s not sent yet: %s", refund.refund_id, order.order_id, failure)
                    continue
                error = str(failure)
            order, _ = self.change(
                order.order_id,
                lambda current, at, rid=refund.refund_id, got=provider_refund, err=error: ledger.refund_sent(
                    current, rid, got, err, at
                ),
            )
        return order

    def cancel_intents(self, order: Order) -> Order:
        """Cancel at the provider the PaymentIntents the ledger closed (``cancel_pending``), then record it.

        A provider outage leaves them pending for the retry schedule. A PaymentIntent that was
        paid before we could cancel it is no longer open either: its payment is recorded (and
        refunded if unwanted) when the provider's event arrives.
        """
        for payment in [p for p in order.payments.values() if p.cancel_pending and p.provider_reference]:
            try:
                self.provider().cancel_intent(payment.provider_reference or "")
            except ProviderError as failure:
                if not failure.permanent:
                    log.warning("payment intent of order %s not canceled yet: %s", order.order_id, failure)
                    continue
                log.info("payment intent of order %s cannot be canceled: %s", order.order_id, failure)
            order, _ = self.change(
                order.order_id, lambda current, at, pid=payment.payment_id: ledger.intent_closed(current, pid)
            )
        return order

    def backoff(self, attempt: int) -> None:
        self.pause(random.uniform(0, 0.02 * 2**attempt))
