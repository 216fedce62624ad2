"""Schemas of managing the catalogue: products, categories, stock adjustments and the ledger."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from chalicelib.domain.catalogue import ADJUSTMENT_REASONS, MOVEMENT_REASONS
from chalicelib.entrypoints.http.schemas.base import (
    MAX_AMOUNT,
    TEXT,
    Cursor,
    Limit,
    Pattern,
    Schema,
    Sku,
    Strict,
    Text,
    WholeNumber,
)

Price = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="Integer in the currency's minor unit."), WholeNumber]
Units = Annotated[int, Field(ge=0, le=10**9), WholeNumber]
CategoryKey = Annotated[
    str,
    Pattern(
        r"^[^\x00-\x1f\x7f/#?%\\]{1,64}$",
        "must be 1 to 64 characters, without control characters, '/', '#', '?', '%' or '\\'",
    ),
]
Group = Annotated[
    str, Pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", "must be 1 to 64 letters, digits, '.', '_' or '-'")
]
ImageUrl = Annotated[
    str,
    StringConstraints(max_length=1024),
    Pattern(
        r"^https?://[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$",
        "must be an http(s) URL without spaces or control characters",
    ),
]


def _key_names(max_length: int) -> dict[str, Any]:
    """What a key must be, published: pydantic puts a key's pattern in ``patternProperties``, which does not
    restrict keys, so a schema-valid body could name a key the server refuses."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": TEXT.pattern}


Options = Annotated[
    dict[Text(32), Text(64)],
    Field(
        max_length=10,
        description='What tells variants apart, e.g. {"size": "M", "colour": "白色"}.',
        json_schema_extra={"propertyNames": _key_names(32)},
    ),
]
Attributes = Annotated[dict[Text(64), Any], Field(max_length=30, json_schema_extra={"propertyNames": _key_names(64)})]


class _ProductFields(Strict):
    name: Optional[Text(200)] = None
    description: Optional[Text(4000, 0)] = None
    category: Optional[CategoryKey] = None
    price: Optional[Price] = None
    images: Optional[Annotated[list[ImageUrl], Field(max_length=10)]] = None
    attributes: Optional[Attributes] = None
    product_group: Optional[Group] = None
    options: Optional[Options] = None
    low_stock_threshold: Optional[Units] = None
    active: Optional[bool] = None

    @field_validator("attributes")
    @classmethod
    def _small(cls, value: Any) -> Any:
        import json

        if value is not None and len(json.dumps(value, ensure_ascii=False)) > 8000:
            raise ValueError("at most 8,000 characters as JSON")
        return value


class ProductIn(_ProductFields):
    sku: Sku
    name: Text(200)
    category: CategoryKey
    price: Price
    stock: Optional[Units] = Field(None, description="The units on hand now: the SKU's first stock movement.")


class ProductPatch(_ProductFields):
    """Any field but ``sku`` and ``stock`` (stock moves through adjustments); ``null`` clears ``product_group``."""


class CategoryIn(Strict):
    name: Text(100)
    sort_order: Optional[Annotated[int, Field(ge=-(10**6), le=10**6), WholeNumber]] = None


class CategoryOut(Schema):
    category: str
    name: str
    sort_order: int
    product_count: int


class CategoryList(Schema):
    items: list[CategoryOut]


class AdjustmentIn(Strict):
    sku: Sku
    delta: Annotated[
        int,
        Field(
            ge=-(10**9),
            le=10**9,
            description="Units added (+) or taken (-); not 0.",
            json_schema_extra={"not": {"const": 0}},
        ),
        WholeNumber,
    ]
    reason: Literal[ADJUSTMENT_REASONS]  # type: ignore[valid-type]
    note: Optional[Text(500)] = None

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value


class MovementOut(Schema):
    seq: int
    at: str
    delta: int
    reason: Literal[MOVEMENT_REASONS]  # type: ignore[valid-type]
    actor: str
    balance_after: int
    order_id: Optional[str] = None
    return_id: Optional[str] = None
    note: Optional[str] = None


class AdjustmentOut(Schema):
    sku: str
    stock_available: int
    movement: MovementOut


class MovementPage(Schema):
    items: list[MovementOut]
    next_cursor: Optional[str]


class PageQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Limit = 20
    cursor: Optional[Cursor] = None


class LowStockOut(Schema):
    sku: str
    name: str
    category: str
    stock_available: int
    low_stock_threshold: int
    shortfall: int
    active: bool


class LowStockPage(Schema):
    items: list[LowStockOut]
    next_cursor: Optional[str]
