"""Stripe, through its SDK's ``StripeClient`` (v1 namespace): the only code that talks to Stripe.

The SDK is imported when the gateway is first built, so routes that move no money
never load it. Events are verified with the SDK over the exact raw body, then read
as plain JSON into the ledger's ``ProviderEvent``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import stripe

from chalicelib.domain.payments import HANDLED_EVENTS, ProviderEvent, ProviderRefund
from chalicelib.services.ports import InvalidWebhook, ProviderError, ProviderIntent

# At DEBUG the SDK logs whole responses, client secrets included: never below WARNING, whatever LOG_LEVEL says.
logging.getLogger("stripe").setLevel(logging.WARNING)

TOLERANCE_SECONDS = 300
# Refused for good: asking again can only get the same answer (already refunded, disputed, declined, bad request).
# A bad or revoked API key is not among them: it is fixed by a person, and then the same request succeeds.
_PERMANENT = (stripe.InvalidRequestError, stripe.CardError, stripe.IdempotencyError)


class StripeGateway:
    def __init__(
        self, api_key: str, webhook_secret: str, api_base: str | None = None, http_client: Any | None = None
    ) -> None:
        self._webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=http_client,
            max_network_retries=2,
        )

    def create_intent(
        self, *, amount: int, currency: str, method: str, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderIntent:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method_types": [method],
            "metadata": metadata,
            "description": f"Order {metadata.get('order_number', metadata.get('order_id', ''))}",
        }
        intent = self._call(
            self._client.v1.payment_intents.create, params=params, options={"idempotency_key": idempotency_key}
        )
        return _intent(intent)

    def retrieve_intent(self, provider_reference: str) -> ProviderIntent:
        return _intent(self._call(self._client.v1.payment_intents.retrieve, provider_reference))

    def cancel_intent(self, provider_reference: str) -> str:
        """Cancel the PaymentIntent; its status after (one already paid or canceled says so instead of failing)."""
        try:
            return self._client.v1.payment_intents.cancel(provider_reference).status
        except stripe.InvalidRequestError as error:
            if error.code != "payment_intent_unexpected_state":
                raise ProviderError(f"InvalidRequestError: {error.user_message or error}", permanent=True) from None
        except stripe.StripeError as error:
            raise ProviderError(f"{type(error).__name__}: {error.user_message or error}", permanent=False) from None
        return self.retrieve_intent(provider_reference).status  # not cancelable: paid, being paid, or canceled

    def refund(
        self, *, provider_reference: str, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderRefund:
        refund = self._call(
            self._client.v1.refunds.create,
            params={"payment_intent": provider_reference, "amount": amount, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        )
        return ProviderRefund(refund.id, int(refund.amount), refund.status or "pending", metadata.get("refund_id"))

    def parse_event(self, payload: bytes, signature: str | None) -> ProviderEvent | None:
        """The verified event, or None for a type we do not handle. ``InvalidWebhook`` otherwise."""
        if not signature:
            raise InvalidWebhook("missing Stripe-Signature header")
        try:
            text = payload.decode("utf-8")
            stripe.WebhookSignature.verify_header(text, signature, self._webhook_secret, TOLERANCE_SECONDS)
        except UnicodeDecodeError:
            raise InvalidWebhook("body is not UTF-8") from None
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhook(f"signature: {error.user_message or 'not valid'}") from None
        _refuse_future(signature, time.time())
        try:
            raw = json.loads(text)
            json.dumps(raw, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\ud800) can be stored nowhere
            return to_event(raw)
        except RecursionError:
            raise InvalidWebhook("malformed event: nested too deeply") from None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidWebhook(f"malformed event: {str(error)[:200]}") from None

    @staticmethod
    def _call(method, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except _PERMANENT as error:
            raise ProviderError(f"{type(error).__name__}: {error.user_message or error}", permanent=True) from None
        except stripe.StripeError as error:
            raise ProviderError(f"{type(error).__name__}: {error.user_message or error}", permanent=False) from None


def _refuse_future(header: str, now: float) -> None:
    """Stripe's check refuses timestamps older than the tolerance; one as far in the future is refused too."""
    stamps = [part[2:] for part in header.split(",") if part.startswith("t=")]
    try:
        stamp = int(stamps[0])
    except (IndexError, ValueError):
        raise InvalidWebhook("signature: no timestamp") from None
    if stamp > now + TOLERANCE_SECONDS:
        raise InvalidWebhook("signature: timestamp is in the future")


def _intent(intent: Any) -> ProviderIntent:
    return ProviderIntent(intent.id, intent.status, intent.client_secret, int(intent.amount), intent.currency.upper())


def to_event(raw: dict[str, Any]) -> ProviderEvent | None:
    """A Stripe event (as JSON) as the ledger needs it; None for types we do not handle."""
    kind, event_id = _text(raw["type"]), _text(raw["id"])
    if kind not in HANDLED_EVENTS:
        return None
    obj = raw["data"]["object"]
    if not isinstance(obj, dict):
        raise TypeError("data.object is not an object")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise TypeError("metadata is not an object")
    common: dict[str, Any] = {"event_id": event_id, "type": kind, "order_id": _optional(metadata.get("order_id"))}
    if kind.startswith("payment_intent."):
        error = obj.get("last_payment_error") or {}
        types = obj.get("payment_method_types") or []
        return ProviderEvent(
            **common,
            payment_intent=_text(obj["id"]),
            amount=_amount(obj.get("amount_received") if kind.endswith("succeeded") else obj.get("amount")),
            currency=_text(obj["currency"]).upper(),
            method=_optional(types[0]) if types else None,
            charge=_optional(obj.get("latest_charge")),
            payment_id=_optional(metadata.get("payment_id")),
            failure={k: str(error[k])[:200] for k in ("code", "decline_code", "message") if error.get(k)},
        )
    if kind == "charge.refunded":
        listed = (obj.get("refunds") or {}).get("data") or []
        return ProviderEvent(
            **common,
            payment_intent=_optional(obj.get("payment_intent")),
            charge=_text(obj["id"]),
            amount=_amount(obj.get("amount_captured")),
            currency=_text(obj["currency"]).upper(),
            charge_refunded=_amount(obj.get("amount_refunded")),
            refunds=tuple(_refund(item) for item in listed),
        )
    if kind.startswith("refund."):
        return ProviderEvent(
            **common,
            payment_intent=_optional(obj.get("payment_intent")),
            charge=_optional(obj.get("charge")),
            refund=_refund(obj),
        )
    return ProviderEvent(  # charge.dispute.*
        **common,
        payment_intent=_optional(obj.get("payment_intent")),
        charge=_optional(obj.get("charge")),
        dispute={
            "dispute_id": _text(obj["id"]),
            "amount": _amount(obj.get("amount")),
            "currency": _text(obj.get("currency") or "").upper(),
            "reason": _text(obj.get("reason") or ""),
            "status": _text(obj.get("status") or ""),
        },
    )


def _refund(obj: dict[str, Any]) -> ProviderRefund:
    metadata = obj.get("metadata") or {}
    return ProviderRefund(
        provider_reference=_text(obj["id"]),
        amount=_amount(obj["amount"]) or 0,
        status=_text(obj.get("status") or "pending"),
        refund_id=_optional(metadata.get("refund_id")),
        reason=_optional(obj.get("reason")),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 255:
        raise TypeError(f"expected a short string, got {type(value).__name__}")
    return value


def _optional(value: Any) -> str | None:
    return None if value is None else _text(value)


def _amount(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**12:
        raise TypeError("amount is not a non-negative integer")
    return value
