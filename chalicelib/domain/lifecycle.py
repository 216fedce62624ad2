"""The order lifecycle: every allowed change of the three statuses, in one table.

An order has three statuses that move together:
``status`` (the commercial state), ``payment_status`` and ``fulfilment_status``.
Each row of ``TRANSITIONS`` is an action: the statuses it requires (any of the
listed values; ``ANY`` when it does not care) and the statuses it sets. Anything
not in this table is an ``invalid_transition``.

``payment_status`` is never set by a row: it follows the order's payment ledger
(``domain/payments.py``: what was paid and refunded). The payment rows say when a
payment may be started or confirmed and when a refund may be asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.domain.errors import InvalidTransition

STATUSES = ("pending_approval", "confirmed", "completed", "cancelled", "expired")
PAYMENT_STATUSES = ("unpaid", "pending", "paid", "partially_refunded", "refunded")
FULFILMENT_STATUSES = ("unfulfilled", "picked", "packed", "shipped", "delivered", "returned")

ANY: frozenset[str] = frozenset()
OPEN = frozenset({"pending_approval", "confirmed"})
UNPAID = frozenset({"unpaid", "pending"})
PAID = frozenset({"paid", "partially_refunded"})
NOT_SHIPPED = frozenset({"unfulfilled", "picked", "packed"})


@dataclass(frozen=True)
class Transition:
    status: frozenset[str] = ANY
    payment: frozenset[str] = ANY
    fulfilment: frozenset[str] = ANY
    sets: Mapping[str, str] = field(default_factory=dict)


def _t(status=ANY, payment=ANY, fulfilment=ANY, /, **sets: str) -> Transition:
    def as_set(value) -> frozenset[str]:
        return frozenset({value}) if isinstance(value, str) else frozenset(value)

    return Transition(as_set(status), as_set(payment), as_set(fulfilment), sets)


#            action              requires: status        payment        fulfilment      -> sets
TRANSITIONS: dict[str, Transition] = {
    "approve":          _t("pending_approval",                                          status="confirmed"),
    "reapprove":        _t("confirmed",          ANY,           NOT_SHIPPED,            status="pending_approval"),
    "reject":           _t("pending_approval",   UNPAID,                                status="cancelled"),
    "cancel":           _t(OPEN,                 UNPAID,        NOT_SHIPPED,            status="cancelled"),
    "cancel_paid":      _t(OPEN,                 PAID,          NOT_SHIPPED,            status="cancelled"),
    "expire":           _t(OPEN,                 UNPAID,        "unfulfilled",          status="expired"),
    "remind":           _t("confirmed",          UNPAID,        "unfulfilled"),
    "start_payment":    _t("confirmed",          UNPAID),
    "confirm_payment":  _t("confirmed",          UNPAID),
    "pay_balance":      _t("confirmed",          PAID),   # what an edit added to a paid order (balance_due)
    "edit":             _t(OPEN,                 UNPAID,        NOT_SHIPPED),
    "edit_paid":        _t(OPEN,                 PAID,          NOT_SHIPPED),            # staff only
    "refund":           _t(ANY,                  PAID),
    "pick":             _t("confirmed",          PAID,          "unfulfilled",          fulfilment_status="picked"),
    "pack":             _t("confirmed",          PAID,          ("unfulfilled", "picked"), fulfilment_status="packed"),
    "ship":             _t("confirmed",          PAID,          NOT_SHIPPED,            fulfilment_status="shipped"),
    "deliver":          _t("confirmed",          PAID,          (*NOT_SHIPPED, "shipped"), fulfilment_status="delivered", status="completed"),
    "return":           _t(("confirmed", "completed"), ANY,     ("shipped", "delivered"), fulfilment_status="returned"),
}  # fmt: skip


@dataclass(frozen=True)
class States:
    status: str
    payment_status: str
    fulfilment_status: str


def apply(current: States, action: str) -> States:
    """The statuses after ``action``, or ``InvalidTransition`` if the table does not allow it."""
    rule = TRANSITIONS.get(action)
    if rule is None or not allowed(current, rule):
        raise InvalidTransition(
            explain(action, current, rule),
            action=action,
            status=current.status,
            payment_status=current.payment_status,
            fulfilment_status=current.fulfilment_status,
        )
    values = {
        "status": current.status,
        "payment_status": current.payment_status,
        "fulfilment_status": current.fulfilment_status,
    }
    values.update(rule.sets)
    return States(**values)


def allowed(current: States, rule: Transition) -> bool:
    return all(
        not required or value in required
        for required, value in (
            (rule.status, current.status),
            (rule.payment, current.payment_status),
            (rule.fulfilment, current.fulfilment_status),
        )
    )


# Why an action is refused, in the customer's words: the first requirement the order fails.
_VERBS = {"cancel": "be cancelled", "cancel_paid": "be cancelled", "start_payment": "be paid",
          "confirm_payment": "take a payment", "refund": "be refunded", "expire": "expire", "remind": "be reminded",
          "approve": "be approved", "reapprove": "be approved again", "reject": "be rejected", "edit": "be changed", "edit_paid": "be changed",
          "pay_balance": "be paid", "pick": "be picked", "pack": "be packed",
          "ship": "be shipped", "deliver": "be delivered", "return": "be returned"}  # fmt: skip
_STATES = {
    "status": {"pending_approval": "it is waiting for approval", "confirmed": "it is still open",
               "completed": "it is completed", "cancelled": "it was cancelled", "expired": "it expired unpaid"},
    "payment": {"unpaid": "it is not paid", "pending": "its payment is not complete yet",
                "paid": "it is already paid", "partially_refunded": "it is already paid",
                "refunded": "it has been refunded"},
    "fulfilment": {"unfulfilled": "it has not shipped yet", "picked": "the warehouse is already preparing it",
                   "packed": "the warehouse has already packed it", "shipped": "it has already shipped",
                   "delivered": "it has already been delivered", "returned": "it has been returned"},
}  # fmt: skip
_HINTS = {("cancel", "fulfilment"): " Ask for a return once it arrives.",
          ("cancel_paid", "fulfilment"): " Ask for a return once it arrives."}  # fmt: skip


def explain(action: str, current: States, rule: Transition | None) -> str:
    """A sentence saying why ``action`` is not allowed now, e.g. "This order cannot be cancelled: it has already shipped."."""
    verb = _VERBS.get(action, action.replace("_", " "))
    if rule is None:
        return f"This order cannot {verb}."
    for name, required, value in (
        ("status", rule.status, current.status),
        ("payment", rule.payment, current.payment_status),
        ("fulfilment", rule.fulfilment, current.fulfilment_status),
    ):
        if required and value not in required:
            return f"This order cannot {verb}: {_STATES[name][value]}.{_HINTS.get((action, name), '')}"
    return f"This order cannot {verb}."  # pragma: no cover - apply only explains refusals
