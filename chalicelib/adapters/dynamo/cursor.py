"""Opaque page cursors: where each partition (shard) of a listing stopped, checked on the way back in.

A cursor names, for each shard of the listing still to read, the last key it took (or null:
from its start). Each key holds only the key attributes the query uses, carries that shard's
partition value, and holds plain strings and numbers: anything else is an ``InvalidCursor``
(400), never a DynamoDB error.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.services.ports import InvalidCursor

MAX_CURSOR_CHARS = 2048


def encode_sharded(positions: dict[str, dict[str, dict[str, str]] | None]) -> str:
    """A cursor over several shards: each shard not yet exhausted, with where it stopped (null: from its start)."""
    raw = json.dumps({"shards": positions}, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_sharded(
    cursor: str | None, key_names: set[str], attribute: str, shards: list[str]
) -> dict[str, dict[str, Any] | None]:
    """Each shard still to read → its ExclusiveStartKey (None: from its start); a shard left out is exhausted."""
    if cursor is None:
        return dict.fromkeys(shards)
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor too long")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidCursor("cursor is not one of ours") from exc
    positions = raw.get("shards") if isinstance(raw, dict) and set(raw) == {"shards"} else None
    if not isinstance(positions, dict) or not positions or not set(positions) <= set(shards):
        raise InvalidCursor("cursor does not belong to this listing")
    return {
        shard: None if start is None else _checked_key(start, key_names, (attribute, shard))
        for shard, start in positions.items()
    }


def _checked_key(key: Any, key_names: set[str], partition: tuple[str, str]) -> dict[str, Any]:
    """``key`` as an ExclusiveStartKey of the query on ``partition`` (attribute, value), or ``InvalidCursor``."""
    if not isinstance(key, dict) or set(key) != key_names:
        raise InvalidCursor("cursor does not belong to this listing")
    for value in key.values():
        if not (isinstance(value, dict) and len(value) == 1):
            raise InvalidCursor("cursor is not one of ours")
        ((kind, text),) = value.items()
        if kind not in ("S", "N") or not isinstance(text, str) or not text:
            raise InvalidCursor("cursor is not one of ours")
        if kind == "N":
            try:
                int(text)
            except ValueError as exc:
                raise InvalidCursor("cursor is not one of ours") from exc
    attribute, value = partition
    if key.get(attribute) != {"S": value}:
        raise InvalidCursor("cursor does not belong to this listing")
    return key
