"""The day's order numbers, from one counter item per day, taken one at a time or in blocks.

One UpdateItem (ADD) per number keeps numbers strictly increasing in the order they are
taken, but puts every order of the day on one item, which DynamoDB serves at about 1,000
writes a second. With ``block`` > 1 a container takes ``block`` numbers per UpdateItem and
hands them out itself: the counter item sees ``1/block`` of the writes; numbers stay unique
and increase within each container, but two containers interleave (a later order may get a
lower number) and a container that stops leaves the rest of its block unused (gaps).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from chalicelib.adapters.dynamo.models import CounterRecord

COUNTER_TTL_SECONDS = 3 * 24 * 3600


class OrderNumbers:
    def __init__(self, block: int = 1) -> None:
        if block < 1:
            raise ValueError("an order-number block holds at least one number")
        self.block = block
        self._lock = threading.Lock()
        self._day: str | None = None
        self._next = self._end = 0  # numbers [next, end] of this container's block are still free

    def take(self, day: datetime) -> int:
        """The next number of ``day`` (UTC): one UpdateItem per ``block`` numbers."""
        key = f"{day.astimezone(UTC):%Y%m%d}"
        with self._lock:
            if self._day != key or self._next > self._end:
                self._end = self._reserve(key)
                self._next, self._day = self._end - self.block + 1, key
            number, self._next = self._next, self._next + 1
            return number

    def _reserve(self, key: str) -> int:
        counter = CounterRecord(f"COUNTER#order_number#{key}", "#COUNTER")
        counter.update(
            actions=[
                CounterRecord.value.add(self.block),
                CounterRecord.expires_at.set(datetime.fromtimestamp(time.time() + COUNTER_TTL_SECONDS, UTC)),
            ]
        )
        return int(counter.value)
