"""Every change of a SKU's stock, with its ledger entry, in the transaction of the change.

A SKU's stock (``available`` on its product item) changes only here: a write computed from the
product as last read (``stock_seq``, ``available``, ``version``), conditional on it being unchanged,
that sets the new ``available``, the next ``stock_seq`` and the low-stock index keys, beside a Put of
the movement ``MOVE#<stock_seq>`` (``adapters/dynamo/catalogue_table.py``). So the ledger is gapless and
in commit order, each entry's ``balance_after`` is exact, and its deltas always sum to ``available``.
A write that finds the product moved since it was read is retried on a fresh read (``commit_with_stock``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.catalogue_table import MOVES_SHARDS, MovementRecord, movement_sk, sku_pk
from chalicelib.adapters.dynamo.models import ProductModel
from chalicelib.adapters.dynamo.pages import base_table, query_page
from chalicelib.config import settings
from chalicelib.domain.catalogue import Product, StockMovement, shortfall
from chalicelib.services.ports import Page, StockChange, StockShortage, WriteConflict

STOCK_ATTEMPTS = 5  # fresh reads before a write that keeps meeting concurrent moves gives up (429)
LOW_SHARDS = 4  # partitions of the low-stock index (``LOW#<n>``, the shard from the SKU)


@dataclass(frozen=True)
class StockState:
    """What a stock write is computed from and conditional on: the product as last read."""

    sku: str
    available: int
    sales_count: int
    stock_seq: int
    version: int
    threshold: int
    active: bool
    exists: bool = True

    @classmethod
    def of(cls, product: Product) -> StockState:
        return cls(product.sku, product.stock_available, product.sales_count, product.stock_seq,
                   product.version, product.low_stock_threshold, product.active)  # fmt: skip


def read_states(skus: Iterable[str]) -> dict[str, StockState]:
    """The SKUs' stock as it is now (one consistent BatchGetItem per 100); a missing SKU is ``exists=False``."""
    wanted = list(dict.fromkeys(skus))
    found = {record.sku: _state(record) for record in ProductModel.batch_get(wanted, consistent_read=True)}
    return {sku: found.get(sku, StockState(sku, 0, 0, 0, 1, 0, False, exists=False)) for sku in wanted}


def _state(record: ProductModel) -> StockState:
    return StockState(
        record.sku, int(record.available), int(record.sales_count or 0), int(record.stock_seq or 0),
        int(record.version or 1), int(record.low_stock_threshold or 0), bool(record.active),
    )  # fmt: skip


def low_stock_shard(sku: str) -> str:
    return f"LOW#{int(hashlib.sha256(sku.encode()).hexdigest()[:8], 16) % LOW_SHARDS}"


def low_stock_actions(sku: str, available: int, threshold: int, active: bool) -> list:
    """Set or remove the low-stock index keys (``low_stock``, ``shortfall``) for this stock and threshold."""
    short = shortfall(available, threshold) if active else None
    if short is None:
        return [ProductModel.low_stock.remove(), ProductModel.shortfall.remove()]
    return [ProductModel.low_stock.set(low_stock_shard(sku)), ProductModel.shortfall.set(short)]


def seen_condition(state: StockState) -> Any:
    """The product is as ``state`` read it: same stock, stock sequence and version (the last two absent on
    items written before the ledger existed)."""
    seq = ProductModel.stock_seq == state.stock_seq
    if state.stock_seq == 0:
        seq = seq | ProductModel.stock_seq.does_not_exist()
    version = ProductModel.version == state.version
    if state.version == 1:
        version = version | ProductModel.version.does_not_exist()
    return ProductModel.sku.exists() & (ProductModel.available == state.available) & seq & version


def plan_moves(
    changes: list[StockChange], states: Mapping[str, StockState], *, at: str, actor: str
) -> list[StockMovement]:
    """Each change's ledger entry from the SKU as read; ``StockShortage`` for the SKUs that cannot give what
    is asked (``_refused``)."""
    if len({change.sku for change in changes}) != len(changes):
        raise ValueError("one stock change per SKU in a transaction")
    short = [change.sku for change in changes if _refused(change, states[change.sku])]
    if short:
        raise StockShortage(short)
    return [_movement(change, states[change.sku], at=at, actor=actor) for change in changes]


def _refused(change: StockChange, state: StockState) -> bool:
    """An unknown SKU gives nothing; nor does one below zero; a retired one takes no new orders' reservations."""
    if not state.exists:
        return True
    if change.delta >= 0:
        return False
    return state.available + change.delta < 0 or (change.is_sale and not state.active)


