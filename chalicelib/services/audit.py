"""Reading the audit log (admin). Entries are written by the changes themselves, in their own transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.errors import ValidationFailed
from chalicelib.services.ports import AuditQuery, AuditRepo, Page


@dataclass
class AuditLog:
    entries: AuditRepo

    def list(
        self,
        *,
        actor: str | None,
        target_type: str | None,
        target_id: str | None,
        since: str | None,
        until: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[AuditEntry]:
        """Entries newest first; ``since``/``until`` ISO dates or times, both inclusive (a date: the whole day, UTC)."""
        if target_id is not None and target_type is None:
            raise ValidationFailed(
                "target_id needs target_type.", fields={"target_id": "needs target_type (e.g. order)"}
            )
        start = _moment(since, end_of_day=False) if since else None
        end = _moment(until, end_of_day=True) if until else None
        if start and end and start > end:
            raise ValidationFailed("from is after to.", fields={"from": "must not be after to"})
        query = AuditQuery(actor, target_type, target_id, start and _iso(start), end and _iso(end))
        return self.entries.list(query, limit, cursor)


def _moment(text: str, *, end_of_day: bool) -> datetime:
    """An ISO date or time as a UTC moment (a time without an offset is UTC; a date is its first or last ms)."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        if end_of_day:
            return datetime.combine(day, time.max, UTC) - timedelta(microseconds=999)
        return datetime.combine(day, time.min, UTC)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """As entries store times (``domain.orders.iso``), with a four-digit year however early, so it sorts as text."""
    m = moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond // 1000:03d}Z"
