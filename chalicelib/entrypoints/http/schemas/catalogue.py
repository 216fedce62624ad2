"""Schemas of the catalogue: listing and showing products."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import ConfigDict, Field

from chalicelib.entrypoints.http.schemas.base import Amount, Cursor, Limit, PriceBound, Schema, Sort, Text


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
