"""Approvals in DynamoDB: the versioned policy setting (read through a short cache) and the orders waiting.

The policy is one item, ``SETTING#approval``, written only on its version (a conditional
put, in one transaction with its audit entry). Every container reads it through a cache of ``CACHE_SECONDS``: a change made
elsewhere applies to new orders within that time; one made here applies at once.

Orders waiting for a step are in the sparse ``approvals-waiting`` index (``<role>#<shard>``,
by when the step started waiting), projected with what the list shows.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.models import SETTING_SK, OrderRecord, SettingRecord, setting_pk
from chalicelib.adapters.dynamo.order_records import ORDER_SHARDS, sharded, to_approval
from chalicelib.adapters.dynamo.pages import sharded_page
from chalicelib.config import settings
from chalicelib.domain.approval import DEFAULT_POLICY, SETTING, Policy, Rule
from chalicelib.domain.orders import Order
from chalicelib.services.ports import Page, WriteConflict

if TYPE_CHECKING:
    from chalicelib.domain.audit import AuditEntry

CACHE_SECONDS = 30.0


def policy_body(policy: Policy) -> str:
    rules = [{"name": r.name, "when": dict(r.when), "steps": list(r.steps)} for r in policy.rules]
    return json.dumps({"rules": rules}, ensure_ascii=False, sort_keys=True)


def policy_from(version: int, body: str) -> Policy:
    rules = json.loads(body)["rules"]
    return Policy(version, tuple(Rule(r["name"], r["when"], tuple(r["steps"])) for r in rules))


class ApprovalPolicyRepository:
    """The approval policy: GetItem on a cache miss, a conditional PutItem to change it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Policy] | None = None

    def stale(self) -> bool:
        """Whether the next ``current()`` would read the item (so a caller's batch read may fetch it instead)."""
        with self._lock:
            cached = self._cached
        return cached is None or self._clock() - cached[0] >= CACHE_SECONDS

    @staticmethod
    def key() -> dict[str, dict[str, str]]:
        """The policy item's key, as DynamoDB's low-level API names it."""
        return {"pk": {"S": setting_pk(SETTING)}, "sk": {"S": SETTING_SK}}

    def remember_item(self, item: dict | None) -> None:
        """The policy item as a batch read found it (``None``: never written, the default is in effect)."""
        if item is None:
            self._remember(DEFAULT_POLICY)
            return
        record = SettingRecord.from_raw_data(item)
        self._remember(policy_from(int(record.version), record.body))

    def current(self, *, fresh: bool = False) -> Policy:
        """The policy in effect (cached up to ``CACHE_SECONDS``; ``fresh``: read now, consistently)."""
        with self._lock:
            cached = self._cached
        if cached is not None and not fresh and self._clock() - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            record = SettingRecord.get(setting_pk(SETTING), SETTING_SK, consistent_read=fresh)
            policy = policy_from(int(record.version), record.body)
        except SettingRecord.DoesNotExist:
            policy = DEFAULT_POLICY
        self._remember(policy)
        return policy

    def replace(
        self, policy: Policy, expected_version: int, actor: str, at: str, audit: tuple[AuditEntry, ...] = ()
    ) -> None:
        """Write ``policy`` (its version is ``expected_version + 1``) if the stored one is still ``expected_version``,
        with its ``audit`` entries in the same transaction.

        ``WriteConflict`` when it is not (nothing written). One TransactWriteItems.
        """
        record = SettingRecord(
            setting_pk(SETTING), SETTING_SK, version=policy.version, body=policy_body(policy), updated_at=at,
            updated_by=actor,
        )  # fmt: skip
        if expected_version == DEFAULT_POLICY.version:
            condition = SettingRecord.pk.does_not_exist()
        else:
            condition = SettingRecord.version == expected_version
        from chalicelib.adapters.dynamo.audit_repo import add_audit  # the audit table's model, only to change

        try:
            with TransactWrite(connection=Connection(region=settings.region)) as transaction:
                transaction.save(record, condition=condition)
                add_audit(transaction, audit)
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            if reasons[:1] == ["ConditionalCheckFailed"] or "TransactionConflict" in reasons:
                raise WriteConflict() from None
            raise
        self._remember(policy)

    def forget(self) -> None:
        """Drop the cached policy (tests start each with fresh tables)."""
        with self._lock:
            self._cached = None

    def _remember(self, policy: Policy) -> None:
        with self._lock:
            self._cached = (self._clock(), policy)


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
