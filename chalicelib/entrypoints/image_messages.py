"""The image-uploads message: an S3 event notification, read as the objects it says were created.

S3 sends ``{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Post", "s3": {"bucket":
{"name"}, "object": {"key", "size"}}}]}`` with the key URL-encoded (``+`` for a space), and once, when
the notification is configured, ``{"Event": "s3:TestEvent", ...}``, which names no object. Anything
else is refused (and, after the queue's retries, dead-lettered, where its alarm tells ops).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

MAX_BYTES = 256 * 1024  # SQS's own limit


class InvalidMessage(ValueError):
    pass


def created_objects(body: str) -> list[tuple[str, str]]:
    """(bucket, key) of every ObjectCreated record; none for S3's test event or other event types."""
    if len(body.encode("utf-8", "replace")) > MAX_BYTES:
        raise InvalidMessage("message too large")
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidMessage("not an S3 event notification: not JSON") from None
    if not isinstance(message, dict):
        raise InvalidMessage("not an S3 event notification: not an object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise InvalidMessage("not an S3 event notification: no Records")
    return [found for found in (_created(record) for record in records) if found is not None]


def _created(record: Any) -> tuple[str, str] | None:
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        raise InvalidMessage("not an S3 event record")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3")
    bucket = s3.get("bucket", {}).get("name") if isinstance(s3, dict) else None
    key = s3.get("object", {}).get("key") if isinstance(s3, dict) else None
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise InvalidMessage("an S3 event record without a bucket name and an object key")
    return bucket, unquote_plus(key)
