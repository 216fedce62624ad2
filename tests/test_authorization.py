"""Who may call what: every route for every kind of caller, and forged or stale tokens.

The expectations come from the contract (API.md): anonymous callers reach only the
public routes; placing orders is for customers; another customer's order is a 404
that looks exactly like a missing one; staff and admin see and cancel any order.
A token the gateway must refuse is a 401 in the contract's error shape, and nothing
is written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack import resources
from tests.conftest import PASSWORD, ApiClient, Reply, order_body

SKU = "TEE-1"
STOCK = 50
CALLERS = ("anonymous", "customer", "other", "staff", "admin")
ERROR_CODES = {400: "invalid_webhook", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               406: "not_acceptable", 409: "invalid_transition"}  # fmt: skip
CONFIRM = "POST /staff/orders/{order_id}/payments/{payment_id}/confirm"
REFUND = "POST /staff/orders/{order_id}/refunds"
SENT = "POST /staff/orders/{order_id}/refunds/{refund_id}/sent"
LOOKUP = "GET /staff/orders/lookup"
TEMPLATE = "GET /staff/imports/template"

PUBLIC = dict.fromkeys(CALLERS, 200)
SIGNED_IN = {"anonymous": 401, "customer": 200, "other": 200, "staff": 200, "admin": 200}
STAFF_ONLY = {"anonymous": 401, "customer": 403, "other": 403, "staff": 200, "admin": 200}
OWNER_OR_STAFF = {"anonymous": 401, "customer": 200, "other": 404, "staff": 200, "admin": 200}
CUSTOMERS = {"anonymous": 401, "customer": 200, "other": 200, "staff": 403, "admin": 403}  # their own cart or quote
ADMIN_ONLY = {"anonymous": 401, "customer": 403, "other": 403, "staff": 403, "admin": 200}
OWN_BOOK = {"anonymous": 401, "customer": 200, "other": 404, "staff": 403, "admin": 403}  # "customer"'s address
QUESTION = {"kind": "question", "subject": "尺码", "message": "偏大吗？"}
HOME = {"name": "王小明", "phone": "+86 138 0013 8000", "line1": "世纪大道100号", "city": "上海", "country": "CN"}

# route -> caller -> status. The order in the paths belongs to "customer".
MATRIX: dict[str, dict[str, int]] = {
    "GET /health": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /products": PUBLIC,
    "GET /products/{sku}": PUBLIC,
    "POST /orders": {"anonymous": 401, "customer": 201, "other": 201, "staff": 403, "admin": 403},
    "GET /orders": SIGNED_IN,
    "GET /orders/{order_id}": OWNER_OR_STAFF,
    "POST /orders/{order_id}/cancel": OWNER_OR_STAFF,
    # the order is unpaid: no voucher yet (tests/test_receipts.py has the paid order's, for each caller)
    "GET /orders/{order_id}/receipt.pdf": {**OWNER_OR_STAFF, "customer": 409, "staff": 409, "admin": 409},
    "POST /orders/{order_id}/payments": {"anonymous": 401, "customer": 201, "other": 404, "staff": 403, "admin": 403},
    CONFIRM: STAFF_ONLY,
    REFUND: {**STAFF_ONLY, "staff": 201, "admin": 201},
    SENT: STAFF_ONLY,
    LOOKUP: STAFF_ONLY,
    "PATCH /orders/{order_id}": OWNER_OR_STAFF,
    "POST /staff/orders": {**STAFF_ONLY, "staff": 201, "admin": 201},
    "POST /webhooks/stripe": dict.fromkeys(CALLERS, 400),  # Stripe's signature, not a token, decides
    # approvals (tests/test_approvals.py has their full matrix on orders that wait): this order waits for nobody
    "GET /staff/approvals": STAFF_ONLY,
    "GET /staff/settings/approval": STAFF_ONLY,
    "PUT /staff/settings/approval": {**STAFF_ONLY, "staff": 403},
    # pricing settings (tests/test_pricing_settings.py): the tiers are public, shipping staff's; admins change them
    "GET /tiers": PUBLIC,
    "PUT /staff/settings/tiers": ADMIN_ONLY,
    "GET /staff/settings/shipping": STAFF_ONLY,
    "PUT /staff/settings/shipping": ADMIN_ONLY,
    "POST /staff/orders/{order_id}/approve": {**STAFF_ONLY, "staff": 409, "admin": 409},
    "POST /staff/orders/{order_id}/reject": {**STAFF_ONLY, "staff": 409, "admin": 409},
    "POST /orders/quote": CUSTOMERS,
    "GET /cart": CUSTOMERS,
    "GET /me": CUSTOMERS,
    "PATCH /me": CUSTOMERS,
    "GET /me/addresses": CUSTOMERS,
    "POST /me/addresses": {**CUSTOMERS, "customer": 201, "other": 201},
    "PATCH /me/addresses/{address_id}": OWN_BOOK,
    "DELETE /me/addresses/{address_id}": OWN_BOOK,
    # tickets (tests/test_tickets.py): the ticket in the paths belongs to "customer"
    "POST /me/tickets": {**CUSTOMERS, "customer": 201, "other": 201},
    "GET /me/tickets": CUSTOMERS,
    "GET /me/tickets/{ticket_id}": OWN_BOOK,
    "POST /me/tickets/{ticket_id}/messages": {**OWN_BOOK, "customer": 201},
    "GET /staff/tickets": STAFF_ONLY,
    "GET /staff/tickets/{ticket_id}": STAFF_ONLY,
    "POST /staff/tickets/{ticket_id}/messages": {**STAFF_ONLY, "staff": 201, "admin": 201},
    "POST /staff/tickets/{ticket_id}/close": STAFF_ONLY,
    # reviews (tests/test_reviews.py): the order is delivered first (and, to be read, reviewed by "customer")
    "POST /orders/{order_id}/review": {"anonymous": 401, "customer": 201, "other": 404, "staff": 403, "admin": 403},
    "GET /orders/{order_id}/review": OWNER_OR_STAFF,
    "GET /products/{sku}/reviews": PUBLIC,
    "PUT /cart/items/{sku}": CUSTOMERS,
    "DELETE /cart/items/{sku}": CUSTOMERS,
    "DELETE /cart": CUSTOMERS,
    "POST /cart/checkout": {**CUSTOMERS, "customer": 201, "other": 201},  # each checks out their own cart
    "GET /staff/audit": ADMIN_ONLY,
    # managing the catalogue and stock (tests/test_product_admin.py, tests/test_stock_ledger.py)
    "GET /categories": PUBLIC,
    "PUT /staff/categories/{category}": STAFF_ONLY,
    "POST /staff/products": {**STAFF_ONLY, "staff": 201, "admin": 201},
    "GET /staff/products/{sku}": STAFF_ONLY,
    "PATCH /staff/products/{sku}": STAFF_ONLY,
    "DELETE /staff/products/{sku}": STAFF_ONLY,
    "POST /staff/stock/adjustments": {**STAFF_ONLY, "staff": 201, "admin": 201},
    "GET /staff/products/{sku}/stock-movements": STAFF_ONLY,
    "GET /staff/stock/low": STAFF_ONLY,
    "POST /staff/products/{sku}/images": {**STAFF_ONLY, "staff": 201, "admin": 201},  # tests/test_product_images.py
    # imports (tests/test_imports.py has them end to end): the workbook without an Accept naming it is 406
    TEMPLATE: {**STAFF_ONLY, "staff": 406, "admin": 406},
    "POST /staff/imports": {**STAFF_ONLY, "staff": 201, "admin": 201},
    "GET /staff/imports/{import_id}": {**STAFF_ONLY, "staff": 404, "admin": 404},
    "POST /staff/imports/{import_id}/apply": {**STAFF_ONLY, "staff": 404, "admin": 404},
    # exports (tests/test_exports.py has them end to end)
    "POST /staff/exports": {**STAFF_ONLY, "staff": 202, "admin": 202},
    "GET /staff/exports/{export_id}": {**STAFF_ONLY, "staff": 404, "admin": 404},
}
PROTECTED = [route for route, expected in MATRIX.items() if expected["anonymous"] == 401]


# --- helpers ---------------------------------------------------------------------------------------------------


@pytest.fixture
def order_id(seed, place) -> str:
    """One confirmed order of "customer", with stock reserved."""
    seed(SKU, stock=STOCK, price=1999)
    reply = place((SKU, 2), as_="customer")
    assert reply.status == 201, reply.body
    return reply.body["order_id"]


def prepare(api: ApiClient, route: str, order: str) -> str | None:
    """What a staff payment route needs first: an offline payment (confirmed, for a refund; refunded, for marking
    the refund sent), or an address route an address of "customer". Returns the payment's id (the refund's for
    SENT, the address's for an address route)."""
    if "{address_id}" in route:
        return api.post("/me/addresses", HOME, as_="customer").body["address_id"]
    if "{ticket_id}" in route:
        return api.post("/me/tickets", QUESTION, as_="customer").body["ticket_id"]
    if route.endswith("/{order_id}/review"):
        deliver(api, order)
        if route.startswith("GET"):
            assert api.post(f"/orders/{order}/review", {"rating": 5}, as_="customer").status == 201
        return None
    if route not in (CONFIRM, REFUND, SENT):
        return None
    started = api.post(f"/orders/{order}/payments", {"method": "bank_transfer"}, as_="customer")
    assert started.status == 201, started.body
    if route in (REFUND, SENT):
        total = api.get(f"/orders/{order}", as_="customer").body["total"]
        paid = api.post(CONFIRM.split(" ")[1].format(order_id=order, payment_id=started.body["payment_id"]),
                        {"amount": total, "reference": "BANK-1"}, as_="staff")  # fmt: skip
        assert paid.status == 200, paid.body
    if route == SENT:
        refunded = api.post(f"/staff/orders/{order}/refunds", {"amount": 100}, as_="staff",
                            headers={"idempotency-key": uuid.uuid4().hex})  # fmt: skip
        assert refunded.status == 201, refunded.body
        return refunded.body["refunds"][0]["refund_id"]
    return started.body["payment_id"]


