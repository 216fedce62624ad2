"""What each customer paid, per order, for their tier (``CUSTOMER#<sub>`` / ``SPEND#<day>#<order_id>``).

One item per paid order holds its net (paid less refunded) and the order's version it was read at; the stream
handler writes it with a condition on that version, so a redelivered or older record never overwrites a newer
one and a replay changes nothing: each order counts once, whatever order the records come in. The day in the
key is that of the order's first successful payment: the 365-day window is one Query of the customer's items
from 365 days ago. Each item is also listed by its day (``SPENDDAY#<day>#<shard>`` in ``all-created``), so the
daily sweep reads only the customers whose spend left the window that day, never every customer.
"""

from __future__ import annotations

import hashlib

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamo.models import OrdersTableItem, _gsi, customer_pk

SPEND_PREFIX = "SPEND#"
DAY_SHARDS = 4


class SpendRecord(OrdersTableItem, discriminator="spend"):
    customer_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    order_version = NumberAttribute()
    net = NumberAttribute()
    paid_at = UnicodeAttribute()
    listed = UnicodeAttribute()  # SPENDDAY#<day>#<shard>
    created_at = UnicodeAttribute()  # = paid_at: the index's range key

    by_day = _gsi("all-created", "listed", "created_at", UnicodeAttribute)


def day_partition(day: str, order_id: str) -> str:
    return f"SPENDDAY#{day}#{int(hashlib.sha256(order_id.encode()).hexdigest()[:8], 16) % DAY_SHARDS}"


class SpendRepository:
    def record(self, customer_id: str, order_id: str, version: int, net: int, paid_at: str) -> bool:
        """The order's net as of ``version``, unless a newer version is already there (False then): one PutItem."""
        day = paid_at[:10]
        item = SpendRecord(customer_pk(customer_id), f"{SPEND_PREFIX}{day}#{order_id}", customer_id=customer_id,
                           order_id=order_id, order_version=version, net=net, paid_at=paid_at,
                           listed=day_partition(day, order_id), created_at=paid_at)  # fmt: skip
        try:
            item.save(condition=SpendRecord.pk.does_not_exist() | (SpendRecord.order_version < version))
        except PutError as error:
            if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def total(self, customer_id: str, since_day: str) -> int:
        """What the customer's orders first paid on ``since_day`` or later hold now: one Query (paged)."""
        found = SpendRecord.query(customer_pk(customer_id), SpendRecord.sk.between(f"{SPEND_PREFIX}{since_day}",
                                                                                   f"{SPEND_PREFIX}~"))  # fmt: skip
        return sum(int(item.net) for item in found)

    def customers_paid_on(self, day: str) -> set[str]:
        """Who has an order first paid on ``day``: one Query per shard of that day's partitions."""
        found: set[str] = set()
        for shard in range(DAY_SHARDS):
            for item in SpendRecord.by_day.query(f"SPENDDAY#{day}#{shard}"):
                found.add(item.customer_id)
        return found
