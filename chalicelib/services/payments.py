"""Payment use cases: pay an order, confirm an offline payment, refund, cancel (refunding what was paid)."""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.domain import payments as ledger
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import Order, iso
from chalicelib.domain.payments import ONLINE_METHODS, Payment, Refund
from chalicelib.services.changes import Changes
from chalicelib.services.ports import ProviderError, ProviderIntent


class PaymentProviderUnavailable(Exception):
    """The provider could not be reached or refused; nothing was recorded."""


@dataclass(frozen=True)
class StartedPayment:
    payment: Payment
    order: Order
    client_secret: str | None
    instructions: dict[str, Any] | None
    created: bool


@dataclass
class PaymentService:
    changes: Changes
    offline_ttl: timedelta
    bank_details: dict[str, str]

    def start(self, principal: Principal, order_id: str, method: str) -> StartedPayment:
        """The order's payment for ``method``; asking again while it is pending gives the same one.

        Online: a PaymentIntent for what is due, created with an idempotency key derived
        from the order and method, so concurrent or repeated requests share one intent.
        """
        order = self._visible(principal, order_id)
        probe, _ = ledger.start(copy.deepcopy(order), method, principal.actor, self.changes.now())  # 409 if it can't
        intent = self._intent(order, probe) if method in ONLINE_METHODS else None
        extend = None if method in ONLINE_METHODS else iso(self.changes.clock() + self.offline_ttl)

        def record(current: Order, now: str) -> tuple[Payment, bool]:
            payment, fresh = ledger.start(current, method, principal.actor, now)
            if fresh:
                payment.provider_reference = intent.provider_reference if intent else None
                ledger.record_started(current, payment, principal.actor, now, extend_to=extend)
            return payment, fresh

        order, (payment, created) = self.changes.change(
            order_id,
            record,
            visible=lambda current: _may_see(principal, current),
            payment_refs=lambda current: (intent.provider_reference,) if intent else (),
            read=order,
        )
        return StartedPayment(
            payment=payment,
            order=order,
            client_secret=intent.client_secret if intent else None,
            instructions=None if intent else self._instructions(order, payment),
            created=created,
        )

    def confirm_offline(
        self, principal: Principal, order_id: str, payment_id: str, amount: int, reference: str
    ) -> Order:
        order, _ = self.changes.change(
            order_id,
            lambda order, at: ledger.confirm_offline(order, payment_id, amount, reference, principal.actor, at),
        )
        return order

    def refund(
        self, principal: Principal, order_id: str, amount: int, reason: str | None, key: str | None
    ) -> tuple[Order, list[Refund]]:
        """Reserve the refund in the ledger (never above what was paid), then send it to the provider."""
        refund_id = "rf_" + (hashlib.sha256(key.encode()).hexdigest()[:16] if key else uuid.uuid4().hex[:16])
        order, refunds = self.changes.change(
            order_id, lambda order, at: ledger.request_refund(order, amount, reason, refund_id, principal.actor, at)
        )  # the same Idempotency-Key again reserves nothing more
        order = self.changes.send_refunds(order, refunds) if refunds else order
        return order, [r for rid, r in order.refunds.items() if rid.startswith(refund_id)]

    def cancel(self, principal: Principal, order_id: str, reason: str | None) -> Order:
        """Cancel before shipment: stock back in the same transaction; a paid order is refunded in full."""
        refund_id = f"cancel-{order_id[:12]}"
        order, refunds = self.changes.change(
            order_id,
            lambda order, at: ledger.cancel(order, reason, principal.actor, at, refund_id),
            visible=lambda order: _may_see(principal, order),
            release_stock=lambda order: True,
        )
        return self.changes.send_refunds(order, refunds) if refunds else order

    def _intent(self, order: Order, payment: Payment) -> ProviderIntent:
        provider = self.changes.provider()
        try:
            if payment.provider_reference:
                return provider.retrieve_intent(payment.provider_reference)
            return provider.create_intent(
                amount=payment.amount,
                currency=payment.currency,
                method=payment.method,
                metadata={"order_id": order.order_id, "order_number": order.order_number,
                          "payment_id": payment.payment_id},
                idempotency_key=f"intent-{payment.payment_id}",
            )  # fmt: skip
        except ProviderError as error:
            raise PaymentProviderUnavailable(str(error)) from error

    def _visible(self, principal: Principal, order_id: str) -> Order:
        order = self.changes.orders.get(order_id)
        if order is None or not _may_see(principal, order):
            raise NotFound("No such order.", order_id=order_id)
        return order

    def _instructions(self, order: Order, payment: Payment) -> dict[str, Any]:
        how = (
            "Transfer the amount to the account below, quoting the reference."
            if payment.method == "bank_transfer"
            else "Pay the amount in cash on delivery or at the counter, quoting the reference."
        )
        details = dict(self.bank_details) if payment.method == "bank_transfer" else {}
        return {
            "reference_code": payment.reference_code,
            "amount": payment.amount,
            "currency": payment.currency,
            "pay_by": order.reserved_until,
            "how": how,
            **details,
        }


def _may_see(principal: Principal, order: Order) -> bool:
    return principal.is_staff or order.customer_id == principal.subject
