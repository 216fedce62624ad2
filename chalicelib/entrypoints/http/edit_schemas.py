"""Schemas of the order desk: an order edit (``PATCH /orders/{id}``) and an order staff place for a customer,
built on the order schemas' types."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator, model_validator

from chalicelib.entrypoints.http.schemas import (
    MAX_LINES,
    AddressIn,
    Channel,
    CustomerId,
    OrderItemIn,
    PlaceOrderIn,
    Strict,
    Text,
)


class EditOrderIn(Strict):
    """At least one part. ``items`` is the whole new list of lines; ``note: ""`` clears the note."""

    items: Optional[list[OrderItemIn]] = Field(
        None, min_length=1, max_length=MAX_LINES, description="The whole new list; one line per SKU."
    )
    shipping_address: Optional[AddressIn] = None
    note: Optional[Text(500, 0)] = None

    @field_validator("items")
    @classmethod
    def _one_line_per_sku(cls, items: Optional[list[OrderItemIn]]) -> Optional[list[OrderItemIn]]:
        return None if items is None else PlaceOrderIn._one_line_per_sku(items)

    @model_validator(mode="after")
    def _something(self) -> EditOrderIn:
        if self.items is None and self.shipping_address is None and self.note is None:
            raise ValueError("give at least one of items, shipping_address and note")
        return self


class StaffOrderIn(PlaceOrderIn):
    """An order staff take for a customer (by phone, at the counter): the customer owns it."""

    customer_id: CustomerId = Field(description="The customer's account id (the sub of their sign-in).")
    channel: Channel = Field(description="Where it was taken: phone, pos (the counter), ...")
