"""Versioned settings in the orders table (``SETTING#<name>`` / ``#SETTING``): the approval policy, the tier
table, shipping. Each is one item holding its body as JSON, replaced whole only on the version read (a
conditional put in one transaction with its audit entry), and read through a per-container cache of
``CACHE_SECONDS``: a change made elsewhere applies to new orders within that time; one made here at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.models import SETTING_SK, SettingRecord, setting_pk
from chalicelib.config import settings
from chalicelib.services.ports import WriteConflict

if TYPE_CHECKING:
    from chalicelib.domain.audit import AuditEntry

CACHE_SECONDS = 30.0
T = TypeVar("T")


class VersionedSetting(Generic[T]):
    """One setting: GetItem on a cache miss, a conditional PutItem (with its audit entries) to replace it.

    ``encode`` gives a value's JSON body; ``decode(version, body)`` the value back; ``default`` (version 0) is
    in effect until the setting is first written."""

    def __init__(self, name: str, default: T, encode: Callable[[T], str], decode: Callable[[int, str], T],
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.name, self.default, self._encode, self._decode, self._clock = name, default, encode, decode, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, T] | None = None

    def stale(self) -> bool:
        """Whether the next ``current()`` would read the item (so a caller's batch read may fetch it instead)."""
        with self._lock:
            cached = self._cached
        return cached is None or self._clock() - cached[0] >= CACHE_SECONDS

    def key(self) -> dict[str, dict[str, str]]:
        """The setting's key, as DynamoDB's low-level API names it."""
        return {"pk": {"S": setting_pk(self.name)}, "sk": {"S": SETTING_SK}}

    def remember_item(self, item: dict | None) -> None:
        """The item as a batch read found it (``None``: never written, the default is in effect)."""
        if item is None:
            self._remember(self.default)
            return
        record = SettingRecord.from_raw_data(item)
        self._remember(self._decode(int(record.version), record.body))

    def current(self, *, fresh: bool = False) -> T:
        """The value in effect (cached up to ``CACHE_SECONDS``; ``fresh``: read now, consistently)."""
        with self._lock:
            cached = self._cached
        if cached is not None and not fresh and self._clock() - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            record = SettingRecord.get(setting_pk(self.name), SETTING_SK, consistent_read=fresh)
            value = self._decode(int(record.version), record.body)
        except SettingRecord.DoesNotExist:
            value = self.default
        self._remember(value)
        return value

    def replace(self, value: T, version: int, expected_version: int, actor: str, at: str,
                audit: tuple[AuditEntry, ...] = ()) -> None:  # fmt: skip
        """Write ``value`` as ``version`` if the stored one is still ``expected_version`` (0: never written),
        with its ``audit`` entries in the same transaction. ``WriteConflict`` when it is not (nothing written).
        One TransactWriteItems."""
        from chalicelib.adapters.dynamo.audit_repo import add_audit  # the audit table's model, only to change

        record = SettingRecord(setting_pk(self.name), SETTING_SK, version=version, body=self._encode(value),
                               updated_at=at, updated_by=actor)  # fmt: skip
        condition = SettingRecord.pk.does_not_exist() if expected_version == 0 else (
            SettingRecord.version == expected_version)  # fmt: skip
        try:
            with TransactWrite(connection=Connection(region=settings.region)) as transaction:
                transaction.save(record, condition=condition)
                add_audit(transaction, audit)
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            if reasons[:1] == ["ConditionalCheckFailed"] or "TransactionConflict" in reasons:
                raise WriteConflict() from None
            raise
        self._remember(value)

    def forget(self) -> None:
        """Drop the cached value (tests start each with fresh tables)."""
        with self._lock:
            self._cached = None

    def _remember(self, value: T) -> None:
        with self._lock:
            self._cached = (self._clock(), value)
