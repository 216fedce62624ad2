"""Order routes."""

from __future__ import annotations

import re

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.domain.orders import RequestedLine
from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.errors import ApiError
from chalicelib.entrypoints.http.routing import (
    CUSTOMER,
    IDEMPOTENCY_KEY_PATTERN,
    IF_MATCH_HEADER,
    SIGNED_IN,
    Call,
    endpoint,
    if_match,
    respond,
)
from chalicelib.services.orders import PlaceOrder
from chalicelib.services.ports import OrderFilters

api = Blueprint(__name__)

ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


@endpoint(
    api,
    "POST",
    "/orders",
    summary="Place an order, reserving its stock",
    access=CUSTOMER,
    status=201,
    body="PlaceOrderIn",
    response="OrderOut",
    headers=(("Idempotency-Key", "Required. The same key with the same body returns the same order."),),
    response_headers=("Location",),
    errors=(400, 401, 403, 409, 413, 422, 429),
    tag="orders",
)
def place_order(call: Call):
    key = idempotency_key(call, "Send an Idempotency-Key header (e.g. a UUID) with every new order.")
    order, created = wiring.orders().place(call.principal, place_command(call.body), key)
    return placed(order, created, staff=call.principal.is_staff)


def place_command(body, customer_id: str | None = None) -> PlaceOrder:
    """What to place, from a checked order body (a staff order names its customer)."""
    return PlaceOrder(
        items=[RequestedLine(item.sku, item.quantity) for item in body.items],
        shipping_address=body.shipping_address.model_dump(exclude_none=True),
        channel=body.channel,
        note=body.note or None,
        customer_id=customer_id,
    )


def placed(order, created: bool, *, staff: bool):
    """A new order's answer: ``201`` with its Location, or ``200`` for a replay of the same request."""
    return respond(
        presenters.order(order, staff=staff),
        201 if created else 200,
        {"Location": f"/orders/{order.order_id}", "Idempotent-Replayed": "false" if created else "true"},
    )


@endpoint(
    api,
    "GET",
    "/orders",
    summary="List orders, newest first (own; staff: all), filtered by status, payment, fulfilment, channel, dates",
    access=SIGNED_IN,
    query="ListOrdersQuery",
    response="OrderPage",
    errors=(400, 401, 403, 422),
    tag="orders",
)
def list_orders(call: Call) -> dict:
    q = call.query
    if q.customer_id is not None and not call.principal.is_staff and q.customer_id != call.principal.subject:
        raise ApiError(403, "forbidden", "Only staff can list another customer's orders.")
    filters = OrderFilters(
        customer_id=q.customer_id,
        status=q.status,
        payment_status=q.payment_status,
        fulfilment_status=q.fulfilment_status,
        channel=q.channel,
        created_from=f"{q.created_from}T00:00:00.000Z" if q.created_from else None,
        created_to=f"{q.created_to}T23:59:59.999Z" if q.created_to else None,
    )
    result = wiring.orders().list(call.principal, filters, order_number=q.order_number, limit=q.limit, cursor=q.cursor)
    return presenters.page(result, lambda order: presenters.order(order, staff=call.principal.is_staff))


@endpoint(
    api,
    "GET",
    "/orders/{order_id}",
    summary="One order with its timeline (owner or staff)",
    access=SIGNED_IN,
    response="OrderOut",
    response_headers=("ETag",),
    errors=(401, 404),
    tag="orders",
)
def get_order(call: Call, order_id: str):
    order = wiring.orders().get(call.principal, order_id_or_404(order_id))
    return respond(presenters.order(order, staff=call.principal.is_staff), 200, {"ETag": f'"{order.version}"'})


@endpoint(
    api,
    "PATCH",
    "/orders/{order_id}",
    summary="Change the lines, address or note: a new version (owner while unpaid; staff until it ships)",
    access=SIGNED_IN,
    body="EditOrderIn",
    response="OrderOut",
    headers=(IF_MATCH_HEADER,),
    response_headers=("ETag",),
    errors=(400, 401, 404, 409, 412, 413, 422, 428, 429, 502),
    tag="orders",
)
def edit_order(call: Call, order_id: str):
    from chalicelib.domain.edits import Revision

    version = if_match(call)
    body = call.body
    revision = Revision(
        items=None if body.items is None else [RequestedLine(item.sku, item.quantity) for item in body.items],
        shipping_address=None if body.shipping_address is None else body.shipping_address.model_dump(exclude_none=True),
        note=body.note or None,
        clear_note=body.note == "",
    )
    order = wiring.edits().edit(call.principal, order_id_or_404(order_id), version, revision)
    return respond(presenters.order(order, staff=call.principal.is_staff), 200, {"ETag": f'"{order.version}"'})


@endpoint(
    api,
    "POST",
    "/orders/{order_id}/cancel",
    summary="Cancel before shipment, releasing the stock",
    access=SIGNED_IN,
    body="CancelOrderIn",
    body_required=False,
    response="OrderOut",
    errors=(400, 401, 404, 409, 413, 422, 429, 502),
    tag="orders",
)
def cancel_order(call: Call, order_id: str) -> dict:
    order = wiring.payments().cancel(call.principal, order_id_or_404(order_id), call.body.reason or None)
    return presenters.order(order, staff=call.principal.is_staff)


def idempotency_key(call: Call, missing: str) -> str:
    """The request's Idempotency-Key (required: ``400`` without it or when it is not 1-255 visible ASCII)."""
    key = call.request.headers.get("idempotency-key")
    if key is None:
        raise ApiError(400, "idempotency_key_required", missing)
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters.")
    return key


def order_id_or_404(raw: str) -> str:
    if not ORDER_ID.match(raw):
        raise NotFound("No such order.", order_id=raw[:64])
    return raw
