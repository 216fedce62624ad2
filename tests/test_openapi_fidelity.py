"""/openapi.json says what the server really does: replays and their headers, header parameters, and every
string field's pattern, checked against what the server accepts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from chalicelib.entrypoints.http import schemas
from tests.conftest import order_body
from tests.test_openapi import check, operations, parameters, refs


@pytest.fixture
def doc(api) -> dict[str, Any]:
    reply = api.get("/openapi.json")
    assert reply.status == 200, reply.body
    return reply.body


@pytest.fixture
def placed(seed) -> None:
    seed("TEE-1", stock=5, price=1999, name="纯棉T恤")


# --- what the server really does ---------------------------------------------------------------------------------


def test_an_idempotent_replay_is_documented_with_its_header(api, doc, placed):
    from chalicelib.entrypoints.http.orders import IDEMPOTENCY_KEY

    responses = operations(doc)[("POST", "/orders")]["responses"]
    assert {"200", "201"} <= set(responses)
    assert responses["200"]["headers"]["Idempotent-Replayed"]["required"] is True
    key = parameters(doc, "POST", "/orders", "header")["idempotency-key"]
    assert key["required"] is True and key["schema"] == {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}

    body, headers = order_body(("TEE-1", 1)), {"idempotency-key": uuid.uuid4().hex}
    first = api.post("/orders", body, as_="customer", headers=headers)
    again = api.post("/orders", body, as_="customer", headers=headers)

    assert (first.status, again.status) == (201, 200), again.body
    check(doc, "POST", "/orders", again, schemas.OrderOut)
    for reply in (first, again):
        for name, header in responses[str(reply.status)].get("headers", {}).items():
            value = reply.headers.get(name.lower())
            assert value is not None or not header["required"], f"{reply.status} lacks {name}"
            if value is not None:
                assert Draft202012Validator(header["schema"]).is_valid(value), (name, value)
    assert again.headers["idempotent-replayed"] == "true"


def test_extra_success_statuses_and_response_headers_are_declared():
    from chalicelib.entrypoints.http.openapi import _successes
    from chalicelib.entrypoints.http.routing import Endpoint, Header

    spec = Endpoint(
        "POST",
        "/things",
        "Make a thing",
        "customer",
        201,
        response="OrderOut",
        headers=(Header("Idempotency-Key", "the key", required=True),),
        also=((200, "Made before"), (202, "Queued")),
        response_headers=("Location",),
    )
    responses = _successes(spec)

    assert list(responses) == ["201", "200", "202"]
    assert responses["200"]["description"] == "Made before"
    assert all(r["headers"]["Location"]["required"] for r in responses.values())
    assert responses["200"]["headers"]["Idempotent-Replayed"]["required"] is True
    assert responses["201"]["headers"]["Idempotent-Replayed"]["required"] is False
    assert "Idempotent-Replayed" in responses["202"]["headers"]


def test_endpoint_declares_headers_required_or_not():
    from chalicelib.entrypoints.http.openapi import _header_parameter
    from chalicelib.entrypoints.http.routing import IDEMPOTENCY_KEY_PATTERN, Header, _header

    assert _header_parameter(Header("X-Trace", "optional", pattern="^[a-f0-9]{32}$")) == {
        "name": "X-Trace",
        "in": "header",
        "required": False,
        "description": "optional",
        "schema": {"type": "string", "pattern": "^[a-f0-9]{32}$"},
    }
    assert _header(("Stripe-Signature", "signed")).required is True
    key = _header(Header("Idempotency-Key", "the contract's key"))
    assert (key.required, key.pattern) == (True, IDEMPOTENCY_KEY_PATTERN)


def test_no_header_parameter_claims_a_limit_the_server_does_not_check(doc):
    for (method, path), operation in operations(doc).items():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header" and parameter["name"] != "Idempotency-Key":
                assert "maxLength" not in parameter["schema"], (method, path, parameter)


def string_options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and what it may be (anyOf), and what its arrays' items may be, however nested."""
    options = [schema]
    for option in schema.get("anyOf", []):
        options += string_options(option)
    if isinstance(schema.get("items"), dict):
        options += string_options(schema["items"])
    return options


