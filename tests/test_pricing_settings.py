"""The tier table and the shipping settings (API.md, "Customers"): the defaults of a fresh system, replaced whole
by an admin on the version read, refused when stale or not a table, audited in the same transaction."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error
from tests.test_audit import entries

pytestmark = pytest.mark.shop_shipping  # the shop's default shipping fees

DEFAULT_TIERS = [
    {"tier": "standard", "name": "Standard", "min_spent_12m": 0, "discount_percent": 0, "free_shipping": False,
     "points_multiplier": 1},
    {"tier": "silver", "name": "Silver", "min_spent_12m": 200000, "discount_percent": 2, "free_shipping": False,
     "points_multiplier": 1},
    {"tier": "gold", "name": "Gold", "min_spent_12m": 1000000, "discount_percent": 5, "free_shipping": True,
     "points_multiplier": 1},
    {"tier": "platinum", "name": "Platinum", "min_spent_12m": 5000000, "discount_percent": 8, "free_shipping": True,
     "points_multiplier": 2},
]  # fmt: skip
NEW_TIERS = [
    {"tier": "vip", "name": "贵宾", "min_spent_12m": 300000, "discount_percent": 2.5, "free_shipping": True},
    {"tier": "member", "name": "会员", "min_spent_12m": 0},
]


def put(api, path: str, body, version: str | None = '"1"', as_: str = "admin"):
    headers = {"if-match": version} if version else {}
    return api.request("PUT", path, json_body=body, as_=as_, headers=headers)


def test_a_fresh_system_has_the_contracts_tiers_for_anyone_to_read(api):
    reply = api.get("/tiers")
    assert reply.status == 200 and reply.headers["etag"] == '"1"'
    assert reply.body == {"version": 1, "items": DEFAULT_TIERS}


def test_an_admin_replaces_the_tiers_on_the_version_read_and_it_is_audited(api):
    reply = put(api, "/staff/settings/tiers", {"items": NEW_TIERS})
    assert reply.status == 200, reply.body
    assert reply.headers["etag"] == '"2"'
    shown = api.get("/tiers").body
    assert shown["version"] == 2
    assert [(t["tier"], t["min_spent_12m"], t["discount_percent"], t["free_shipping"]) for t in shown["items"]] == [
        ("member", 0, 0, False), ("vip", 300000, 2.5, True)]  # by threshold  # fmt: skip

    stale = put(api, "/staff/settings/tiers", {"items": DEFAULT_TIERS}, version='"1"')
    assert assert_error(stale, 412, "version_mismatch")["current_version"] == 2
    assert_error(put(api, "/staff/settings/tiers", {"items": DEFAULT_TIERS}, version=None), 428,
                 "precondition_required")  # fmt: skip
    assert api.get("/tiers").body == shown  # neither changed anything

    (audited,) = entries(api, target_type="settings", target_id="tiers")
    assert audited["action"] == "settings.tiers.replace" and audited["actor"].startswith("admin:")
    assert audited["data"]["version"] == {"from": 1, "to": 2}
    assert [t["tier"] for t in audited["data"]["tiers"]] == ["member", "vip"]


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"tier": "gold", "name": "Gold", "min_spent_12m": 100}], "items"),  # nobody would have a tier
        ([{"tier": "a", "name": "A", "min_spent_12m": 0}, {"tier": "a", "name": "B", "min_spent_12m": 5}],
         "items[1].tier"),
        ([{"tier": "a", "name": "A", "min_spent_12m": 0}, {"tier": "b", "name": "B", "min_spent_12m": 0}], "items"),
        ([{"tier": "a", "name": "A", "min_spent_12m": 0, "discount_percent": 51}], "items[0].discount_percent"),
        ([{"tier": "a", "name": "A", "min_spent_12m": 0, "discount_percent": 2.555}], "items[0].discount_percent"),
        ([{"tier": "a", "name": "A", "min_spent_12m": 0, "points_multiplier": 0}], "items[0].points_multiplier"),
        ([{"tier": "Gold!", "name": "A", "min_spent_12m": 0}], "items[0].tier"),
        ([{"tier": "a", "name": "", "min_spent_12m": 0}], "items[0].name"),
        ([{"tier": "a", "name": "A", "min_spent_12m": -1}], "items[0].min_spent_12m"),
        ([{"tier": "a", "name": "A", "min_spent_12m": 0, "price": 1}], "items[0].price"),
        ([], "items"),
    ],
)  # fmt: skip
def test_a_table_that_is_not_one_is_a_422_naming_the_field_and_changes_nothing(api, items, field):
    details = assert_error(put(api, "/staff/settings/tiers", {"items": items}), 422, "validation_failed")
    assert field in details["fields"], details
    assert api.get("/tiers").body["version"] == 1


def test_staff_read_shipping_and_only_an_admin_changes_it(api):
    reply = api.get("/staff/settings/shipping", as_="staff")
    assert reply.status == 200 and reply.headers["etag"] == '"1"'
    assert reply.body == {"version": 1, "flat_fee": 1000, "free_over": 19900, "countries": {}}
    body = {"flat_fee": 800, "free_over": None, "countries": {"HK": {"flat_fee": 3000, "free_over": 50000}}}
    assert_error(put(api, "/staff/settings/shipping", body, as_="staff"), 403, "forbidden")
    assert_error(api.get("/staff/settings/shipping", as_="customer"), 403, "forbidden")

    changed = put(api, "/staff/settings/shipping", body)
    assert changed.status == 200, changed.body
    assert api.get("/staff/settings/shipping", as_="staff").body == {"version": 2, **body}
    (audited,) = entries(api, target_type="settings", target_id="shipping")
    assert audited["data"]["countries"] == {"HK": {"flat_fee": 3000, "free_over": 50000}}
    for bad in ({"flat_fee": -1, "free_over": None}, {"flat_fee": 1, "free_over": 1, "countries": {"hk": {}}},
                {"flat_fee": 1.5, "free_over": None}, {"free_over": 1}):  # fmt: skip
        assert put(api, "/staff/settings/shipping", bad, version='"2"').status == 422, bad
    assert api.get("/staff/settings/shipping", as_="staff").body["version"] == 2


def test_a_setting_changed_in_another_container_is_seen_after_the_cache_lapses(api, monkeypatch):
    from chalicelib.adapters.dynamo import settings_repo
    from chalicelib.entrypoints.http import wiring

    other = wiring.pricing_settings.__wrapped__()  # another container's settings, its own cache
    assert other.tier_table().version == 1
    assert put(api, "/staff/settings/tiers", {"items": NEW_TIERS}).status == 200
    assert other.tier_table().version == 1  # cached
    monkeypatch.setattr(settings_repo.time, "monotonic", lambda: 10**9)
    other.tiers._clock = settings_repo.time.monotonic
    assert other.tier_table().version == 2
