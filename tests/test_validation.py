"""Bad input on every endpoint that takes input: the right status and code, the bad field named, nothing changed.

For every refused order the test also proves that no stock was reserved, no order
exists, and that the same Idempotency-Key still places an order normally
afterwards (no idempotency record was left behind by the refused request).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADDRESS, ApiClient, Reply, order_body

STOCK = {"TEE-1": 5, "MUG-1": 10, "OLD-1": 7}  # OLD-1 is inactive
ACTIVE = ("TEE-1", "MUG-1")
VALID = order_body(("TEE-1", 1))
JSON = {"content-type": "application/json"}
ANY_FIELD = object()  # a 422 that must name some field, whichever the server picks for a body-level problem


@pytest.fixture
def catalogue(seed) -> None:
    seed("TEE-1", stock=STOCK["TEE-1"], price=1999, name="纯棉T恤")
    seed("MUG-1", stock=STOCK["MUG-1"], price=2500)
    seed("OLD-1", stock=STOCK["OLD-1"], active=False)


# --- helpers -----------------------------------------------------------------------------------------------------


def assert_error(reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
    """The contract's one error shape; returns its details."""
    assert reply.status == status, reply.body
    assert set(reply.body) == {"error"}, reply.body
    assert set(reply.error) == {"code", "message", "details"}, reply.body
    assert isinstance(reply.error["code"], str) and reply.error["code"]
    assert isinstance(reply.error["message"], str) and reply.error["message"]
    assert isinstance(reply.error["details"], dict)
    if code is not None:
        assert reply.error["code"] == code, reply.body
    return reply.error["details"]


def assert_names_field(reply: Reply, name: Any, message: str | None = None, code: str = "validation_failed") -> None:
    """A 422 whose details.fields names the bad field.

    ``name`` is a field path, a tuple of acceptable paths, a path prefix ending in "*", or ANY_FIELD.
    """
    fields = assert_error(reply, 422, code).get("fields")
    assert isinstance(fields, dict) and fields, reply.body
    assert all(isinstance(text, str) and text for text in fields.values()), reply.body
    if name is ANY_FIELD:
        return
    if isinstance(name, str) and name.endswith("*"):
        named = [path for path in fields if path.startswith(name[:-1])]
    else:
        named = [path for path in fields if path in (name if isinstance(name, tuple) else (name,))]
    assert named, f"expected details.fields to name {name!r}: {reply.body}"
    if message is not None:
        assert fields[named[0]] == message, reply.body


def stock(api: ApiClient) -> dict[str, int]:
    """Every seeded product's stock: the active ones as clients see them, the inactive one from the table."""
    from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository

    seen = {}
    for sku in ACTIVE:
        reply = api.get(f"/products/{sku}")
        assert reply.status == 200, reply.body
        seen[sku] = reply.body["stock_available"]
    seen["OLD-1"] = CatalogueRepository().get("OLD-1").stock_available
    return seen


def assert_untouched(api: ApiClient) -> None:
    assert stock(api) == STOCK, "stock changed"
    listing = api.get("/orders", as_="customer")
    assert listing.status == 200, listing.body
    assert listing.body["items"] == [], "an order was created"


def assert_key_still_unused(api: ApiClient, key: str) -> None:
    """The same Idempotency-Key with a valid body places a new order."""
    reply = api.post("/orders", VALID, as_="customer", headers={"idempotency-key": key})
    assert reply.status == 201, reply.body
    assert [(line["sku"], line["quantity"]) for line in reply.body["lines"]] == [("TEE-1", 1)]
    assert stock(api)["TEE-1"] == STOCK["TEE-1"] - 1


def with_item(**changes: Any) -> dict[str, Any]:
    return {**VALID, "items": [{**VALID["items"][0], **changes}]}


def without_item_field(name: str) -> dict[str, Any]:
    return {**VALID, "items": [{k: v for k, v in VALID["items"][0].items() if k != name}]}


def with_address(**changes: Any) -> dict[str, Any]:
    return {**VALID, "shipping_address": {**ADDRESS, **changes}}


def lines(count: int) -> dict[str, Any]:
    return order_body(*[(f"SKU-{i:03d}", 1) for i in range(count)])


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


# --- POST /orders --------------------------------------------------------------------------------------------------


