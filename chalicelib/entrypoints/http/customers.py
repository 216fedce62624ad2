"""A customer's own profile and address book (API.md, "Customers"): ``/me`` and ``/me/addresses``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.routing import CUSTOMER, Call, endpoint, respond

if TYPE_CHECKING:
    from chalicelib.domain.customers import Address, Profile

api = Blueprint(__name__)

ADDRESS_ID = re.compile(r"^addr_[0-9a-f]{20}$")
CLEARABLE = ("label", "line2", "region", "postal_code")


def profile_view(profile: Profile) -> dict[str, Any]:
    return {
        "customer_id": profile.customer_id,
        "email": profile.email,
        "name": profile.name,
        "phone": profile.phone,
        "birthday": profile.birthday,
        "language": profile.language,
        "marketing_opt_in": profile.marketing_opt_in,
        "tier": profile.tier,
        "spent_12m": profile.spent_12m,
        "points_balance": 0,
        "points_pending": 0,
        "default_address_id": profile.default_address_id,
        "addresses_count": profile.address_count,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }


def address_view(address: Address, profile: Profile) -> dict[str, Any]:
    fields = ("address_id", "label", "name", "phone", "line1", "line2", "city", "region", "postal_code", "country",
              "created_at", "updated_at")  # fmt: skip
    return {**{name: getattr(address, name) for name in fields},
            "default": profile.default_address_id == address.address_id}  # fmt: skip


def address_id_or_404(raw: str) -> str:
    if not ADDRESS_ID.match(raw):
        raise NotFound("No such address in your address book.", address_id=raw[:64])
    return raw


@endpoint(
    api,
    "GET",
    "/me",
    summary="The caller's profile (made on first use from the token's claims)",
    access=CUSTOMER,
    response="ProfileOut",
    errors=(401, 403, 429),
    tag="customers",
)
def get_me(call: Call) -> dict:
    return profile_view(wiring.customers().me(call.principal))


@endpoint(
    api,
    "PATCH",
    "/me",
    summary="Change the caller's name, phone, birthday, language or marketing consent",
    access=CUSTOMER,
    body="ProfilePatch",
    response="ProfileOut",
    errors=(400, 401, 403, 413, 422, 429),
    tag="customers",
)
def patch_me(call: Call) -> dict:
    changes = call.body.model_dump(exclude_unset=True)
    return profile_view(wiring.customers().update_me(call.principal, changes))


@endpoint(
    api,
    "GET",
    "/me/addresses",
    summary="The caller's address book, oldest first, the default marked",
    access=CUSTOMER,
    response="SavedAddressPage",
    errors=(401, 403, 429),
    tag="customers",
)
def list_addresses(call: Call) -> dict:
    from chalicelib.domain.customers import MAX_ADDRESSES

    book = wiring.customers().book(call.principal)
    return {"items": [address_view(a, book.profile) for a in book.addresses], "max_addresses": MAX_ADDRESSES}


@endpoint(
    api,
    "POST",
    "/me/addresses",
    summary="Add an address (at most 20: 409 address_book_full); the first one is the default",
    access=CUSTOMER,
    status=201,
    body="AddressBookIn",
    response="SavedAddressOut",
    response_headers=("Location",),
    errors=(400, 401, 403, 409, 413, 422, 429),
    tag="customers",
)
def add_address(call: Call):
    fields = call.body.model_dump(exclude_unset=True)
    default = bool(fields.pop("default", None))
    address, profile = wiring.customers().add_address(call.principal, fields, default)
    return respond(address_view(address, profile), 201, {"Location": f"/me/addresses/{address.address_id}"})


@endpoint(
    api,
    "PATCH",
    "/me/addresses/{address_id}",
    summary="Change an address of the book, or make it the default; orders keep the copy they were placed with",
    access=CUSTOMER,
    body="AddressBookPatch",
    response="SavedAddressOut",
    errors=(400, 401, 403, 404, 413, 422, 429),
    tag="customers",
)
def patch_address(call: Call, address_id: str) -> dict:
    changes = call.body.model_dump(exclude_unset=True)
    default = changes.pop("default", None)
    changes = {name: value for name, value in changes.items() if value is not None or name in CLEARABLE}
    address, profile = wiring.customers().update_address(call.principal, address_id_or_404(address_id), changes,
                                                         default)  # fmt: skip
    return address_view(address, profile)


@endpoint(
    api,
    "DELETE",
    "/me/addresses/{address_id}",
    summary="Remove an address from the book; orders keep the copy they were placed with",
    access=CUSTOMER,
    response="AddressDeletedOut",
    errors=(401, 403, 404, 429),
    tag="customers",
)
def delete_address(call: Call, address_id: str) -> dict:
    wiring.customers().delete_address(call.principal, address_id_or_404(address_id))
    return {"address_id": address_id, "deleted": True}
