"""Products and their stock in DynamoDB."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from chalicelib.adapters.dynamo.models import ProductModel
from chalicelib.adapters.dynamo.pages import sharded_page
from chalicelib.domain.catalogue import Product, category_key, search_key, search_text, shortfall
from chalicelib.services.ports import Page

LISTED = "PRODUCT"
PRODUCT_SHARDS = 4  # partitions of the indexes over all products (``PRODUCT#<n>``, the shard from the SKU)

_INDEXES = {
    # (category given?, sort) -> (index, its sort attribute, highest first)
    (True, "price"): (ProductModel.category_price, "price", False),
    (True, "-price"): (ProductModel.category_price, "price", True),
    (True, "sales"): (ProductModel.category_sales, "sales_count", False),
    (True, "-sales"): (ProductModel.category_sales, "sales_count", True),
    (True, "name"): (ProductModel.category_name, "name_key", False),
    (False, "price"): (ProductModel.all_price, "price", False),
    (False, "-price"): (ProductModel.all_price, "price", True),
    (False, "sales"): (ProductModel.all_sales, "sales_count", False),
    (False, "-sales"): (ProductModel.all_sales, "sales_count", True),
    (False, "name"): (ProductModel.all_name, "name_key", False),
}


def product_shard(sku: str) -> str:
    return f"{LISTED}#{int(hashlib.sha256(sku.encode()).hexdigest()[:8], 16) % PRODUCT_SHARDS}"


class CatalogueRepository:
    def get(self, sku: str) -> Product | None:
        try:
            return to_product(ProductModel.get(sku))
        except ProductModel.DoesNotExist:
            return None

    def get_many(self, skus: list[str], *, consistent: bool = False) -> dict[str, Product]:
        """One BatchGetItem for up to 100 SKUs (``consistent``: what a stock write will be computed from)."""
        records = ProductModel.batch_get(list(dict.fromkeys(skus)), consistent_read=consistent or None)
        return {record.sku: to_product(record) for record in records}

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
    ) -> Page[Product]:
        """One Query of the index that serves this sort (one per shard without a category), never a Scan.

        ``q`` matches the name, description and option values (case-folded substring) or a SKU prefix;
        ``product_group`` reads that group's variants (their own index), in SKU order.

        ``category`` in any case. A filtered page (``q``, or a price range on a name or sales
        sort) evaluates at most ``FILTERED_PAGE_SIZE`` items per Query: it may hold fewer
        than ``limit`` and still have a cursor.
        """
        price_range = _price_condition(min_price, max_price)
        if product_group is not None:  # one product's variants: its group's partition, in SKU order
            filters = _all(
                price_range, _matches(q), (ProductModel.listed_category == category_key(category)) if category else None
            )
            return sharded_page(
                ProductModel.by_group, "listed_group", [product_group], limit=limit, cursor=cursor, convert=to_product,
                order_by="sku", filter_condition=filters,
            )  # fmt: skip
        index, order_by, descending = _INDEXES[(category is not None, sort)]
        range_condition, filters = (price_range, None) if "price" in sort else (None, price_range)
        filters = _all(filters, _matches(q))
        if category is not None:
            attribute, shards = "listed_category", [category_key(category)]
        else:
            attribute, shards = "listed", [f"{LISTED}#{n}" for n in range(PRODUCT_SHARDS)]
        return sharded_page(
            index, attribute, shards, limit=limit, cursor=cursor, convert=to_product, order_by=order_by,
            range_key_condition=range_condition, filter_condition=filters, newest_first=descending,
        )  # fmt: skip

    def put(self, product: Product) -> None:
        """Create or replace a catalogue entry with its stock (seeding), keeping the SKU's ledger true: a new
        SKU's stock is its first movement (``created``), a changed one a ``correction``."""
        from chalicelib.adapters.dynamo.stock_ledger import replace_product

        replace_product(product, to_record)


def _matches(q: str | None):
    """``q`` as a filter: a substring of the search text (the name alone on items written before it) or a
    SKU prefix, as typed or in capitals."""
    if not q:
        return None
    key = search_key(q)
    found = ProductModel.search_text.contains(key) | ProductModel.name_key.contains(key)
    return found | ProductModel.sku.startswith(q) | ProductModel.sku.startswith(q.upper())


def _all(*conditions):
    present = [condition for condition in conditions if condition is not None]
    if not present:
        return None
    combined = present[0]
    for condition in present[1:]:
        combined = combined & condition
    return combined


def _price_condition(min_price: int | None, max_price: int | None):
    if min_price is not None and max_price is not None:
        return ProductModel.price.between(min_price, max_price)
    if min_price is not None:
        return ProductModel.price >= min_price
    if max_price is not None:
        return ProductModel.price <= max_price
    return None


def to_product(record: ProductModel) -> Product:
    return Product(
        sku=record.sku,
        name=record.name,
        description=record.description,
        category=record.category,
        price=int(record.price),
        currency=record.currency,
        images=list(record.images or []),
        attributes=dict(record.attributes or {}),
        stock_available=int(record.available),
        sales_count=int(record.sales_count),
        active=bool(record.active),
        low_stock_threshold=int(record.low_stock_threshold or 0),
        product_group=record.product_group,
        options=record.options.as_dict() if record.options else {},
        rating_avg=float(record.rating_avg) if record.rating_avg is not None else None,
        rating_count=int(record.rating_count or 0),
        rating_sum=int(record.rating_sum or 0),
        version=int(record.version or 1),
        stock_seq=int(record.stock_seq or 0),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def to_record(product: Product) -> ProductModel:
    """The whole item of ``product`` (its stock fields included: the ledger's writes keep them true)."""
    from chalicelib.adapters.dynamo.stock_ledger import low_stock_shard

    short = shortfall(product.stock_available, product.low_stock_threshold) if product.active else None
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ProductModel(
        product.sku,
        name=product.name,
        name_key=search_key(product.name),
        description=product.description,
        category=product.category,
        price=product.price,
        currency=product.currency,
        images=list(product.images),
        attributes=product.attributes,
        available=product.stock_available,
        sales_count=product.sales_count,
        active=product.active,
        low_stock_threshold=product.low_stock_threshold,
        product_group=product.product_group,
        options=product.options,
        search_text=search_text(product.name, product.description, product.options),
        rating_avg=product.rating_avg,
        rating_count=product.rating_count,
        rating_sum=product.rating_sum,
        version=product.version,
        stock_seq=product.stock_seq,
        listed=product_shard(product.sku) if product.active else None,
        listed_category=category_key(product.category) if product.active else None,
        listed_group=product.product_group if product.active and product.product_group else None,
        catalogued=product_shard(product.sku),
        low_stock=low_stock_shard(product.sku) if short is not None else None,
        shortfall=short,
        created_at=product.created_at or now,
        updated_at=product.updated_at or now,
    )
