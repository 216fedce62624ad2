"""Staff stock work: adjustments (restock, stocktake, damage, ...), a SKU's ledger, what runs low.

An adjustment moves stock only through the ledger (``adapters/dynamo/stock_ledger.py``): its movement, the
new ``available`` and its audit entry in one transaction, under the request's Idempotency-Key, looked up
before anything that could refuse it, so a replay answers the first result whatever the stock is now.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.audit import entry
from chalicelib.domain.catalogue import Product, StockMovement
from chalicelib.domain.errors import Conflict, IdempotencyKeyReused, NotFound, RequestInProgress
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import iso
from chalicelib.services.changes import Busy
from chalicelib.services.ports import IdempotencyClaim, Page, StockChange, StockShortage, WriteConflict

ATTEMPTS = 5


class InsufficientStock(Conflict):
    code = "insufficient_stock"


@dataclass(frozen=True)
class Adjusted:
    answer: dict[str, Any]  # {sku, stock_available, movement}, as first answered
    replayed: bool


def movement_view(move: StockMovement | None) -> dict[str, Any] | None:
    """A movement as staff read it (API.md: stock-movements)."""
    if move is None:
        return None
    view = {"seq": move.seq, "at": move.at, "delta": move.delta, "reason": move.reason, "actor": move.actor,
            "balance_after": move.balance_after}  # fmt: skip
    for name in ("order_id", "return_id", "note"):
        if getattr(move, name) is not None:
            view[name] = getattr(move, name)
    return view


@dataclass
class StockService:
    repo: Any  # adapters/dynamo/stock_repo.StockRepository
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    pause: Callable[[float], None] = time.sleep

    def adjust(self, principal: Principal, sku: str, delta: int, reason: str, note: str | None, key: str) -> Adjusted:
        """Add ``delta`` (≠ 0) units; ``409 insufficient_stock`` below zero. Idempotent by ``key``."""
        request = {"op": "adjust", "sku": sku, "delta": delta, "reason": reason, "note": note}
        return self._once(principal, sku, key, request, lambda product: delta, reason, note)

    def set_level(
        self, principal: Principal, sku: str, level: int, *, reason: str = "stocktake", note: str | None = None,
        key: str,
    ) -> Adjusted:  # fmt: skip
        """Make the SKU hold ``level`` units (a stocktake's count): the movement is the difference from what it
        holds when the write lands (none if equal). Idempotent by ``key``: applied once, then replayed."""
        request = {"op": "set_level", "sku": sku, "level": level, "reason": reason, "note": note}
        return self._once(principal, sku, key, request, lambda product: level - product.stock_available, reason, note)

    def movements(self, sku: str, *, limit: int, cursor: str | None) -> Page[StockMovement]:
        if self.repo.product(sku) is None:
            raise NotFound("No such product.", sku=sku)
        return self.repo.movements(sku, limit=limit, cursor=cursor)

    def low(self, *, limit: int, cursor: str | None) -> Page[Product]:
        return self.repo.low(limit=limit, cursor=cursor)

    def _once(
        self, principal: Principal, sku: str, key: str, request: dict[str, Any],
        delta_of: Callable[[Product], int], reason: str, note: str | None,
    ) -> Adjusted:  # fmt: skip
        from chalicelib.adapters.dynamo.stock_repo import KeyTaken

        scope = principal.subject
        request_hash = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        claim = IdempotencyClaim(scope, key, request_hash)
        for attempt in range(ATTEMPTS):
            earlier = self.repo.earlier(scope, key)  # first: a replay answers whatever the stock is now
            if earlier is not None:
                if earlier[0] != request_hash:
                    raise IdempotencyKeyReused()
                return Adjusted(earlier[1], True)
            product = self.repo.product(sku)
            if product is None:
                raise NotFound("No such product.", sku=sku)
            delta = delta_of(product)
            change = StockChange(sku, delta, reason, note=note, is_sale=False) if delta else None
            at = iso(self.clock())

            def answer(move: StockMovement | None, product: Product = product) -> dict[str, Any]:
                balance = move.balance_after if move else product.stock_available
                return {"sku": sku, "stock_available": balance, "movement": movement_view(move)}

            def audit(move: StockMovement | None, at: str = at) -> list:
                data = {"delta": move.delta if move else 0, "reason": reason, "note": note,
                        "balance_after": move.balance_after if move else None}  # fmt: skip
                return [entry(principal, "stock.adjust", ("product", sku), at=at, key=f"{scope}#{key}", data=data)]

            try:
                move = self.repo.move(product, change, claim=claim, answer=answer, audit=audit, at=at,
                                      actor=principal.actor, attempts=1)  # fmt: skip
                return Adjusted(answer(move), False)
            except StockShortage:
                raise InsufficientStock(
                    "The stock cannot go below zero.", sku=sku, stock_available=product.stock_available,
                    delta=delta,
                ) from None  # fmt: skip
            except KeyTaken:
                if attempt + 1 == ATTEMPTS:
                    raise RequestInProgress("A request with this Idempotency-Key is still running.") from None
            except WriteConflict:
                self.pause(random.uniform(0, 0.01 * 2**attempt))
        raise Busy("The SKU's stock is moving right now; retry shortly.")
