"""The payment voucher route: a paid order's PDF, downloaded from S3 through a short-lived link."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.orders import order_id_or_404
from chalicelib.entrypoints.http.routing import SIGNED_IN, Call, endpoint, respond

api = Blueprint(__name__)


@endpoint(
    api,
    "GET",
    "/orders/{order_id}/receipt.pdf",
    summary="The payment voucher of a paid order (owner or staff): 303 to a short-lived link to the PDF",
    access=SIGNED_IN,
    status=303,
    response="ReceiptLinkOut",
    response_headers=("Location",),
    errors=(401, 404, 409),
    tag="orders",
)
def receipt(call: Call, order_id: str):
    link = wiring.receipts().link(call.principal, order_id_or_404(order_id))
    return respond(
        {"url": link.url, "expires_at": link.expires_at},
        303,
        {"Location": link.url, "Cache-Control": "private, no-store"},
    )