def deliver(api: ApiClient, order: str) -> None:
    """The order paid by bank transfer (confirmed by staff) and reported delivered by the warehouse."""
    from chalicelib.entrypoints.fulfilment_messages import parse_update
    from chalicelib.entrypoints.http import wiring

    started = api.post(f"/orders/{order}/payments", {"method": "bank_transfer"}, as_="customer")
    total = api.get(f"/orders/{order}", as_="customer").body["total"]
    paid = api.post(CONFIRM.split(" ")[1].format(order_id=order, payment_id=started.body["payment_id"]),
                    {"amount": total, "reference": "BANK-1"}, as_="staff")  # fmt: skip
    assert paid.status == 200, paid.body
    report = {"update_id": uuid.uuid4().hex, "order_id": order, "event": "delivered",
              "occurred_at": "2026-11-26T08:00:00Z"}  # fmt: skip
    assert wiring.fulfilment().apply(parse_update(json.dumps(report))) == "applied"


def call(
    api: ApiClient,
    route: str,
    order: str,
    *,
    as_: Any = None,
    headers: dict[str, str] | None = None,
    payment_id: str | None = None,
) -> Reply:
    """Make a well-formed request to ``route`` (so only the caller decides the outcome)."""
    method, template = route.split(" ", 1)
    path = template.format(sku=SKU, order_id=order, payment_id=payment_id or "pay_none", refund_id=payment_id or "rf_x",
                           category="general", import_id="0" * 32, export_id="0" * 32, address_id=payment_id,
                           ticket_id=payment_id)  # fmt: skip
    headers = dict(headers or {})
    if route == "POST /me/addresses":
        return api.post(path, HOME, as_=as_, headers=headers)
    if route == "POST /me/tickets":
        return api.post(path, QUESTION, as_=as_, headers=headers)
    if route == "POST /orders/{order_id}/review":
        return api.post(path, {"rating": 4, "comment": f"by {as_}"}, as_=as_, headers=headers)
    if route.endswith("/tickets/{ticket_id}/messages"):
        return api.post(path, {"message": f"by {as_}"}, as_=as_, headers=headers)
    if route.startswith("PATCH /me"):
        return api.request(method, path, as_=as_, json_body={"name": f"by {as_}"}, headers=headers)
    if route == CONFIRM:
        total = api.get(f"/orders/{order}", as_="customer").body["total"]
        return api.post(path, {"amount": total, "reference": "BANK-1"}, as_=as_, headers=headers)
    if route == REFUND:
        headers.setdefault("idempotency-key", uuid.uuid4().hex)
        return api.post(path, {"amount": 100, "reason": "goodwill"}, as_=as_, headers=headers)
    if route == SENT:
        return api.post(path, {"reference": "BANK-OUT-1"}, as_=as_, headers=headers)
    if route.endswith("/payments"):
        return api.post(path, {"method": "bank_transfer"}, as_=as_, headers=headers)
    if route == "POST /webhooks/stripe":
        headers["stripe-signature"] = f"t={int(time.time())},v1={'0' * 64}"
        return api.post(path, {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}},
                        as_=as_, headers=headers)  # fmt: skip
    if route == "POST /orders":
        headers["idempotency-key"] = uuid.uuid4().hex
        return api.post(path, order_body((SKU, 1)), as_=as_, headers=headers)
    if route == "POST /staff/orders":
        headers["idempotency-key"] = uuid.uuid4().hex
        body = {**order_body((SKU, 1)), "customer_id": api.users["customer"].sub, "channel": "phone"}
        return api.post(path, body, as_=as_, headers=headers)
    if route == "POST /orders/quote":
        return api.post(path, order_body((SKU, 1)), as_=as_, headers=headers)
    if route == "PUT /cart/items/{sku}":
        return api.request(method, path, as_=as_, json_body={"quantity": 1}, headers=headers)
    if route == "POST /cart/checkout":
        if as_ is not None:
            api.request("PUT", f"/cart/items/{SKU}", as_=as_, json_body={"quantity": 1})  # staff: 403 too
        headers["idempotency-key"] = uuid.uuid4().hex
        return api.post(path, {"shipping_address": order_body()["shipping_address"]}, as_=as_, headers=headers)
    if route.endswith("/cancel"):
        return api.post(path, {"reason": "changed my mind"}, as_=as_, headers=headers)
    if route == "PUT /staff/settings/tiers":
        headers["if-match"] = '"1"'
        tiers = {"items": [{"tier": "standard", "name": "Standard", "min_spent_12m": 0},
                           {"tier": "vip", "name": "VIP", "min_spent_12m": 100000, "discount_percent": 3}]}  # fmt: skip
        return api.request(method, path, json_body=tiers, as_=as_, headers=headers)
    if route == "PUT /staff/settings/shipping":
        headers["if-match"] = '"1"'
        shipping = {"flat_fee": 800, "free_over": 9900, "countries": {"HK": {"flat_fee": 3000}}}
        return api.request(method, path, json_body=shipping, as_=as_, headers=headers)
    if route == "PUT /staff/settings/approval":
        headers["if-match"] = '"1"'
        policy = {"rules": [{"name": "big", "when": {"total_at_least": 900000}, "steps": ["staff"]}]}
        return api.request(method, path, json_body=policy, as_=as_, headers=headers)
    if route.endswith(("/approve", "/reject")):
        return api.post(path, {"reason": "no"} if route.endswith("/reject") else {}, as_=as_, headers=headers)
    if route == "PUT /staff/categories/{category}":
        return api.request(method, path, json_body={"name": f"General ({as_})"}, as_=as_, headers=headers)
    if route == "POST /staff/products":
        api.request("PUT", "/staff/categories/general", json_body={"name": "General"}, as_="admin")
        body = {"sku": f"NEW-{uuid.uuid4().hex[:8]}", "name": "新品", "category": "general", "price": 100}
        return api.post(path, body, as_=as_, headers=headers)
    if route == "PATCH /staff/products/{sku}":
        headers.setdefault("if-match", '"1"')
        return api.request(method, path, as_=as_, json_body={"description": f"by {as_}"}, headers=headers)
    if route == "POST /staff/stock/adjustments":
        headers.setdefault("idempotency-key", uuid.uuid4().hex)
        return api.post(path, {"sku": SKU, "delta": 5, "reason": "restock"}, as_=as_, headers=headers)
    if method == "PATCH":
        version = api.get(f"/orders/{order}", as_="customer").body["version"]
        headers.setdefault("if-match", f'"{version}"')
        return api.request(method, path, as_=as_, json_body={"note": f"edited by {as_}"}, headers=headers)
    if route == "POST /staff/products/{sku}/images":
        return api.post(path, {"content_type": "image/jpeg", "size_bytes": 1000}, as_=as_, headers=headers)
    if route == TEMPLATE:
        return api.get(f"{path}?kind=products&format=xlsx", as_=as_, headers=headers)
    if route == "POST /staff/imports":
        return api.post(path, {"kind": "products", "format": "csv"}, as_=as_, headers=headers)
    if route == "POST /staff/exports":
        return api.post(path, {"kind": "orders", "format": "csv"}, as_=as_, headers=headers)
    if route == LOOKUP:
        number = api.get(f"/orders/{order}", as_="customer").body["order_number"]
        return api.get(f"{path}?order_number={number}", as_=as_, headers=headers)
    return api.request(method, path, as_=as_, headers=headers)


