"""Catalogue reads."""

from __future__ import annotations

from chalicelib.domain.catalogue import Product
from chalicelib.domain.errors import NotFound
from chalicelib.services.ports import CatalogueRepo, Page


def list_products(
    repo: CatalogueRepo,
    *,
    category: str | None = None,
    q: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    sort: str = "name",
    limit: int = 20,
    cursor: str | None = None,
    product_group: str | None = None,
) -> Page[Product]:
    """A page of the catalogue. A blank ``q`` is no filter; a price range with min above max is empty."""
    if min_price is not None and max_price is not None and min_price > max_price:
        return Page([], None)
    return repo.list(
        category=category,
        q=(q or "").strip() or None,
        min_price=min_price,
        max_price=max_price,
        sort=sort,
        limit=limit,
        cursor=cursor,
        product_group=product_group,
    )


def get_product(repo: CatalogueRepo, sku: str) -> Product:
    product = repo.get(sku)
    if product is None or not product.active:
        raise NotFound("No such product.", sku=sku)
    return product
