"""The order desk's routes for staff: orders taken for a customer, and finding the order a customer reads out."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.errors import ApiError
from chalicelib.entrypoints.http.orders import idempotency_key, place_command, placed
from chalicelib.entrypoints.http.routing import STAFF, Call, endpoint

api = Blueprint(__name__)


@endpoint(
    api,
    "POST",
    "/staff/orders",
    summary="Place an order for a customer (phone, counter): the customer owns it, the same review applies",
    access=STAFF,
    status=201,
    body="StaffOrderIn",
    response="OrderOut",
    headers=(("Idempotency-Key", "Required. The same key with the same body returns the same order."),),
    response_headers=("Location",),
    errors=(400, 401, 403, 409, 413, 422, 429),
    tag="staff",
)
def place_staff_order(call: Call):
    key = idempotency_key(call, "Send an Idempotency-Key header (e.g. a UUID) with every new order.")
    command = place_command(call.body, customer_id=call.body.customer_id)
    order, created = wiring.orders().place_for(call.principal, command, key, wiring.directory())
    return placed(order, created, staff=True)


@endpoint(
    api,
    "GET",
    "/staff/orders/lookup",
    summary="Find an order by its number or a payment reference (a PaymentIntent id or an offline code)",
    access=STAFF,
    query="LookupQuery",
    response="OrderOut",
    errors=(400, 401, 403, 404, 422),
    tag="staff",
)
def lookup_order(call: Call) -> dict:
    q = call.query
    if (q.order_number is None) == (q.payment_reference is None):
        raise ApiError(
            422,
            "validation_failed",
            "Give exactly one of order_number and payment_reference.",
            fields={"order_number": "give this or payment_reference", "payment_reference": "or this"},
        )
    order = wiring.orders().lookup(order_number=q.order_number, payment_reference=q.payment_reference)
    return presenters.order(order, staff=True)
