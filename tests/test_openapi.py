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
    ("GET", "/tiers"),
    ("GET", "/categories"),  # a catalogue read (API.md: anonymous)
    ("GET", "/products/{sku}/reviews"),  # API.md, Customers: "Reviews" (public)
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
    codes = sorted(code for code in operation["responses"] if code.startswith(("2", "3")))  # 303: the voucher
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


FILES = {
    ("GET", "/staff/imports/template"): {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
}


def test_every_operation_documents_a_json_success_response(doc):
    """Every success is JSON with its schema, but the downloads, which document the files' media types."""
    undocumented = []
    for (method, path), operation in operations(doc).items():
        _, response = success(operation)
        if (method, path) in FILES:
            assert set(response["content"]) == FILES[(method, path)]
            continue
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
