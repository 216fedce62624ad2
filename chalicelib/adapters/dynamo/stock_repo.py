"""Staff stock work in DynamoDB: adjustments under their Idempotency-Key, the ledger's pages, low stock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import stock_ledger
from chalicelib.adapters.dynamo.audit_repo import audit_puts
from chalicelib.adapters.dynamo.catalogue_repo import to_product
from chalicelib.adapters.dynamo.catalogue_table import StockIdempotencyRecord
from chalicelib.adapters.dynamo.models import ProductModel
from chalicelib.adapters.dynamo.pages import sharded_page
from chalicelib.adapters.dynamo.stock_ledger import LOW_SHARDS, StockState
from chalicelib.config import settings
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.catalogue import Product, StockMovement
from chalicelib.services.ports import IdempotencyClaim, Page, StockChange

IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600
IDEM_SK = "#IDEM"


class KeyTaken(Exception):
    """The Idempotency-Key was taken meanwhile (by a concurrent request with it)."""


class StockRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def product(self, sku: str) -> Product | None:
        try:
            return to_product(ProductModel.get(sku, consistent_read=True))
        except ProductModel.DoesNotExist:
            return None

    def earlier(self, scope: str, key: str) -> tuple[str, dict[str, Any]] | None:
        """What an adjustment's Idempotency-Key answered first: (request hash, answer), or None (one GetItem)."""
        try:
            record = StockIdempotencyRecord.get(_pk(scope, key), IDEM_SK, consistent_read=True)
        except StockIdempotencyRecord.DoesNotExist:
            return None
        return record.request_hash, json.loads(record.answer)

    def move(
        self,
        seen: Product,
        change: StockChange | None,
        *,
        claim: IdempotencyClaim,
        answer: Callable[[StockMovement | None], dict[str, Any]],
        audit: Callable[[StockMovement | None], list[AuditEntry]],
        at: str,
        actor: str,
        attempts: int,
    ) -> StockMovement | None:
        """One transaction: the change and its movement (none for ``None``), the key's record holding
        ``answer(movement)`` and ``audit(movement)``. ``KeyTaken`` if the key was taken meanwhile;
        ``StockShortage`` below zero; ``WriteConflict`` if the SKU kept moving."""
        expires = datetime.fromtimestamp(time.time() + IDEMPOTENCY_TTL_SECONDS, UTC)

        def build(transaction: TransactWrite, moves: list[StockMovement]) -> int:
            movement = moves[0] if moves else None
            record = StockIdempotencyRecord(
                _pk(claim.scope, claim.key), IDEM_SK, request_hash=claim.request_hash,
                answer=json.dumps(answer(movement), ensure_ascii=False), expires_at=expires,
            )  # fmt: skip
            puts = [(record, StockIdempotencyRecord.pk.does_not_exist()), *audit_puts(audit(movement))]
            for item, condition in puts:
                transaction.save(item, condition=condition)
            return len(puts)

        try:
            moves = stock_ledger.commit_with_stock(
                self._connection, build, [change] if change else [], at=at, actor=actor,
                seen={seen.sku: StockState.of(seen)}, attempts=attempts,
            )  # fmt: skip
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise KeyTaken() from None
            if "TransactionConflict" in reasons:
                from chalicelib.services.ports import WriteConflict

                raise WriteConflict() from None
            raise
        return moves[0] if moves else None

    def movements(self, sku: str, *, limit: int, cursor: str | None) -> Page[StockMovement]:
        return stock_ledger.movements(sku, limit=limit, cursor=cursor)

    def low(self, *, limit: int, cursor: str | None) -> Page[Product]:
        """Products under their threshold, largest shortfall first: one Query per shard of ``low-stock``."""
        shards = [f"LOW#{n}" for n in range(LOW_SHARDS)]
        return sharded_page(
            ProductModel.low, "low_stock", shards, limit=limit, cursor=cursor, convert=to_product,
            order_by="shortfall", newest_first=True,
        )  # fmt: skip


def _pk(scope: str, key: str) -> str:
    return f"IDEM#{scope}#{key}"