@dataclass
class Bad:
    """One refused POST /orders: what is sent, and what must come back."""

    name: str
    status: int
    code: str | None
    bad_field: Any = None
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    message: str | None = None

    def send(self, api: ApiClient, key: str) -> Reply:
        headers = {"idempotency-key": key, **JSON, **self.headers}
        headers = {k: v for k, v in headers.items() if v is not None}
        body = self.body if self.body is not None else json.dumps(self.json, ensure_ascii=False).encode()
        return api.request("POST", "/orders", as_="customer", body=body, headers=headers)


def invalid(name: str, body: Any, field_name: Any, code: str = "validation_failed", message: str | None = None) -> Bad:
    return Bad(name, 422, code, field_name, json=body, message=message)


def malformed(name: str, body: bytes, status: int = 400, code: str | None = "malformed_json", **headers: str) -> Bad:
    return Bad(name, status, code, body=body, headers=headers)


def bad_key(name: str, key: str | None, code: str) -> Bad:
    return Bad(name, 400, code, json=VALID, headers={"idempotency-key": key})


UNKNOWN = "unknown field"
VALID_RAW = raw(VALID)

BAD_ORDERS = [
    # not an object
    invalid("array body", [], ANY_FIELD),
    invalid("string body", "x", ANY_FIELD),
    invalid("null body", None, ANY_FIELD),
    # wrong types
    invalid("quantity as string", with_item(quantity="2"), "items[0].quantity"),
    invalid("quantity as a fraction", with_item(quantity=2.5), "items[0].quantity"),
    invalid("quantity as bool", with_item(quantity=True), "items[0].quantity"),
    invalid("quantity null", with_item(quantity=None), "items[0].quantity"),
    invalid("quantity missing", without_item_field("quantity"), "items[0].quantity"),
    invalid("sku as number", with_item(sku=123), "items[0].sku"),
    invalid("sku missing", without_item_field("sku"), "items[0].sku"),
    invalid("sku with a space", with_item(sku="TEE 1"), "items[0].sku"),
    invalid("items is an object", {**VALID, "items": {"sku": "TEE-1", "quantity": 1}}, "items"),
    invalid("items is a string", {**VALID, "items": "TEE-1"}, "items"),
    invalid("item is a string", {**VALID, "items": ["TEE-1"]}, "items[0]"),
    # quantities and line counts
    invalid("quantity 0", with_item(quantity=0), "items[0].quantity"),
    invalid("quantity -1", with_item(quantity=-1), "items[0].quantity"),
    invalid("quantity 1000", with_item(quantity=1000), "items[0].quantity"),
    invalid("quantity 10**30", with_item(quantity=10**30), "items[0].quantity"),
    invalid("no items", {**VALID, "items": []}, "items"),
    invalid("51 lines", lines(51), "items"),
    invalid("200 lines", lines(200), "items"),
    # the catalogue
    invalid("duplicate sku lines", order_body(("TEE-1", 1), ("MUG-1", 1), ("TEE-1", 2)), "items*"),
    invalid("unknown sku", order_body(("TEE-1", 1), ("NOPE-1", 1)), "items[1].sku", code="unknown_sku"),
    invalid("inactive sku", order_body(("OLD-1", 1)), "items[0].sku", code="unknown_sku"),
    # unknown fields, including prices the client has no say in
    invalid("unknown top-level field", {**VALID, "coupon": "FREE"}, "coupon", message=UNKNOWN),
    invalid("total in the request", {**VALID, "total": 1}, "total", message=UNKNOWN),
    invalid("unknown item field", with_item(colour="red"), "items[0].colour", message=UNKNOWN),
    invalid("price in an item", with_item(price=1), "items[0].price", message=UNKNOWN),
    invalid("unknown address field", with_address(floor="3"), "shipping_address.floor", message=UNKNOWN),
    # the address, the note, the channel
    invalid("no shipping address", {"items": VALID["items"]}, "shipping_address"),
    invalid("address is a string", {**VALID, "shipping_address": "上海人民路 1 号"}, "shipping_address"),
    invalid("country null", with_address(country=None), "shipping_address.country"),
    invalid(
        "country missing",
        {**VALID, "shipping_address": {k: v for k, v in ADDRESS.items() if k != "country"}},
        "shipping_address.country",
    ),
    invalid("country as a name", with_address(country="China"), "shipping_address.country"),
    invalid("country lower case", with_address(country="cn"), "shipping_address.country"),
    invalid("empty name", with_address(name=""), "shipping_address.name"),
    invalid("phone is words", with_address(phone="call me"), "shipping_address.phone"),
    invalid("name with NUL", with_address(name="王\x00小明"), "shipping_address.name"),
    invalid("name with a bidi override", with_address(name="王\u202e小明"), "shipping_address.name"),
    invalid("city with an escape", with_address(city="上海\x1b[31m"), "shipping_address.city"),
    invalid("note of 501 characters", {**VALID, "note": "字" * 501}, "note"),
    invalid("note is a number", {**VALID, "note": 5}, "note"),
    invalid("unknown channel", {**VALID, "channel": "fax"}, "channel"),
    # not JSON, or JSON the server must not guess about
    malformed("truncated JSON", VALID_RAW[:-5]),
    malformed("not JSON at all", b"items=TEE-1&quantity=1"),
    malformed("NaN", VALID_RAW.replace(b'"quantity": 1', b'"quantity": NaN')),
    malformed("Infinity", VALID_RAW.replace(b'"quantity": 1', b'"quantity": Infinity')),
    malformed("-Infinity", VALID_RAW.replace(b'"quantity": 1', b'"quantity": -Infinity')),
    malformed("duplicate keys", VALID_RAW[:-1] + b', "items": [{"sku": "MUG-1", "quantity": 9}]}'),
    malformed("duplicate nested keys", VALID_RAW.replace(b'"quantity": 1', b'"quantity": 1, "quantity": 2')),
    malformed("not UTF-8", VALID_RAW[:-1] + b', "note": "\xff\xfe\xc3("}'),
    malformed("UTF-16", json.dumps(VALID).encode("utf-16")),
    malformed("empty body", b"", code=None),
    malformed("nested too deeply", b"[" * 20_000 + b"]" * 20_000),
    malformed("over 64 KiB", raw({**VALID, "note": "x" * 70_000}), status=413, code="payload_too_large"),
    malformed("text/plain", VALID_RAW, status=415, code=None, **{"content-type": "text/plain"}),
    # the Idempotency-Key header
    bad_key("no Idempotency-Key", None, "idempotency_key_required"),
    bad_key("empty Idempotency-Key", "", "invalid_idempotency_key"),
    bad_key("Idempotency-Key of 256 characters", "k" * 256, "invalid_idempotency_key"),
    bad_key("Idempotency-Key with spaces", "my order key", "invalid_idempotency_key"),
    bad_key("Idempotency-Key not ASCII", "订单-1", "invalid_idempotency_key"),
]