def snapshot(api: ApiClient, order: str) -> dict[str, Any]:
    """Everything a request could have written: every order, the owner's view of one, stock, the owner's book and
    tickets, the product's reviews."""
    listing = api.get("/orders?limit=100", as_="staff")
    owned = api.get(f"/orders/{order}", as_="customer")
    product = api.get(f"/products/{SKU}")
    assert listing.status == owned.status == product.status == 200
    book, tickets = api.get("/me/addresses", as_="customer"), api.get("/me/tickets", as_="customer")
    reviews = api.get(f"/products/{SKU}/reviews")
    assert book.status == tickets.status == reviews.status == 200
    return {"orders": listing.body, "order": owned.body, "stock": product.body["stock_available"], "book": book.body,
            "tickets": tickets.body, "reviews": reviews.body}  # fmt: skip


def assert_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert set(reply.body) == {"error"}, reply.body
    assert set(reply.error) == {"code", "message", "details"}, reply.body
    assert reply.error["code"] == code
    assert isinstance(reply.error["message"], str) and reply.error["message"]
    assert isinstance(reply.error["details"], dict)


def ids(reply: Reply) -> set[str]:
    assert reply.status == 200, reply.body
    return {item["order_id"] for item in reply.body["items"]}


# --- the matrix --------------------------------------------------------------------------------------------------


