"""Request and response schemas (pydantic). Imported on first use, not at cold start.

What the server checks is what ``/openapi.json`` publishes: every pattern here is
both the published JSON Schema ``pattern`` (ECMA-262) and the server's check
(Python ``re.fullmatch`` of the same text), and length limits apply to the value
as sent. Each pattern carries the sentence a client is shown when it fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError, core_schema

from chalicelib.domain.catalogue import SORTS
from chalicelib.domain.lifecycle import FULFILMENT_STATUSES, PAYMENT_STATUSES, STATUSES
from chalicelib.domain.orders import CHANNELS
from chalicelib.domain.payments import METHODS

PATTERN_MISMATCH = "pattern_mismatch"  # the error type of a failed ``Pattern``; its message is the field's sentence


@dataclass(frozen=True)
class Pattern:
    """A string must match ``pattern`` whole; published as the schema's ``pattern``, refused with ``sentence``."""

    pattern: str
    sentence: str

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        compiled, sentence = re.compile(self.pattern), self.sentence

        def check(value: str) -> str:
            if compiled.fullmatch(value) is None:  # fullmatch: Python's ``$`` would also match before a final \n
                raise PydanticCustomError(PATTERN_MISMATCH, sentence)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        return {**handler(schema), "pattern": self.pattern}


# Text in any script. Refused: C0 and C1 control characters but tab, line feed and carriage return, and the
# bidirectional overrides and isolates that make text display other than it reads. Everything else is welcome
# (zero-width joiners in emoji, soft hyphens, characters newer than our tables). Lone surrogates are not text
# at all: pydantic refuses them in every string (``string_unicode``), so the pattern need not (and, for
# validators built on Rust's regex, could not) name them.
_REFUSED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_SPACE = r"\t\n\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # the rest of what str.strip() strips
CHAR = f"[^{_REFUSED}]"
VISIBLE = f"[^{_REFUSED}{_SPACE}]"
TEXT = Pattern(
    f"^{CHAR}*{VISIBLE}{CHAR}*$",
    "must contain a visible character, and no control characters or bidirectional overrides",
)
BLANK_OR_TEXT = Pattern(f"^{CHAR}*$", "must not contain control characters or bidirectional overrides")


def _strip(value: str) -> str:
    return value.strip()


def Text(max_length: int, min_length: int = 1) -> Any:
    """Text of at most ``max_length`` characters as sent; ``min_length=0`` allows blank. Stripped once valid."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        TEXT if min_length else BLANK_OR_TEXT,
        AfterValidator(_strip),
    ]


def _whole(value: Any) -> Any:
    """JSON has one number type: ``2.0`` is the integer 2, as JSON Schema says; ``2.5`` is still refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole)

Sku = Annotated[
    str,
    Pattern(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        "must be 1 to 64 letters (A-Z, a-z), digits, '.', '_' or '-', starting with a letter or digit",
    ),
]
Phone = Annotated[
    str,
    Pattern(
        r"^\+?[0-9][0-9 ()-]{4,31}$",
        "must be a phone number: an optional '+', then 5 to 32 digits, spaces, '(', ')' or '-', starting with a digit",
    ),
]
PostalCode = Annotated[
    str, Pattern(r"^[A-Za-z0-9 -]{1,20}$", "must be 1 to 20 letters (A-Z, a-z), digits, spaces or '-'")
]
Country = Annotated[str, Pattern(r"^[A-Z]{2}$", "must be a two-letter ISO 3166-1 country code in capitals, e.g. CN")]
CustomerId = Annotated[
    str, Pattern(r"^[A-Za-z0-9_-]{1,128}$", "must be 1 to 128 letters (A-Z, a-z), digits, '_' or '-'")
]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1..100.")]
OrderNumber = Annotated[str, Pattern(r"^[0-9]{8}-[0-9]{6,9}$", "must be an order number, e.g. 20261123-000042")]
PaymentReference = Annotated[
    str,
    Pattern(
        r"^(pi_[A-Za-z0-9]{1,250}|PAY-[0-9]{8}-[0-9]{6,9}|RF-[0-9]{8}-[0-9]{6,9}-[0-9]{1,4})$",
        "must be a PaymentIntent id (pi_...) or an offline reference code (PAY-... or RF-...)",
    ),
]
Day = Annotated[
    str,
    Pattern(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", "must be a date, YYYY-MM-DD"),
    Field(description="An ISO date (UTC), inclusive; compared as text, so 2026-02-30 bounds like the end of February."),
]
Cursor = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    Field(description="Opaque: the next_cursor of the previous page of this same listing."),
]
Amount = Annotated[int, Field(ge=0, description="Integer in the currency's minor unit.")]
MAX_AMOUNT = 10**12
PriceBound = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="Integer in the currency's minor unit.")]

