"""A customer's own profile and address book (``/me``, ``/me/addresses``).

The profile is made on first use from the token's claims. Each change is written over the version read and
retried from a fresh read when another request wrote first (two devices adding addresses at once both land,
and the book never passes ``MAX_ADDRESSES``).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.domain import customers as domain
from chalicelib.domain.customers import Address, NoSuchAddress, Profile
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import iso
from chalicelib.services.changes import Busy
from chalicelib.services.ports import WriteConflict

ATTEMPTS = 8


class Customers(Protocol):
    def profile(self, customer_id: str) -> Profile | None: ...
    def create(self, profile: Profile) -> Profile: ...
    def book(self, customer_id: str) -> tuple[Profile | None, list[Address]]: ...
    def address(self, customer_id: str, address_id: str) -> Address | None: ...
    def save(self, profile: Profile, read_version: int) -> None: ...
    def change_book(self, profile: Profile, read_version: int, put: Address | None = None, new: bool = False,
                    delete: str | None = None) -> None: ...  # fmt: skip


@dataclass(frozen=True)
class Book:
    profile: Profile
    addresses: list[Address]


@dataclass
class CustomerService:
    customers: Customers
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:20]
    pause: Callable[[float], None] = time.sleep
    # (tier, spent_12m) of a customer from what they paid (services/tiers.py): a new profile starts with it
    standing: Callable[[str], tuple[str, int]] | None = None

    def me(self, principal: Principal) -> Profile:
        """The caller's profile, made now if this is their first request: GetItem (and a PutItem the first time,
        or when a profile made for their tier before they signed in lacks the token's email)."""
        profile = self.customers.profile(principal.subject)
        if profile is None:
            return self._create(principal)
        if profile.email is None and principal.email:
            with_email = replace(profile, email=principal.email, version=profile.version + 1)
            try:
                self.customers.save(with_email, profile.version)
                return with_email
            except WriteConflict:
                return self.customers.profile(principal.subject) or profile
        return profile

    def update_me(self, principal: Principal, changes: dict[str, Any]) -> Profile:
        """``changes`` of the profile's own fields; a field sent as ``null`` is cleared."""
        if "birthday" in changes:
            try:
                domain.check_birthday(changes["birthday"], self.clock().date())
            except ValueError as error:
                raise ValidationFailed("The birthday is not acceptable.", fields={"birthday": str(error)}) from None
        for attempt in range(ATTEMPTS):
            profile = self.me(principal)
            after = profile.changed(changes, self._now())
            if after == profile:
                return profile
            try:
                self.customers.save(after, profile.version)
                return after
            except WriteConflict:
                self._backoff(attempt)
        raise Busy("Your profile is being changed from elsewhere right now; retry shortly.")

    def book(self, principal: Principal) -> Book:
        """The profile and every address: one Query (and the profile's PutItem on first use)."""
        profile, addresses = self.customers.book(principal.subject)
        return Book(profile or self._create(principal), addresses)

    def tier_of(self, customer_id: str) -> str | None:
        """The customer's tier as their profile holds it (``None``: no profile yet): one GetItem, nothing written."""
        profile = self.customers.profile(customer_id)
        return profile.tier if profile else None

    def find_address(self, principal: Principal, address_id: str) -> Address | None:
        """One of the caller's addresses, or ``None``: GetItem (consistent)."""
        return self.customers.address(principal.subject, address_id)

    def add_address(self, principal: Principal, fields: dict[str, Any], default: bool) -> tuple[Address, Profile]:
        """A new address (the first is the default); ``409 address_book_full`` at ``MAX_ADDRESSES``."""
        at = self._now()
        address = Address(address_id=f"addr_{self.new_id()}", created_at=at, updated_at=at, **fields)
        for attempt in range(ATTEMPTS):
            book = self.book(principal)
            after = domain.with_address_added(book.profile, address.address_id, default, at)
            try:
                self.customers.change_book(after, book.profile.version, put=address, new=True)
                return address, after
            except WriteConflict:
                self._backoff(attempt)
        raise Busy("Your address book is being changed from elsewhere right now; retry shortly.")

    def update_address(self, principal: Principal, address_id: str, changes: dict[str, Any],
                       default: bool | None) -> tuple[Address, Profile]:  # fmt: skip
        """The address with ``changes``; ``default`` true makes it the default, false makes none the default."""
        for attempt in range(ATTEMPTS):
            book = self.book(principal)
            before = _find(book, address_id)
            address = before.changed(changes, self._now())
            after = domain.with_default(book.profile, address_id, default, self._now())
            if address == before and after == book.profile:
                return before, after
            try:
                self.customers.change_book(after, book.profile.version, put=address)
                return address, after
            except WriteConflict:
                self._backoff(attempt)
        raise Busy("Your address book is being changed from elsewhere right now; retry shortly.")

    def delete_address(self, principal: Principal, address_id: str) -> None:
        """Gone from the book (orders keep their copy); the default is then none until another is chosen."""
        for attempt in range(ATTEMPTS):
            book = self.book(principal)
            _find(book, address_id)
            after = domain.with_address_removed(book.profile, address_id, self._now())
            try:
                self.customers.change_book(after, book.profile.version, delete=address_id)
                return
            except WriteConflict:
                self._backoff(attempt)
        raise Busy("Your address book is being changed from elsewhere right now; retry shortly.")

    def _create(self, principal: Principal) -> Profile:
        at = self._now()
        tier, spent = self.standing(principal.subject) if self.standing else ("standard", 0)
        return self.customers.create(Profile(customer_id=principal.subject, email=principal.email, created_at=at,
                                             updated_at=at, tier=tier, spent_12m=spent))  # fmt: skip

    def _now(self) -> str:
        return iso(self.clock())

    def _backoff(self, attempt: int) -> None:
        self.pause(random.uniform(0, 0.02 * 2**attempt))


def _find(book: Book, address_id: str) -> Address:
    for address in book.addresses:
        if address.address_id == address_id:
            return address
    raise NoSuchAddress("No such address in your address book.", address_id=address_id)
