"""Schemas of payments and refunds (and the voucher's link), and of Stripe's webhook."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, Field

from chalicelib.entrypoints.http.schemas.base import MAX_AMOUNT, Amount, Method, Schema, Strict, Text, WholeNumber
from chalicelib.entrypoints.http.schemas.orders import OrderOut, RefundOut


class StartPaymentIn(Strict):
    method: Method


class ConfirmPaymentIn(Strict):
    amount: Annotated[int, WholeNumber] = Field(
        ge=1, le=MAX_AMOUNT, description="What was received, in minor units: the amount due."
    )
    reference: Text(100) = Field(description="The bank's or till's reference for the money received.")


class RefundIn(Strict):
    amount: Annotated[int, WholeNumber] = Field(
        ge=1, le=MAX_AMOUNT, description="Minor units; at most what was paid and not yet refunded."
    )
    reason: Optional[Text(500, 0)] = None


class RefundSentIn(Strict):
    reference: Text(100) = Field(description="The bank's or till's reference of the money paid back.")


class StripeEventIn(Schema):
    """A Stripe Event, verified against its Stripe-Signature over the raw bytes (never re-serialized)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    data: dict[str, Any]


class PaymentOut(Schema):
    payment_id: str
    order_id: str
    method: Method
    amount: Amount
    currency: str
    status: Literal["pending", "succeeded", "failed", "canceled", "mismatched"]
    provider_reference: Optional[str] = Field(None, description="The Stripe PaymentIntent id (online methods).")
    client_secret: Optional[str] = Field(None, description="For Stripe.js / the mobile SDK to confirm the payment.")
    instructions: Optional[dict[str, Any]] = Field(None, description="Offline methods: how and by when to pay.")


class RefundResultOut(Schema):
    refunds: list[RefundOut]
    order: OrderOut


class WebhookOut(Schema):
    received: bool
    result: Literal["applied", "duplicate", "ignored", "unmatched"]


class ReceiptLinkOut(Schema):
    """Where the voucher PDF is downloaded (also the 303's Location): a presigned S3 URL, valid until expires_at."""

    url: str
    expires_at: str