@pytest.mark.parametrize("case", BAD_ORDERS, ids=[case.name for case in BAD_ORDERS])
def test_refused_order_changes_nothing(api, catalogue, case):
    key = uuid.uuid4().hex

    reply = case.send(api, key)

    assert_error(reply, case.status, case.code)
    if case.status == 422:
        assert_names_field(reply, case.bad_field, case.message, case.code)
    assert_untouched(api)
    assert_key_still_unused(api, key)


def test_a_fully_valid_order_is_accepted(api, catalogue):
    """The control for the table above: each bad case differs from this body in one thing."""
    reply = Bad("valid", 201, None, json=VALID).send(api, uuid.uuid4().hex)
    assert reply.status == 201, reply.body


def test_text_that_looks_like_code_is_just_text(api, catalogue):
    note = "'; DROP TABLE orders;-- <script>alert(1)</script> {{7*7}} ${jndi:ldap://x} %s%n"
    address = {**ADDRESS, "name": "<b>王小明</b>", "line1": "Robert'); DROP TABLE products;--"}
    body = {**VALID, "note": note, "shipping_address": address}

    reply = api.post("/orders", body, as_="customer", headers={"idempotency-key": uuid.uuid4().hex})

    assert reply.status == 201, reply.body
    again = api.get(f"/orders/{reply.body['order_id']}", as_="customer")
    for seen in (reply.body, again.body):
        assert seen["note"] == note
        assert seen["shipping_address"]["name"] == address["name"]
        assert seen["shipping_address"]["line1"] == address["line1"]
    assert stock(api)["TEE-1"] == STOCK["TEE-1"] - 1


# --- stock ---------------------------------------------------------------------------------------------------------


