"""Schemathesis hooks for ``make fuzz``: the state a schema-valid request also needs, and nothing more.

A JSON Schema describes one request; some requests are valid only against the
server's state, which no schema can say. For *positive* cases only (negative
ones are left exactly as generated), these hooks supply that state:

- ``cursor``: valid only when this listing handed it out, so a positive case has none
  (the listings' first pages are fuzzed; the cursor's refusal is a negative case's);
- order lines name real SKUs, one line each (unknown SKUs are 422 by the contract, and
  one line per SKU is a rule across items);
- an image upload is asked for a real SKU (an unknown one is 404);
- quotes and checkouts name a shipping address and redeem no points (the address book and points
  are state that does not exist yet), and a cart line names a real SKU;
- a ticket names no order (an order that is not the caller's is 404: positive tickets are opened);
- a staff order is for a real customer (``FUZZ_CUSTOMER_ID``), a lookup names one key (the
  contract takes exactly one of two optional parameters);
- a product names a category that exists (``FUZZ_CATEGORY``), an adjustment a real SKU, and a
  product retired or edited is never one the orders' lines name (a sequence that retired one
  would make every later order of it a 422 ``unknown_sku``, as the contract says);
- an ``Idempotency-Key`` sent again with another body is ``422 idempotency_key_reused`` by
  the contract, so each positive key is tied to its body: the same key and body still replay.

``FUZZ_SKUS`` (comma-separated) names the catalogue's SKUs; ``tests/fuzz/run.py`` sets it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import schemathesis

SKUS = [sku for sku in os.environ.get("FUZZ_SKUS", "").split(",") if sku]
CUSTOMER_ID = os.environ.get("FUZZ_CUSTOMER_ID", "")
CATEGORY = os.environ.get("FUZZ_CATEGORY", "")
NOT_A_SKU = "FUZZ-NO-SUCH-SKU"
KEY = "Idempotency-Key"
re_key = re.compile(r"^[\x21-\x7e]{1,255}$")  # what the server takes (routing.IDEMPOTENCY_KEY_PATTERN)


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """New values, never changes in place: the generator may hand the same objects to other cases."""
    if not _positive(case):
        return case
    if isinstance(case.query, Mapping) and "cursor" in case.query:
        case.query = {name: value for name, value in case.query.items() if name != "cursor"}
    if (
        case.method.upper() == "POST"
        and case.path in ("/orders/quote", "/cart/checkout")
        and isinstance(case.body, dict)
    ):
        case.body = _deliverable(case.body)
    if (case.method.upper(), case.path) in (
        ("PUT", "/cart/items/{sku}"),
        ("POST", "/staff/products/{sku}/images"),
    ) and SKUS:
        case.path_parameters = {**(case.path_parameters or {}), "sku": SKUS[0]}
    if case.method.upper() == "POST" and case.path == "/staff/orders" and isinstance(case.body, dict) and CUSTOMER_ID:
        case.body = {**case.body, "customer_id": CUSTOMER_ID}
    retiring = (case.method.upper(), case.path) in (
        ("DELETE", "/staff/products/{sku}"),
        ("PATCH", "/staff/products/{sku}"),
    )
    if retiring and isinstance(case.path_parameters, Mapping) and case.path_parameters.get("sku") in SKUS:
        case.path_parameters = {**case.path_parameters, "sku": NOT_A_SKU}  # the orders' SKUs stay orderable
    product_body = case.path in ("/staff/products", "/staff/products/{sku}") and isinstance(case.body, dict)
    if product_body and CATEGORY and (case.method.upper() == "POST" or "category" in case.body):
        case.body = {**case.body, "category": CATEGORY}
    if (
        (case.method.upper(), case.path) == ("PATCH", "/me")
        and isinstance(case.body, dict)
        and case.body.get("birthday")
    ):
        case.body = {**case.body, "birthday": BIRTHDAY}  # a real past date: the pattern cannot say 2001-02-30 is not
    if (case.method.upper(), case.path) == ("PUT", "/staff/settings/tiers") and isinstance(case.body, dict):
        case.body = _tier_table(case.body)
    if (case.method.upper(), case.path) == ("POST", "/me/tickets") and isinstance(case.body, dict):
        case.body = {name: value for name, value in case.body.items() if name != "order_id"}  # no order of theirs known
    if case.path == "/staff/stock/adjustments" and isinstance(case.body, dict) and SKUS:
        case.body = {**case.body, "sku": SKUS[0]}
    if case.path == "/staff/orders/lookup" and isinstance(case.query, Mapping):
        one = [name for name in ("order_number", "payment_reference") if name in case.query][:1] or ["order_number"]
        case.query = {one[0]: case.query.get(one[0], "20260101-000001")}
    lines_of_an_order = (case.method.upper(), case.path) in (
        ("POST", "/orders"), ("POST", "/orders/quote"), ("POST", "/staff/orders"), ("PATCH", "/orders/{order_id}"),
    )  # fmt: skip
    if lines_of_an_order and isinstance(case.body, dict) and SKUS:
        items = case.body.get("items")
        if isinstance(items, list) and items and all(isinstance(item, dict) for item in items):
            case.body = {**case.body, "items": [{**item, "sku": sku} for item, sku in zip(items, SKUS, strict=False)]}
    if isinstance(case.headers, Mapping) and isinstance(case.headers.get(KEY), str):
        digest = hashlib.sha256(json.dumps(case.body, sort_keys=True, default=str).encode()).hexdigest()[:16]
        headers = case.headers.copy()
        headers[KEY] = f"{case.headers[KEY][:238]}.{digest}"
        case.headers = headers
    return case


BIRTHDAY = "1990-05-17"
ADDRESS = {"name": "Fuzz", "phone": "12345", "line1": "1 Test Road", "city": "Test", "country": "CN"}


def _tier_table(body: dict[str, Any]) -> dict[str, Any]:
    """A table the schema cannot tell from a broken one made whole: distinct keys, the lowest at 0, rising."""
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return body
    made = [{**item, "tier": f"{str(item.get('tier', 't'))[:29]}{n}", "min_spent_12m": n * 1000}
            for n, item in enumerate(items)]  # fmt: skip
    return {**body, "items": made}


def _deliverable(body: dict[str, Any]) -> dict[str, Any]:
    """No address book and no points exist yet (customers issue): a positive body names an address, redeems none."""
    body = {name: value for name, value in body.items() if name not in ("address_id", "points_to_redeem")}
    if body.get("shipping_address") is None:  # absent, or sent as null
        body["shipping_address"] = ADDRESS
    return body
