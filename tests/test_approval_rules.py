"""The approval policy's rules alone (domain/approval.py, pure): which rule an order matches."""

from __future__ import annotations

import pytest

from chalicelib.domain.approval import CONDITIONS, DEFAULT_POLICY, Facts, Policy, Rule


def facts(total: int = 1000, quantity: int = 1, channel: str = "web", first_order: bool | None = None) -> Facts:
    return Facts(total=total, quantity=quantity, channel=channel, first_order=first_order)


@pytest.mark.parametrize(
    ("total", "rule"),
    [(499_999, None), (500_000, "large_order"), (1_999_999, "large_order"), (2_000_000, "very_large_order")],
)
def test_the_default_policy_by_total(total, rule):
    found = DEFAULT_POLICY.rule_for(facts(total))
    assert (found.name if found else None) == rule


def test_every_condition_of_a_rule_must_hold_and_an_empty_one_matches_everything():
    both = Rule("both", {"channels": ["pos"], "quantity_at_least": 5}, ("staff",))
    assert both.matches(facts(quantity=5, channel="pos"))
    assert not both.matches(facts(quantity=4, channel="pos"))
    assert not both.matches(facts(quantity=5, channel="web"))
    assert Rule("all", {}, ("staff",)).matches(facts())


def test_the_rule_with_the_most_steps_wins_and_the_first_on_a_tie():
    policy = Policy(
        3,
        (
            Rule("a", {}, ("staff",)),
            Rule("b", {}, ("staff", "admin")),
            Rule("c", {}, ("admin", "staff")),
            Rule("d", {"total_at_least": 10**9}, ("staff", "staff", "admin")),
        ),
    )
    assert policy.rule_for(facts()).name == "b"


def test_first_order_matches_only_when_known_and_tiers_match_nothing_yet():
    first = Rule("first", {"first_order": True}, ("staff",))
    assert first.matches(facts(first_order=True))
    assert not first.matches(facts(first_order=False))
    assert not first.matches(facts(first_order=None))
    assert not Rule("tiers", {"tiers": ["standard", "gold"]}, ("staff",)).matches(facts())
    assert Policy(2, (first,)).asks_first_order and not DEFAULT_POLICY.asks_first_order
    assert set(CONDITIONS) == {"total_at_least", "quantity_at_least", "first_order", "channels", "tiers"}