def test_the_matrix_covers_every_route_of_the_app():
    from app import app

    routes = {f"{method} {path}" for path, methods in app.routes.items() for method in methods if method != "OPTIONS"}
    assert routes == set(MATRIX)


@pytest.mark.parametrize(
    ("route", "caller", "expected"),
    [(route, caller, expected[caller]) for route, expected in MATRIX.items() for caller in CALLERS],
    ids=[f"{route} as {caller}" for route in MATRIX for caller in CALLERS],
)
def test_route_as_caller(api, stack, order_id, route, caller, expected, monkeypatch):
    queued: list[str] = []
    if route == "POST /staff/exports":  # the export worker's queue, recorded (tests/test_exports.py: the real one)
        from chalicelib.entrypoints.http import wiring

        monkeypatch.setattr(
            wiring, "export_files", lambda: (None, type("Q", (), {"build": lambda _, i: queued.append(i)})())
        )
        monkeypatch.setattr(wiring, "exports", wiring.exports.__wrapped__)
    payment_id = prepare(api, route, order_id)
    before = snapshot(api, order_id)
    user = None if caller == "anonymous" else caller

    reply = call(api, route, order_id, as_=user, payment_id=payment_id)

    assert reply.status == expected, reply.body
    if expected >= 400:
        assert not queued
        receipt_unpaid = route == "GET /orders/{order_id}/receipt.pdf" and expected == 409
        assert_error(reply, expected, "not_paid" if receipt_unpaid else ERROR_CODES[expected])
        assert snapshot(api, order_id) == before, "a refused request changed something"
    elif route == "POST /orders":
        assert reply.body["customer_id"] == stack.users[caller].sub
        assert ids(api.get("/orders", as_=caller)) == {reply.body["order_id"]} | (
            {order_id} if caller == "customer" else set()
        )
    elif route == "GET /orders/{order_id}":
        assert reply.body["order_id"] == order_id
        assert reply.body["customer_id"] == stack.users["customer"].sub
        assert reply.body["timeline"]
    elif route == "POST /staff/exports":
        assert queued == [reply.body["export_id"]] and reply.body["status"] == "queued"
    elif route == CONFIRM:
        assert reply.body["payment_status"] == "paid"
        assert api.get(f"/orders/{order_id}", as_="customer").body["amount_paid"] == reply.body["total"]
    elif route == REFUND:
        assert [(r["amount"], r["status"]) for r in reply.body["refunds"]] == [(100, "pending")]  # staff pay it back
        assert api.get(f"/orders/{order_id}", as_="customer").body["amount_refunded"] == 100
    elif route == SENT:
        assert [(r["refund_id"], r["status"]) for r in reply.body["refunds"]] == [(payment_id, "succeeded")]
        assert api.get(f"/orders/{order_id}", as_="customer").body["amount_refunded"] == 100
    elif route.endswith("/payments"):
        assert reply.body["method"] == "bank_transfer"
        assert reply.body["instructions"]["reference_code"].startswith("PAY-")
        assert api.get(f"/orders/{order_id}", as_="customer").body["payment_status"] == "pending"
    elif route == "POST /cart/checkout":
        assert reply.body["customer_id"] == stack.users[caller].sub
        assert [(line["sku"], line["quantity"]) for line in reply.body["lines"]] == [(SKU, 1)]
        assert api.get("/cart", as_=caller).body["items"] == []
    elif route == "PUT /cart/items/{sku}":
        assert [(item["sku"], item["quantity"]) for item in reply.body["items"]] == [(SKU, 1)]
        assert api.get("/cart", as_=caller).body == reply.body
        assert snapshot(api, order_id) == before
    elif route == "POST /orders/quote":
        assert reply.body["total"] == 1999
        assert snapshot(api, order_id) == before
    elif route.endswith("/cancel"):
        assert reply.body["status"] == "cancelled"
        assert api.get(f"/orders/{order_id}", as_="customer").body["status"] == "cancelled"
        assert api.get(f"/products/{SKU}").body["stock_available"] == STOCK
    elif route == "POST /staff/orders":
        assert reply.body["customer_id"] == stack.users["customer"].sub
        assert reply.body["timeline"][0]["actor"] == f"{caller}:{stack.users[caller].sub}"
    elif route == "PATCH /staff/products/{sku}":
        assert api.get(f"/products/{SKU}").body["description"] == f"by {caller}"
    elif route == "DELETE /staff/products/{sku}":
        assert api.get(f"/products/{SKU}").status == 404
    elif route == "POST /staff/stock/adjustments":
        assert api.get(f"/products/{SKU}").body["stock_available"] == before["stock"] + 5
    elif route == "POST /staff/products":
        assert api.get(f"/products/{reply.body['sku']}").body["name"] == "新品"
    elif route == "PUT /staff/categories/{category}":
        assert api.get("/categories").body["items"][0]["name"] == f"General ({caller})"
    elif route == "POST /me/tickets":
        assert [t["ticket_id"] for t in api.get("/me/tickets", as_=caller).body["items"]] == [reply.body["ticket_id"]]
    elif route.endswith("/tickets/{ticket_id}/messages"):
        seen = api.get(f"/me/tickets/{payment_id}", as_="customer").body
        assert (seen["messages"][-1]["message"], seen["status"]) == (f"by {caller}", reply.body["ticket"]["status"])
        assert seen["status"] == ("open" if caller == "customer" else "answered")
    elif route == "POST /orders/{order_id}/review":
        assert [(r["rating"], r["comment"]) for r in api.get(f"/products/{SKU}/reviews").body["items"]] == [
            (4, f"by {caller}")]  # fmt: skip
        assert api.get(f"/orders/{order_id}/review", as_="staff").body == reply.body
    elif route == "GET /orders/{order_id}/review":
        assert (reply.body["order_id"], reply.body["rating"]) == (order_id, 5)
    elif route == "POST /staff/tickets/{ticket_id}/close":
        assert api.get(f"/me/tickets/{payment_id}", as_="customer").body["status"] == "closed"
    elif route == "PATCH /me":
        assert api.get("/me", as_=caller).body["name"] == f"by {caller}" == reply.body["name"]
    elif route == "POST /me/addresses":
        assert [a["address_id"] for a in api.get("/me/addresses", as_=caller).body["items"]] == [
            reply.body["address_id"]
        ]
    elif route == "PATCH /me/addresses/{address_id}":
        assert api.get("/me/addresses", as_=caller).body["items"][0]["name"] == f"by {caller}"
    elif route == "DELETE /me/addresses/{address_id}":
        assert api.get("/me/addresses", as_=caller).body["items"] == []
    elif route.startswith("PATCH"):
        assert api.get(f"/orders/{order_id}", as_="customer").body["note"] == f"edited by {caller}"
    else:
        assert snapshot(api, order_id) == before


