"""Approvals in DynamoDB: the versioned policy setting (read through a short cache) and the orders waiting.

The policy is one versioned setting, ``SETTING#approval`` (``settings_repo.py``: written only on its
version with its audit entry, read through a cache of ``CACHE_SECONDS``).

Orders waiting for a step are in the sparse ``approvals-waiting`` index (``<role>#<shard>``,
by when the step started waiting), projected with what the list shows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.adapters.dynamo.models import OrderRecord
from chalicelib.adapters.dynamo.order_records import ORDER_SHARDS, sharded, to_approval
from chalicelib.adapters.dynamo.pages import sharded_page
from chalicelib.adapters.dynamo.settings_repo import CACHE_SECONDS, VersionedSetting
from chalicelib.domain.approval import DEFAULT_POLICY, SETTING, Policy, Rule
from chalicelib.domain.orders import Order
from chalicelib.services.ports import Page

if TYPE_CHECKING:
    from chalicelib.domain.audit import AuditEntry

__all__ = ["CACHE_SECONDS", "ApprovalPolicyRepository", "ApprovalQueueRepository"]


def policy_body(policy: Policy) -> str:
    rules = [{"name": r.name, "when": dict(r.when), "steps": list(r.steps)} for r in policy.rules]
    return json.dumps({"rules": rules}, ensure_ascii=False, sort_keys=True)


def policy_from(version: int, body: str) -> Policy:
    rules = json.loads(body)["rules"]
    return Policy(version, tuple(Rule(r["name"], r["when"], tuple(r["steps"])) for r in rules))


class ApprovalPolicyRepository(VersionedSetting[Policy]):
    """The approval policy (``SETTING#approval``): GetItem on a cache miss, a conditional PutItem to change it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(SETTING, DEFAULT_POLICY, policy_body, policy_from, clock)

    def replace(  # type: ignore[override]
        self, policy: Policy, expected_version: int, actor: str, at: str, audit: tuple[AuditEntry, ...] = ()
    ) -> None:
        """Write ``policy`` (its version is ``expected_version + 1``) if the stored one is still
        ``expected_version``, with its ``audit`` entries in the same transaction (``WriteConflict`` if not)."""
        stored = 0 if expected_version == DEFAULT_POLICY.version else expected_version
        super().replace(policy, policy.version, stored, actor, at, audit)


class ApprovalQueueRepository:
    """Orders waiting for a decision, and whether a customer ordered before."""

    def waiting(self, roles: list[str], excluded: str, limit: int, cursor: str | None) -> Page[Order]:
        """Orders whose current step needs one of ``roles`` and that ``excluded`` may decide, oldest waiting first.

        One Query per role and shard (in parallel), each evaluating at most a bounded page (filtered).
        """
        shards = [sharded(role, n) for role in roles for n in range(ORDER_SHARDS)]
        return sharded_page(
            OrderRecord.approvals_waiting, "approval_queue", shards, limit=limit, cursor=cursor, convert=_waiting,
            order_by="approval_since", filter_condition=~OrderRecord.approval_excluded.contains(excluded),
        )  # fmt: skip

    def has_ordered(self, customer_id: str) -> bool:
        """Whether the customer has any order yet: one Query of ``customer-created``, limit 1."""
        found = OrderRecord.by_customer.query(customer_id, limit=1, page_size=1)
        return next(iter(found), None) is not None


def _waiting(record: OrderRecord) -> Order:
    """An order as the index projects it: enough for the approvals list (no lines, address or ledger)."""
    return Order(
        order_id=record.order_id,
        order_number=record.order_number,
        customer_id=record.customer_id,
        status=record.status,
        payment_status="unpaid",
        fulfilment_status="unfulfilled",
        lines=[],
        subtotal=0,
        discount=0,
        shipping=0,
        total=int(record.total),
        currency=record.currency,
        shipping_address={},
        channel=record.channel,
        created_at=record.created_at,
        updated_at=record.created_at,
        reserved_until=record.reserved_until,
        approval=to_approval(record.approval),
    )
