"""Staff changes to the catalogue: a new product from its draft, an edit, a retirement (API.md: /staff/products).

Pure rules. The stock is not an editable field: it starts with the product (its ``created`` movement) and
then moves only through the ledger (orders, adjustments, returns). A price change reaches new orders and
carts only: an order keeps the unit price of each of its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.catalogue import Product

EDITABLE = (
    "name", "description", "category", "price", "images", "attributes", "product_group", "options",
    "low_stock_threshold", "active",
)  # fmt: skip


@dataclass(frozen=True)
class ProductDraft:
    sku: str
    name: str
    category: str
    price: int
    description: str = ""
    images: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    product_group: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    stock: int = 0
    low_stock_threshold: int = 0
    active: bool = True


def new_product(draft: ProductDraft, currency: str, at: str) -> Product:
    """The product a draft makes: version 1, its stock its first movement."""
    return Product(
        sku=draft.sku, name=draft.name, category=draft.category, price=draft.price, currency=currency,
        stock_available=draft.stock, description=draft.description, images=list(draft.images),
        attributes=dict(draft.attributes), active=draft.active, low_stock_threshold=draft.low_stock_threshold,
        product_group=draft.product_group, options=dict(draft.options), version=1,
        stock_seq=1 if draft.stock else 0, created_at=at, updated_at=at,
    )  # fmt: skip


def edited(product: Product, changes: dict[str, Any], at: str) -> tuple[Product, dict[str, Any]]:
    """The product with ``changes`` (editable fields only) and the fields that really changed, ``{field:
    {"from": .., "to": ..}}``; with none, the product itself (no new version)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    diff = {
        name: {"from": getattr(product, name), "to": value}
        for name, value in changes.items()
        if getattr(product, name) != value
    }
    if not diff:
        return product, {}
    after = replace(product, **{name: change["to"] for name, change in diff.items()})
    return replace(after, version=product.version + 1, updated_at=at), diff


def category_moves(before: Product | None, after: Product) -> dict[str, int]:
    """How each category's count of active products changes (``{category: ±1}``), by category as written."""
    moves: dict[str, int] = {}
    if before is not None and before.active:
        moves[before.category] = moves.get(before.category, 0) - 1
    if after.active:
        moves[after.category] = moves.get(after.category, 0) + 1
    return {category: delta for category, delta in moves.items() if delta}