@pytest.mark.parametrize(
    "route",
    ["GET /orders/{order_id}", "POST /orders/{order_id}/cancel", "GET /orders/{order_id}/receipt.pdf",
     "POST /orders/{order_id}/review", "GET /orders/{order_id}/review"],
)  # fmt: skip
def test_another_customers_order_looks_exactly_like_a_missing_one(api, order_id, route):
    missing = uuid.uuid4().hex

    theirs = call(api, route, order_id, as_="other")
    nowhere = call(api, route, missing, as_="other")

    assert_error(theirs, 404, "not_found")
    assert_error(nowhere, 404, "not_found")
    assert theirs.headers.get("content-type") == nowhere.headers.get("content-type")
    assert json.dumps(theirs.body).replace(order_id, "<id>") == json.dumps(nowhere.body).replace(missing, "<id>")


# --- listing -----------------------------------------------------------------------------------------------------


@pytest.fixture
def two_customers(seed, place) -> dict[str, set[str]]:
    """Two orders of "customer" and one of "other"; returns their order ids by user."""
    seed(SKU, stock=STOCK)
    placed: dict[str, set[str]] = {"customer": set(), "other": set()}
    for user in ("customer", "customer", "other"):
        reply = place((SKU, 1), as_=user)
        assert reply.status == 201, reply.body
        placed[user].add(reply.body["order_id"])
    return placed


