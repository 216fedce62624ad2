"""Payment routes: pay an order, Stripe's webhook, and staff confirming offline payments and refunding."""

from __future__ import annotations

import logging

from chalice import Blueprint

from chalicelib.entrypoints import observability
from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.errors import ApiError
from chalicelib.entrypoints.http.orders import idempotency_key, order_id_or_404
from chalicelib.entrypoints.http.routing import CUSTOMER, PUBLIC, STAFF, Call, endpoint, respond
from chalicelib.services.changes import Busy
from chalicelib.services.ports import InvalidWebhook

api = Blueprint(__name__)
log = logging.getLogger("orders.http.payments")


@endpoint(
    api,
    "POST",
    "/orders/{order_id}/payments",
    summary="Pay an order: a Stripe PaymentIntent (card, alipay, wechat_pay) or offline instructions",
    access=CUSTOMER,
    status=201,
    also=((200, "The method's attempt was already open: the same payment (and PaymentIntent) again"),),
    body="StartPaymentIn",
    response="PaymentOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429, 502),
    tag="payments",
)
def start_payment(call: Call, order_id: str):
    from chalicelib.services.payments import PaymentProviderUnavailable

    try:
        started = wiring.payments().start(call.principal, order_id_or_404(order_id), call.body.method)
    except PaymentProviderUnavailable as error:
        raise _provider_down(error) from None
    return respond(presenters.started_payment(started), 201 if started.created else 200)


@endpoint(
    api,
    "POST",
    "/webhooks/stripe",
    summary="Stripe's events, authenticated by their Stripe-Signature",
    access=PUBLIC,
    body="StripeEventIn",
    raw_body=True,
    response="WebhookOut",
    headers=(("Stripe-Signature", "Stripe's signature over the raw body."),),
    errors=(400, 413, 503),
    tag="payments",
)
def stripe_webhook(call: Call) -> dict:
    from chalicelib.config import settings

    raw = call.request.raw_body or b""
    if len(raw) > settings.max_body_bytes:
        raise ApiError(413, "payload_too_large", "The request body is too large.", limit_bytes=settings.max_body_bytes)
    try:
        result = wiring.webhooks().handle(raw, call.request.headers.get("stripe-signature"))
    except InvalidWebhook as error:
        log.warning("stripe webhook refused: %s", error)
        observability.count("WebhooksRefused")
        raise ApiError(400, "invalid_webhook", "The event is not signed correctly or is malformed.") from None
    except Busy:
        raise ApiError(503, "busy", "The order is busy; Stripe will deliver the event again.") from None
    return {"received": True, "result": result}


@endpoint(
    api,
    "POST",
    "/staff/orders/{order_id}/payments/{payment_id}/confirm",
    summary="Record an offline payment (bank transfer, cash) as received",
    access=STAFF,
    body="ConfirmPaymentIn",
    response="OrderOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="staff",
)
def confirm_payment(call: Call, order_id: str, payment_id: str) -> dict:
    order = wiring.payments().confirm_offline(
        call.principal, order_id_or_404(order_id), payment_id[:64], call.body.amount, call.body.reference
    )
    return presenters.order(order, staff=True)


@endpoint(
    api,
    "POST",
    "/staff/orders/{order_id}/refunds",
    summary="Refund an order fully or in part (never more than was paid)",
    access=STAFF,
    status=201,
    body="RefundIn",
    response="RefundResultOut",
    headers=(("Idempotency-Key", "Required. The same key with the same body answers the first refund again."),),
    errors=(400, 401, 403, 404, 409, 413, 422, 429, 502),
    tag="staff",
)
def refund(call: Call, order_id: str):
    key = idempotency_key(call, "Send an Idempotency-Key header (e.g. a UUID) with every refund.")
    result = wiring.payments().refund(
        call.principal, order_id_or_404(order_id), call.body.amount, call.body.reason, key
    )
    failed = [r for r in result.refunds if r.status == "failed"]
    if not result.replayed and result.refunds and len(failed) == len(result.refunds):
        raise ApiError(502, "payment_provider_error", "The payment provider refused the refund.", order_id=order_id)
    return respond(
        presenters.refund_result(result.order, result.refunds),
        200 if result.replayed else 201,
        {"Idempotent-Replayed": "true" if result.replayed else "false"},
    )


@endpoint(
    api,
    "POST",
    "/staff/orders/{order_id}/refunds/{refund_id}/sent",
    summary="Record that an offline refund (bank transfer, cash) was paid back to the customer",
    access=STAFF,
    body="RefundSentIn",
    response="OrderOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="staff",
)
def refund_sent(call: Call, order_id: str, refund_id: str) -> dict:
    order = wiring.payments().mark_refund_sent(
        call.principal, order_id_or_404(order_id), refund_id[:80], call.body.reference
    )
    return presenters.order(order, staff=True)


def _provider_down(error: Exception) -> ApiError:
    log.warning("payment provider: %s", error)
    return ApiError(502, "payment_provider_error", "The payment provider could not be reached; try again shortly.")
