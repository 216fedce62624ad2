"""The settings pricing reads (API.md, "Customers"): the tier table (public to read) and shipping (staff to
read); both replaced by an admin on the version read (``If-Match``)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.routing import ADMIN, IF_MATCH_HEADER, PUBLIC, STAFF, Call, endpoint, if_match, respond

api = Blueprint(__name__)


def tiers_view(table: Any) -> dict[str, Any]:
    items = [{"tier": t.tier, "name": t.name, "min_spent_12m": t.min_spent_12m, "discount_percent": t.discount_percent,
              "free_shipping": t.free_shipping, "points_multiplier": t.points_multiplier} for t in table.tiers]  # fmt: skip
    return {"version": table.version, "items": items}


def shipping_view(value: Any) -> dict[str, Any]:
    countries = {
        code: {"flat_fee": fees.flat_fee, "free_over": fees.free_over} for code, fees in value.countries.items()
    }
    return {"version": value.version, "flat_fee": value.flat_fee, "free_over": value.free_over, "countries": countries}


@endpoint(
    api,
    "GET",
    "/tiers",
    summary="The customer tiers: what each needs spent over 365 days and what it gives",
    access=PUBLIC,
    response="TiersOut",
    response_headers=("ETag",),
    errors=(429,),
    tag="customers",
)
def get_tiers(call: Call):
    table = wiring.pricing_settings().tier_table()
    return respond(tiers_view(table), 200, {"ETag": f'"{table.version}"'})


@endpoint(
    api,
    "PUT",
    "/staff/settings/tiers",
    summary="Replace the tier table (admin), on the version read (If-Match)",
    access=ADMIN,
    body="TiersIn",
    response="TiersOut",
    response_headers=("ETag",),
    headers=(IF_MATCH_HEADER,),
    errors=(400, 401, 403, 412, 413, 422, 428),
    tag="customers",
)
def put_tiers(call: Call):
    from chalicelib.domain.tiers import Tier, percent_to_bp

    items = [Tier(t.tier, t.name, t.min_spent_12m, percent_to_bp(t.discount_percent), t.free_shipping,
                  t.points_multiplier) for t in call.body.items]  # fmt: skip
    table = wiring.pricing_settings().replace_tiers(call.principal, if_match(call), items)
    return respond(tiers_view(table), 200, {"ETag": f'"{table.version}"'})


@endpoint(
    api,
    "GET",
    "/staff/settings/shipping",
    summary="The shipping settings: the flat fee, free over an amount, per-country overrides",
    access=STAFF,
    response="ShippingOut",
    response_headers=("ETag",),
    errors=(401, 403, 429),
    tag="customers",
)
def get_shipping(call: Call):
    value = wiring.pricing_settings().shipping_settings()
    return respond(shipping_view(value), 200, {"ETag": f'"{value.version}"'})


@endpoint(
    api,
    "PUT",
    "/staff/settings/shipping",
    summary="Replace the shipping settings (admin), on the version read (If-Match)",
    access=ADMIN,
    body="ShippingIn",
    response="ShippingOut",
    response_headers=("ETag",),
    headers=(IF_MATCH_HEADER,),
    errors=(400, 401, 403, 412, 413, 422, 428),
    tag="customers",
)
def put_shipping(call: Call):
    from chalicelib.domain.pricing import Fees, ShippingSettings

    body = call.body
    countries = {code: Fees(fees.flat_fee, fees.free_over) for code, fees in body.countries.items()}
    value = ShippingSettings(0, body.flat_fee, body.free_over, countries)
    value = wiring.pricing_settings().replace_shipping(call.principal, if_match(call), value)
    return respond(shipping_view(value), 200, {"ETag": f'"{value.version}"'})
