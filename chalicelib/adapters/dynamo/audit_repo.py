"""The audit log in its own table, written only inside the transaction of the change it records.

Keys: ``pk = <target_type>#<target_id>``, ``sk = <at>#<entry id>`` (one target's entries by time). Indexes, all
sorted by ``sk``: ``actor-at`` (``actor``), ``time-at`` (``time_shard = AUDIT#<n>``, the shard from the entry id:
everything by time, never one constant partition) and ``type-at`` (``type_shard = <target_type>#<n>``). Every
listing is one Query per partition it reads (one, or ``AUDIT_SHARDS``), newest first.

The table is append-only by IAM: the functions may PutItem (and the API Query) on it, never UpdateItem or
DeleteItem. An entry's Put carries ``attribute_not_exists(pk)`` and its id is deterministic, so a retried
transaction cannot write it twice.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.models import _gsi
from chalicelib.adapters.dynamo.pages import base_table, query_page, sharded_page
from chalicelib.config import settings
from chalicelib.domain.audit import AuditEntry
from chalicelib.services.ports import AuditQuery, Page

AUDIT_SHARDS = 4
TIME_SHARD = "AUDIT"
LAST = "#~"  # after every ``#<entry id>`` (hex): makes ``sk <= <to>#~`` take all of ``to``'s entries


class AuditRecord(Model):
    class Meta:
        table_name = settings.audit_table
        region = settings.region

    pk = UnicodeAttribute(hash_key=True)  # <target_type>#<target_id>
    sk = UnicodeAttribute(range_key=True)  # <at>#<entry_id>
    entry_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    data = MapAttribute(default=dict)
    source_ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    time_shard = UnicodeAttribute()  # AUDIT#<n>
    type_shard = UnicodeAttribute()  # <target_type>#<n>

    by_actor = _gsi("actor-at", "actor", "sk", UnicodeAttribute)
    by_time = _gsi("time-at", "time_shard", "sk", UnicodeAttribute)
    by_type = _gsi("type-at", "type_shard", "sk", UnicodeAttribute)


def _shard(entry_id: str) -> int:
    return int(hashlib.sha256(entry_id.encode()).hexdigest()[:8], 16) % AUDIT_SHARDS


def storable(value: Any) -> Any:
    """``value`` with each number DynamoDB cannot hold (over 38 digits, beyond 1e-130..1e126) as its JSON text."""
    if isinstance(value, dict):
        return {key: storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and value:
        from decimal import Context, Decimal

        number = Decimal(repr(value)).normalize(Context(prec=999))
        if not number.is_finite() or len(number.as_tuple().digits) > 38 or not -130 <= number.adjusted() <= 125:
            return repr(value)
    return value


def to_record(entry: AuditEntry) -> AuditRecord:
    shard = _shard(entry.entry_id)
    return AuditRecord(
        f"{entry.target_type}#{entry.target_id}",
        f"{entry.at}#{entry.entry_id}",
        entry_id=entry.entry_id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        data=storable(entry.data),
        source_ip=entry.source_ip,
        user_agent=entry.user_agent,
        time_shard=f"{TIME_SHARD}#{shard}",
        type_shard=f"{entry.target_type}#{shard}",
    )


def to_entry(record: AuditRecord) -> AuditEntry:
    return AuditEntry(
        entry_id=record.entry_id,
        at=record.at,
        actor=record.actor,
        action=record.action,
        target_type=record.target_type,
        target_id=record.target_id,
        data=record.data.as_dict() if record.data else {},
        source_ip=record.source_ip,
        user_agent=record.user_agent,
    )


def audit_puts(entries: tuple[AuditEntry, ...] | list[AuditEntry]) -> list[tuple[AuditRecord, Any]]:
    """Each entry as a (record, condition) Put for a TransactWrite: never over an existing entry."""
    return [(to_record(entry), AuditRecord.pk.does_not_exist()) for entry in entries]


def add_audit(transaction: TransactWrite, entries: tuple[AuditEntry, ...] | list[AuditEntry]) -> None:
    """Add the entries' Puts to ``transaction`` (products, stock, settings: any change that is not an order's)."""
    for record, condition in audit_puts(entries):
        transaction.save(record, condition=condition)


_Table = base_table(AuditRecord)


class AuditRepository:
    def list(self, query: AuditQuery, limit: int, cursor: str | None) -> Page[AuditEntry]:
        """Entries newest first, from the partition(s) that hold exactly what is asked for.

        A target (type and id): one Query of its partition (``actor`` filtered). An actor: one Query of
        ``actor-at`` (``target_type`` filtered). A target type: one Query per shard of ``type-at``. Otherwise
        one Query per shard of ``time-at``. ``from``/``to`` are a range on the sort key in every case.
        """
        common: dict[str, Any] = dict(
            limit=limit,
            cursor=cursor,
            convert=to_entry,
            order_by="sk",
            range_key_condition=_span(query),
            newest_first=True,
        )
        if query.target_type and query.target_id:
            partition = ("pk", f"{query.target_type}#{query.target_id}")
            actor = AuditRecord.actor == query.actor if query.actor else None
            return query_page(_Table, partition, filter_condition=actor, **common)  # type: ignore[arg-type]
        if query.actor:
            kind = AuditRecord.target_type == query.target_type if query.target_type else None
            return query_page(AuditRecord.by_actor, ("actor", query.actor), filter_condition=kind, **common)
        if query.target_type:
            shards = [f"{query.target_type}#{n}" for n in range(AUDIT_SHARDS)]
            return sharded_page(AuditRecord.by_type, "type_shard", shards, **common)
        shards = [f"{TIME_SHARD}#{n}" for n in range(AUDIT_SHARDS)]
        return sharded_page(AuditRecord.by_time, "time_shard", shards, **common)


def _span(query: AuditQuery) -> Any:
    """``from``..``to`` (both inclusive, to the millisecond) as a condition on ``sk``; None when open."""
    until = query.until + LAST if query.until else None
    if query.since and until:
        return AuditRecord.sk.between(query.since, until)
    if query.since:
        return AuditRecord.sk >= query.since
    return AuditRecord.sk <= until if until else None
