"""Pricing on a customer's terms (``domain/pricing.py``, ``domain/tiers.py``): the tier's discount, half-up in one
place; shipping by the settings, the destination and the tier; a tier from what was spent. Properties over
any lines and any terms, and the boundaries by hand."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import pricing
from chalicelib.domain.pricing import DEFAULT_SHIPPING, Fees, OrderLine, ShippingSettings, Terms
from chalicelib.domain.tiers import DEFAULT_TIERS, Tier, TierTable

lines = st.lists(
    st.builds(OrderLine, st.text("ABC", min_size=1, max_size=3), st.just("x"), st.integers(0, 10**6),
              st.integers(1, 999)),
    max_size=8,
)  # fmt: skip
terms = st.builds(Terms, discount_bp=st.integers(0, 5000), free_shipping=st.booleans(),
                  flat_fee=st.integers(0, 10**5), free_over=st.none() | st.integers(0, 10**7))  # fmt: skip


def test_round_half_up_rounds_halves_up_and_the_rest_to_the_nearest():
    assert [pricing.round_half_up(n, 4) for n in (1, 2, 3, 5, 6, 10)] == [0, 1, 1, 1, 2, 3]  # 0.25 .. 2.5
    assert pricing.tier_discount(12_345, 500) == 617  # 617.25
    assert pricing.tier_discount(12_350, 500) == 618  # 617.5 -> up
    assert pricing.tier_discount(10, 5000) == 5


@given(lines, terms)
def test_the_total_is_never_negative_the_discount_never_over_its_share_and_the_sum_adds_up(items, terms):
    priced = pricing.totals(items, "CNY", terms=terms)
    assert priced.total >= 0
    assert priced.discount <= priced.subtotal * terms.discount_bp / 10_000 + 0.5
    assert priced.discount <= priced.subtotal // 2 + 1  # no tier gives more than half
    assert priced.total == priced.subtotal - sum(d.amount for d in priced.discounts) + priced.shipping
    assert priced.shipping in (0, terms.flat_fee)
    assert pricing.totals(items, "CNY", terms=terms) == priced  # same inputs, same price


@given(lines, terms)
def test_free_shipping_is_for_the_tier_or_at_the_threshold_after_the_discount(items, terms):
    priced = pricing.totals(items, "CNY", terms=terms)
    merchandise = priced.subtotal - priced.discount
    free = terms.free_shipping or (terms.free_over is not None and merchandise >= terms.free_over) or not items
    assert (priced.shipping == 0) == (free or terms.flat_fee == 0)


def test_the_gold_tier_takes_5_percent_and_ships_free_a_standard_customer_pays_the_fee():
    gold = pricing.terms_for(DEFAULT_TIERS.get("gold"), DEFAULT_SHIPPING, "CN")
    priced = pricing.totals([OrderLine("TEE", "T", 12_900, 1)], "CNY", terms=gold)
    assert [(d.kind, d.name, d.amount, d.percent) for d in priced.discounts] == [("tier", "Gold", 645, 5)]
    assert (priced.shipping, priced.total) == (0, 12_255)
    standard = pricing.terms_for(DEFAULT_TIERS.get("standard"), DEFAULT_SHIPPING, "CN")
    priced = pricing.totals([OrderLine("TEE", "T", 12_900, 1)], "CNY", terms=standard)
    assert (priced.discounts, priced.shipping, priced.total) == ([], 1000, 13_900)
    assert pricing.totals([OrderLine("TEE", "T", 19_900, 1)], "CNY", terms=standard).shipping == 0  # at free_over


def test_a_destination_override_takes_its_own_fields_and_the_defaults_for_the_rest():
    shipping = ShippingSettings(2, 1000, 19_900, {"HK": Fees(flat_fee=3000), "US": Fees(free_over=None)})
    assert shipping.fees("HK") == (3000, 19_900)
    assert shipping.fees("hk") == (3000, 19_900)
    assert shipping.fees("US") == (1000, 19_900)  # an unset override field is the default's
    assert shipping.fees(None) == shipping.fees("FR") == (1000, 19_900)


def test_a_tier_is_the_highest_threshold_reached_exactly_at_it_and_not_one_below():
    assert DEFAULT_TIERS.for_spend(0).tier == "standard"
    assert DEFAULT_TIERS.for_spend(199_999).tier == "standard"
    assert DEFAULT_TIERS.for_spend(200_000).tier == "silver"
    assert DEFAULT_TIERS.for_spend(999_999).tier == "silver"
    assert DEFAULT_TIERS.for_spend(1_000_000).tier == "gold"
    assert DEFAULT_TIERS.for_spend(10**9).tier == "platinum"
    assert DEFAULT_TIERS.for_spend(-5).tier == "standard"  # refunds beyond payments: still the lowest
    assert DEFAULT_TIERS.get("diamond").tier == "standard"  # a tier the table lost: the lowest


@given(st.integers(-(10**6), 10**10))
def test_more_spend_never_lowers_the_tier(spent):
    table = TierTable(2, (Tier("a", "A", 0), Tier("b", "B", 500), Tier("c", "C", 10**8)))
    order = [t.tier for t in table.tiers]
    assert order.index(table.for_spend(spent + 1).tier) >= order.index(table.for_spend(spent).tier)
