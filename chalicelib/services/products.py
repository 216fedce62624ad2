"""Staff managing the catalogue: products (create, edit on the version read, retire) and categories.

Every change is audited in its own transaction (``adapters/dynamo/product_store.py``). An edit is computed
from a consistent read and written only if the product is still as read: a concurrent order's stock move
makes it read again and retry (the stock is not the editor's), a concurrent edit answers ``412``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.audit import entry
from chalicelib.domain.catalogue import Category, Product, category_key
from chalicelib.domain.errors import Conflict, NotFound, ValidationFailed, VersionMismatch
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import iso
from chalicelib.domain.product_changes import ProductDraft, edited, new_product
from chalicelib.services.changes import Busy
from chalicelib.services.ports import WriteConflict

WRITE_ATTEMPTS = 5


class SkuTaken(Conflict):
    code = "sku_exists"


def _unknown_category(category: str) -> ValidationFailed:
    return ValidationFailed(
        f"There is no category {category!r}: create it first (PUT /staff/categories/{{category}}).",
        fields={"category": "unknown category"},
        code="unknown_category",
    )


@dataclass
class ProductAdmin:
    store: Any  # adapters/dynamo/product_store.ProductStore
    currency: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    pause: Callable[[float], None] = time.sleep

    def create(self, principal: Principal, draft: ProductDraft, *, once: str | None = None) -> Product:
        """A new product, its stock its first movement (``409 sku_exists``, ``422 unknown_category``).

        ``once``: a token written in the same transaction, for a change that must happen once (an import's
        row): ``AlreadyApplied`` when it was, and nothing is written."""
        from chalicelib.adapters.dynamo.product_store import SkuExists, UnknownCategory

        at = iso(self.clock())
        product = new_product(draft, self.currency, at)
        data = {"name": product.name, "category": product.category, "price": product.price,
                "stock": product.stock_available, "active": product.active}  # fmt: skip
        audit = [entry(principal, "product.create", ("product", product.sku), at=at, key="v1", data=data)]
        try:
            self.store.create(product, audit=audit, once=once)
        except SkuExists:
            raise SkuTaken("A product with this SKU exists already.", sku=draft.sku) from None
        except UnknownCategory:
            raise _unknown_category(draft.category) from None
        return product

    def update(
        self, principal: Principal, sku: str, if_match: int | None, changes: dict[str, Any], *, once: str | None = None
    ) -> Product:
        """The product with ``changes``, if ``if_match`` is still its version (``None``: whatever it is now).

        A retired product can be edited (and brought back with ``active: true``)."""
        from chalicelib.adapters.dynamo.product_store import UnknownCategory

        for attempt in range(WRITE_ATTEMPTS):
            before = self.store.get(sku)
            if before is None:
                raise NotFound("No such product.", sku=sku)
            if if_match is not None and before.version != if_match:
                raise VersionMismatch(
                    "The product changed since you read it; read it again.", current_version=before.version
                )
            at = iso(self.clock())
            after, diff = edited(before, changes, at)
            if not diff:
                return before
            action = _action(diff)
            audit = [entry(principal, action, ("product", sku), at=at, key=f"v{after.version}", data=_plain(diff))]
            try:
                self.store.replace(before, after, audit=audit, once=once)
                return after
            except UnknownCategory:
                raise _unknown_category(after.category) from None
            except WriteConflict:
                self.pause(random.uniform(0, 0.02 * 2**attempt))
        raise Busy("The product is being changed right now; retry shortly.")

    def retire(self, principal: Principal, sku: str) -> Product:
        """``active: false``: out of every listing, never orderable again; orders keep their lines."""
        return self.update(principal, sku, None, {"active": False})

    def categories(self) -> list[Category]:
        return self.store.categories()

    def put_category(self, principal: Principal, category: str, name: str, sort_order: int | None) -> Category:
        """Create the category or rename it (``sort_order`` kept unless given); audited."""
        for attempt in range(WRITE_ATTEMPTS):
            current = self.store.category(category)
            at = iso(self.clock())
            if current is None:
                after = Category(category_key(category), name, sort_order or 0, 0, 1, at)
            else:
                after = replace(current, name=name, version=current.version + 1, updated_at=at,
                                sort_order=current.sort_order if sort_order is None else sort_order)  # fmt: skip
                if (after.name, after.sort_order) == (current.name, current.sort_order):
                    return current
            data = {"name": name, "sort_order": after.sort_order}
            if current is not None:
                data["from"] = {"name": current.name, "sort_order": current.sort_order}
            audit = [entry(principal, "category.put", ("category", after.category), at=at, key=f"v{after.version}",
                           data=data)]  # fmt: skip
            try:
                self.store.put_category(after, expected_version=current.version if current else None, audit=audit)
                return after
            except WriteConflict:
                self.pause(random.uniform(0, 0.02 * 2**attempt))
        raise Busy("The category is being changed right now; retry shortly.")


def _action(diff: dict[str, Any]) -> str:
    if set(diff) == {"active"}:
        return "product.retire" if not diff["active"]["to"] else "product.restore"
    if set(diff) == {"price"}:
        return "product.reprice"
    return "product.update"


def _plain(diff: dict[str, Any]) -> dict[str, Any]:
    """The diff as the audit log stores it (lists and maps as they are; nothing else to convert)."""
    return {name: {"from": change["from"], "to": change["to"]} for name, change in diff.items()}
