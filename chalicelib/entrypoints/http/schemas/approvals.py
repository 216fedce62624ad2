"""Schemas of the approval routes (imported into ``schemas.py``, which routing and /openapi.json read)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, Field, field_validator

from chalicelib.domain.approval import ROLES
from chalicelib.domain.orders import CHANNELS
from chalicelib.entrypoints.http.schemas.base import (
    MAX_AMOUNT,
    MAX_LINES,
    MAX_QUANTITY,
    Channel,
    Cursor,
    Limit,
    Pattern,
    Schema,
    Strict,
    Text,
    WholeNumber,
)

Role = Literal[ROLES]  # type: ignore[valid-type]
Tier = Annotated[str, Pattern(r"^[a-z][a-z0-9_-]{0,31}$", "must be 1 to 32 lowercase letters, digits, '_' or '-'")]
MAX_RULES = 20
MAX_STEPS = 5


def Distinct(most: int) -> Any:
    """A list of 1 to ``most`` values, none twice (published as ``uniqueItems``)."""
    return Field(min_length=1, max_length=most, json_schema_extra={"uniqueItems": True})


def _unique(values: list | None) -> list | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("must not name a value twice")
    return values


class ApprovalWhenIn(Strict):
    """Every condition given must hold for the rule to match; none given: every order matches."""

    total_at_least: Optional[Annotated[int, Field(ge=0, le=MAX_AMOUNT), WholeNumber]] = Field(
        None, description="The order's total, in minor units, at least this."
    )
    quantity_at_least: Optional[Annotated[int, Field(ge=1, le=MAX_LINES * MAX_QUANTITY), WholeNumber]] = Field(
        None, description="Units over all lines, at least this."
    )
    first_order: Optional[bool] = Field(
        None, description="true: the customer's first order; false: a customer who ordered before."
    )
    channels: Optional[Annotated[list[Channel], Distinct(len(CHANNELS))]] = None
    tiers: Optional[Annotated[list[Tier], Distinct(10)]] = Field(
        None, description="Customer tiers do not exist yet: matches no order until then."
    )

    _distinct = field_validator("channels", "tiers")(classmethod(lambda cls, values: _unique(values)))


class ApprovalRuleIn(Strict):
    name: Text(64)
    when: ApprovalWhenIn
    steps: list[Role] = Field(min_length=1, max_length=MAX_STEPS, description="Decided in order, each by its role.")


class ApprovalPolicyIn(Strict):
    version: Optional[Annotated[int, Field(ge=1), WholeNumber]] = Field(
        None, description="If given, the version in If-Match (the one this change is based on)."
    )
    rules: list[ApprovalRuleIn] = Field(max_length=MAX_RULES, description="Each with its own name (422 otherwise).")

    @field_validator("rules")
    @classmethod
    def _distinct_names(cls, rules: list[ApprovalRuleIn]) -> list[ApprovalRuleIn]:
        names = [rule.name for rule in rules]
        if len(set(names)) != len(names):
            raise ValueError("each rule needs its own name")
        return rules


class ApproveIn(Strict):
    note: Optional[Text(500, 0)] = None


class RejectIn(Strict):
    reason: Text(500)


class ApprovalsQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Limit = 20
    cursor: Optional[Cursor] = None


class ApprovalWhenOut(Schema):
    total_at_least: Optional[int] = None
    quantity_at_least: Optional[int] = None
    first_order: Optional[bool] = None
    channels: Optional[list[Channel]] = None
    tiers: Optional[list[str]] = None


class ApprovalRuleOut(Schema):
    name: str
    when: ApprovalWhenOut
    steps: list[Role]


class ApprovalPolicyOut(Schema):
    version: int
    rules: list[ApprovalRuleOut]


class ApprovalStepOut(Schema):
    role: Role
    status: Literal["pending", "approved", "rejected"]
    by: Optional[str] = Field(None, description="Staff only: who decided it (staff:<sub> or admin:<sub>).")
    at: Optional[str] = None
    note: Optional[str] = Field(None, description="Staff only: the decider's note or reason.")


class ApprovalOut(Schema):
    status: Literal["pending", "approved", "rejected"]
    rule: str
    steps: list[ApprovalStepOut]
    for_version: int


class WaitingOrderOut(Schema):
    order_id: str
    order_number: str
    customer_id: str
    status: Literal["pending_approval"]
    total: int
    currency: str
    channel: Channel
    created_at: str
    reserved_until: Optional[str] = Field(None, description="Undecided by then, the order expires.")
    waiting_since: str
    waiting_role: Role
    approval: ApprovalOut


class WaitingOrderPage(Schema):
    items: list[WaitingOrderOut]
    next_cursor: Optional[str]
