"""A customer's profile and address book (API.md, "Customers"): what they are and the rules of changing them.

The profile is made on first use from the token's claims. The address book holds at most ``MAX_ADDRESSES``;
the profile names the default one, so making another the default changes one item, never two.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from chalicelib.domain.errors import Conflict, NotFound

MAX_ADDRESSES = 20
PROFILE_FIELDS = ("name", "phone", "birthday", "language", "marketing_opt_in")
ADDRESS_FIELDS = ("label", "name", "phone", "line1", "line2", "city", "region", "postal_code", "country")
SHIPPING_FIELDS = ("name", "phone", "line1", "line2", "city", "region", "postal_code", "country")


class AddressBookFull(Conflict):
    code = "address_book_full"


class NoSuchAddress(NotFound):
    pass


@dataclass(frozen=True)
class Profile:
    customer_id: str
    email: str | None
    created_at: str
    updated_at: str
    name: str | None = None
    phone: str | None = None
    birthday: str | None = None  # YYYY-MM-DD
    language: str | None = None
    marketing_opt_in: bool = False
    default_address_id: str | None = None
    address_count: int = 0
    version: int = 1
    tier: str = "standard"  # kept by services/tiers.py from what was paid (less refunds) over 365 days
    spent_12m: int = 0

    def changed(self, changes: dict[str, Any], at: str) -> Profile:
        """The profile with ``changes`` (of ``PROFILE_FIELDS``; ``None`` clears one) at a new version."""
        unknown = set(changes) - set(PROFILE_FIELDS)
        if unknown:
            raise ValueError(f"not profile fields: {sorted(unknown)}")
        if changes.get("marketing_opt_in") is None:
            changes = {**changes, "marketing_opt_in": self.marketing_opt_in}
        after = replace(self, **changes)
        return after if after == self else replace(after, updated_at=at, version=self.version + 1)


@dataclass(frozen=True)
class Address:
    address_id: str
    name: str
    phone: str
    line1: str
    city: str
    country: str
    created_at: str
    updated_at: str
    label: str | None = None
    line2: str | None = None
    region: str | None = None
    postal_code: str | None = None

    def shipping(self) -> dict[str, str]:
        """The copy an order keeps (its ``shipping_address``): later edits of the book never reach it."""
        return {name: getattr(self, name) for name in SHIPPING_FIELDS if getattr(self, name) is not None}

    def changed(self, changes: dict[str, Any], at: str) -> Address:
        unknown = set(changes) - set(ADDRESS_FIELDS)
        if unknown:
            raise ValueError(f"not address fields: {sorted(unknown)}")
        after = replace(self, **changes)
        return after if after == self else replace(after, updated_at=at)


def with_address_added(profile: Profile, address_id: str, make_default: bool, at: str) -> Profile:
    """The profile once ``address_id`` is in its book: the first address is the default whatever was asked."""
    if profile.address_count >= MAX_ADDRESSES:
        raise AddressBookFull(f"An address book holds at most {MAX_ADDRESSES} addresses; delete one first.",
                              max_addresses=MAX_ADDRESSES)  # fmt: skip
    default = address_id if make_default or profile.default_address_id is None else profile.default_address_id
    return replace(profile, address_count=profile.address_count + 1, default_address_id=default,
                   updated_at=at, version=profile.version + 1)  # fmt: skip


def with_address_removed(profile: Profile, address_id: str, at: str) -> Profile:
    default = None if profile.default_address_id == address_id else profile.default_address_id
    return replace(profile, address_count=max(profile.address_count - 1, 0), default_address_id=default,
                   updated_at=at, version=profile.version + 1)  # fmt: skip


def with_default(profile: Profile, address_id: str, default: bool | None, at: str) -> Profile:
    """The profile after an address's ``default`` was set (``True``), unset (``False``) or left (``None``)."""
    if default is None or (profile.default_address_id == address_id) == default:
        return profile
    return replace(profile, default_address_id=address_id if default else None, updated_at=at,
                   version=profile.version + 1)  # fmt: skip


def check_birthday(value: str | None, today: date) -> None:
    """A real date, in the past, after 1900 (the schema has checked the shape)."""
    if value is None:
        return
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a real date (YYYY-MM-DD)") from None
    if born > today or born.year < 1900:
        raise ValueError("must be a date between 1900-01-01 and today")
