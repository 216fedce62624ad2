"""Staff writes of the catalogue: products (create, replace on the version read) and categories.

Each write is one transaction: the product item, its first stock movement (a new product's stock), the
categories' counts of active products, its audit entries and, for an import's row, its once-marker. A
product is replaced whole, conditional on being as it was read (stock, stock sequence, version), so an
edit never loses a concurrent order's reservation: it is computed again from a fresh read.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.audit_repo import audit_puts
from chalicelib.adapters.dynamo.catalogue_repo import to_product, to_record
from chalicelib.adapters.dynamo.catalogue_table import (
    CATEGORY_PK,
    ONCE_SK,
    CategoryRecord,
    MovementRecord,
    OnceRecord,
    once_pk,
)
from chalicelib.adapters.dynamo.models import ProductModel
from chalicelib.adapters.dynamo.stock_ledger import StockState, seen_condition
from chalicelib.adapters.dynamo.stock_ledger import to_record as movement_record
from chalicelib.config import settings
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.catalogue import Category, Product, StockMovement, category_key
from chalicelib.services.ports import AlreadyApplied, WriteConflict

ONCE_TTL_SECONDS = 30 * 24 * 3600


def _listing(product: Product) -> Any:
    """The product still lists the images it was read with: an image upload arriving meanwhile (appended without
    moving the version: adapters/dynamo/product_images.py) makes the write retry on a fresh read, not vanish."""
    same = ProductModel.images == list(product.images)
    return same if product.images else same | ProductModel.images.does_not_exist()


def _rated(product: Product) -> Any:
    """The product still has the ratings it was read with: a rating counted meanwhile (added without moving the
    version: adapters/dynamo/reviews_repo.py) makes the write retry on a fresh read, not vanish."""
    same = ProductModel.rating_count == product.rating_count
    return same | ProductModel.rating_count.does_not_exist() if product.rating_count == 0 else same


class SkuExists(Exception):
    pass


class UnknownCategory(Exception):
    def __init__(self, category: str) -> None:
        super().__init__(category)
        self.category = category


class ProductStore:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def get(self, sku: str) -> Product | None:
        """The product as it is now (a consistent GetItem): what a write is computed from."""
        try:
            return to_product(ProductModel.get(sku, consistent_read=True))
        except ProductModel.DoesNotExist:
            return None

    def create(self, product: Product, *, audit: list[AuditEntry], once: str | None = None) -> None:
        """Write a new product with its first movement (``SkuExists``, ``UnknownCategory``, ``AlreadyApplied``)."""
        movement = None
        if product.stock_available:
            movement = StockMovement(product.sku, 1, product.created_at or _now(), product.stock_available,
                                     "created", audit[0].actor if audit else "system", product.stock_available)  # fmt: skip
        self._write(None, product, movement=movement, audit=audit, once=once)

    def replace(self, before: Product, after: Product, *, audit: list[AuditEntry], once: str | None = None) -> None:
        """Write ``after`` if the product is still ``before`` (``WriteConflict`` if it moved meanwhile)."""
        self._write(before, after, movement=None, audit=audit, once=once)

    def _write(
        self, before: Product | None, after: Product, *, movement: StockMovement | None, audit: list[AuditEntry],
        once: str | None,
    ) -> None:  # fmt: skip
        condition = (
            ProductModel.sku.does_not_exist()
            if before is None
            else seen_condition(StockState.of(before)) & _listing(before) & _rated(before)
        )
        puts: list[tuple[Any, Any]] = [(to_record(after), condition)]
        if movement is not None:
            puts.append((movement_record(movement), MovementRecord.pk.does_not_exist()))
        puts.extend(audit_puts(audit))
        if once is not None:
            marker = OnceRecord(once_pk(once), ONCE_SK, at=after.updated_at or _now(),
                                expires_at=datetime.fromtimestamp(time.time() + ONCE_TTL_SECONDS, UTC))  # fmt: skip
            puts.append((marker, OnceRecord.pk.does_not_exist()))
        counts = [
            (key, delta) for key, delta in _count_moves(before, after) if delta > 0 or self._has_category(key)
        ]  # a product seeded into no category takes none out of the count when it leaves
        try:
            with TransactWrite(connection=self._connection) as transaction:
                for record, put_condition in puts:
                    transaction.save(record, condition=put_condition)
                for key, delta in counts:
                    transaction.update(
                        CategoryRecord(CATEGORY_PK, key),
                        actions=[CategoryRecord.product_count.add(delta)],
                        condition=CategoryRecord.pk.exists(),
                    )
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            failed = [n for n, reason in enumerate(reasons) if reason == "ConditionalCheckFailed"]
            if once is not None and len(puts) - 1 in failed:
                raise AlreadyApplied(once) from None
            if 0 in failed and before is None:
                raise SkuExists() from None
            if any(n in failed and delta > 0 for n, (_, delta) in enumerate(counts, start=len(puts))):
                raise UnknownCategory(after.category) from None
            if 0 in failed:
                raise WriteConflict() from None
            if "TransactionConflict" in reasons:
                raise WriteConflict() from None
            raise

    def _has_category(self, key: str) -> bool:
        return self.category(key) is not None

    def categories(self) -> list[Category]:
        """Every category, in its ``sort_order`` then key: one Query of their one partition."""
        records = CategoryRecord.query(CATEGORY_PK)
        found = [_category(record) for record in records]
        return sorted(found, key=lambda category: (category.sort_order, category.category))

    def category(self, category: str) -> Category | None:
        try:
            return _category(CategoryRecord.get(CATEGORY_PK, category_key(category), consistent_read=True))
        except CategoryRecord.DoesNotExist:
            return None

    def put_category(self, category: Category, *, expected_version: int | None, audit: list[AuditEntry]) -> None:
        """Create a category (``expected_version`` None) or rename it at the version read (``WriteConflict``)."""
        record = CategoryRecord(
            CATEGORY_PK, category_key(category.category), category=category.category, name=category.name,
            sort_order=category.sort_order, product_count=category.product_count, version=category.version,
            updated_at=category.updated_at or _now(),
        )  # fmt: skip
        if expected_version is None:
            condition = CategoryRecord.pk.does_not_exist()
        else:
            condition = CategoryRecord.version == expected_version
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.save(record, condition=condition)
                for audit_record, audit_condition in audit_puts(audit):
                    transaction.save(audit_record, condition=audit_condition)
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            if reasons[:1] == ["ConditionalCheckFailed"] or "TransactionConflict" in reasons:
                raise WriteConflict() from None
            raise


def _count_moves(before: Product | None, after: Product) -> list[tuple[str, int]]:
    from chalicelib.domain.product_changes import category_moves

    merged: dict[str, int] = {}
    for category, delta in category_moves(before, after).items():
        merged[category_key(category)] = merged.get(category_key(category), 0) + delta
    return [(key, delta) for key, delta in merged.items() if delta]


def _category(record: CategoryRecord) -> Category:
    return Category(
        category=record.category, name=record.name, sort_order=int(record.sort_order or 0),
        product_count=int(record.product_count or 0), version=int(record.version or 1), updated_at=record.updated_at,
    )  # fmt: skip


def _now() -> str:
    from chalicelib.domain.orders import iso

    return iso(datetime.now(UTC))