Status = Literal[STATUSES]  # type: ignore[valid-type]
PaymentStatus = Literal[PAYMENT_STATUSES]  # type: ignore[valid-type]
FulfilmentStatus = Literal[FULFILMENT_STATUSES]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Sort = Literal[SORTS]  # type: ignore[valid-type]
Method = Literal[METHODS]  # type: ignore[valid-type]

MAX_LINES = 50
MAX_QUANTITY = 999


class Schema(BaseModel):
    """Every schema's base: each one is built on first use (a cold start builds only what its requests need)."""

    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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


class ListProductsQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Optional[Text(64)] = Field(None, description="Case-insensitive: apparel and Apparel are one category.")
    q: Optional[Text(64, 0)] = Field(
        None, description="Case-insensitive substring of the name, in any script; blank means no filter."
    )
    min_price: Optional[PriceBound] = None
    max_price: Optional[PriceBound] = Field(
        None, description="Integer in the currency's minor unit. Below min_price the range is empty: no items."
    )
    sort: Sort = "name"
    limit: Limit = 20
    cursor: Optional[Cursor] = None


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


AUDIT_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"


def _audit_time(value: str) -> str:
    from datetime import UTC, date, datetime

    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value).astimezone(UTC)  # a moment UTC can express (not before year 1)
    except (ValueError, OverflowError):
        raise ValueError("is not a real date or time") from None
    return value


AuditTime = Annotated[
    str,
    Pattern(AUDIT_TIME, "must be an ISO 8601 date (2026-12-01) or time (2026-12-01T08:30:00Z)"),
    AfterValidator(_audit_time),
]


class AuditQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Optional[Annotated[str, Pattern(r"^[a-z]{1,16}:[A-Za-z0-9_-]{1,128}$", "must be an actor as entries "
                                           "show it, e.g. staff:<sub> or admin:<sub>")]] = None  # fmt: skip
    target_type: Optional[Annotated[str, Pattern(r"^[a-z_]{1,32}$", "must be 1 to 32 lowercase letters or '_', "
                                                 "e.g. order")]] = None  # fmt: skip
    target_id: Optional[Annotated[str, Pattern(r"^[A-Za-z0-9._:-]{1,128}$", "must be 1 to 128 letters, digits, "
                                               "'.', '_', ':' or '-'")]] = Field(
        None, description="Needs target_type."
    )  # fmt: skip
    from_: Optional[AuditTime] = Field(None, alias="from", description="Inclusive; a date means from its start (UTC).")
    to: Optional[AuditTime] = Field(None, description="Inclusive; a date means to its end (UTC).")
    limit: Limit = 20
    cursor: Optional[Cursor] = None


class AuditTargetOut(Schema):
    type: str
    id: str


class AuditEntryOut(Schema):
    at: str
    actor: str
    action: str
    target: AuditTargetOut
    data: dict[str, Any]
    source_ip: Optional[str]
    user_agent: Optional[str]


class AuditPage(Schema):
    items: list[AuditEntryOut]
    next_cursor: Optional[str]


class ProductOut(Schema):
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


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: Optional[str]


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


class ShipmentOut(Schema):
    carrier: Optional[str]
    tracking_number: Optional[str]
    shipped_at: str


class OrderOut(Schema):
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
    shipments: list[ShipmentOut] = Field(description="Parcels the warehouse reported shipped.")
    version: int = Field(description="Sent as the ETag; PATCH needs it in If-Match.")
    balance_due: Amount = Field(description="What an edit added to a paid order, to pay with POST .../payments.")
    timeline: list[TimelineEventOut] = Field(description="Omitted (empty) in lists; read one order for it.")
    approval: Optional[ApprovalOut] = Field(None, description="null unless the approval policy held the order.")


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


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: Optional[str]


class ReceiptLinkOut(Schema):
    """Where the voucher PDF is downloaded (also the 303's Location): a presigned S3 URL, valid until expires_at."""

    url: str
    expires_at: str


class ErrorBody(Schema):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(Schema):
    error: ErrorBody


class HealthOut(Schema):
    status: Literal["ok"]


class OpenApiOut(Schema):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


from chalicelib.entrypoints.http.approval_schemas import (  # noqa: E402  (they build on the types above)
    ApprovalOut,
    ApprovalPolicyIn,
    ApprovalPolicyOut,
    ApprovalsQuery,
    ApproveIn,
    RejectIn,
    WaitingOrderPage,
)
from chalicelib.entrypoints.http.cart_schemas import (  # noqa: E402  (built on the types above)
    CartItemIn,
    CartOut,
    CheckoutIn,
    QuoteIn,
    QuoteOut,
)
from chalicelib.entrypoints.http.edit_schemas import EditOrderIn, StaffOrderIn  # noqa: E402  (built on the above)

__all__ = ["ApprovalOut", "ApprovalPolicyIn", "ApprovalPolicyOut", "ApprovalsQuery", "ApproveIn", "CartItemIn",
           "CartOut", "CheckoutIn", "EditOrderIn", "QuoteIn", "QuoteOut", "RejectIn", "StaffOrderIn",
           "WaitingOrderPage"]  # fmt: skip
