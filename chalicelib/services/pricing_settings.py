"""The settings pricing reads (API.md, "Customers"): the tier table and shipping, each versioned, replaced whole
by an admin on the version read (``412`` otherwise) and audited in the same transaction; and the ``Terms`` one
order is priced on (``domain/pricing.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from chalicelib.domain import pricing, tiers
from chalicelib.domain.audit import entry
from chalicelib.domain.errors import VersionMismatch
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import iso
from chalicelib.domain.pricing import ShippingSettings, Terms
from chalicelib.domain.tiers import Tier, TierTable
from chalicelib.services.ports import WriteConflict

T = TypeVar("T")


class Setting(Protocol[T]):
    def current(self, *, fresh: bool = False) -> T: ...
    def replace(self, value: T, version: int, expected_version: int, actor: str, at: str,
                audit: tuple = ()) -> None: ...  # fmt: skip


@dataclass
class PricingSettings:
    tiers: Setting[TierTable]
    shipping: Setting[ShippingSettings]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def tier_table(self) -> TierTable:
        return self.tiers.current()

    def shipping_settings(self) -> ShippingSettings:
        return self.shipping.current()

    def terms(self, tier: str | None, country: str | None) -> Terms:
        """What a customer of ``tier`` pays for an order to ``country``, by the settings in effect."""
        return pricing.terms_for(self.tier_table().get(tier), self.shipping_settings(), country)

    def replace_tiers(self, principal: Principal, expected_version: int, items: list[Tier]) -> TierTable:
        """A new version of the tier table (``422`` if it is not a table, ``412`` if not on the version read)."""
        table = TierTable(expected_version + 1, tiers.check_table(items))
        data = {"tiers": [{**vars(tier), "discount_bp": tier.discount_bp} for tier in table.tiers]}
        self._replace(principal, self.tiers, "tiers", table, expected_version, data)
        return table

    def replace_shipping(
        self, principal: Principal, expected_version: int, value: ShippingSettings
    ) -> ShippingSettings:
        """A new version of the shipping settings (``412`` if not on the version read)."""
        new = replace(value, version=expected_version + 1)
        data = {"flat_fee": new.flat_fee, "free_over": new.free_over,
                "countries": {code: vars(fees) for code, fees in new.countries.items()}}  # fmt: skip
        self._replace(principal, self.shipping, "shipping", new, expected_version, data)
        return new

    def _replace(self, principal: Principal, setting: Setting[Any], name: str, value: Any, expected: int,
                 data: dict[str, Any]) -> None:  # fmt: skip
        at = iso(self.clock())
        audited = entry(principal, f"settings.{name}.replace", ("settings", name), at=at, key=f"v{expected + 1}",
                        data={"version": {"from": expected, "to": expected + 1}, **data})  # fmt: skip
        try:
            setting.replace(value, expected + 1, 0 if expected == 1 else expected, principal.actor, at, (audited,))
        except WriteConflict:
            current = setting.current(fresh=True)
            raise VersionMismatch(f"The {name} settings have changed since you read them; read them again.",
                                  current_version=current.version) from None  # fmt: skip