def add_moves(
    transaction: TransactWrite, changes: list[StockChange], moves: list[StockMovement], states: Mapping[str, StockState]
) -> None:
    """Add each movement's Put, then each product's update (conditional on the SKU as read)."""
    for move in moves:
        transaction.save(to_record(move), condition=MovementRecord.pk.does_not_exist())
    for change, move in zip(changes, moves, strict=True):
        state = states[change.sku]
        sales = state.sales_count - change.delta if change.is_sale else state.sales_count
        actions = [
            ProductModel.available.set(move.balance_after),
            ProductModel.sales_count.set(max(sales, 0)),
            ProductModel.stock_seq.set(move.seq),
            *low_stock_actions(change.sku, move.balance_after, state.threshold, state.active),
        ]
        transaction.update(ProductModel(change.sku), actions=actions, condition=seen_condition(state))


def commit_with_stock(
    connection: Connection,
    build: Callable[[TransactWrite, list[StockMovement]], int],
    changes: list[StockChange],
    *,
    at: str,
    actor: str,
    seen: Mapping[str, StockState] | None = None,
    attempts: int = STOCK_ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> list[StockMovement]:
    """One TransactWriteItems of what ``build(transaction, moves)`` adds (Puts only; it returns how many)
    and the ``changes`` with their movements ``moves``.

    ``seen``: the SKUs as the caller just read them (else read here, consistently). When only stock
    conditions fail (the product moved since it was read), the SKUs are read again and the write retried,
    up to ``attempts`` times (``WriteConflict`` after). Any other failure is raised as it is: its
    cancellation reasons start with ``build``'s items.
    """
    states = dict(seen or {})
    missing = [change.sku for change in changes if change.sku not in states]
    if missing:
        states.update(read_states(missing))
    for attempt in range(attempts):
        moves = plan_moves(changes, states, at=at, actor=actor)
        own = 0
        try:
            with TransactWrite(connection=connection) as transaction:
                own = build(transaction, moves)
                add_moves(transaction, changes, moves, states)
            return moves
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            updates = reasons[own + len(changes) :]
            moved = [c.sku for c, r in zip(changes, updates, strict=False) if r == "ConditionalCheckFailed"]
            if not changes or "ConditionalCheckFailed" in reasons[:own] or not moved:
                raise
            if attempt + 1 < attempts:
                states.update(read_states(moved))
                pause(0.005 * 2**attempt)
    raise WriteConflict()


def _movement(change: StockChange, state: StockState, *, at: str, actor: str) -> StockMovement:
    return StockMovement(
        sku=change.sku, seq=state.stock_seq + 1, at=at, delta=change.delta, reason=change.reason, actor=actor,
        balance_after=state.available + change.delta, order_id=change.order_id, return_id=change.return_id,
        note=change.note,
    )  # fmt: skip


def to_record(move: StockMovement) -> MovementRecord:
    shard = int(hashlib.sha256(f"{move.sku}#{move.seq}".encode()).hexdigest()[:8], 16) % MOVES_SHARDS
    return MovementRecord(
        sku_pk(move.sku), movement_sk(move.seq), sku=move.sku, seq=move.seq, at=move.at, delta=move.delta,
        reason=move.reason, actor=move.actor, balance_after=move.balance_after, order_id=move.order_id,
        return_id=move.return_id, note=move.note, moves_shard=f"MOVES#{shard}",
    )  # fmt: skip


def to_movement(record: MovementRecord) -> StockMovement:
    return StockMovement(
        sku=record.sku, seq=int(record.seq), at=record.at, delta=int(record.delta), reason=record.reason,
        actor=record.actor, balance_after=int(record.balance_after), order_id=record.order_id,
        return_id=record.return_id, note=record.note,
    )  # fmt: skip


_Movements = base_table(MovementRecord)


def movements(sku: str, *, limit: int, cursor: str | None) -> Page[StockMovement]:
    """A SKU's movements, newest first: one Query of its partition."""
    return query_page(
        _Movements, ("pk", sku_pk(sku)), limit=limit, cursor=cursor, convert=to_movement, order_by="sk",
        range_key_condition=MovementRecord.sk.startswith("MOVE#"), newest_first=True,
    )  # fmt: skip


def replace_product(product: Product, to_product_record: Callable[[Product], ProductModel]) -> None:
    """Write ``product`` whole, its stock reached through a movement from what the SKU holds now (seeding)."""
    from dataclasses import replace

    from chalicelib.domain.orders import iso

    state = read_states([product.sku])[product.sku]
    delta = product.stock_available - (state.available if state.exists else 0)
    seq = state.stock_seq + (1 if delta else 0)
    at = product.updated_at or iso(datetime.now(UTC))
    with TransactWrite(connection=Connection(region=settings.region)) as transaction:
        condition = seen_condition(state) if state.exists else ProductModel.sku.does_not_exist()
        record = to_product_record(replace(product, stock_seq=seq, version=state.version if state.exists else 1))
        transaction.save(record, condition=condition)
        if delta:
            reason = "correction" if state.exists else "created"
            move = StockMovement(product.sku, seq, at, delta, reason, "system", product.stock_available)
            transaction.save(to_record(move), condition=MovementRecord.pk.does_not_exist())
