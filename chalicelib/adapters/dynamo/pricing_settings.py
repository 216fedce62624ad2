"""The tier table (``SETTING#tiers``) and the shipping settings (``SETTING#shipping``) as versioned settings:
their JSON bodies, and the two repositories (``settings_repo.VersionedSetting``)."""

from __future__ import annotations

import json

from chalicelib.adapters.dynamo.settings_repo import VersionedSetting
from chalicelib.domain import tiers as tier_domain
from chalicelib.domain.pricing import DEFAULT_SHIPPING, SHIPPING_SETTING, Fees, ShippingSettings
from chalicelib.domain.tiers import DEFAULT_TIERS, Tier, TierTable


def tiers_body(table: TierTable) -> str:
    return json.dumps({"tiers": [vars(tier) for tier in table.tiers]}, ensure_ascii=False, sort_keys=True)


def tiers_from(version: int, body: str) -> TierTable:
    return TierTable(version, tuple(Tier(**tier) for tier in json.loads(body)["tiers"]))


def shipping_body(value: ShippingSettings) -> str:
    countries = {
        code: {"flat_fee": fees.flat_fee, "free_over": fees.free_over} for code, fees in value.countries.items()
    }
    return json.dumps({"flat_fee": value.flat_fee, "free_over": value.free_over, "countries": countries},
                      sort_keys=True)  # fmt: skip


def shipping_from(version: int, body: str) -> ShippingSettings:
    data = json.loads(body)
    countries = {code: Fees(**fees) for code, fees in data["countries"].items()}
    return ShippingSettings(version, data["flat_fee"], data["free_over"], countries)


def tier_table() -> VersionedSetting[TierTable]:
    return VersionedSetting(tier_domain.SETTING, DEFAULT_TIERS, tiers_body, tiers_from)


def shipping_settings() -> VersionedSetting[ShippingSettings]:
    return VersionedSetting(SHIPPING_SETTING, DEFAULT_SHIPPING, shipping_body, shipping_from)
