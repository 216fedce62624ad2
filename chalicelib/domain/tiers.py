"""Customer tiers (API.md, "Customers"): the versioned table the admin sets, and which tier a spend earns.

A customer's tier is the highest whose ``min_spent_12m`` is at most what they paid less refunds over the
last 365 days. The table is one setting, replaced whole on its version (``If-Match``), like the approval
policy. Percentages are kept in hundredths of a percent (``discount_bp``) so no float ever prices an order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.money import MAX_AMOUNT

SETTING = "tiers"
MAX_TIERS = 10
MAX_DISCOUNT_BP = 5000  # 50 %: a tier never gives more than half off
MAX_MULTIPLIER = 10
KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class Tier:
    tier: str  # its key: standard, silver, ...
    name: str  # as customers see it
    min_spent_12m: int  # minor units paid less refunds over 365 days
    discount_bp: int = 0  # hundredths of a percent off the subtotal: 500 is 5 %
    free_shipping: bool = False
    points_multiplier: int = 1

    @property
    def discount_percent(self) -> int | float:
        whole, rest = divmod(self.discount_bp, 100)
        return whole if not rest else self.discount_bp / 100


@dataclass(frozen=True)
class TierTable:
    version: int  # 1: never written, the default in effect (as the approval policy)
    tiers: tuple[Tier, ...]  # by min_spent_12m, the first at 0

    def for_spend(self, spent: int) -> Tier:
        """The highest tier whose threshold ``spent`` reaches (the first one below every threshold)."""
        found = self.tiers[0]
        for tier in self.tiers:
            if spent >= tier.min_spent_12m:
                found = tier
        return found

    def get(self, key: str | None) -> Tier:
        """The tier named ``key``; one the table no longer has is the lowest (a customer keeps no ghost tier)."""
        return next((tier for tier in self.tiers if tier.tier == key), self.tiers[0])


DEFAULT_TIERS = TierTable(
    1,
    (
        Tier("standard", "Standard", 0),
        Tier("silver", "Silver", 200_000, discount_bp=200),
        Tier("gold", "Gold", 1_000_000, discount_bp=500, free_shipping=True),
        Tier("platinum", "Platinum", 5_000_000, discount_bp=800, free_shipping=True, points_multiplier=2),
    ),
)


def percent_to_bp(percent: float | int) -> int:
    """``2.5`` -> 250; at most two decimals (``422`` otherwise)."""
    bp = round(percent * 100)
    if abs(percent * 100 - bp) > 1e-6:
        raise ValueError("must have at most two decimals")
    return bp


def check_table(tiers: list[Tier]) -> tuple[Tier, ...]:
    """The tiers as a table, by threshold: 1 to 10, unique keys, the lowest at 0, thresholds rising."""
    problems: dict[str, str] = {}
    ordered = sorted(tiers, key=lambda tier: tier.min_spent_12m)
    if not 1 <= len(ordered) <= MAX_TIERS:
        problems["items"] = f"must hold 1 to {MAX_TIERS} tiers"
    keys = [tier.tier for tier in ordered]
    for index, tier in enumerate(tiers):
        if not KEY.match(tier.tier):
            problems[f"items[{index}].tier"] = "must be 1 to 32 lowercase letters, digits or '_', a letter first"
        elif keys.count(tier.tier) > 1:
            problems[f"items[{index}].tier"] = f"{tier.tier} is in the table twice"
        if not 0 <= tier.min_spent_12m <= MAX_AMOUNT:
            problems[f"items[{index}].min_spent_12m"] = f"must be 0 to {MAX_AMOUNT}"
        if not 0 <= tier.discount_bp <= MAX_DISCOUNT_BP:
            problems[f"items[{index}].discount_percent"] = f"must be 0 to {MAX_DISCOUNT_BP // 100}"
        if not 1 <= tier.points_multiplier <= MAX_MULTIPLIER:
            problems[f"items[{index}].points_multiplier"] = f"must be 1 to {MAX_MULTIPLIER}"
    if ordered and ordered[0].min_spent_12m != 0:
        problems["items"] = "the lowest tier must start at min_spent_12m 0 (every customer has a tier)"
    thresholds = [tier.min_spent_12m for tier in ordered]
    if len(set(thresholds)) != len(thresholds):
        problems["items"] = "two tiers have the same min_spent_12m"
    if problems:
        raise ValidationFailed("The tier table is not valid.", fields=problems)
    return tuple(ordered)
