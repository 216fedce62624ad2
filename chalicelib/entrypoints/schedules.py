"""Scheduled functions (EventBridge rules in AWS; the local stack runs them on a timer)."""

from __future__ import annotations

import logging

from chalice import Blueprint, Rate

from chalicelib.entrypoints.http import wiring

api = Blueprint(__name__)
log = logging.getLogger("orders.schedules")


@api.schedule(Rate(1, unit=Rate.MINUTES), name="payment_reminders")
def payment_reminders(event) -> dict:
    """One reminder per unpaid order at half its payment time."""
    sent = wiring.schedules().send_reminders()
    log.log(logging.INFO if sent else logging.DEBUG, "payment reminders sent: %d", sent)
    return {"reminded": sent}


@api.schedule(Rate(1, unit=Rate.MINUTES), name="expire_unpaid_orders")
def expire_unpaid_orders(event) -> dict:
    """Orders unpaid at the end of their payment time expire and free their stock."""
    expired = wiring.schedules().expire_unpaid()
    log.log(logging.INFO if expired else logging.DEBUG, "unpaid orders expired: %d", expired)
    return {"expired": expired}


@api.schedule(Rate(5, unit=Rate.MINUTES), name="retry_refunds")
def retry_refunds(event) -> dict:
    """Refunds reserved but not yet accepted by Stripe (an outage, a crash) are sent again."""
    sent = wiring.schedules().retry_refunds()
    log.log(logging.INFO if sent else logging.DEBUG, "refunds retried: %d", sent)
    return {"retried": sent}
