"""Payment use cases: pay an order, confirm an offline payment, refund, cancel (refunding what was paid)."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.domain import payments as ledger
from chalicelib.domain.audit import order_change
from chalicelib.domain.errors import Conflict, IdempotencyKeyReused, NotFound
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import Order, iso
from chalicelib.domain.payments import ONLINE_METHODS, Payment, Refund
from chalicelib.services.changes import Busy, Changes
from chalicelib.services.ports import IdempotencyClaim, IdempotentReplay, ProviderError, ProviderIntent

REFUND_SCOPE = "refund"  # refunds' Idempotency-Keys are the business's, whichever staff member sends them


class PaymentProviderUnavailable(Exception):
    """The provider could not be reached or refused; nothing was recorded."""


class PaymentInProgress(Conflict):
    code = "payment_in_progress"


@dataclass(frozen=True)
class RefundResult:
    order: Order
    refunds: list[Refund]
    replayed: bool


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
        """The order's open attempt for ``method``; asking again while it is pending gives the same one.

        Online: a PaymentIntent for what is due, created with an idempotency key derived from
        the attempt, so concurrent or repeated requests share one intent. An open attempt of
        another method is closed first, at the provider too, so two attempts can never both
        be paid: ``409 payment_in_progress`` if it was paid meanwhile, ``502`` if the provider
        cannot be reached (nothing changes then).
        """
        order = self._visible(principal, order_id)
        now = self.changes.now()
        closing = ledger.closing_for(order, method)
        ledger.start(copy.deepcopy(order), method, principal.actor, now)  # 409 if the order cannot be paid
        closed = self.close_at_provider(closing)
        payment, _ = ledger.start(copy.deepcopy(order), method, principal.actor, now, closed)
        intent = self._intent(order, payment) if method in ONLINE_METHODS else None
        if intent is not None and intent.status == "canceled":  # canceled elsewhere: a new attempt takes its place
            closed |= {intent.provider_reference}
            payment, _ = ledger.start(copy.deepcopy(order), method, principal.actor, now, closed)
            intent = self._intent(order, payment)
        extend = None if method in ONLINE_METHODS else iso(self.changes.clock() + self.offline_ttl)

        def record(current: Order, at: str) -> tuple[Payment, bool]:
            recorded, fresh = ledger.start(current, method, principal.actor, at, closed)
            if fresh:
                if recorded.payment_id != payment.payment_id:
                    raise Busy("The order's payments changed meanwhile; retry shortly.")
                recorded.provider_reference = intent.provider_reference if intent else None
                ledger.record_started(current, recorded, principal.actor, at, extend_to=extend)
            return recorded, fresh

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
        """Staff record an offline payment as received; any other open attempt is closed (at the provider too)."""
        order, _ = self.changes.change(
            order_id,
            lambda order, at: ledger.confirm_offline(order, payment_id, amount, reference, principal.actor, at),
            audit=order_change(principal, "payment.confirm"),
        )
        return self._finish(order)

    def refund(self, principal: Principal, order_id: str, amount: int, reason: str | None, key: str) -> RefundResult:
        """Reserve the refund in the ledger (never above what was paid), then send it to the provider.

        ``key`` (the Idempotency-Key) is looked up before anything else: the same key with the
        same request answers the first result again, whatever has changed since; with another
        request, ``422 idempotency_key_reused``. It is taken in the refund's own transaction.
        """
        request_hash = _fingerprint({"order_id": order_id, "amount": amount, "reason": reason})
        refund_id = "rf_" + hashlib.sha256(f"{order_id}:{key}".encode()).hexdigest()[:16]
        claim = IdempotencyClaim(REFUND_SCOPE, key, request_hash)
        earlier = self.changes.orders.find_idempotent(REFUND_SCOPE, key)
        if earlier is not None:
            return self._replay(principal, earlier, claim, refund_id)
        try:
            order, refunds = self.changes.change(
                order_id,
                lambda order, at: ledger.request_refund(order, amount, reason, refund_id, principal.actor, at),
                claim=claim,
                audit=order_change(principal, "refund.create"),
            )
        except IdempotentReplay as replay:  # a concurrent request with this key won
            return self._replay(principal, replay, claim, refund_id)
        order = self.changes.send_refunds(order, refunds) if refunds else order
        return RefundResult(order, _refunds_of(order, refund_id), replayed=False)

    def mark_refund_sent(self, principal: Principal, order_id: str, refund_id: str, reference: str) -> Order:
        """Staff paid an offline refund back: it succeeds, and the customer is told."""
        order, _ = self.changes.change(
            order_id,
            lambda order, at: ledger.mark_refund_sent(order, refund_id, reference, principal.actor, at),
            audit=order_change(principal, "refund.sent"),
        )
        return order

    def cancel(self, principal: Principal, order_id: str, reason: str | None) -> Order:
        """Cancel before shipment: stock back in the same transaction; a paid order is refunded in full.

        An open PaymentIntent is canceled at the provider first, so it can no longer be paid;
        if the provider cannot be reached, the cancellation still happens and the retry
        schedule cancels the PaymentIntent later.
        """
        order = self._visible(principal, order_id)
        refund_id = f"cancel-{order_id[:12]}"
        ledger.cancel(copy.deepcopy(order), reason, principal.actor, self.changes.now(), refund_id)  # 409 early
        open_online = [p for p in order.payments.values() if p.status == "pending" and p.online]
        closed = self.close_at_provider(open_online, tolerate_outage=True) if open_online else frozenset()
        order, refunds = self.changes.change(
            order_id,
            lambda order, at: ledger.cancel(order, reason, principal.actor, at, refund_id, closed),
            visible=lambda order: _may_see(principal, order),
            release_stock=lambda order: True,
            read=order,
            audit=order_change(principal, "order.cancel"),
        )
        return self.changes.send_refunds(order, refunds) if refunds else order

    def close_at_provider(self, payments: list[Payment], tolerate_outage: bool = False) -> frozenset[str]:
        """Cancel these attempts' PaymentIntents; the references the provider no longer has open.

        One already paid (or being paid) refuses a new attempt: ``409 payment_in_progress``
        (unless ``tolerate_outage``: a cancellation goes ahead and the payment is refunded).
        """
        closed = set()
        for payment in payments:
            if not payment.online or not payment.provider_reference:
                continue
            try:
                status = self.changes.provider().cancel_intent(payment.provider_reference)
            except ProviderError as error:
                if tolerate_outage:
                    continue
                raise PaymentProviderUnavailable(str(error)) from error
            if status != "canceled" and not tolerate_outage:
                raise PaymentInProgress(
                    "An earlier payment of this order is being completed; wait for it before paying another way.",
                    payment_id=payment.payment_id,
                    method=payment.method,
                )
            closed.add(payment.provider_reference)
        return frozenset(closed)

    def _finish(self, order: Order) -> Order:
        """After a write: cancel at the provider what the ledger closed (best now, else by the schedule)."""
        if any(p.cancel_pending for p in order.payments.values()):
            return self.changes.cancel_intents(order)
        return order

    def _replay(
        self, principal: Principal, earlier: IdempotentReplay, claim: IdempotencyClaim, refund_id: str
    ) -> RefundResult:
        if earlier.request_hash != claim.request_hash:
            raise IdempotencyKeyReused()
        order = self._visible(principal, earlier.order_id)
        return RefundResult(order, _refunds_of(order, refund_id), replayed=True)

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


def _refunds_of(order: Order, refund_id: str) -> list[Refund]:
    """The refunds one request made (split over payments: ``<id>``, ``<id>-2``, ...)."""
    return [r for rid, r in order.refunds.items() if rid == refund_id or rid.startswith(f"{refund_id}-")]


def _fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _may_see(principal: Principal, order: Order) -> bool:
    return principal.is_staff or order.customer_id == principal.subject
