"""Keeping each customer's tier (API.md, "Customers"): what they paid less refunds over the last 365 days,
from the orders stream when money moves and from a daily sweep for spend that left the window.

``spend_changed`` writes the order's net (once per order version, in any order: ``spend_repo.py``) and
recomputes the customer; ``sweep`` recomputes only the customers with an order first paid 366 days ago
(one Query per shard of that day), so its cost follows a day's orders, never the number of customers. A
tier that changes is written on the profile's version; the profile's stream record then announces
``tier_changed`` once (``TierAnnouncer``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.customers import Profile
from chalicelib.domain.notifications import CUSTOMER, Notification
from chalicelib.domain.orders import iso
from chalicelib.services.ports import Notifier, SentMarkers, WriteConflict

log = logging.getLogger("orders.tiers")
WINDOW_DAYS = 365
ATTEMPTS = 5


class Spend(Protocol):
    def record(self, customer_id: str, order_id: str, version: int, net: int, paid_at: str) -> bool: ...
    def total(self, customer_id: str, since_day: str) -> int: ...
    def customers_paid_on(self, day: str) -> set[str]: ...


class Profiles(Protocol):
    def profile(self, customer_id: str) -> Any: ...
    def create(self, profile: Any) -> Any: ...
    def save(self, profile: Any, read_version: int) -> None: ...


@dataclass
class TierKeeper:
    spend: Spend
    profiles: Profiles
    tier_table: Callable[[], Any]  # the tier table in effect (domain/tiers.TierTable)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def spend_changed(self, customer_id: str, order_id: str, version: int, net: int, paid_at: str) -> str | None:
        """An order's net as of ``version``: recorded (unless a newer one is), then the customer's tier."""
        self.spend.record(customer_id, order_id, version, net, paid_at)
        return self.recompute(customer_id)

    def recompute(self, customer_id: str) -> str | None:
        """The customer's spend over the window and the tier it reaches, written if either changed; the tier.
        A customer with no profile yet (never signed in to ``/me``: an order taken by staff) gets one made when
        they reach a tier above the lowest, so their next order is priced on it."""
        for _ in range(ATTEMPTS):
            profile = self.profiles.profile(customer_id)
            spent = self.spent(customer_id)
            table = self.tier_table()
            tier = table.for_spend(spent).tier
            if profile is None:
                if tier == table.tiers[0].tier:
                    return None
                at = iso(self.clock())
                self.profiles.create(Profile(customer_id=customer_id, email=None, created_at=at, updated_at=at,
                                             tier=tier, spent_12m=spent))  # fmt: skip
                continue  # made (or made meanwhile by /me): written as any profile, on its version
            if (tier, spent) == (profile.tier, profile.spent_12m):
                return tier
            after = replace(profile, tier=tier, spent_12m=spent, version=profile.version + 1,
                            updated_at=iso(self.clock()))  # fmt: skip
            try:
                self.profiles.save(after, profile.version)
                return tier
            except WriteConflict:
                continue
        raise WriteConflict()  # the stream delivers the record again

    def standing(self, customer_id: str) -> tuple[str, int]:
        """(tier, spent_12m) from what the customer paid: for a profile being made (one Query)."""
        spent = self.spent(customer_id)
        return self.tier_table().for_spend(spent).tier, spent

    def spent(self, customer_id: str) -> int:
        return self.spend.total(customer_id, self.window_start().isoformat())

    def window_start(self) -> date:
        return self.clock().date() - timedelta(days=WINDOW_DAYS - 1)  # today and the 364 days before it

    def sweep(self) -> int:
        """Recompute the customers whose spend of the day that just left the window may change their tier."""
        left = (self.window_start() - timedelta(days=1)).isoformat()
        customers = self.spend.customers_paid_on(left)
        for customer_id in sorted(customers):
            self.recompute(customer_id)
        log.info("tier sweep: %d customer(s) with spend on %s", len(customers), left)
        return len(customers)


@dataclass
class TierAnnouncer:
    notifier: Notifier
    markers: SentMarkers

    def tier_changed(self, change: dict[str, Any]) -> bool:
        """``tier_changed`` to the customer, once per profile version that changed it."""
        key = f"tier#{change['customer_id']}#{change['version']}"
        notification = Notification(
            CUSTOMER, "tier_changed", f"Your tier is now {change['to']}",
            {"event_type": "tier_changed", "customer_id": change["customer_id"], "from": change["from"],
             "to": change["to"], "spent_12m": change["spent_12m"]},
            change["customer_id"],
        )  # fmt: skip
        if notification.key in self.markers.sent(key):
            return False
        self.notifier.publish(notification)
        self.markers.mark(key, notification.key)
        return True
