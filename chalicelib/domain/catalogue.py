"""Products as the catalogue shows them, and the rules of their stock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SORTS = ("price", "-price", "sales", "-sales", "name")

# Why a SKU's stock moved. Orders move it as they reserve and give back; staff adjust it.
ADJUSTMENT_REASONS = ("restock", "stocktake", "damaged", "returned", "correction")
ORDER_REASONS = ("order_placed", "order_edited", "order_cancelled", "order_expired", "order_released")
OTHER_REASONS = ("created", "return_received", "imported")
MOVEMENT_REASONS = ORDER_REASONS + ADJUSTMENT_REASONS + OTHER_REASONS


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: int
    currency: str
    stock_available: int
    description: str = ""
    images: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    sales_count: int = 0
    active: bool = True
    low_stock_threshold: int = 0
    product_group: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    rating_avg: float | None = None
    rating_count: int = 0
    rating_sum: int = 0
    version: int = 1
    stock_seq: int = 0  # how many stock movements the SKU has had
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class StockMovement:
    """One change of a SKU's stock, as its ledger keeps it: ``balance_after`` is ``available`` right after."""

    sku: str
    seq: int
    at: str
    delta: int
    reason: str
    actor: str
    balance_after: int
    order_id: str | None = None
    return_id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Category:
    category: str  # its key, as products name it (case-insensitive: ``category_key``)
    name: str  # as shoppers see it
    sort_order: int = 0
    product_count: int = 0  # active products in it
    version: int = 1
    updated_at: str | None = None


def category_key(category: str) -> str:
    """The form categories are listed and looked up in: ``Apparel`` and ``apparel`` are one category."""
    return " ".join(category.casefold().split())


def search_key(text: str) -> str:
    """The form names are matched and sorted in: case-folded, so it works for any script."""
    return " ".join(text.casefold().split())


def search_text(name: str, description: str, options: dict[str, str]) -> str:
    """What ``q`` is looked for in: the name, the description and the option values, one per line
    (so a match never spans two of them)."""
    return "\n".join(search_key(part) for part in (name, description, *options.values()) if part)


def shortfall(available: int, threshold: int) -> int | None:
    """How many units a SKU is short of its low-stock threshold, or None when it is not low."""
    return threshold - available if threshold > 0 and available < threshold else None