def place_short(api: ApiClient, key: str, *items: tuple[str, int]) -> list[dict[str, Any]]:
    reply = api.post("/orders", order_body(*items), as_="customer", headers={"idempotency-key": key})
    return assert_error(reply, 409, "out_of_stock")["skus"]


def test_out_of_stock(api, catalogue):
    key = uuid.uuid4().hex

    assert place_short(api, key, ("TEE-1", 6)) == [{"sku": "TEE-1", "requested": 6, "available": 5}]

    assert_untouched(api)
    assert_key_still_unused(api, key)


def test_one_short_line_reserves_nothing_for_the_others(api, catalogue):
    key = uuid.uuid4().hex

    skus = place_short(api, key, ("TEE-1", 5), ("MUG-1", 11))

    assert skus == [{"sku": "MUG-1", "requested": 11, "available": 10}]
    assert_untouched(api)
    assert_key_still_unused(api, key)


def test_a_shortage_found_only_when_reserving_reserves_nothing(api, catalogue, monkeypatch):
    """As under a race: the catalogue read says there is stock, the reservation finds there is not."""
    from dataclasses import replace

    from chalicelib.adapters.dynamo.orders_repo import OrdersRepository

    read = OrdersRepository.order_inputs

    def stale(self, customer_id, key, skus, owner=None):
        earlier, products, tier = read(self, customer_id, key, skus, owner)
        return earlier, {sku: replace(product, stock_available=1000) for sku, product in products.items()}, tier

    monkeypatch.setattr(OrdersRepository, "order_inputs", stale)
    key = uuid.uuid4().hex

    skus = place_short(api, key, ("TEE-1", 5), ("MUG-1", 11))

    assert skus == [{"sku": "MUG-1", "requested": 11, "available": 10}]
    assert_untouched(api)
    assert_key_still_unused(api, key)


# --- GET /products -------------------------------------------------------------------------------------------------


