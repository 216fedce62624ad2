"""The schemathesis hooks of ``make fuzz``: they give positive cases the server state they need, nothing else."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

FUZZ = Path(__file__).resolve().parent / "fuzz"


@pytest.fixture
def hooks(monkeypatch):
    monkeypatch.setenv("FUZZ_SKUS", "TEE-1,MUG-1")
    import tests.fuzz.hooks as module

    return importlib.reload(module)


def case(positive: bool, method: str = "POST", path: str = "/orders", **parts: Any) -> SimpleNamespace:
    mode = SimpleNamespace(is_positive=positive)
    meta = SimpleNamespace(generation=SimpleNamespace(mode=mode))
    return SimpleNamespace(
        meta=meta,
        method=method,
        path=path,
        **{"query": None, "body": None, "headers": None, "path_parameters": None, **parts},
    )


ORDER = {"items": [{"sku": "0", "quantity": 1}, {"sku": "0", "quantity": 2}, {"sku": "0", "quantity": 3}]}


def test_positive_orders_name_real_skus_once_each_without_changing_the_generated_body(hooks):
    body = {**ORDER, "note": "x"}
    mapped = hooks.map_case(None, case(True, body=body))
    assert mapped.body == {"items": [{"sku": "TEE-1", "quantity": 1}, {"sku": "MUG-1", "quantity": 2}], "note": "x"}
    assert body == {**ORDER, "note": "x"}  # a new body: the generator may reuse its objects


def test_a_positive_key_is_tied_to_its_body(hooks):
    def key(body: dict[str, Any], sent: str = "k") -> str:
        headers = CaseInsensitiveDict({"Idempotency-Key": sent})
        mapped = hooks.map_case(None, case(True, headers=headers, body=body))
        assert headers["Idempotency-Key"] == sent
        return mapped.headers["idempotency-key"]

    assert key(ORDER) == key(ORDER)  # a replay stays a replay
    assert key(ORDER) != key({**ORDER, "note": "x"})
    assert key(ORDER).startswith("k.")
    long = key(ORDER, "k" * 255)
    assert len(long) == 255 and hooks.re_key.fullmatch(long)


def test_positive_listings_start_at_their_first_page(hooks):
    mapped = hooks.map_case(None, case(True, method="GET", path="/products", query={"cursor": "x", "q": "tee"}))
    assert mapped.query == {"q": "tee"}


def test_negative_cases_are_sent_as_generated(hooks):
    original = case(False, query={"cursor": ""}, body=dict(ORDER), headers={"Idempotency-Key": "k"})
    mapped = hooks.map_case(None, original)
    assert (mapped.query, mapped.body, mapped.headers) == ({"cursor": ""}, ORDER, {"Idempotency-Key": "k"})


def test_the_run_uses_every_check_a_fixed_number_of_cases_and_no_state_from_earlier_runs():
    config = tomllib.loads((FUZZ / "schemathesis.toml").read_text())
    assert config["checks"]["enabled"] is True
    assert config["generation"]["deterministic"] is True and config["generation"]["max-examples"] > 0
    assert config["generation"]["database"] == "none" and config["cache"]["enabled"] is False
    overrides = {(o["include-path"], o.get("include-method")): o for o in config["operations"]}
    assert set(overrides) == {("/webhooks/stripe", None), ("/orders/{order_id}", "PATCH"),
                              ("/staff/settings/approval", "PUT"), ("/staff/products/{sku}", "PATCH"),
                              ("/staff/products", "POST"), ("/staff/stock/adjustments", "POST"),
                              ("/staff/imports/template", None), ("/me/addresses", "POST"),
                              ("/staff/settings/tiers", "PUT"), ("/staff/settings/shipping", "PUT")}  # fmt: skip
    for (path, _), override in overrides.items():  # only what the server's state decides is let through
        allowed = set(override["checks"]["positive_data_acceptance"]["expected-statuses"])
        extra = {"406"} if path == "/staff/imports/template" else set()  # the workbook needs its Accept
        assert allowed <= (
            {"2xx", "400"} if path == "/webhooks/stripe" else {"2xx", "401", "403", "404", "409", "412", "429"} | extra
        )


@pytest.mark.parametrize("path", ["/orders/quote", "/cart/checkout"])
def test_positive_quotes_and_checkouts_name_an_address_and_redeem_no_points(hooks, path):
    body = {"address_id": "home", "points_to_redeem": 5, "note": "x"}
    mapped = hooks.map_case(None, case(True, path=path, body=body))
    assert mapped.body == {"note": "x", "shipping_address": hooks.ADDRESS}
    assert body == {"address_id": "home", "points_to_redeem": 5, "note": "x"}
    null = hooks.map_case(None, case(True, path=path, body={"shipping_address": None}))
    assert null.body == {"shipping_address": hooks.ADDRESS}
    given = {"shipping_address": {"name": "n"}, "address_id": "home"}
    assert hooks.map_case(None, case(True, path=path, body=given)).body == {"shipping_address": {"name": "n"}}


def test_positive_tickets_name_no_order(hooks):
    body = {"kind": "question", "subject": "s", "message": "m", "order_id": "o-1"}
    mapped = hooks.map_case(None, case(True, method="POST", path="/me/tickets", body=body))
    assert mapped.body == {"kind": "question", "subject": "s", "message": "m"}
    assert body["order_id"] == "o-1"  # a new body, the generated one untouched
    negative = hooks.map_case(None, case(False, method="POST", path="/me/tickets", body=body))
    assert negative.body == body


def test_positive_products_name_a_real_category_and_adjustments_a_real_sku(hooks, monkeypatch):
    monkeypatch.setattr(hooks, "CATEGORY", "apparel")
    monkeypatch.setattr(hooks, "SKUS", ["TEE-1"])
    created = hooks.map_case(
        None, case(True, method="POST", path="/staff/products", body={"sku": "X", "category": "q"})
    )
    assert created.body == {"sku": "X", "category": "apparel"}
    renamed = hooks.map_case(None, case(True, method="PATCH", path="/staff/products/{sku}", body={"name": "n"}))
    assert renamed.body == {"name": "n"}  # no category sent: none added
    moved = hooks.map_case(None, case(True, method="POST", path="/staff/stock/adjustments", body={"sku": "Z"}))
    assert moved.body == {"sku": "TEE-1"}
    retired = hooks.map_case(None, case(True, method="DELETE", path="/staff/products/{sku}",
                                        path_parameters={"sku": "TEE-1"}))  # fmt: skip
    assert retired.path_parameters == {"sku": hooks.NOT_A_SKU}
    other = hooks.map_case(
        None, case(True, method="DELETE", path="/staff/products/{sku}", path_parameters={"sku": "Q"})
    )
    assert other.path_parameters == {"sku": "Q"}
    negative = hooks.map_case(None, case(False, method="POST", path="/staff/products", body={"category": "q"}))
    assert negative.body == {"category": "q"}


def test_positive_quotes_name_real_skus_and_cart_lines_a_real_sku(hooks):
    quote = hooks.map_case(None, case(True, path="/orders/quote", body={**ORDER, "shipping_address": {}}))
    assert [item["sku"] for item in quote.body["items"]] == ["TEE-1", "MUG-1"]
    line = hooks.map_case(None, case(True, method="PUT", path="/cart/items/{sku}", path_parameters={"sku": "0"}))
    assert line.path_parameters == {"sku": "TEE-1"}


def test_positive_image_uploads_are_asked_for_a_real_sku_negative_ones_keep_theirs(hooks):
    path = "/staff/products/{sku}/images"
    asked = hooks.map_case(None, case(True, path=path, path_parameters={"sku": "0"}, body={"size_bytes": 1}))
    assert asked.path_parameters == {"sku": "TEE-1"} and asked.body == {"size_bytes": 1}
    negative = hooks.map_case(None, case(False, path=path, path_parameters={"sku": "0"}))
    assert negative.path_parameters == {"sku": "0"}


def test_a_positive_tier_table_is_made_whole_the_schema_cannot_say_what_a_table_is(hooks):
    from chalicelib.domain.tiers import Tier, check_table

    body = {
        "items": [{"tier": "a", "name": "A", "min_spent_12m": 500}, {"tier": "a", "name": "B", "min_spent_12m": 500}]
    }
    mapped = hooks.map_case(None, case(True, method="PUT", path="/staff/settings/tiers", body=body))
    tiers = [Tier(t["tier"], t["name"], t["min_spent_12m"]) for t in mapped.body["items"]]
    assert [t.tier for t in check_table(tiers)] == ["a0", "a1"]  # a valid table now
    assert body["items"][0]["min_spent_12m"] == 500  # the generated one is left as it was
