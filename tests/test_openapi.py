"""GET /openapi.json: a valid OpenAPI 3.1 document that describes exactly the API that runs.

The document must list every route the app serves and nothing else, say who may
call each one, resolve all its references, and describe what the API really
answers: real responses are checked against the documented schemas and against
the pydantic response models the document is built from.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from chalicelib.entrypoints.http import schemas
from tests.conftest import Reply, order_body

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Anonymous by the contract; every other operation needs a token.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/products"),
    ("GET", "/products/{sku}"),
    ("POST", "/webhooks/stripe"),
}
# From API.md.
ORDER_FIELDS = {
    "order_id",
    "order_number",
    "customer_id",
    "status",
    "payment_status",
    "fulfilment_status",
    "lines",
    "subtotal",
    "discount",
    "shipping",
    "total",
    "currency",
    "amount_paid",
    "amount_refunded",
    "shipping_address",
    "channel",
    "note",
    "flags",
    "reserved_until",
    "created_at",
    "updated_at",
    "timeline",
}
LINE_FIELDS = {"sku", "name", "unit_price", "quantity", "line_total"}
EVENT_FIELDS = {"at", "type", "actor", "data"}
ADDRESS_FIELDS = {"name", "phone", "line1", "city", "country"}
PRODUCT_FIELDS = {
    "sku",
    "name",
    "description",
    "category",
    "price",
    "currency",
    "images",
    "attributes",
    "stock_available",
    "sales_count",
    "active",
}
SORTS = {"price", "-price", "sales", "-sales", "name"}
STATUSES = {"pending_approval", "confirmed", "completed", "cancelled", "expired"}


@pytest.fixture
def doc(api) -> dict[str, Any]:
    reply = api.get("/openapi.json")
    assert reply.status == 200, reply.body
    return reply.body


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def success(operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    codes = sorted(code for code in operation["responses"] if code.startswith("2"))
    assert codes, f"no success response: {operation.get('operationId')}"
    return codes[0], operation["responses"][codes[0]]


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def parameters(doc: dict[str, Any], method: str, path: str, where: str) -> dict[str, dict[str, Any]]:
    operation = operations(doc)[(method, path)]
    return {p["name"].lower(): p for p in operation.get("parameters", []) if p["in"] == where}


def enum_of(schema: dict[str, Any]) -> set[str]:
    """The allowed values of a (possibly nullable) parameter schema."""
    options = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    return {value for option in options for value in option.get("enum", []) if value is not None}


# --- the document ------------------------------------------------------------------------------------------------


def test_served_anonymously_as_a_valid_openapi_3_1_document(api):
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    reply = api.get("/openapi.json")

    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.body["openapi"] == "3.1.0"
    validate(reply.body, cls=OpenAPIV31SpecValidator)


def test_describes_exactly_the_routes_the_app_serves(doc):
    from app import app

    served = {(method, path) for path, methods in app.routes.items() for method in methods if method != "OPTIONS"}
    described = {op for op in operations(doc) if op[0] != "OPTIONS"}

    assert described - served == set(), "described but not served"
    assert served - described == set(), "served but not described"


def test_every_operation_documents_a_json_success_response(doc):
    undocumented = []
    for (method, path), operation in operations(doc).items():
        _, response = success(operation)
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            undocumented.append(f"{method} {path}")
    assert undocumented == [], "success responses without a JSON schema"


def test_every_post_takes_a_json_body(doc):
    posts = {op: operation for op, operation in operations(doc).items() if op[0] == "POST"}
    assert posts
    for (method, path), operation in posts.items():
        body = operation.get("requestBody")
        assert body, f"{method} {path} has no requestBody"
        assert body["content"]["application/json"]["schema"], f"{method} {path}"
    assert posts[("POST", "/orders")]["requestBody"]["required"] is True
    assert posts[("POST", "/orders/{order_id}/cancel")]["requestBody"].get("required", False) is False


def test_every_reference_resolves_inside_components_schemas(doc):
    found = refs(doc)
    assert found
    defined = doc["components"]["schemas"]
    prefix = "#/components/schemas/"
    for ref in found:
        assert ref.startswith(prefix), ref
        assert ref[len(prefix) :] in defined, ref


def test_only_public_operations_are_anonymous(doc):
    schemes = doc.get("components", {}).get("securitySchemes", {})
    for (method, path), operation in operations(doc).items():
        security = operation.get("security", doc.get("security", []))
        if (method, path) in PUBLIC:
            assert security in ([], [{}]), f"{method} {path} is public by the contract"
        else:
            assert security, f"{method} {path} declares no security"
            assert all(name in schemes for requirement in security for name in requirement), security
            assert "401" in operation["responses"], f"{method} {path} does not document 401"


def test_documents_the_contracts_parameters(doc):
    products = parameters(doc, "GET", "/products", "query")
    assert {"category", "q", "min_price", "max_price", "sort", "limit", "cursor"} <= set(products)
    assert enum_of(products["sort"]["schema"]) == SORTS
    assert (products["limit"]["schema"]["minimum"], products["limit"]["schema"]["maximum"]) == (1, 100)
    assert products["limit"]["schema"].get("default") == 20

    orders = parameters(doc, "GET", "/orders", "query")
    assert {"status", "customer_id", "cursor", "limit"} <= set(orders)
    assert enum_of(orders["status"]["schema"]) == STATUSES

    key = parameters(doc, "POST", "/orders", "header")["idempotency-key"]
    assert key["required"] is True


def test_documents_the_contracts_order_and_product_fields(doc):
    defined = doc["components"]["schemas"]
    for name, fields in [
        ("OrderOut", ORDER_FIELDS),
        ("OrderLineOut", LINE_FIELDS),
        ("TimelineEventOut", EVENT_FIELDS),
        ("ProductOut", PRODUCT_FIELDS),
    ]:
        assert fields <= set(defined[name]["properties"]), name
        assert fields <= set(defined[name].get("required", [])), f"{name}: a contract field is optional"


# --- real responses against the document -------------------------------------------------------------------------


def check(doc: dict[str, Any], method: str, path: str, reply: Reply, model: type[BaseModel]) -> None:
    """The reply's status is documented for the operation, and its body fits the documented schema and the model."""
    operation = operations(doc)[(method, path)]
    assert str(reply.status) in operation["responses"], f"{method} {path} does not document {reply.status}"
    content = operation["responses"][str(reply.status)]["content"]["application/json"]
    schema = {**content["schema"], "components": doc["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(reply.body), key=str)
    assert errors == [], [error.message for error in errors]
    parsed = model.model_validate(reply.body, strict=True)
    assert parsed.model_dump(mode="json", exclude_unset=True) == reply.body, "fields the model does not describe"


@pytest.fixture
def placed(api, seed, place) -> dict[str, Any]:
    seed("TEE-1", stock=5, price=1999, name="纯棉T恤", images=["https://cdn.example.com/tee.jpg"])
    seed("MUG-1", stock=5, price=2500, attributes={"colour": "白"})
    reply = place(("TEE-1", 2), ("MUG-1", 1), note="请不要按门铃", channel="mobile")
    assert reply.status == 201, reply.body
    return reply.body


def test_real_success_responses_match_the_document(api, doc, placed):
    order_id = placed["order_id"]
    # the POST reply itself
    check(doc, "POST", "/orders", Reply(201, {}, placed), schemas.OrderOut)
    check(doc, "GET", "/orders/{order_id}", api.get(f"/orders/{order_id}", as_="customer"), schemas.OrderOut)
    check(doc, "GET", "/orders", api.get("/orders", as_="customer"), schemas.OrderPage)
    check(doc, "GET", "/orders", api.get("/orders?limit=1", as_="staff"), schemas.OrderPage)
    check(doc, "GET", "/products", api.get("/products"), schemas.ProductPage)
    check(doc, "GET", "/products", api.get("/products?limit=1&sort=-price"), schemas.ProductPage)
    check(doc, "GET", "/products/{sku}", api.get("/products/TEE-1"), schemas.ProductOut)
    check(doc, "GET", "/health", api.get("/health"), schemas.HealthOut)
    cancelled = api.post(f"/orders/{order_id}/cancel", {"reason": "买错了"}, as_="customer")
    check(doc, "POST", "/orders/{order_id}/cancel", cancelled, schemas.OrderOut)


def test_real_error_responses_match_the_document(api, doc, placed):
    order_id = placed["order_id"]
    key = {"idempotency-key": uuid.uuid4().hex}
    cases = [
        ("GET", "/products/{sku}", api.get("/products/NOPE-1"), 404),
        ("GET", "/products", api.get("/products?sort=cheapest"), 422),
        ("GET", "/products", api.get("/products?cursor=garbage"), 400),
        ("GET", "/orders", api.get("/orders"), 401),
        ("GET", "/orders/{order_id}", api.get(f"/orders/{order_id}", as_="other"), 404),
        ("POST", "/orders", api.post("/orders", order_body(("TEE-1", 1)), as_="staff", headers=key), 403),
        ("POST", "/orders", api.post("/orders", order_body(("TEE-1", 1)), as_="customer"), 400),
        ("POST", "/orders", api.post("/orders", order_body(("TEE-1", 0)), as_="customer", headers=key), 422),
        ("POST", "/orders", api.post("/orders", order_body(("TEE-1", 9)), as_="customer", headers=key), 409),
        ("POST", "/orders/{order_id}/cancel", api.post(f"/orders/{order_id}/cancel", {"x": 1}, as_="customer"), 422),
    ]
    for method, path, reply, status in cases:
        assert reply.status == status, (method, path, reply.body)
        check(doc, method, path, reply, schemas.ErrorOut)


def test_a_refused_media_type_is_documented(api, doc, placed):
    """Clients that send text/plain get a 415; the document should say so."""
    headers = {"content-type": "text/plain", "idempotency-key": uuid.uuid4().hex}
    for path, documented in [
        ("/orders", "/orders"),
        (f"/orders/{placed['order_id']}/cancel", "/orders/{order_id}/cancel"),
    ]:
        reply = api.request("POST", path, as_="customer", body=b"{}", headers=headers)
        assert reply.status == 415, reply.body
        check(doc, "POST", documented, reply, schemas.ErrorOut)


def test_a_real_order_has_every_field_of_the_contract(api, placed):
    order = api.get(f"/orders/{placed['order_id']}", as_="customer").body

    assert set(order) >= ORDER_FIELDS, ORDER_FIELDS - set(order)
    assert order["lines"] and all(set(line) >= LINE_FIELDS for line in order["lines"])
    assert order["timeline"] and all(set(event) >= EVENT_FIELDS for event in order["timeline"])
    assert set(order["shipping_address"]) >= ADDRESS_FIELDS
    assert set(api.get("/products/TEE-1").body) >= PRODUCT_FIELDS


@pytest.mark.parametrize("name", sorted(ORDER_FIELDS))
def test_an_order_missing_a_contract_field_fails_the_checks(api, doc, placed, name):
    """The checks above are strict: without any one contract field, a real order fails both."""
    order = api.get(f"/orders/{placed['order_id']}", as_="customer").body
    broken = {k: v for k, v in order.items() if k != name}

    with pytest.raises(AssertionError):
        check(doc, "GET", "/orders/{order_id}", Reply(200, {}, broken), schemas.OrderOut)
    schema = {"$ref": "#/components/schemas/OrderOut", "components": doc["components"]}
    assert not Draft202012Validator(schema).is_valid(broken)
    with pytest.raises(ValueError):
        schemas.OrderOut.model_validate(broken, strict=True)


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
            for option in [schema, *schema.get("anyOf", []), *schema.get("items", {}).get("anyOf", [])]:
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
]


def published(model: type[BaseModel], field: str) -> dict[str, Any]:
    schema = model.model_json_schema()["properties"][field]
    return next(option for option in [schema, *schema.get("anyOf", [])] if option.get("type") == "string")


def schema_allows(schema: dict[str, Any], value: str) -> bool:
    import re

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
    try:
        model.model_validate({**valid, field: value})
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
                              "\u3000", "\ufeff", "A", "0", "-", "+", "字", "👍"])  # fmt: skip
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
