"""The order desk's routes for staff: finding the order a customer reads out."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.errors import ApiError
from chalicelib.entrypoints.http.routing import STAFF, Call, endpoint

api = Blueprint(__name__)


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
