"""Scheduled functions (EventBridge rules in AWS; the local stack runs them on a timer)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from chalice import Blueprint, Cron, Rate

from chalicelib.entrypoints import observability
from chalicelib.entrypoints.http import wiring

api = Blueprint(__name__)
log = logging.getLogger("orders.schedules")


@api.schedule(Rate(1, unit=Rate.MINUTES), name="payment_reminders")
def payment_reminders(event) -> dict:
    """One reminder per unpaid order at half its payment time; approvers of an order waiting at half its approval time."""
    sent = wiring.schedules().send_reminders(_time_left(event))
    log.log(logging.INFO if sent else logging.DEBUG, "payment reminders sent: %d", sent)
    observability.count("PaymentRemindersSent", sent)
    asked = wiring.schedules().send_approval_reminders(_time_left(event))
    log.log(logging.INFO if asked else logging.DEBUG, "approval reminders sent: %d", asked)
    observability.count("ApprovalRemindersSent", asked)
    return {"reminded": sent, "approval_reminders": asked}


@api.schedule(Rate(1, unit=Rate.MINUTES), name="expire_unpaid_orders")
def expire_unpaid_orders(event) -> dict:
    """Orders unpaid at the end of their payment time expire and free their stock."""
    expired = wiring.schedules().expire_unpaid(_time_left(event))
    log.log(logging.INFO if expired else logging.DEBUG, "unpaid orders expired: %d", expired)
    return {"expired": expired}


@api.schedule(Rate(5, unit=Rate.MINUTES), name="retry_refunds")
def retry_refunds(event) -> dict:
    """Refunds reserved but not yet accepted by Stripe (an outage, a crash) are sent again."""
    sent = wiring.schedules().retry_refunds(_time_left(event))
    log.log(logging.INFO if sent else logging.DEBUG, "refunds retried: %d", sent)
    observability.count("RefundsRetried", sent)
    return {"retried": sent}


@api.schedule(Cron(10, 0, "*", "*", "?", "*"), name="customer_care")
def customer_care(event) -> dict:
    """Daily: the tiers of customers whose spend of a year ago just left the 365-day window."""
    swept = wiring.tier_keeper().sweep()
    observability.count("TierSweepCustomers", swept)
    return {"tiers_recomputed": swept}


def _time_left(event) -> Callable[[], float] | None:
    """Seconds left of this invocation (Lambda's context), so a sweep stops in time and the next run goes on."""
    context = getattr(event, "context", None)
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return None
    return lambda: context.get_remaining_time_in_millis() / 1000
