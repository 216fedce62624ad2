"""One page of a Query, with its cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.adapters.dynamo import cursor as cursors
from chalicelib.services.ports import Page

T = TypeVar("T")
R = TypeVar("R")

# Items one filtered Query may evaluate; DynamoDB also stops at 1 MB read.
FILTERED_PAGE_SIZE = 1000


def query_page(
    index: GlobalSecondaryIndex,
    partition: tuple[str, str],
    *,
    limit: int,
    cursor: str | None,
    convert: Callable[[R], T],
    range_key_condition=None,
    filter_condition=None,
    newest_first: bool = False,
) -> Page[T]:
    """Up to ``limit`` items of one index partition, in index order.

    Without a filter one Query reads ``limit + 1`` items, so the cursor is exact and
    the last page has none. With a filter one Query evaluates up to
    ``FILTERED_PAGE_SIZE`` items (or 1 MB); a further call follows only when that
    many were evaluated and the page is still not full.
    """
    key_names = _key_names(index)
    start = cursors.decode(cursor, key_names, partition)
    results = index.query(
        partition[1],
        range_key_condition=range_key_condition,
        filter_condition=filter_condition,
        scan_index_forward=not newest_first,
        limit=limit,
        page_size=FILTERED_PAGE_SIZE if filter_condition is not None else limit + 1,
        last_evaluated_key=start,
    )
    items = [convert(record) for record in _take(results, limit)]
    return Page(items, cursors.encode(results.last_evaluated_key))


def _take(results: Iterator[R], limit: int) -> Iterator[R]:
    for count, record in enumerate(results, start=1):
        yield record
        if count >= limit:
            return


def _key_names(index: GlobalSecondaryIndex) -> set[str]:
    model = index._model
    names = {model._hash_keyname}
    if model._range_keyname:
        names.add(model._range_keyname)
    for attribute in index.Meta.attributes.values():
        if attribute.is_hash_key or attribute.is_range_key:
            names.add(attribute.attr_name)
    return names


def sharded_page(
    index: GlobalSecondaryIndex,
    attribute: str,
    shards: list[str],
    *,
    limit: int,
    cursor: str | None,
    convert: Callable[[R], T],
    order_by: str,
    newest_first: bool = False,
) -> Page[T]:
    """Up to ``limit`` items of an index written to several partitions (``shards``), merged in index order.

    One Query per shard that is not exhausted (at most ``len(shards)`` calls, run in
    parallel), each reading ``limit + 1`` items, whatever the table's size; the cursor
    holds each shard's position (the last item taken from it).
    """
    key_names = _key_names(index)
    positions = cursors.decode_sharded(cursor, key_names, attribute, shards)

    def fetch(shard: str) -> tuple[str, list[R], dict | None]:
        results = index.query(
            shard,
            scan_index_forward=not newest_first,
            limit=limit,
            page_size=limit + 1,
            last_evaluated_key=positions[shard],
        )
        got = list(_take(results, limit))
        return shard, got, results.last_evaluated_key

    active = [shard for shard in shards if shard in positions]
    with ThreadPoolExecutor(max_workers=max(len(active), 1)) as pool:
        fetched = list(pool.map(fetch, active))
    merged = sorted(
        ((getattr(record, order_by), shard, n, record) for shard, got, _ in fetched for n, record in enumerate(got)),
        key=lambda row: (row[0], row[1], row[2]),
        reverse=newest_first,
    )[:limit]
    taken: dict[str, int] = {}
    for _, shard, n, _ in merged:
        taken[shard] = max(taken.get(shard, 0), n + 1)
    after: dict[str, dict | None] = {}
    for shard, got, last in fetched:
        used = taken.get(shard, 0)
        if used == len(got):
            if last is not None:
                after[shard] = last  # more in this shard after what was taken
        else:
            after[shard] = _key_of(got[used - 1], key_names) if used else positions[shard]
    return Page([convert(record) for *_, record in merged], cursors.encode_sharded(after) if after else None)


def _key_of(record, key_names: set[str]) -> dict:
    serialized = record.serialize()
    return {name: serialized[name] for name in key_names}
