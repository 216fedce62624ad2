"""Customers in the orders table: the profile (``CUSTOMER#<sub>`` / ``#PROFILE``) and the address book
(``CUSTOMER#<sub>`` / ``ADDR#<id>``), next to the cart in the same item collection.

Every change of the book is one transaction with the profile written at the version read, so the count
(at most 20) and the default stay true under concurrent requests. One Query reads the profile and the book.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.models import OrdersTableItem, _gsi, customer_pk
from chalicelib.config import settings
from chalicelib.domain.customers import Address, Profile
from chalicelib.services.ports import WriteConflict

PROFILE_SK = "#PROFILE"
ADDRESS_PREFIX = "ADDR#"
CUSTOMER_SHARDS = 4  # partitions of the listing of every profile (``CUSTOMER#<n>`` in ``all-created``)


def address_sk(address_id: str) -> str:
    return f"{ADDRESS_PREFIX}{address_id}"


class ProfileRecord(OrdersTableItem, discriminator="customer"):
    customer_id = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    marketing_opt_in = BooleanAttribute(default=False)
    default_address_id = UnicodeAttribute(null=True)
    address_count = NumberAttribute(default=0)
    tier = UnicodeAttribute(default="standard")
    spent_12m = NumberAttribute(default=0)
    version = NumberAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    listed = UnicodeAttribute(null=True)  # CUSTOMER#<shard>: every profile by created_at (staff lists, exports)

    every = _gsi("all-created", "listed", "created_at", UnicodeAttribute)


def customer_shard(customer_id: str) -> str:
    return f"CUSTOMER#{int(hashlib.sha256(customer_id.encode()).hexdigest()[:8], 16) % CUSTOMER_SHARDS}"


class AddressRecord(OrdersTableItem, discriminator="address"):
    customer_id = UnicodeAttribute()
    address_id = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    name = UnicodeAttribute()
    phone = UnicodeAttribute()
    line1 = UnicodeAttribute()
    line2 = UnicodeAttribute(null=True)
    city = UnicodeAttribute()
    region = UnicodeAttribute(null=True)
    postal_code = UnicodeAttribute(null=True)
    country = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


_PROFILE = ("email", "name", "phone", "birthday", "language", "marketing_opt_in", "default_address_id",
            "created_at", "updated_at", "tier")  # fmt: skip
_ADDRESS = ("label", "name", "phone", "line1", "line2", "city", "region", "postal_code", "country",
            "created_at", "updated_at")  # fmt: skip


def to_profile(record: ProfileRecord) -> Profile:
    values = {name: getattr(record, name) for name in _PROFILE}
    return Profile(customer_id=record.customer_id, address_count=int(record.address_count or 0),
                   version=int(record.version), spent_12m=int(record.spent_12m or 0), **values)  # fmt: skip


def profile_record(profile: Profile) -> ProfileRecord:
    values = {name: getattr(profile, name) for name in _PROFILE}
    return ProfileRecord(customer_pk(profile.customer_id), PROFILE_SK, customer_id=profile.customer_id,
                         address_count=profile.address_count, version=profile.version, spent_12m=profile.spent_12m,
                         listed=customer_shard(profile.customer_id), **values)  # fmt: skip


def to_address(record: AddressRecord) -> Address:
    return Address(address_id=record.address_id, **{name: getattr(record, name) for name in _ADDRESS})


def address_record(customer_id: str, address: Address) -> AddressRecord:
    values = {name: getattr(address, name) for name in _ADDRESS}
    return AddressRecord(customer_pk(customer_id), address_sk(address.address_id), customer_id=customer_id,
                         address_id=address.address_id, **values)  # fmt: skip


def address_from_raw(item: dict[str, Any]) -> Address:
    return to_address(AddressRecord.from_raw_data(item))


class CustomersRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def profile(self, customer_id: str) -> Profile | None:
        """GetItem (consistent)."""
        try:
            return to_profile(ProfileRecord.get(customer_pk(customer_id), PROFILE_SK, consistent_read=True))
        except ProfileRecord.DoesNotExist:
            return None

    def create(self, profile: Profile) -> Profile:
        """PutItem unless the profile exists; then the one that does (a GetItem more)."""
        try:
            profile_record(profile).save(condition=ProfileRecord.pk.does_not_exist())
            return profile
        except PutError as error:
            if _conditional(error):
                found = self.profile(profile.customer_id)
                if found is not None:
                    return found
            raise

    def book(self, customer_id: str) -> tuple[Profile | None, list[Address]]:
        """The profile and every address, oldest first: one consistent Query (21 items at most)."""
        profile, addresses = None, []
        found = OrdersTableItem.query(customer_pk(customer_id), OrdersTableItem.sk.between(PROFILE_SK, "ADDR#~"),
                                      consistent_read=True)  # fmt: skip
        for item in found:
            if isinstance(item, ProfileRecord):
                profile = to_profile(item)
            elif isinstance(item, AddressRecord):
                addresses.append(to_address(item))
        return profile, sorted(addresses, key=lambda a: (a.created_at, a.address_id))

    def address(self, customer_id: str, address_id: str) -> Address | None:
        try:
            return to_address(AddressRecord.get(customer_pk(customer_id), address_sk(address_id), consistent_read=True))
        except AddressRecord.DoesNotExist:
            return None

    def save(self, profile: Profile, read_version: int) -> None:
        """The profile written over the version read (``WriteConflict`` if another write came first)."""
        try:
            profile_record(profile).save(condition=ProfileRecord.version == read_version)
        except PutError as error:
            if _conditional(error):
                raise WriteConflict() from None
            raise

    def change_book(self, profile: Profile, read_version: int, put: Address | None = None,
                    new: bool = False, delete: str | None = None) -> None:  # fmt: skip
        """One transaction: the profile over the version read, with an address put (``new``: not over one) or
        deleted (it must exist). ``WriteConflict`` when any condition fails."""
        customer_id = profile.customer_id
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.save(profile_record(profile), condition=ProfileRecord.version == read_version)
                if put is not None:
                    exists = AddressRecord.sk.does_not_exist() if new else AddressRecord.sk.exists()
                    transaction.save(address_record(customer_id, put), condition=exists)
                if delete is not None:
                    gone = AddressRecord(customer_pk(customer_id), address_sk(delete))
                    transaction.delete(gone, condition=AddressRecord.sk.exists())
        except TransactWriteError as error:
            if error.cause_response_code == "TransactionCanceledException":
                raise WriteConflict() from None
            raise


def _conditional(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