def request_strings(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every string property of every request body schema, and every string query parameter."""
    found = []
    bodies = {op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
              for op in operations(doc).values() if "requestBody" in op}  # fmt: skip
    seen, todo = set(), sorted(bodies)
    while todo:
        name = todo.pop()
        seen.add(name)
        for field, schema in doc["components"]["schemas"][name].get("properties", {}).items():
            for option in string_options(schema):
                if option.get("type") == "string":
                    found.append((name, field, option))
            for ref in refs(schema):
                target = ref.rsplit("/", 1)[1]
                if target not in seen and target not in todo:
                    todo.append(target)
    for (_, path), operation in operations(doc).items():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                found.append((path, parameter["name"], parameter["schema"]))
    return found


def test_every_free_text_field_publishes_what_the_server_checks(doc):
    """A string with no enum has a pattern; patterns need no lookaround or \\p{} (ECMA-262, Python re, hypothesis)."""
    import re

    strings = request_strings(doc)
    assert len(strings) > 10
    for owner, field, schema in strings:
        if "enum" in schema or (owner, field) in {("StripeEventIn", "id"), ("StripeEventIn", "type")}:
            continue
        if field == "cursor":
            assert "pattern" not in schema  # opaque: only the server knows which it handed out
            continue
        assert "pattern" in schema, (owner, field, schema)
        pattern = schema["pattern"]
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        assert "(?" not in pattern and "\\p" not in pattern and "\\s" not in pattern, pattern
        re.compile(pattern)


TEXT_FIELDS = [
    (schemas.AddressIn, "name"),
    (schemas.AddressIn, "line2"),
    (schemas.AddressIn, "phone"),
    (schemas.AddressIn, "postal_code"),
    (schemas.AddressIn, "country"),
    (schemas.OrderItemIn, "sku"),
    (schemas.ConfirmPaymentIn, "reference"),
    (schemas.ListProductsQuery, "q"),
    (schemas.ListProductsQuery, "category"),
    (schemas.ListOrdersQuery, "customer_id"),
    (schemas.ProductIn, "images"),
]


def published(model: type[BaseModel], field: str) -> dict[str, Any]:
    schema = model.model_json_schema()["properties"][field]
    return next(option for option in string_options(schema) if option.get("type") == "string")


def schema_allows(schema: dict[str, Any], value: str) -> bool:
    """As the document says: its patterns and lengths, over Unicode text (no unpaired surrogates: info.description)."""
    import re

    if any("\ud800" <= char <= "\udfff" for char in value):
        return False
    return (
        schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
        and re.fullmatch(schema["pattern"], value) is not None
    )


def server_allows(model: type[BaseModel], field: str, value: str) -> bool:
    from pydantic import ValidationError

    valid = {"sku": "A", "quantity": 1} if model is schemas.OrderItemIn else {}
    if model is schemas.AddressIn:
        valid = {"name": "n", "phone": "12345", "line1": "l", "city": "c", "country": "CN"}
    if model is schemas.ConfirmPaymentIn:
        valid = {"amount": 1, "reference": "r"}
    if model is schemas.ProductIn:
        valid = {"sku": "A", "name": "n", "category": "c", "price": 1}
    try:
        model.model_validate({**valid, field: [value] if field == "images" else value})
    except ValidationError as error:
        assert all(problem["loc"][0] == field for problem in error.errors()), error
        return False
    return True


@pytest.mark.parametrize(("model", "field"), TEXT_FIELDS, ids=[f"{m.__name__}.{f}" for m, f in TEXT_FIELDS])
def test_the_server_accepts_exactly_the_strings_the_schema_allows(model, field):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    schema = published(model, field)
    tricky = st.sampled_from([" ", "\t", "\n", "\r", "\x00", "\x7f", "\x85", "\u00ad", "\u200d", "\u202e", "\u2066",
                              "\u3000", "\ufeff", "\ud800", "\udfff", "A", "0", "-", "+", "字", "👍"])  # fmt: skip
    texts = (
        st.text(max_size=80)
        | st.lists(tricky, max_size=8).map("".join)
        | st.from_regex(schema["pattern"], fullmatch=True).filter(lambda v: len(v) <= schema.get("maxLength", 1e9))
    )

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(value=texts)
    def agree(value: str) -> None:
        assert server_allows(model, field, value) == schema_allows(schema, value), repr(value)

    agree()


def test_the_document_says_strings_are_unicode_text(doc):
    assert "unpaired surrogate" in doc["info"]["description"]


def test_no_bound_is_published_under_a_name_json_schema_does_not_know():
    """A pydantic bound set after a validator in ``Annotated`` lands in the schema as ``ge``/``le`` (which JSON Schema
    ignores), so clients and the fuzzer would think 0 is a valid rating; every bound must be minimum/maximum."""
    from chalicelib.entrypoints.http.openapi import document

    found: list[str] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            found.extend(f"{path}.{key}" for key in node if key in ("ge", "le", "gt", "lt"))
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, path)

    walk(document()["components"]["schemas"], "schemas")
    assert found == []
