"""The audit log (admin): every change made through a staff route, newest first. Nothing changes or deletes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.routing import ADMIN, Call, endpoint

if TYPE_CHECKING:
    from chalicelib.domain.audit import AuditEntry

api = Blueprint(__name__)


@endpoint(
    api,
    "GET",
    "/staff/audit",
    summary="The audit log, newest first: by actor, target, time range (admin)",
    access=ADMIN,
    query="AuditQuery",
    response="AuditPage",
    errors=(400, 401, 403, 422),
    tag="staff",
)
def list_audit(call: Call) -> dict:
    q = call.query
    result = wiring.audit_log().list(
        actor=q.actor,
        target_type=q.target_type,
        target_id=q.target_id,
        since=q.from_,
        until=q.to,
        limit=q.limit,
        cursor=q.cursor,
    )
    return presenters.page(result, entry)


def entry(item: AuditEntry) -> dict[str, Any]:
    return {
        "at": item.at,
        "actor": item.actor,
        "action": item.action,
        "target": {"type": item.target_type, "id": item.target_id},
        "data": item.data,
        "source_ip": item.source_ip,
        "user_agent": item.user_agent,
    }
