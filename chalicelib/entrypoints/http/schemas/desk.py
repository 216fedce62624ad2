"""Schemas of the order desk: an order edit (``PATCH /orders/{id}``) and an order staff place for a customer,
built on the order schemas' types."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator, model_validator

from chalicelib.entrypoints.http.schemas.base import MAX_LINES, Channel, CustomerId, Strict, Text
from chalicelib.entrypoints.http.schemas.orders import AddressIn, OrderItemIn, PlaceOrderIn


def _absent(schema: dict) -> None:
    """Left out means unchanged, but null is not a value: the published field has no (null) default."""
    schema.pop("default", None)


class EditOrderIn(Strict):
    """At least one part. ``items`` is the whole new list of lines; ``note: ""`` clears the note."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    items: list[OrderItemIn] = Field(
        None, min_length=1, max_length=MAX_LINES, description="The whole new list; one line per SKU.",
        json_schema_extra=_absent,
    )  # fmt: skip
    shipping_address: AddressIn = Field(None, json_schema_extra=_absent)
    note: Text(500, 0) = Field(None, json_schema_extra=_absent)

    @field_validator("items")
    @classmethod
    def _one_line_per_sku(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        return PlaceOrderIn._one_line_per_sku(items)

    @model_validator(mode="after")
    def _something(self) -> EditOrderIn:
        if self.items is None and self.shipping_address is None and self.note is None:
            raise ValueError("give at least one of items, shipping_address and note")
        return self


class StaffOrderIn(PlaceOrderIn):
    """An order staff take for a customer (by phone, at the counter): the customer owns it."""

    customer_id: CustomerId = Field(description="The customer's account id (the sub of their sign-in).")
    channel: Channel = Field(description="Where it was taken: phone, pos (the counter), ...")
