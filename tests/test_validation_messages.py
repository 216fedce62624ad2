"""What a refused request says: plain words per field (no pydantic class names, no regexes), and text refused or
accepted exactly as /openapi.json describes it."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Reply, order_body
from tests.test_validation import (
    BAD_ORDERS,
    STOCK,
    VALID,
    Bad,
    assert_error,
    assert_names_field,
    assert_untouched,
    with_address,
    with_item,
    without_item_field,
)


@pytest.fixture
def catalogue(seed) -> None:
    """As test_validation's: what assert_untouched checks."""
    seed("TEE-1", stock=STOCK["TEE-1"], price=1999, name="纯棉T恤")
    seed("MUG-1", stock=STOCK["MUG-1"], price=2500)
    seed("OLD-1", stock=STOCK["OLD-1"], active=False)


# --- plain-language messages ---------------------------------------------------------------------------------------

INTERNALS = (
    "Input should",
    "Value error",
    "pattern",
    "dictionary",
    "instance of",
    "PlaceOrderIn",
    "AddressIn",
    "^",
    "[A-",
)


def assert_plain(reply: Reply) -> dict[str, str]:
    """A 422 whose message and every field message are plain words: no pydantic class names, no regexes."""
    details = assert_error(reply, 422)
    texts = [reply.error["message"], *details.get("fields", {}).values()]
    leaked = [text for text in texts for word in INTERNALS if word in text]
    assert leaked == [], reply.body
    return details.get("fields", {})


@pytest.mark.parametrize("case", [c for c in BAD_ORDERS if c.status == 422], ids=lambda c: c.name)
def test_every_refused_order_says_why_in_plain_words(api, catalogue, case):
    assert_plain(case.send(api, uuid.uuid4().hex))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "The body must be a JSON object."),
        ("x", "The body must be a JSON object."),
        (None, "The body must be a JSON object."),
    ],
    ids=["array", "string", "null"],
)
def test_a_body_that_is_not_an_object_says_so(api, catalogue, body, message):
    reply = Bad("not an object", 422, None, json=body).send(api, uuid.uuid4().hex)
    assert assert_plain(reply) == {"body": "must be a JSON object"}
    assert reply.error["message"] == message


SKU_RULE = "must be 1 to 64 letters (A-Z, a-z), digits, '.', '_' or '-', starting with a letter or digit"
TEXT_RULE = "must contain a visible character, and no control characters or bidirectional overrides"


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (with_item(sku="TEE 1"), "items[0].sku", SKU_RULE),
        (with_item(quantity=0), "items[0].quantity", "must be at least 1"),
        (with_item(quantity=1000), "items[0].quantity", "must be at most 999"),
        (with_item(quantity="2"), "items[0].quantity", "must be a whole number"),
        (without_item_field("quantity"), "items[0].quantity", "is required"),
        ({**VALID, "items": []}, "items", "must have at least 1 item(s)"),
        ({**VALID, "items": "TEE-1"}, "items", "must be a JSON array"),
        ({**VALID, "shipping_address": "上海"}, "shipping_address", "must be a JSON object"),
        (
            with_address(country="cn"),
            "shipping_address.country",
            "must be a two-letter ISO 3166-1 country code in capitals, e.g. CN",
        ),
        (
            with_address(phone="call me"),
            "shipping_address.phone",
            "must be a phone number: an optional '+', then 5 to 32 digits, spaces, '(', ')' or '-', starting with a digit",
        ),
        (with_address(name="   "), "shipping_address.name", TEXT_RULE),
        (with_address(name=""), "shipping_address.name", "must not be empty"),
        (with_address(name="字" * 101), "shipping_address.name", "must be at most 100 characters long"),
        ({**VALID, "note": "a\x00b"}, "note", "must not contain control characters or bidirectional overrides"),
        ({**VALID, "note": 5}, "note", "must be a string"),
        (
            {**VALID, "channel": "fax"},
            "channel",
            "must be one of 'web', 'mobile', 'marketplace', 'pos', 'api' or 'phone'",
        ),
        (
            order_body(("TEE-1", 1), ("TEE-1", 2)),
            "items",
            "sku TEE-1 appears on more than one line; put the whole quantity on one line",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and "." in value else None,
)
def test_each_field_says_what_it_must_be(api, catalogue, body, path, message):
    fields = assert_plain(Bad("bad", 422, None, json=body).send(api, uuid.uuid4().hex))
    assert fields[path] == message, fields


def test_query_fields_say_what_they_must_be(api, catalogue):
    fields = assert_plain(api.get("/products?limit=0&sort=cheapest&colour=red&category=%00"))
    assert fields == {
        "limit": "must be at least 1",
        "sort": "must be one of 'price', '-price', 'sales', '-sales' or 'name'",
        "colour": "unknown field",
        "category": TEXT_RULE,
    }


# --- text as the schema says ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("👩\u200d👩\u200d👧 王小明", "👩\u200d👩\u200d👧 王小明"),  # zero-width joiners make one emoji
        ("Schiff\u00adfahrt", "Schiff\u00adfahrt"),  # a soft hyphen
        ("  王小明\u3000", "王小明"),  # stripped once valid
        ("O\u2019Brien\tJr", "O\u2019Brien\tJr"),
        ("\ue000 private use", "\ue000 private use"),
        ("字" * 100, "字" * 100),
    ],
)
def test_real_text_is_accepted(api, catalogue, name, stored):
    reply = api.post("/orders", with_address(name=name), as_="customer", headers={"idempotency-key": uuid.uuid4().hex})
    assert reply.status == 201, reply.body
    assert reply.body["shipping_address"]["name"] == stored


@pytest.mark.parametrize(
    "name",
    ["\u3000 \t", "王\u2066小明", "王\u2069", "a\x7fb", "a\x85b", "a\x0bb", " " + "字" * 100],
    ids=["only spaces", "isolate", "pop isolate", "DEL", "C1 NEL", "vertical tab", "101 as sent"],
)
def test_text_the_schema_refuses_is_refused(api, catalogue, name):
    reply = api.post("/orders", with_address(name=name), as_="customer", headers={"idempotency-key": uuid.uuid4().hex})
    assert_names_field(reply, "shipping_address.name")
    assert_untouched(api)


def test_a_whole_number_written_as_a_float_is_that_number(api, catalogue):
    """JSON Schema's integer includes 2.0; a client whose JSON writes 2.0 orders two."""
    reply = api.post("/orders", with_item(quantity=2.0), as_="customer", headers={"idempotency-key": uuid.uuid4().hex})
    assert reply.status == 201, reply.body
    assert reply.body["lines"][0]["quantity"] == 2
