"""Schemas of the settings pricing reads: the tier table and shipping."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, field_validator

from chalicelib.domain.tiers import MAX_DISCOUNT_BP, MAX_MULTIPLIER, MAX_TIERS, percent_to_bp
from chalicelib.entrypoints.http.schemas.base import MAX_AMOUNT, Pattern, Schema, Strict, Text, WholeNumber

Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="Integer in the currency's minor unit."), WholeNumber]
MAX_FEE = 100_000_000  # 1,000,000.00: a fee no shop charges, low enough that no order's total overflows by it
Fee = Annotated[int, Field(ge=0, le=MAX_FEE, description="Integer in the currency's minor unit."), WholeNumber]
TierKey = Annotated[
    str, Pattern(r"^[a-z][a-z0-9_]{0,31}$", "must be 1 to 32 lowercase letters, digits or '_', a letter first")
]
Country = Annotated[str, Pattern(r"^[A-Z]{2}$", "must be an ISO 3166-1 alpha-2 code, e.g. CN")]


class TierIn(Strict):
    tier: TierKey
    name: Text(40)
    min_spent_12m: Amount = Field(description="Paid less refunds over 365 days that reaches this tier.")
    discount_percent: Annotated[float, Field(ge=0, le=MAX_DISCOUNT_BP / 100, strict=False)] = Field(
        0, description="Off the subtotal, at most two decimals (2.5 is 2.5 %)."
    )
    free_shipping: bool = False
    points_multiplier: Annotated[int, Field(ge=1, le=MAX_MULTIPLIER), WholeNumber] = 1

    @field_validator("discount_percent")
    @classmethod
    def _two_decimals(cls, value: float) -> float:
        percent_to_bp(value)  # ValueError: more than two decimals
        return value


class TiersIn(Strict):
    items: list[TierIn] = Field(min_length=1, max_length=MAX_TIERS, description="In any order; the lowest at 0.")


class TierOut(Schema):
    tier: str
    name: str
    min_spent_12m: int
    discount_percent: float
    free_shipping: bool
    points_multiplier: int


class TiersOut(Schema):
    version: int
    items: list[TierOut]


class FeesIn(Strict):
    flat_fee: Optional[Fee] = Field(None, description="Unset: the default flat fee.")
    free_over: Optional[Amount] = Field(None, description="Unset: the default threshold.")


class ShippingIn(Strict):
    flat_fee: Fee
    free_over: Optional[Amount] = Field(description="Merchandise (after the tier discount) at or over this ships "
                                        "free; null: never free by amount.")  # fmt: skip
    countries: dict[Country, FeesIn] = Field(
        default_factory=dict,
        max_length=250,
        description="Per destination (ISO alpha-2): its fee and threshold.",
        json_schema_extra={"propertyNames": {"type": "string", "pattern": "^[A-Z]{2}$"}},
    )


class FeesOut(Schema):
    flat_fee: Optional[int]
    free_over: Optional[int]


class ShippingOut(Schema):
    version: int
    flat_fee: int
    free_over: Optional[int]
    countries: dict[str, FeesOut]
