"""Quote and cart routes: what an order would cost, and the cart a customer's devices share."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.orders import RequestedLine
from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.orders import idempotency_key, placed
from chalicelib.entrypoints.http.presenters import discount_view
from chalicelib.entrypoints.http.routing import CUSTOMER, Call, endpoint

if TYPE_CHECKING:
    from chalicelib.domain.cart import CartView
    from chalicelib.domain.pricing import Priced

api = Blueprint(__name__)

SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@endpoint(
    api,
    "POST",
    "/orders/quote",
    summary="What an order would cost now; nothing is reserved or written",
    access=CUSTOMER,
    body="QuoteIn",
    response="QuoteOut",
    errors=(400, 401, 403, 413, 422),
    tag="orders",
)
def quote(call: Call) -> dict:
    body = call.body
    from chalicelib.services.cart import delivery_and_points  # the cart's use cases load with its first request

    address = wiring.customers().find_address(call.principal, body.address_id) if body.address_id else None
    shipping = delivery_and_points(body.shipping_address, body.address_id, body.points_to_redeem, address)
    items = [RequestedLine(item.sku, item.quantity) for item in body.items]
    result = wiring.cart().quote(items, call.principal.subject, shipping.get("country"))
    return {**priced(result.priced), "points_available": result.points_available}


@endpoint(
    api,
    "GET",
    "/cart",
    summary="The caller's cart at today's prices and stock",
    access=CUSTOMER,
    response="CartOut",
    errors=(401, 403),
    tag="cart",
)
def get_cart(call: Call) -> dict:
    return cart_view(wiring.cart().get(call.principal))


@endpoint(
    api,
    "PUT",
    "/cart/items/{sku}",
    summary="Set a line's quantity (0 removes it)",
    access=CUSTOMER,
    body="CartItemIn",
    response="CartOut",
    errors=(400, 401, 403, 409, 413, 422, 429),
    tag="cart",
)
def set_cart_item(call: Call, sku: str) -> dict:
    if not SKU.match(sku):
        raise ValidationFailed("This product cannot be ordered.", fields={"sku": "not a sku"}, code="unknown_sku")
    return cart_view(wiring.cart().set_item(call.principal, sku, call.body.quantity))


@endpoint(
    api,
    "DELETE",
    "/cart/items/{sku}",
    summary="Remove a line (nothing changes if the cart has none for this SKU)",
    access=CUSTOMER,
    response="CartOut",
    errors=(401, 403, 429),
    tag="cart",
)
def remove_cart_item(call: Call, sku: str) -> dict:
    return cart_view(wiring.cart().remove_item(call.principal, sku))


@endpoint(
    api,
    "DELETE",
    "/cart",
    summary="Empty the cart",
    access=CUSTOMER,
    response="CartOut",
    errors=(401, 403, 429),
    tag="cart",
)
def clear_cart(call: Call) -> dict:
    return cart_view(wiring.cart().clear(call.principal))


@endpoint(
    api,
    "POST",
    "/cart/checkout",
    summary="Place the cart's lines as an order; the cart is emptied in the same transaction",
    access=CUSTOMER,
    status=201,
    body="CheckoutIn",
    response="OrderOut",
    headers=(("Idempotency-Key", "Required. The same key with the same body returns the same order."),),
    response_headers=("Location",),
    errors=(400, 401, 403, 409, 413, 422, 429),
    tag="cart",
)
def checkout(call: Call):
    key = idempotency_key(call, "Send an Idempotency-Key header (e.g. a UUID) with every checkout.")
    body = call.body
    from chalicelib.services.cart import Checkout

    command = Checkout(
        body=body.model_dump(exclude_none=True),
        shipping_address=None if body.shipping_address is None else body.shipping_address.model_dump(exclude_none=True),
        address_id=body.address_id,
        channel=body.channel,
        note=body.note or None,
        points_to_redeem=body.points_to_redeem,
    )
    order, created = wiring.cart().checkout(call.principal, command, key)
    return placed(order, created, staff=False)


def priced(result: Priced) -> dict[str, Any]:
    return {
        "lines": [
            {"sku": line.sku, "name": line.name, "unit_price": line.unit_price, "quantity": line.quantity,
             "line_total": line.line_total}
            for line in result.lines
        ],
        "subtotal": result.subtotal,
        "discounts": [discount_view(d) for d in result.discounts],
        "discount": result.discount,
        "shipping": result.shipping,
        "total": result.total,
        "currency": result.currency,
        "warnings": [
            {"code": w.code, "sku": w.sku, "requested": w.requested, "available": w.available} for w in result.warnings
        ],
    }  # fmt: skip


def cart_view(view: CartView) -> dict[str, Any]:
    return {
        "items": [
            {"sku": item.sku, "name": item.name, "unit_price": item.unit_price, "quantity": item.quantity,
             "line_total": item.line_total, "stock_available": item.stock_available, "warnings": item.warnings}
            for item in view.items
        ],
        "subtotal": view.subtotal,
        "currency": view.currency,
        "updated_at": view.updated_at,
    }  # fmt: skip