def b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def unb64(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


BAD_PRODUCT_QUERIES = [
    ("sort=cheapest", 422, "sort"),
    ("sort=", 422, "sort"),
    ("limit=0", 422, "limit"),
    ("limit=101", 422, "limit"),
    ("limit=abc", 422, "limit"),
    ("limit=1.5", 422, "limit"),
    ("min_price=-1", 422, "min_price"),
    ("max_price=cheap", 422, "max_price"),
    ("colour=red", 422, "colour"),
    ("category=" + quote("toys\x00"), 422, "category"),
    ("cursor=garbage", 400, None),
    ("cursor=" + quote("!!!!"), 400, None),
    ("cursor=" + b64([1, 2, 3]), 400, None),
    ("cursor=" + b64({"sku": {"S": "TEE-1"}}), 400, None),
    ("cursor=" + b64({"sku": {"BOOL": True}, "listed": {"S": "PRODUCT"}}), 400, None),
]


@pytest.mark.parametrize(
    ("query", "status", "field_name"), BAD_PRODUCT_QUERIES, ids=[q for q, *_ in BAD_PRODUCT_QUERIES]
)
def test_bad_product_query(api, catalogue, query, status, field_name):
    reply = api.get(f"/products?{query}")

    if status == 400:
        assert_error(reply, 400, "invalid_cursor")
    else:
        assert_names_field(reply, field_name)


@pytest.fixture
def product_cursor(api, catalogue) -> str:
    first = api.get("/products?limit=1")
    assert first.status == 200 and first.body["next_cursor"], first.body
    return first.body["next_cursor"]


@pytest.fixture
def order_cursor(api, catalogue, place) -> str:
    for _ in range(2):
        assert place(("TEE-1", 1)).status == 201
    first = api.get("/orders?limit=1", as_="customer")
    assert first.status == 200 and first.body["next_cursor"], first.body
    return first.body["next_cursor"]


def test_a_product_cursor_continues_its_listing(api, product_cursor):
    """The control for the cursor cases: a cursor the listing handed out works."""
    reply = api.get(f"/products?limit=1&cursor={product_cursor}")
    assert reply.status == 200, reply.body
    assert [item["sku"] for item in reply.body["items"]] == ["TEE-1"]


def test_an_orders_cursor_is_refused_by_products(api, order_cursor):
    assert_error(api.get(f"/products?cursor={order_cursor}"), 400, "invalid_cursor")


def test_a_products_cursor_is_refused_by_orders(api, product_cursor):
    assert_error(api.get(f"/orders?cursor={product_cursor}", as_="customer"), 400, "invalid_cursor")


def test_a_crafted_cursor_for_another_partition_is_refused(api, product_cursor):
    shards = unb64(product_cursor)["shards"]  # the unfiltered listing's partitions, each with its position
    shard, key = next((name, key) for name, key in shards.items() if key)
    assert shard.startswith("PRODUCT#") and key["listed"] == {"S": shard}, shards
    crafted = b64({"shards": {shard: {**key, "listed": {"S": "general"}}}})

    assert_error(api.get(f"/products?cursor={crafted}"), 400, "invalid_cursor")
    assert_error(api.get(f"/products?category=general&cursor={product_cursor}"), 400, "invalid_cursor")


# --- GET /orders ---------------------------------------------------------------------------------------------------

BAD_ORDER_QUERIES = [
    ("status=bogus", 422, "status"),
    ("status=shipped", 422, "status"),  # a fulfilment status, not an order status
    ("limit=0", 422, "limit"),
    ("limit=101", 422, "limit"),
    ("customer_id=" + quote("a b"), 422, "customer_id"),
    ("colour=red", 422, "colour"),
    ("cursor=garbage", 400, None),
    ("cursor=" + b64({"pk": {"S": "ORDER#x"}}), 400, None),
]


@pytest.mark.parametrize(("query", "status", "field_name"), BAD_ORDER_QUERIES, ids=[q for q, *_ in BAD_ORDER_QUERIES])
def test_bad_order_query(api, catalogue, query, status, field_name):
    reply = api.get(f"/orders?{query}", as_="customer")

    if status == 400:
        assert_error(reply, 400, "invalid_cursor")
    else:
        assert_names_field(reply, field_name)


def test_another_customers_cursor_is_refused(api, order_cursor):
    """A cursor cannot be used to page through someone else's orders."""
    own = api.get(f"/orders?limit=1&cursor={order_cursor}", as_="customer")
    assert own.status == 200 and len(own.body["items"]) == 1, own.body  # the control: it works for its owner

    assert_error(api.get(f"/orders?limit=1&cursor={order_cursor}", as_="other"), 400, "invalid_cursor")


# --- paths ---------------------------------------------------------------------------------------------------------

HOSTILE_IDS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "A" * 300,
    "TEE-1%00",
    "%E2%80%AE1-EET",
    "<script>alert(1)<%2Fscript>",
    "TEE-1'%20OR%20'1'='1",
    "ORDER%23x",
    "*",
]


@pytest.mark.parametrize("sku", [*HOSTILE_IDS, "tee-1", "OLD-1"])
def test_hostile_or_hidden_sku_is_not_found(api, catalogue, sku):
    assert_error(api.get(f"/products/{sku}"), 404, "not_found")


@pytest.mark.parametrize("order_id", HOSTILE_IDS)
def test_hostile_order_id_is_not_found(api, catalogue, order_id):
    assert_error(api.get(f"/orders/{order_id}", as_="customer"), 404, "not_found")
    assert_error(api.post(f"/orders/{order_id}/cancel", {}, as_="customer"), 404, "not_found")


# --- POST /orders/{id}/cancel --------------------------------------------------------------------------------------


@pytest.fixture
def order(api, catalogue, place) -> dict[str, Any]:
    reply = place(("TEE-1", 2))
    assert reply.status == 201, reply.body
    return reply.body


BAD_CANCELS = [
    ("unknown field", raw({"reason": "too slow", "refund": True}), JSON, 422, "refund"),
    ("reason too long", raw({"reason": "x" * 501}), JSON, 422, "reason"),
    ("reason with NUL", raw({"reason": "a\x00b"}), JSON, 422, "reason"),
    ("array body", b"[]", JSON, 422, ANY_FIELD),
    ("malformed JSON", b'{"reason": ', JSON, 400, "malformed_json"),
    ("duplicate keys", b'{"reason": "a", "reason": "b"}', JSON, 400, "malformed_json"),
    ("not UTF-8", b'{"reason": "\xff"}', JSON, 400, "malformed_json"),
    ("over 64 KiB", raw({"reason": "x" * 70_000}), JSON, 413, "payload_too_large"),
    ("text/plain", b"{}", {"content-type": "text/plain"}, 415, None),
]


