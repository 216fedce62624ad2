"""Applying the payment provider's webhook events to orders: once each, in any order."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chalicelib.domain import payments as ledger
from chalicelib.services.changes import WRITE_ATTEMPTS, Busy, Changes
from chalicelib.services.ports import WriteConflict

log = logging.getLogger("orders.webhooks")


@dataclass
class StripeWebhooks:
    changes: Changes

    def handle(self, payload: bytes, signature: str | None) -> str:
        """Verify, then apply the event to its order. Returns what happened, for the log and the reply.

        Raises ``InvalidWebhook`` (nothing written) for a bad signature or body. The event id
        is written in the same transaction as its effect, so a redelivery, or twenty at
        once, applies it exactly once. DynamoDB calls: one Query and one TransactWriteItems
        (plus one GetItem when the event carries no order id, e.g. charge and dispute events).
        """
        event = self.changes.provider().parse_event(payload, signature)
        if event is None:
            return "ignored"
        orders = self.changes.orders
        reference = event.payment_intent or event.charge
        order_id = event.order_id or (orders.order_for_payment(reference) if reference else None)
        if order_id is None:
            log.info("stripe event %s (%s) is for no order of ours", event.event_id, event.type)
            return "unmatched"
        for attempt in range(WRITE_ATTEMPTS):
            order, applied = orders.get_with_applied(order_id)
            if order is None:
                log.info("stripe event %s (%s) names unknown order %s", event.event_id, event.type, order_id)
                return "unmatched"
            if f"STRIPE#{event.event_id}" in applied:
                return "duplicate"
            version = order.version
            refunds = ledger.apply_event(order, event, self.changes.now())
            if order.version == version:
                order.version += 1
            try:
                links = (event.charge,) if event.charge and event.type == "payment_intent.succeeded" else ()
                orders.save(
                    order, version, [], applied_event=("STRIPE", event.event_id, event.type), payment_refs=links
                )
                break
            except WriteConflict:
                self.changes.backoff(attempt)
        else:
            raise Busy("The order is being changed by someone else; Stripe will retry.")
        if refunds:
            order = self.changes.send_refunds(order, refunds)
        if any(p.cancel_pending for p in order.payments.values()):  # the order is paid: close its other attempts
            self.changes.cancel_intents(order)
        return "applied"
