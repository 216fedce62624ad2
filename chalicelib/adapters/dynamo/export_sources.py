"""What exports read: every order, profile, product and stock movement, from the sharded indexes over all of
them (``all-created``, ``all-sku``, ``moves-at``), never a Scan.

Each source is a generator: one paged Query per shard runs lazily (``EXPORT_PAGE`` items a call) and the
shards are merged in index order, so at most one page per shard is held at a time however large the table.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pynamodb.indexes import GlobalSecondaryIndex

EXPORT_PAGE = 500  # items per Query page (DynamoDB stops a page at 1 MB anyway)


def _merged(index: GlobalSecondaryIndex, shards: Iterable[str], order_by: Callable[[Any], Any],
            range_key_condition: Any = None, filter_condition: Any = None) -> Iterator[Any]:  # fmt: skip
    queries = [
        index.query(shard, range_key_condition=range_key_condition, filter_condition=filter_condition,
                    page_size=EXPORT_PAGE)
        for shard in shards
    ]  # fmt: skip
    return heapq.merge(*queries, key=order_by)


def _time_range(attribute: Any, filters: dict[str, Any]) -> Any:
    """``created_from``/``created_to`` as a key condition: dates take their whole day (``..T23:59:59Z`` and on)."""
    start, end = filters.get("created_from"), filters.get("created_to")
    if end is not None and len(end) == 10:
        end = end + "T\uffff"  # a date: up to that day's last moment
    if start is not None and end is not None:
        return attribute.between(start, end)
    if start is not None:
        return attribute >= start
    if end is not None:
        return attribute <= end
    return None


def orders(filters: dict[str, Any]) -> Iterator[Any]:
    """Orders (without their timelines), oldest first: one Query chain per shard of ``all-created``."""
    from chalicelib.adapters.dynamo.models import OrderRecord
    from chalicelib.adapters.dynamo.order_records import LISTED, ORDER_SHARDS, sharded, to_order

    status = filters.get("status")
    records = _merged(
        OrderRecord.all_orders, [sharded(LISTED, n) for n in range(ORDER_SHARDS)],
        lambda record: (record.created_at, record.order_id),
        range_key_condition=_time_range(OrderRecord.created_at, filters),
        filter_condition=(OrderRecord.status == status) if status else None,
    )  # fmt: skip
    return (to_order(record, None) for record in records)


def customers(filters: dict[str, Any]) -> Iterator[Any]:
    """Profiles, oldest first, from their ``CUSTOMER#<n>`` partitions of ``all-created``."""
    from chalicelib.adapters.dynamo.customers_repo import CUSTOMER_SHARDS, ProfileRecord, to_profile

    records = _merged(
        ProfileRecord.every, [f"CUSTOMER#{n}" for n in range(CUSTOMER_SHARDS)],
        lambda record: (record.created_at, record.customer_id),
        range_key_condition=_time_range(ProfileRecord.created_at, filters),
    )  # fmt: skip
    return (to_profile(record) for record in records)


def products(filters: dict[str, Any]) -> Iterator[Any]:
    """Every product, retired or not, by SKU, from ``all-sku``."""
    from chalicelib.adapters.dynamo.catalogue_repo import PRODUCT_SHARDS, to_product
    from chalicelib.adapters.dynamo.models import ProductModel

    conditions = []
    if filters.get("category"):
        conditions.append(ProductModel.category == filters["category"])
    if filters.get("active") is not None:
        conditions.append(ProductModel.active == bool(filters["active"]))
    condition = None
    for each in conditions:
        condition = each if condition is None else condition & each
    records = _merged(ProductModel.every, [f"PRODUCT#{n}" for n in range(PRODUCT_SHARDS)],
                      lambda record: record.sku, filter_condition=condition)  # fmt: skip
    return (to_product(record) for record in records)


def stock_movements(filters: dict[str, Any]) -> Iterator[Any]:
    """Every SKU's stock movements by time, from ``moves-at`` (one SKU's alone: its own item collection)."""
    from chalicelib.adapters.dynamo.catalogue_table import MOVES_SHARDS, MovementRecord, sku_pk
    from chalicelib.adapters.dynamo.stock_ledger import to_movement

    sku = filters.get("sku")
    if sku:  # one partition, already in order: the SKU's ledger
        records = MovementRecord.query(sku_pk(sku), MovementRecord.sk.startswith("MOVE#"), page_size=EXPORT_PAGE,
                                       filter_condition=_time_range(MovementRecord.at, filters))  # fmt: skip
        return (to_movement(record) for record in records)
    records = _merged(
        MovementRecord.by_time, [f"MOVES#{n}" for n in range(MOVES_SHARDS)],
        lambda record: (record.at, record.sku, int(record.seq)),
        range_key_condition=_time_range(MovementRecord.at, filters),
    )  # fmt: skip
    return (to_movement(record) for record in records)


SOURCES: dict[str, Callable[[dict[str, Any]], Iterator[Any]]] = {
    "orders": orders,
    "payments": orders,
    "sales": orders,
    "customers": customers,
    "products": products,
    "stock_movements": stock_movements,
}
