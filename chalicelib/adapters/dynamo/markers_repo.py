"""What the stream handlers already did for an event (``NOTIFY#<key>`` items, kept a week)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from chalicelib.adapters.dynamo.models import SentRecord

KEEP_SECONDS = 7 * 24 * 3600  # longer than a stream keeps a record (24 h)
SK = "#SENT"


class SentMarkersRepository:
    def sent(self, key: str) -> set[str]:
        """One consistent GetItem."""
        try:
            return set(SentRecord.get(f"NOTIFY#{key}", SK, consistent_read=True).sent or ())
        except SentRecord.DoesNotExist:
            return set()

    def mark(self, key: str, target: str) -> None:
        """One UpdateItem adding ``target`` to the set (idempotent)."""
        SentRecord(f"NOTIFY#{key}", SK).update(
            actions=[
                SentRecord.sent.add({target}),
                SentRecord.expires_at.set(datetime.fromtimestamp(time.time() + KEEP_SECONDS, UTC)),
                SentRecord.kind.set(SentRecord),
            ]
        )
