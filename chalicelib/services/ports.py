"""What the use cases need from storage; ``adapters/`` implements it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from chalicelib.domain.catalogue import Product
from chalicelib.domain.orders import Order

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class StockChange:
    """Units taken from (negative) or given back to (positive) a SKU's available stock."""

    sku: str
    delta: int


class InvalidCursor(ValueError):
    """A cursor that this listing did not hand out."""


class IdempotentReplay(Exception):
    """The idempotency key was used before; the earlier request committed ``order_id``."""

    def __init__(self, order_id: str, request_hash: str) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.request_hash = request_hash


class StockShortage(Exception):
    def __init__(self, skus: list[str]) -> None:
        super().__init__(skus)
        self.skus = skus


class WriteConflict(Exception):
    """Another writer changed an item of this transaction first; retry from a fresh read."""

    def __init__(self, on_idempotency_key: bool = False) -> None:
        super().__init__(on_idempotency_key)
        self.on_idempotency_key = on_idempotency_key


class CatalogueRepo(Protocol):
    def get(self, sku: str) -> Product | None: ...
    def get_many(self, skus: list[str]) -> dict[str, Product]: ...
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
    ) -> Page[Product]: ...


class OrdersRepo(Protocol):
    def get(self, order_id: str) -> Order | None: ...
    def list_for_customer(
        self, customer_id: str, status: str | None, limit: int, cursor: str | None
    ) -> Page[Order]: ...
    def list_by_status(self, status: str, limit: int, cursor: str | None) -> Page[Order]: ...
    def list_all(self, limit: int, cursor: str | None) -> Page[Order]: ...
    def next_order_sequence(self, day: datetime) -> int: ...
    def create(self, order: Order, idempotency_key: str, request_hash: str, stock: list[StockChange]) -> None: ...
    def save(self, order: Order, expected_version: int, stock: list[StockChange]) -> None: ...