def test_customers_list_only_their_own_orders(api, stack, two_customers):
    for user in ("customer", "other"):
        reply = api.get("/orders", as_=user)
        assert ids(reply) == two_customers[user]
        assert {item["customer_id"] for item in reply.body["items"]} == {stack.users[user].sub}


@pytest.mark.parametrize("user", ["staff", "admin"])
def test_staff_list_every_order(api, two_customers, user):
    assert ids(api.get("/orders", as_=user)) == two_customers["customer"] | two_customers["other"]


def test_a_customer_cannot_list_another_customers_orders(api, stack, two_customers):
    reply = api.get(f"/orders?customer_id={stack.users['other'].sub}", as_="customer")
    assert_error(reply, 403, "forbidden")
    assert "items" not in reply.body


@pytest.mark.parametrize("user", ["staff", "admin"])
def test_staff_filter_by_customer(api, stack, two_customers, user):
    for customer in ("customer", "other"):
        reply = api.get(f"/orders?customer_id={stack.users[customer].sub}", as_=user)
        assert ids(reply) == two_customers[customer]


# --- forged, stale and foreign tokens ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _moto_private_key():
    """The key moto's Cognito signs every pool's tokens with: lets the tests mint tokens as Cognito would."""
    from moto.utilities.utils import load_resource

    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))


