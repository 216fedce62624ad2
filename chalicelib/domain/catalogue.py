"""Products as the catalogue shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SORTS = ("price", "-price", "sales", "-sales", "name")


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


def category_key(category: str) -> str:
    """The form categories are listed and looked up in: ``Apparel`` and ``apparel`` are one category."""
    return " ".join(category.casefold().split())


def search_key(text: str) -> str:
    """The form names are matched and sorted in: case-folded, so it works for any script."""
    return " ".join(text.casefold().split())
