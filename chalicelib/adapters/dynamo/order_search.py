"""Finding orders: filtered listings over the order indexes, and lookups by order number.

A listing picks the narrowest index its filters allow (a customer's orders by status, a
customer's orders, everyone's by status, everyone's), bounds it by creation time in the key
condition, and leaves the rest (payment and fulfilment status, channel) to a filter. So a
page costs one Query per partition of that index (1 for a customer, ``ORDER_SHARDS``
otherwise), whatever the table holds; a filtered page evaluates at most
``pages.FILTERED_PAGE_SIZE`` items per partition, and may come back short with a cursor.
"""

from __future__ import annotations

from functools import reduce

from chalicelib.adapters.dynamo.models import OrderRecord
from chalicelib.adapters.dynamo.order_records import LISTED, ORDER_SHARDS, sharded, to_order
from chalicelib.adapters.dynamo.pages import sharded_page
from chalicelib.domain.orders import Order
from chalicelib.services.ports import OrderFilters, Page


def search(filters: OrderFilters, limit: int, cursor: str | None) -> Page[Order]:
    """Newest first, every filter applied."""
    if filters.created_from and filters.created_to and filters.created_from > filters.created_to:
        return Page([], None)
    if filters.customer_id is not None and filters.status is not None:
        index, attribute = OrderRecord.by_customer_status, "customer_status"
        shards = [f"{filters.customer_id}#{filters.status}"]
    elif filters.customer_id is not None:
        index, attribute, shards = OrderRecord.by_customer, "customer_id", [filters.customer_id]
    elif filters.status is not None:
        index, attribute = OrderRecord.by_status, "status_shard"
        shards = [sharded(filters.status, n) for n in range(ORDER_SHARDS)]
    else:
        index, attribute, shards = OrderRecord.all_orders, "listed", [sharded(LISTED, n) for n in range(ORDER_SHARDS)]
    return sharded_page(
        index, attribute, shards, limit=limit, cursor=cursor, convert=lambda r: to_order(r, None),
        order_by="created_at", newest_first=True, range_key_condition=_created(filters),
        filter_condition=_filter(filters),
    )  # fmt: skip


def order_id_by_number(order_number: str) -> str | None:
    """The id of the order with this number (one Query of the ``order-number`` index), or None."""
    for record in OrderRecord.by_number.query(order_number, limit=1):
        return record.order_id
    return None


def _created(filters: OrderFilters):
    start, end = filters.created_from, filters.created_to
    if start and end:
        return OrderRecord.created_at.between(start, end)
    if start:
        return OrderRecord.created_at >= start
    if end:
        return OrderRecord.created_at <= end
    return None


def _filter(filters: OrderFilters):
    conditions = [
        getattr(OrderRecord, name) == value
        for name, value in (
            ("payment_status", filters.payment_status),
            ("fulfilment_status", filters.fulfilment_status),
            ("channel", filters.channel),
        )
        if value is not None
    ]
    return reduce(lambda a, b: a & b, conditions) if conditions else None
