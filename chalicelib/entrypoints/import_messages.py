"""The import-uploads queue's messages: S3's notifications of uploaded files, and the app's own "apply on" ones.

S3 sends ``{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Post", "s3": {"bucket": {"name"},
"object": {"key", "size", "eTag"}}}]}`` (the key URL-encoded, ``+`` for a space) and, once, when the
notification is configured, ``{"Event": "s3:TestEvent", ...}``. The app sends ``{"import_id", "apply_from"}``.
Anything else is refused (and, after the queue's retries, dead-lettered, where its alarm tells ops).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

MAX_BYTES = 256 * 1024  # SQS's own limit
UPLOAD = re.compile(r"imports/([0-9a-f]{32})\.(xlsx|csv)")
IMPORT_ID = re.compile(r"[0-9a-f]{32}")


class InvalidMessage(ValueError):
    pass


@dataclass(frozen=True)
class Uploaded:
    import_id: str
    key: str
    etag: str  # quoted, as S3's If-Match takes it


@dataclass(frozen=True)
class ApplyNext:
    import_id: str


def parse(body: str) -> list[Uploaded | ApplyNext]:
    """What the message asks of the worker (nothing for S3's test event or objects outside ``imports/``)."""
    if len(body.encode("utf-8", "replace")) > MAX_BYTES:
        raise InvalidMessage("message too large")
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidMessage("not JSON") from None
    if not isinstance(message, dict):
        raise InvalidMessage("not an object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if "import_id" in message:
        import_id = message["import_id"]
        if not isinstance(import_id, str) or not IMPORT_ID.fullmatch(import_id):
            raise InvalidMessage("not an import id")
        return [ApplyNext(import_id)]
    records = message.get("Records")
    if not isinstance(records, list):
        raise InvalidMessage("neither an S3 event notification nor an apply message")
    return [found for found in (_uploaded(record) for record in records) if found is not None]


def _uploaded(record: Any) -> Uploaded | None:
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        raise InvalidMessage("not an S3 event record")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3")
    obj = s3.get("object") if isinstance(s3, dict) else None
    key = obj.get("key") if isinstance(obj, dict) else None
    etag = obj.get("eTag") if isinstance(obj, dict) else None
    if not isinstance(key, str) or not isinstance(etag, str) or not etag:
        raise InvalidMessage("an S3 event record without an object key and eTag")
    match = UPLOAD.fullmatch(unquote_plus(key))
    if match is None:
        return None
    return Uploaded(match.group(1), match.group(0), f'"{etag.strip(chr(34))}"')
