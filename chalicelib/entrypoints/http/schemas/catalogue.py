"""Schemas of the catalogue: listing and showing products."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import ConfigDict, Field

from chalicelib.entrypoints.http.schemas.base import Amount, Cursor, Limit, Pattern, PriceBound, Schema, Sort, Text


class ListProductsQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Optional[Text(64)] = Field(None, description="Case-insensitive: apparel and Apparel are one category.")
    q: Optional[Text(64, 0)] = Field(
        None,
        description="Case-insensitive substring of the name, description or an option value, in any script, or a "
        "SKU prefix; blank means no filter.",
    )
    min_price: Optional[PriceBound] = None
    max_price: Optional[PriceBound] = Field(
        None, description="Integer in the currency's minor unit. Below min_price the range is empty: no items."
    )
    product_group: Optional[Annotated[str, Pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                                  "must be 1 to 64 letters, digits, '.', '_' or '-'")]] = Field(
        None, description="One product's variants, in SKU order (sort does not apply)."
    )  # fmt: skip
    sort: Sort = "name"
    limit: Limit = 20
    cursor: Optional[Cursor] = None


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
    product_group: Optional[str] = Field(None, description="Variants of one product share it.")
    options: dict[str, str] = Field(default_factory=dict, description='What tells variants apart: {"size": "M"}.')
    low_stock_threshold: int = 0
    rating_avg: Optional[float] = None
    rating_count: int = 0
    version: int = Field(1, description="Of the editable fields: If-Match of PATCH /staff/products/{sku}.")
    updated_at: Optional[str] = None


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: Optional[str]
