"""Schemas of the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import AfterValidator, ConfigDict, Field

from chalicelib.entrypoints.http.schemas.base import Cursor, Limit, Pattern, Schema

AUDIT_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"


def _audit_time(value: str) -> str:
    from datetime import UTC, date, datetime

    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value).astimezone(UTC)  # a moment UTC can express (not before year 1)
    except (ValueError, OverflowError):
        raise ValueError("is not a real date or time") from None
    return value


AuditTime = Annotated[
    str,
    Pattern(AUDIT_TIME, "must be an ISO 8601 date (2026-12-01) or time (2026-12-01T08:30:00Z)"),
    AfterValidator(_audit_time),
]


class AuditQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Optional[Annotated[str, Pattern(r"^[a-z]{1,16}:[A-Za-z0-9_-]{1,128}$", "must be an actor as entries "
                                           "show it, e.g. staff:<sub> or admin:<sub>")]] = None  # fmt: skip
    target_type: Optional[Annotated[str, Pattern(r"^[a-z_]{1,32}$", "must be 1 to 32 lowercase letters or '_', "
                                                 "e.g. order")]] = None  # fmt: skip
    target_id: Optional[Annotated[str, Pattern(r"^[A-Za-z0-9._:-]{1,128}$", "must be 1 to 128 letters, digits, "
                                               "'.', '_', ':' or '-'")]] = Field(
        None, description="Needs target_type."
    )  # fmt: skip
    from_: Optional[AuditTime] = Field(None, alias="from", description="Inclusive; a date means from its start (UTC).")
    to: Optional[AuditTime] = Field(None, description="Inclusive; a date means to its end (UTC).")
    limit: Limit = 20
    cursor: Optional[Cursor] = None


class AuditTargetOut(Schema):
    type: str
    id: str


class AuditEntryOut(Schema):
    at: str
    actor: str
    action: str
    target: AuditTargetOut
    data: dict[str, Any]
    source_ip: Optional[str]
    user_agent: Optional[str]


class AuditPage(Schema):
    items: list[AuditEntryOut]
    next_cursor: Optional[str]
