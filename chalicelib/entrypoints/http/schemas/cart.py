"""Schemas of quotes and the cart (``entrypoints/http/cart.py``), built on the order schemas' types."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field

from chalicelib.entrypoints.http.schemas.base import (
    MAX_QUANTITY,
    Amount,
    Channel,
    Pattern,
    Schema,
    Strict,
    Text,
    WholeNumber,
)
from chalicelib.entrypoints.http.schemas.orders import AddressIn, DiscountOut, OrderLineOut, PlaceOrderIn

AddressId = Annotated[str, Pattern(r"^[A-Za-z0-9_-]{1,64}$", "must be 1 to 64 letters (A-Z, a-z), digits, '_' or '-'")]
Points = Annotated[int, Field(ge=0, le=10**9, description="Points to take off (100 per 100 minor units)."), WholeNumber]
MAX_CART_LINES = 100
CartWarning = Literal["inactive", "out_of_stock", "insufficient_stock", "price_changed"]


class QuoteIn(PlaceOrderIn):
    shipping_address: Optional[AddressIn] = Field(None, description="This, or address_id.")
    address_id: Optional[AddressId] = Field(
        None, description="One of the caller's addresses (GET /me/addresses): the order keeps a copy of it."
    )
    points_to_redeem: Optional[Points] = None


class CartItemIn(Strict):
    quantity: Annotated[int, WholeNumber] = Field(ge=0, le=MAX_QUANTITY, description="0 removes the line.")


class CheckoutIn(Strict):
    shipping_address: Optional[AddressIn] = Field(None, description="This, or address_id.")
    address_id: Optional[AddressId] = Field(
        None, description="One of the caller's addresses (GET /me/addresses): the order keeps a copy of it."
    )
    channel: Channel = "web"
    note: Optional[Text(500, 0)] = None
    points_to_redeem: Optional[Points] = None


class QuoteWarningOut(Schema):
    code: Literal["out_of_stock", "insufficient_stock"]
    sku: str
    requested: int
    available: int


class QuoteOut(Schema):
    lines: list[OrderLineOut]
    subtotal: Amount
    discounts: list[DiscountOut]
    discount: Amount
    shipping: Amount
    total: Amount
    currency: str
    points_available: int
    warnings: list[QuoteWarningOut] = Field(description="Lines the stock cannot cover now; placing them would be 409.")


class CartItemOut(Schema):
    sku: str
    name: str
    unit_price: Amount = Field(description="Today's price.")
    quantity: int
    line_total: Amount
    stock_available: int
    warnings: list[CartWarning] = Field(description="price_changed: since the line was added or last set.")


class CartOut(Schema):
    items: list[CartItemOut] = Field(max_length=MAX_CART_LINES)
    subtotal: Amount = Field(description="The lines that can be ordered (inactive ones are not counted).")
    currency: str
    updated_at: Optional[str] = Field(description="The last change; null for a cart never filled.")
