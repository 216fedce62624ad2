"""What the use cases need from storage; ``adapters/`` implements it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from chalicelib.domain.catalogue import Product
from chalicelib.domain.notifications import Notification
from chalicelib.domain.orders import Order
from chalicelib.domain.payments import ProviderEvent, ProviderRefund

if TYPE_CHECKING:  # annotations only: the use cases that need them load them
    from chalicelib.domain.approval import Policy
    from chalicelib.domain.audit import AuditEntry
    from chalicelib.domain.cart import Cart
    from chalicelib.domain.customers import Address

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class StockChange:
    """Units taken from (negative) or given back to (positive) a SKU's available stock, and why.

    Each is written with its ledger entry (``domain.catalogue.StockMovement``) in the transaction of the
    change. ``is_sale``: an order's move, which counts in the product's ``sales_count`` too.
    """

    sku: str
    delta: int
    reason: str = "order_placed"
    order_id: str | None = None
    return_id: str | None = None
    note: str | None = None
    is_sale: bool = True


DueCursor = dict[str, dict]  # index shard → where its Query stopped


@dataclass(frozen=True, order=True)
class DueOrder:
    """An order a schedule has work for, as its index shows it (no read of the order)."""

    due_at: str
    order_id: str
    reserved_until: str | None


@dataclass(frozen=True)
class OrderFilters:
    """What a listing of orders must match (all of it); creation times are inclusive ISO bounds."""

    customer_id: str | None = None
    status: str | None = None
    payment_status: str | None = None
    fulfilment_status: str | None = None
    channel: str | None = None
    created_from: str | None = None
    created_to: str | None = None

    def matches(self, order: Order) -> bool:
        """The same test, on one order in hand (a lookup by number)."""
        wanted = {k: v for k, v in vars(self).items() if v is not None and not k.startswith("created_")}
        return all(getattr(order, k) == v for k, v in wanted.items()) and (
            (self.created_from or "") <= order.created_at <= (self.created_to or "\uffff")
        )


class InvalidCursor(ValueError):
    """A cursor that this listing did not hand out."""


class IdempotentReplay(Exception):
    """The idempotency key was used before; the earlier request committed ``order_id``."""

    def __init__(self, order_id: str, request_hash: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.request_hash = request_hash


@dataclass(frozen=True)
class IdempotencyClaim:
    """An Idempotency-Key taken in the same transaction as the change it names (``IdempotentReplay`` if taken)."""

    scope: str  # whose keys these are: a customer id, or a route's name (``refund``)
    key: str
    request_hash: str


class StockShortage(Exception):
    def __init__(self, skus: list[str]) -> None:
        super().__init__(skus)
        self.skus = skus


class AlreadyApplied(Exception):
    """A change made once (an import's row) was made before: nothing is written again."""


class WriteConflict(Exception):
    """Another writer changed an item of this transaction first; retry from a fresh read."""

    def __init__(self, on_idempotency_key: bool = False) -> None:
        super().__init__(on_idempotency_key)
        self.on_idempotency_key = on_idempotency_key


class CartChanged(Exception):
    """The cart changed since it was read (another device, another checkout): read it again."""


class CustomerDirectory(Protocol):
    def is_customer(self, customer_id: str) -> bool: ...


class CatalogueRepo(Protocol):
    def get(self, sku: str) -> Product | None: ...
    def get_many(self, skus: list[str], *, consistent: bool = False) -> dict[str, Product]: ...
    def list(
        self,
        *,
        category: str | None,
        q: str | None,
        min_price: int | None,
        max_price: int | None,
        sort: str,
        limit: int,
        cursor: str | None,
        product_group: str | None = None,
    ) -> Page[Product]: ...


class OrdersRepo(Protocol):
    def get(self, order_id: str) -> Order | None: ...
    def search(self, filters: OrderFilters, limit: int, cursor: str | None) -> Page[Order]: ...
    def find_by_number(self, order_number: str) -> Order | None: ...
    def next_order_sequence(self, day: datetime) -> int: ...
    def create(
        self,
        order: Order,
        idempotency_key: str,
        request_hash: str,
        stock: list[StockChange],
        *,
        scope: str | None = None,
        empty_cart: int | None = None,
        audit: tuple[AuditEntry, ...] = (),
        seen: Mapping[str, Product] | None = None,
    ) -> None:
        """``empty_cart``: the version of the customer's cart read, emptied in the same transaction;
        ``seen``: the SKUs as just read, which the reservations are computed from."""
        ...

    def save(
        self,
        order: Order,
        expected_version: int,
        stock: list[StockChange],
        *,
        applied_event: tuple[str, str, str] | None = None,
        payment_refs: tuple[str, ...] = (),
        claim: IdempotencyClaim | None = None,
        audit: tuple[AuditEntry, ...] = (),
        seen: Mapping[str, Product] | None = None,
    ) -> None: ...
    def find_idempotent(self, scope: str, key: str) -> IdempotentReplay | None: ...
    def order_inputs(
        self, customer_id: str, idempotency_key: str, skus: list[str]
    ) -> tuple[IdempotentReplay | None, dict[str, Product]]: ...
    def get_with_applied(self, order_id: str) -> tuple[Order | None, set[str]]:
        """The order and the markers (``STRIPE#<id>``, ``FULFIL#<id>``) of outside events applied to it."""
        ...

    def order_for_payment(self, provider_reference: str) -> str | None: ...
    def due(
        self, kind: str, until: str, limit: int, after: DueCursor | None = None
    ) -> tuple[list[DueOrder], DueCursor]: ...


class CartRepo(Protocol):
    def get(self, customer_id: str) -> Cart | None: ...
    def save(self, cart: Cart, expected_version: int) -> Cart:
        """Write ``cart`` as version ``expected_version + 1`` (``CartChanged`` if it is not at that version)."""
        ...

    def checkout_inputs(
        self, customer_id: str, idempotency_key: str, address_id: str | None = None
    ) -> tuple[IdempotentReplay | None, Cart | None, Address | None]:
        """The key's earlier use, the cart and the address named (if it exists), read consistently in one call."""
        ...


@dataclass(frozen=True)
class ProviderIntent:
    """A PaymentIntent as the checkout needs it."""

    provider_reference: str
    status: str
    client_secret: str | None
    amount: int
    currency: str


class ProviderError(Exception):
    """The payment provider refused (``permanent``) or could not be reached (retry later)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class InvalidWebhook(ValueError):
    """A webhook whose signature, age or body is not acceptable."""


class PaymentProvider(Protocol):
    def create_intent(
        self, *, amount: int, currency: str, method: str, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderIntent: ...
    def retrieve_intent(self, provider_reference: str) -> ProviderIntent: ...
    def cancel_intent(self, provider_reference: str) -> str:
        """Cancel a PaymentIntent; its status after (``canceled``, or e.g. ``succeeded`` if it was paid first)."""
        ...

    def refund(
        self, *, provider_reference: str, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> ProviderRefund: ...
    def parse_event(self, payload: bytes, signature: str | None) -> ProviderEvent | None: ...


class Notifier(Protocol):
    def publish(self, notification: Notification) -> None: ...


class FulfilmentRequests(Protocol):
    def send(self, message: dict, dedupe_key: str) -> None: ...


class SentMarkers(Protocol):
    def sent(self, key: str) -> set[str]: ...
    def mark(self, key: str, target: str) -> None: ...


class ApprovalPolicies(Protocol):
    """The approval policy setting (``domain/approval.py``): read through a short cache, written on its version."""

    def current(self, *, fresh: bool = False) -> Policy: ...
    def replace(
        self, policy: Policy, expected_version: int, actor: str, at: str, audit: tuple[AuditEntry, ...] = ()
    ) -> None:
        """``WriteConflict`` when the stored version is not ``expected_version``; ``audit`` is written with it."""


class ApprovalQueue(Protocol):
    def waiting(self, roles: list[str], excluded: str, limit: int, cursor: str | None) -> Page[Order]: ...
    def has_ordered(self, customer_id: str) -> bool: ...


@dataclass(frozen=True)
class AuditQuery:
    """What ``GET /staff/audit`` asks for; ``since``/``until`` are ISO times as entries store them (inclusive)."""

    actor: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: str | None = None
    until: str | None = None


class AuditRepo(Protocol):
    def list(self, query: AuditQuery, limit: int, cursor: str | None) -> Page[AuditEntry]: ...
