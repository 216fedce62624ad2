"""Schemas of a customer's own profile and address book."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field

from chalicelib.entrypoints.http.schemas.base import Country, Pattern, Phone, PostalCode, Schema, Strict, Text

Birthday = Annotated[
    str,
    Pattern(r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", "must be a date, YYYY-MM-DD"),
    Field(description="A real date between 1900-01-01 and today (422 otherwise, e.g. for 2001-02-30)."),
]
Language = Annotated[
    str,
    Pattern(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$", "must be a language tag such as zh-CN or en"),
]


class ProfilePatch(Strict):
    """Any of these; ``null`` clears one (``marketing_opt_in``: ``null`` leaves it)."""

    name: Optional[Text(100)] = None
    phone: Optional[Phone] = None
    birthday: Optional[Birthday] = None
    language: Optional[Language] = None
    marketing_opt_in: Optional[bool] = None


class ProfileOut(Schema):
    customer_id: str
    email: Optional[str]
    name: Optional[str]
    phone: Optional[str]
    birthday: Optional[str]
    language: Optional[str]
    marketing_opt_in: bool
    tier: str = Field(description="The tier (GET /tiers) what was paid less refunds over 365 days reaches.")
    spent_12m: int = Field(description="Paid less refunds over the last 365 days, in minor units.")
    points_balance: int
    points_pending: int
    default_address_id: Optional[str]
    addresses_count: int
    created_at: str
    updated_at: str


class _AddressFields(Strict):
    label: Optional[Text(50)] = Field(None, description="What the customer calls it: 家, 公司, Home.")
    line2: Optional[Text(200, 0)] = None
    region: Optional[Text(100, 0)] = None
    postal_code: Optional[PostalCode] = None
    default: Optional[bool] = Field(None, description="Make it the default (the first address always is).")


class AddressBookIn(_AddressFields):
    name: Text(100)
    phone: Phone
    line1: Text(200)
    city: Text(100)
    country: Country = Field(description="ISO 3166-1 alpha-2 country code, e.g. CN.")


class AddressBookPatch(_AddressFields):
    """Any field; ``null`` clears ``label``, ``line2``, ``region`` or ``postal_code``; ``default: false`` leaves
    the book with no default."""

    name: Optional[Text(100)] = None
    phone: Optional[Phone] = None
    line1: Optional[Text(200)] = None
    city: Optional[Text(100)] = None
    country: Optional[Country] = None


class SavedAddressOut(Schema):
    address_id: str
    label: Optional[str]
    name: str
    phone: str
    line1: str
    line2: Optional[str]
    city: str
    region: Optional[str]
    postal_code: Optional[str]
    country: str
    default: bool
    created_at: str
    updated_at: str


class SavedAddressPage(Schema):
    items: list[SavedAddressOut]
    max_addresses: int


class AddressDeletedOut(Schema):
    address_id: str
    deleted: bool