class Minter:
    """Signs tokens with the pool's real key, from the real claims of a signed-in customer."""

    def __init__(self, stack) -> None:
        self.key = _moto_private_key()
        self.token = stack.users["customer"].token
        self.header = jwt.get_unverified_header(self.token)
        self.claims = jwt.decode(self.token, options={"verify_signature": False})

    def sign(self, key=None, headers: dict[str, Any] | None = None, drop: tuple[str, ...] = (), **changes: Any) -> str:
        claims = {**self.claims, **changes}
        for name in drop:
            claims.pop(name)
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": self.header["kid"], **(headers or {})}
        )

    def tamper(self, **changes: Any) -> str:
        """The real token with a changed payload and the original signature."""
        header, payload, signature = self.token.split(".")
        claims = json.loads(_unb64(payload))
        return ".".join([header, _b64(json.dumps({**claims, **changes}).encode()), signature])

    def unsigned(self) -> str:
        header = {"alg": "none", "typ": "JWT", "kid": self.header["kid"]}
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(self.claims).encode())}."

    def hs256_with_public_key(self) -> str:
        """Algorithm confusion: HMAC-signed with the pool's public key as the secret."""
        from cryptography.hazmat.primitives import serialization

        public = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.header["kid"]}).encode())
        payload = _b64(json.dumps(self.claims).encode())
        signature = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"


