"""Schemas of reviews: an order's review, and a product's public reviews."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import ConfigDict, Field

from chalicelib.domain.orders import MAX_ORDER_LINES
from chalicelib.domain.reviews import MAX_COMMENT, MAX_RATING, MIN_RATING
from chalicelib.entrypoints.http.schemas.base import Cursor, Limit, Schema, Sku, Strict, Text, WholeNumber

Rating = Annotated[int, Field(ge=MIN_RATING, le=MAX_RATING, description="A whole number, 1..5."), WholeNumber]


class LineRatingIn(Strict):
    sku: Sku = Field(description="A product of the order, rated once.")
    rating: Rating


class ReviewIn(Strict):
    rating: Rating = Field(description="The order's overall rating: also each product's without a line rating.")
    comment: Optional[Text(MAX_COMMENT)] = None
    lines: Optional[list[LineRatingIn]] = Field(None, max_length=MAX_ORDER_LINES)


class LineRatingOut(Schema):
    sku: str
    rating: int


class ReviewOut(Schema):
    order_id: str
    rating: int
    comment: Optional[str]
    lines: list[LineRatingOut] = Field(description="The line ratings the customer gave (possibly none).")
    name: str = Field(description="The reviewer as the public sees them: a first character and **.")
    created_at: str


class ProductReviewsQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Limit = 20
    cursor: Optional[Cursor] = None


class ProductReviewOut(Schema):
    rating: int
    comment: Optional[str]
    name: str = Field(description="Masked: the first character of the reviewer's name and **, e.g. 王**.")
    created_at: str


class ProductReviewPage(Schema):
    items: list[ProductReviewOut]
    next_cursor: Optional[str]