@pytest.mark.parametrize(("name", "body", "headers", "status", "detail"), BAD_CANCELS, ids=[c[0] for c in BAD_CANCELS])
def test_refused_cancel_changes_nothing(api, order, name, body, headers, status, detail):
    path = f"/orders/{order['order_id']}"
    before = api.get(path, as_="customer").body

    reply = api.request("POST", f"{path}/cancel", as_="customer", body=body, headers=headers)

    if status == 422:
        assert_names_field(reply, detail)
    else:
        assert_error(reply, status, detail)
    assert api.get(path, as_="customer").body == before
    assert stock(api)["TEE-1"] == STOCK["TEE-1"] - 2


@pytest.mark.parametrize("body", [None, b"", b"{}", b'{"reason": null}'], ids=["no body", "empty", "{}", "null reason"])
def test_cancel_without_a_reason(api, order, body):
    headers = {} if body is None else JSON

    reply = api.request("POST", f"/orders/{order['order_id']}/cancel", as_="customer", body=body, headers=headers)

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "cancelled"
    assert stock(api)["TEE-1"] == STOCK["TEE-1"]


# --- routes and methods --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("POST", "/order"), ("GET", "/products/TEE-1/questions"), ("GET", "/orders/x/y/z")],
)
def test_unknown_route(api, catalogue, method, path):
    assert_error(api.request(method, path, as_="customer"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/orders"),
        ("PUT", "/orders/{order_id}"),
        ("DELETE", "/orders/{order_id}"),
        ("GET", "/orders/{order_id}/cancel"),
        ("POST", "/products"),
        ("PATCH", "/products/TEE-1"),
    ],
)
def test_wrong_method(api, order, method, path):
    reply = api.request(method, path.format(order_id=order["order_id"]), as_="customer")
    assert_error(reply, 405, "method_not_allowed")
    assert api.get(f"/orders/{order['order_id']}", as_="customer").body["status"] == "confirmed"


# --- never a 5xx ---------------------------------------------------------------------------------------------------

# No key is ever "country", so no generated body can be a valid order (the address needs one).
KEYS = st.sampled_from(
    ["items", "sku", "quantity", "shipping_address", "note", "channel", "name", "phone", "line1", "city", "reason"]
) | st.text(max_size=12).filter(lambda key: key != "country")
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["TEE-1", "MUG-1", "CN", "web", "+86 138 0000 0000"])
)
JSONISH = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(KEYS, inner, max_size=6), max_leaves=40
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
REFUSALS = {400, 409, 413, 415, 422}
QUERY_KEYS = st.sampled_from(["category", "q", "min_price", "max_price", "sort", "limit", "cursor"]) | st.text(
    max_size=8
)


def as_bytes(value: Any) -> bytes:
    """JSON as a careless client would send it: NaN allowed, lone surrogates left in (not valid UTF-8)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


@FUZZ
@given(value=JSONISH)
def test_no_order_body_causes_a_fault(api, catalogue, value):
    headers = {**JSON, "idempotency-key": uuid.uuid4().hex}

    reply = api.request("POST", "/orders", as_="customer", body=as_bytes(value), headers=headers)

    assert reply.status in REFUSALS, reply.body
    assert_error(reply, reply.status)
    assert_untouched(api)


@FUZZ
@given(value=JSONISH)
def test_no_cancel_body_causes_a_fault(api, order, value):
    # The order is already cancelled, so even a valid body is refused (409), and every answer is a refusal.
    path = f"/orders/{order['order_id']}"
    if api.get(path, as_="customer").body["status"] != "cancelled":
        assert api.post(f"{path}/cancel", {}, as_="customer").status == 200

    reply = api.request("POST", f"{path}/cancel", as_="customer", body=as_bytes(value), headers=JSON)

    assert reply.status in REFUSALS, reply.body
    assert_error(reply, reply.status)


@FUZZ
@given(params=st.dictionaries(QUERY_KEYS, st.text(max_size=30), max_size=4))
def test_no_product_query_causes_a_fault(api, catalogue, params):
    reply = api.get(f"/products?{urlencode(params)}")

    assert reply.status in {200, 400, 422}, reply.body
    if reply.status != 200:
        assert_error(reply, reply.status)
