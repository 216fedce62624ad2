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


def spend_fact(raw: dict[str, Any]) -> dict[str, Any] | None:
    """An order whose money moved (paid less refunded changed): its customer, id, version, net and when it was
    first paid; None for any other record."""
    if raw.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    images = raw.get("dynamodb") or {}
    new, old = images.get("NewImage") or {}, images.get("OldImage") or {}
    if (new.get("kind") or {}).get("S") != "order":
        return None

    def net(image: dict[str, Any]) -> int:
        return int((image.get("amount_paid") or {}).get("N", 0)) - int((image.get("amount_refunded") or {}).get("N", 0))

    if net(new) == net(old):
        return None
    from chalicelib.adapters.dynamo.models import OrderRecord

    order = OrderRecord.from_raw_data(new)
    received = [p.created_at for p in order.payments if p.status in ("succeeded", "mismatched")]
    paid = sorted(received or [p.created_at for p in order.payments])
    if not paid:
        return None
    return {"customer_id": order.customer_id, "order_id": order.order_id, "version": int(order.version),
            "net": net(new), "paid_at": paid[0]}  # fmt: skip


def tier_change(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A profile whose tier changed: who, from, to, at which version; None for any other record."""
    if raw.get("eventName") != "MODIFY":
        return None
    images = raw.get("dynamodb") or {}
    new, old = images.get("NewImage") or {}, images.get("OldImage") or {}
    if (new.get("kind") or {}).get("S") != "customer":
        return None
    before, after = (old.get("tier") or {}).get("S", "standard"), (new.get("tier") or {}).get("S", "standard")
    if before == after:
        return None
    return {"customer_id": new["customer_id"]["S"], "from": before, "to": after,
            "version": int(new["version"]["N"]), "spent_12m": int((new.get("spent_12m") or {}).get("N", 0))}  # fmt: skip
