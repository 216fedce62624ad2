"""The lifecycle table, alone: what each action allows and what it sets."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.domain import lifecycle
from chalicelib.domain.errors import InvalidTransition
from chalicelib.domain.lifecycle import FULFILMENT_STATUSES, PAYMENT_STATUSES, STATUSES, TRANSITIONS, States, apply

ALL_STATES = [States(*combo) for combo in itertools.product(STATUSES, PAYMENT_STATUSES, FULFILMENT_STATUSES)]


def test_a_new_order_can_be_cancelled_or_expire_but_not_ship_unpaid():
    new = States("confirmed", "unpaid", "unfulfilled")
    assert apply(new, "cancel").status == "cancelled"
    assert apply(new, "expire").status == "expired"
    with pytest.raises(InvalidTransition):
        apply(new, "ship")


def test_a_paid_order_walks_to_completed():
    state = States("confirmed", "paid", "unfulfilled")
    for action, expected in [("pick", "picked"), ("pack", "packed"), ("ship", "shipped"), ("deliver", "delivered")]:
        state = apply(state, action)
        assert state.fulfilment_status == expected
    assert state == States("completed", "paid", "delivered")


@pytest.mark.parametrize("fulfilment", ["shipped", "delivered", "returned"])
def test_nothing_is_cancelled_after_shipment(fulfilment):
    with pytest.raises(InvalidTransition) as refused:
        apply(States("confirmed", "unpaid", fulfilment), "cancel")
    assert refused.value.code == "invalid_transition"
    assert refused.value.details["fulfilment_status"] == fulfilment


@pytest.mark.parametrize("payment", ["paid", "partially_refunded", "refunded"])
def test_a_paid_order_is_never_reminded_and_never_expires(payment):
    with pytest.raises(InvalidTransition):
        apply(States("confirmed", payment, "unfulfilled"), "remind")
    with pytest.raises(InvalidTransition):
        apply(States("confirmed", payment, "unfulfilled"), "expire")


@pytest.mark.parametrize("final", ["cancelled", "expired"])
def test_closed_orders_accept_no_commercial_change(final):
    for action in ("approve", "reject", "cancel", "expire", "start_payment", "confirm_payment", "remind", "ship"):
        with pytest.raises(InvalidTransition):
            apply(States(final, "unpaid", "unfulfilled"), action)


@pytest.mark.parametrize("payment", ["paid", "partially_refunded"])
def test_a_paid_order_cancelled_before_shipment_is_cancelled_by_the_paid_rule(payment):
    before = States("confirmed", payment, "packed")
    with pytest.raises(InvalidTransition):
        apply(before, "cancel")
    assert apply(before, "cancel_paid") == States("cancelled", payment, "packed")


def test_only_money_received_can_be_refunded():
    for payment in ("unpaid", "pending", "refunded"):
        with pytest.raises(InvalidTransition):
            apply(States("confirmed", payment, "unfulfilled"), "refund")
    assert apply(States("completed", "paid", "delivered"), "refund") == States("completed", "paid", "delivered")


def test_unknown_actions_are_refused():
    with pytest.raises(InvalidTransition):
        apply(States("confirmed", "unpaid", "unfulfilled"), "teleport")


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_every_rule_moves_only_to_known_statuses_and_refuses_the_rest(action):
    rule = TRANSITIONS[action]
    allowed = [state for state in ALL_STATES if lifecycle.allowed(state, rule)]
    assert allowed, f"{action} can never happen"
    for state in ALL_STATES:
        if state in allowed:
            after = apply(state, action)
            assert after.status in STATUSES
            assert after.payment_status in PAYMENT_STATUSES
            assert after.fulfilment_status in FULFILMENT_STATUSES
        else:
            with pytest.raises(InvalidTransition):
                apply(state, action)
