"""Reading the tables' stream records (DynamoDB JSON) into what the dispatcher needs."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo.models import EventRecord, OrdersTableItem, ProductModel
from chalicelib.domain.notifications import TimelineFact


def timeline_fact(raw: dict[str, Any]) -> TimelineFact | None:
    """The timeline event a stream record inserted, or None for any other record."""
    if raw.get("eventName") != "INSERT":
        return None
    image = (raw.get("dynamodb") or {}).get("NewImage") or {}
    if (image.get("kind") or {}).get("S") != "event":
        return None
    item = OrdersTableItem.from_raw_data(image)
    if not isinstance(item, EventRecord):
        return None
    return TimelineFact(
        order_id=item.order_id,
        seq=int(item.seq),
        type=item.type,
        at=item.at,
        actor=item.actor,
        customer_id=item.customer_id,
        order_number=item.order_number,
        data=item.data.as_dict() if item.data else {},
    )


def stock_change(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A product's stock before and after a change (for low-stock alerts), or None."""
    if raw.get("eventName") != "MODIFY":
        return None
    images = raw.get("dynamodb") or {}
    if not images.get("OldImage") or not images.get("NewImage"):
        return None
    before, after = ProductModel.from_raw_data(images["OldImage"]), ProductModel.from_raw_data(images["NewImage"])
    return {
        "record_id": raw.get("eventID") or f"{after.sku}#{images.get('SequenceNumber')}",
        "sku": after.sku,
        "name": after.name,
        "before": int(before.available) if before.available is not None else None,
        "after": int(after.available) if after.available is not None else None,
        "threshold": int(after.low_stock_threshold or 0),
        "at": _at(images.get("ApproximateCreationDateTime")),
    }


def _at(epoch: Any) -> str:
    from datetime import UTC, datetime

    from chalicelib.domain.orders import iso

    try:
        return iso(datetime.fromtimestamp(float(epoch), UTC))
    except (TypeError, ValueError):
        return iso(datetime.now(UTC))
