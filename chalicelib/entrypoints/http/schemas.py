"""Request and response schemas (pydantic). Imported on first use, not at cold start."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from chalicelib.domain.catalogue import SORTS
from chalicelib.domain.lifecycle import FULFILMENT_STATUSES, PAYMENT_STATUSES, STATUSES
from chalicelib.domain.orders import CHANNELS
from chalicelib.domain.payments import METHODS


def _printable(value: str) -> str:
    """Any script is welcome; control and unassigned characters are not."""
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") and char not in "\n\t":
            raise ValueError("contains control or invisible characters")
    return value


def Text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_printable),
    ]


Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1..100.")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Amount = Annotated[int, Field(ge=0, description="Integer in the currency's minor unit.")]

Status = Literal[STATUSES]  # type: ignore[valid-type]
PaymentStatus = Literal[PAYMENT_STATUSES]  # type: ignore[valid-type]
FulfilmentStatus = Literal[FULFILMENT_STATUSES]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Sort = Literal[SORTS]  # type: ignore[valid-type]
Method = Literal[METHODS]  # type: ignore[valid-type]

MAX_LINES = 50
MAX_QUANTITY = 999


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OrderItemIn(Strict):
    sku: Sku
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class AddressIn(Strict):
    name: Text(100)
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,31}$")]
    line1: Text(200)
    line2: Optional[Text(200, 0)] = None
    city: Text(100)
    region: Optional[Text(100, 0)] = None
    postal_code: Optional[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{1,20}$")]] = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2 country code, e.g. CN."
    )


class PlaceOrderIn(Strict):
    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_LINES)
    shipping_address: AddressIn
    note: Optional[Text(500, 0)] = None
    channel: Channel = "web"

    @field_validator("items")
    @classmethod
    def _one_line_per_sku(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        seen: set[str] = set()
        for item in items:
            if item.sku in seen:
                raise ValueError(f"sku {item.sku} appears on more than one line; put the whole quantity on one line")
            seen.add(item.sku)
        return items


class CancelOrderIn(Strict):
    reason: Optional[Text(500, 0)] = None


class StartPaymentIn(Strict):
    method: Method


class ConfirmPaymentIn(Strict):
    amount: int = Field(ge=1, le=10**12, description="What was received, in minor units: the amount due.")
    reference: Text(100) = Field(description="The bank's or till's reference for the money received.")


class RefundIn(Strict):
    amount: int = Field(ge=1, le=10**12, description="Minor units; at most what was paid and not yet refunded.")
    reason: Optional[Text(500, 0)] = None


class RefundSentIn(Strict):
    reference: Text(100) = Field(description="The bank's or till's reference of the money paid back.")


class StripeEventIn(BaseModel):
    """A Stripe Event, verified against its Stripe-Signature over the raw bytes (never re-serialized)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    data: dict[str, Any]


class ListProductsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Optional[Text(64)] = None
    q: Optional[Text(64)] = Field(None, description="Case-insensitive substring of the name; any script.")
    min_price: Optional[Amount] = None
    max_price: Optional[Amount] = None
    sort: Sort = "name"
    limit: Limit = 20
    cursor: Optional[Cursor] = None

    @field_validator("max_price")
    @classmethod
    def _range(cls, max_price: int | None, info: ValidationInfo) -> int | None:
        min_price = info.data.get("min_price")
        if max_price is not None and min_price is not None and min_price > max_price:
            raise ValueError("max_price is less than min_price")
        return max_price


class ListOrdersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Optional[Status] = None
    customer_id: Optional[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]] = Field(
        None, description="Staff only: one customer's orders."
    )
    limit: Limit = 20
    cursor: Optional[Cursor] = None


class ProductOut(BaseModel):
    sku: str
    name: str
    description: str
    category: str
    price: Amount
    currency: str
    images: list[str]
    attributes: dict[str, Any]
    stock_available: int
    sales_count: int
    active: bool


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: Optional[str]


class OrderLineOut(BaseModel):
    sku: str
    name: str
    unit_price: Amount
    quantity: int
    line_total: Amount


class TimelineEventOut(BaseModel):
    at: str
    type: str
    actor: str
    data: dict[str, Any]


class AddressOut(BaseModel):
    name: str
    phone: str
    line1: str
    line2: Optional[str] = None
    city: str
    region: Optional[str] = None
    postal_code: Optional[str] = None
    country: str


class PaymentSummaryOut(BaseModel):
    payment_id: str
    method: Method
    amount: Amount
    currency: str
    status: Literal["pending", "succeeded", "failed", "canceled", "mismatched"]
    provider_reference: Optional[str] = None
    reference_code: Optional[str] = None
    created_at: str


class RefundOut(BaseModel):
    refund_id: str
    payment_id: str
    amount: Amount
    currency: str
    status: Literal["requested", "pending", "succeeded", "failed", "canceled"]
    reason: Optional[str] = None
    provider_reference: Optional[str] = None
    reference_code: Optional[str] = Field(None, description="Offline refunds: what staff quote when paying it back.")
    automatic: bool
    created_at: str


class OrderOut(BaseModel):
    order_id: str
    order_number: str
    customer_id: str
    status: Status
    payment_status: PaymentStatus
    fulfilment_status: FulfilmentStatus
    lines: list[OrderLineOut]
    subtotal: Amount
    discount: Amount
    shipping: Amount
    total: Amount
    currency: str
    amount_paid: Amount
    amount_refunded: Amount
    shipping_address: AddressOut
    channel: Channel
    note: Optional[str]
    flags: list[str]
    reserved_until: Optional[str]
    created_at: str
    updated_at: str
    payments: list[PaymentSummaryOut] = Field(description="Every payment attempt (an extension of the contract).")
    refunds: list[RefundOut] = Field(description="Every refund (an extension of the contract).")
    timeline: list[TimelineEventOut] = Field(description="Omitted (empty) in lists; read one order for it.")


class PaymentOut(BaseModel):
    payment_id: str
    order_id: str
    method: Method
    amount: Amount
    currency: str
    status: Literal["pending", "succeeded", "failed", "canceled", "mismatched"]
    provider_reference: Optional[str] = Field(None, description="The Stripe PaymentIntent id (online methods).")
    client_secret: Optional[str] = Field(None, description="For Stripe.js / the mobile SDK to confirm the payment.")
    instructions: Optional[dict[str, Any]] = Field(None, description="Offline methods: how and by when to pay.")


class RefundResultOut(BaseModel):
    refunds: list[RefundOut]
    order: OrderOut


class WebhookOut(BaseModel):
    received: bool
    result: Literal["applied", "duplicate", "ignored", "unmatched"]


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: Optional[str]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    error: ErrorBody


class HealthOut(BaseModel):
    status: Literal["ok"]


class OpenApiOut(BaseModel):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
