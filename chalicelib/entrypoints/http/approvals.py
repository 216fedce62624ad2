"""Approval routes: the policy setting, the orders waiting for a decision, approve and reject."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.errors import ApiError
from chalicelib.entrypoints.http.orders import order_id_or_404
from chalicelib.entrypoints.http.routing import ADMIN, IF_MATCH_HEADER, STAFF, Call, endpoint, if_match, respond

api = Blueprint(__name__)


@endpoint(
    api,
    "GET",
    "/staff/settings/approval",
    summary="The approval policy: which orders wait for whose approval",
    access=STAFF,
    response="ApprovalPolicyOut",
    response_headers=("ETag",),
    errors=(401, 403),
    tag="approvals",
)
def get_policy(call: Call):
    policy = wiring.approvals().policy()
    return respond(presenters.approval_policy(policy), 200, {"ETag": f'"{policy.version}"'})


@endpoint(
    api,
    "PUT",
    "/staff/settings/approval",
    summary="Replace the approval policy (admin), on the version read (If-Match)",
    access=ADMIN,
    body="ApprovalPolicyIn",
    response="ApprovalPolicyOut",
    response_headers=("ETag",),
    headers=(IF_MATCH_HEADER,),
    errors=(400, 401, 403, 412, 413, 422, 428),
    tag="approvals",
)
def put_policy(call: Call):
    version = if_match(call)
    body = call.body
    if body.version is not None and body.version != version:
        raise ApiError(
            422, "validation_failed", "Some body fields are not valid.",
            fields={"version": "must be the version in If-Match"},
        )  # fmt: skip
    from chalicelib.domain.approval import Rule

    rules = [Rule(rule.name, rule.when.model_dump(exclude_none=True), tuple(rule.steps)) for rule in body.rules]
    policy = wiring.approvals().replace_policy(call.principal, version, rules)
    return respond(presenters.approval_policy(policy), 200, {"ETag": f'"{policy.version}"'})


@endpoint(
    api,
    "GET",
    "/staff/approvals",
    summary="Orders waiting on a step the caller may decide, oldest first",
    access=STAFF,
    query="ApprovalsQuery",
    response="WaitingOrderPage",
    errors=(400, 401, 403, 422),
    tag="approvals",
)
def list_waiting(call: Call) -> dict:
    result = wiring.approvals().waiting(call.principal, call.query.limit, call.query.cursor)
    return presenters.page(result, presenters.waiting_order)


@endpoint(
    api,
    "POST",
    "/staff/orders/{order_id}/approve",
    summary="Approve the order's current approval step; after the last one it is confirmed",
    access=STAFF,
    body="ApproveIn",
    body_required=False,
    response="OrderOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="approvals",
)
def approve(call: Call, order_id: str) -> dict:
    order = wiring.approvals().approve(call.principal, order_id_or_404(order_id), call.body.note or None)
    return presenters.order(order, staff=True)


@endpoint(
    api,
    "POST",
    "/staff/orders/{order_id}/reject",
    summary="Reject the order at its current approval step: cancelled, its stock released",
    access=STAFF,
    body="RejectIn",
    response="OrderOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="approvals",
)
def reject(call: Call, order_id: str) -> dict:
    order = wiring.approvals().reject(call.principal, order_id_or_404(order_id), call.body.reason)
    return presenters.order(order, staff=True)
