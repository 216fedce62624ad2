"""Schemas of orders: placing, listing, looking up, showing."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, Field, field_validator

from chalicelib.entrypoints.http.schemas.approvals import ApprovalOut
from chalicelib.entrypoints.http.schemas.base import (
    MAX_LINES,
    MAX_QUANTITY,
    Amount,
    Channel,
    Country,
    Cursor,
    CustomerId,
    Day,
    FulfilmentStatus,
    Limit,
    Method,
    OrderNumber,
    PaymentReference,
    PaymentStatus,
    Phone,
    PostalCode,
    Schema,
    Sku,
    Status,
    Strict,
    Text,
    WholeNumber,
)


class OrderItemIn(Strict):
    sku: Sku
    quantity: Annotated[int, WholeNumber] = Field(ge=1, le=MAX_QUANTITY)


class AddressIn(Strict):
    name: Text(100)
    phone: Phone
    line1: Text(200)
    line2: Optional[Text(200, 0)] = None
    city: Text(100)
    region: Optional[Text(100, 0)] = None
    postal_code: Optional[PostalCode] = None
    country: Country = Field(description="ISO 3166-1 alpha-2 country code, e.g. CN.")


class PlaceOrderIn(Strict):
    items: list[OrderItemIn] = Field(
        min_length=1, max_length=MAX_LINES, description="One line per SKU: a SKU on two lines is refused (422)."
    )
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


class ListOrdersQuery(Schema):
    """Filters combine (all must hold). A filtered page reads a bounded number of items: it may hold fewer than
    ``limit`` (even none) and still have a ``next_cursor``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Optional[Status] = None
    customer_id: Optional[CustomerId] = Field(None, description="Staff only: one customer's orders.")
    payment_status: Optional[PaymentStatus] = None
    fulfilment_status: Optional[FulfilmentStatus] = None
    channel: Optional[Channel] = None
    created_from: Optional[Day] = None
    created_to: Optional[Day] = Field(None, description="Inclusive. Before created_from the range is empty: no items.")
    order_number: Optional[OrderNumber] = None
    limit: Limit = 20
    cursor: Optional[Cursor] = None


class LookupQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order_number: Optional[OrderNumber] = None
    payment_reference: Optional[PaymentReference] = Field(
        None, description="A PaymentIntent id, or an offline reference code a customer or staff quotes."
    )


class OrderLineOut(Schema):
    sku: str
    name: str
    unit_price: Amount
    quantity: int
    line_total: Amount


class TimelineEventOut(Schema):
    at: str
    type: str
    actor: str
    data: dict[str, Any]


class AddressOut(Schema):
    name: str
    phone: str
    line1: str
    line2: Optional[str] = None
    city: str
    region: Optional[str] = None
    postal_code: Optional[str] = None
    country: str


class ShipmentOut(Schema):
    carrier: Optional[str]
    tracking_number: Optional[str]
    shipped_at: str


class PaymentSummaryOut(Schema):
    payment_id: str
    method: Method
    amount: Amount
    currency: str
    status: Literal["pending", "succeeded", "failed", "canceled", "mismatched"]
    provider_reference: Optional[str] = None
    reference_code: Optional[str] = None
    created_at: str


class RefundOut(Schema):
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


class DiscountOut(Schema):
    kind: Literal["tier", "points"]
    name: str = Field(description="The tier's name, or the points redeemed.")
    amount: Amount
    percent: Optional[float] = Field(None, description="A tier's: its discount_percent.")


class OrderOut(Schema):
    order_id: str
    order_number: str
    customer_id: str
    status: Status
    payment_status: PaymentStatus
    fulfilment_status: FulfilmentStatus
    lines: list[OrderLineOut]
    subtotal: Amount
    discounts: list[DiscountOut] = Field(description="What makes up discount: the tier's, the points'.")
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
    shipments: list[ShipmentOut] = Field(description="Parcels the warehouse reported shipped.")
    version: int = Field(description="Sent as the ETag; PATCH needs it in If-Match.")
    balance_due: Amount = Field(description="What an edit added to a paid order, to pay with POST .../payments.")
    timeline: list[TimelineEventOut] = Field(description="Omitted (empty) in lists; read one order for it.")
    approval: Optional[ApprovalOut] = Field(None, description="null unless the approval policy held the order.")


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: Optional[str]