@pytest.fixture(scope="module")
def minter(stack) -> Minter:
    return Minter(stack)


@pytest.fixture(scope="module")
def other_pool(stack) -> dict[str, str]:
    """A second user pool and client (same emulator, same signing key), with a staff user signed in there."""
    pool_id, client_id = resources.create_user_pool(stack.cognito, name=f"elsewhere-{uuid.uuid4().hex[:6]}")
    email = f"intruder-{uuid.uuid4().hex[:8]}@example.com"
    resources.create_user(stack.cognito, pool_id, email, PASSWORD, ("staff",))
    return {
        "pool_id": pool_id,
        "client_id": client_id,
        "token": resources.sign_in(stack.cognito, client_id, email, PASSWORD),
        "issuer": f"https://cognito-idp.{stack.region}.amazonaws.com/{pool_id}",
    }


@pytest.fixture(scope="module")
def access_token(stack) -> str:
    """A real Cognito access token of the customer: signed by the pool, but not an ID token."""
    result = stack.cognito.initiate_auth(
        ClientId=stack.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": stack.users["customer"].email, "PASSWORD": PASSWORD},
    )
    return result["AuthenticationResult"]["AccessToken"]


def _attacks(minter: Minter, stack, other_pool: dict[str, str], access_token: str) -> dict[str, str | None]:
    """Authorization header values the gateway must refuse (None: no header at all)."""
    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "missing header": None,
        "empty bearer": "Bearer ",
        "garbage": "Bearer not-a-jwt-at-all",
        "three garbage segments": "Bearer aaaa.bbbb.cccc",
        "tampered payload: staff group": f"Bearer {minter.tamper(**{'cognito:groups': ['staff']})}",
        "tampered payload: other customer's sub": f"Bearer {minter.tamper(sub=stack.users['other'].sub)}",
        "signed with another RSA key": f"Bearer {minter.sign(stranger)}",
        "unknown kid": f"Bearer {minter.sign(headers={'kid': 'not-a-key-of-this-pool'})}",
        "expired": f"Bearer {minter.sign(iat=now - 7200, auth_time=now - 7200, exp=now - 3600)}",
        "without exp": f"Bearer {minter.sign(drop=('exp',))}",
        "wrong audience": f"Bearer {minter.sign(aud='some-other-app-client')}",
        "wrong issuer": f"Bearer {minter.sign(iss=other_pool['issuer'])}",
        "token_use access": f"Bearer {minter.sign(token_use='access')}",
        "real access token": f"Bearer {access_token}",
        "token from another user pool": f"Bearer {other_pool['token']}",
        "alg none": f"Bearer {minter.unsigned()}",
        "alg HS256 keyed with the public key": f"Bearer {minter.hs256_with_public_key()}",
    }


ATTACKS = (
    "missing header",
    "empty bearer",
    "garbage",
    "three garbage segments",
    "tampered payload: staff group",
    "tampered payload: other customer's sub",
    "signed with another RSA key",
    "unknown kid",
    "expired",
    "without exp",
    "wrong audience",
    "wrong issuer",
    "token_use access",
    "real access token",
    "token from another user pool",
    "alg none",
    "alg HS256 keyed with the public key",
)


@pytest.fixture(scope="module")
def attacks(minter, stack, other_pool, access_token) -> dict[str, str | None]:
    made = _attacks(minter, stack, other_pool, access_token)
    assert set(made) == set(ATTACKS)
    return made


def test_a_token_minted_with_the_pools_key_is_accepted(api, order_id, minter):
    """The control for the attacks below: only the changed claim or signature makes them fail."""
    token = minter.sign()
    reply = api.get(f"/orders/{order_id}", headers={"authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    assert reply.body["order_id"] == order_id


@pytest.mark.parametrize("route", PROTECTED)
@pytest.mark.parametrize("attack", ATTACKS)
def test_refused_token(api, order_id, attacks, attack, route):
    value = attacks[attack]
    headers = {} if value is None else {"authorization": value}
    before = snapshot(api, order_id)

    reply = call(api, route, order_id, headers=headers)

    assert_error(reply, 401, "unauthorized")
    assert snapshot(api, order_id) == before, "a request with a refused token changed something"
