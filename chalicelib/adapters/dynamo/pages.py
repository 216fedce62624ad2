"""One page of an index, read from one or several partitions (shards), with its cursor.

Every page costs at most one Query per partition still to read, whatever the table
holds: an unfiltered Query reads ``limit + 1`` items, a filtered one evaluates at most
``FILTERED_PAGE_SIZE`` (or 1 MB). A filtered page may therefore hold fewer than
``limit`` items, or none, and still have a ``next_cursor``: the listing goes on from
there. Several partitions are read in parallel and merged in index order; the cursor
holds each partition's position (the last item taken from it).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

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
    order_by: str,
    range_key_condition=None,
    filter_condition=None,
    newest_first: bool = False,
) -> Page[T]:
    """Up to ``limit`` items of one index partition, in index order: one Query."""
    attribute, value = partition
    return sharded_page(
        index, attribute, [value], limit=limit, cursor=cursor, convert=convert, order_by=order_by,
        range_key_condition=range_key_condition, filter_condition=filter_condition, newest_first=newest_first,
    )  # fmt: skip


def sharded_page(
    index: GlobalSecondaryIndex,
    attribute: str,
    shards: list[str],
    *,
    limit: int,
    cursor: str | None,
    convert: Callable[[R], T],
    order_by: str,
    range_key_condition=None,
    filter_condition=None,
    newest_first: bool = False,
) -> Page[T]:
    """Up to ``limit`` items of an index written to the partitions ``shards``, merged in index order.

    One Query per shard not yet exhausted (run in parallel). With a filter, a shard may
    stop before its matches run out; items past the furthest such stop are left for the
    next page, so pages never go back in order.
    """
    key_names = _key_names(index)
    positions = cursors.decode_sharded(cursor, key_names, attribute, shards)
    page_size = FILTERED_PAGE_SIZE if filter_condition is not None else limit + 1

    def fetch(shard: str) -> tuple[str, list[R], dict | None]:
        results = index.query(
            shard,
            range_key_condition=range_key_condition,
            filter_condition=filter_condition,
            scan_index_forward=not newest_first,
            page_size=page_size,
            last_evaluated_key=positions[shard],
        )
        return (shard, *_one_page(results))

    active = [shard for shard in shards if shard in positions]
    if len(active) == 1:
        fetched = [fetch(active[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(active)) as pool:
            fetched = list(pool.map(fetch, active))
    rows = sorted(
        ((getattr(record, order_by), shard, n, record) for shard, got, _ in fetched for n, record in enumerate(got)),
        key=lambda row: (row[0], row[1], row[2]),
        reverse=newest_first,
    )
    frontiers = [_sort_value(last, order_by) for _, got, last in fetched if last is not None]
    if frontiers:  # a shard that stopped at v may hold more beyond v: take nothing past the furthest stop
        bound = max(frontiers) if newest_first else min(frontiers)
        rows = [row for row in rows if (row[0] >= bound if newest_first else row[0] <= bound)]
    rows = rows[:limit]
    taken: dict[str, int] = {}
    for _, shard, n, _ in rows:
        taken[shard] = max(taken.get(shard, 0), n + 1)
    after: dict[str, dict | None] = {}
    for shard, got, last in fetched:
        used = taken.get(shard, 0)
        if used == len(got):
            if last is not None:
                after[shard] = last  # more in this shard after what was read
        else:
            after[shard] = _key_of(got[used - 1], key_names) if used else positions[shard]
    return Page([convert(record) for *_, record in rows], cursors.encode_sharded(after) if after else None)


def base_table(model: type) -> Any:
    """A table itself, shaped as the functions above read an index (its key names and ``query``)."""

    class Meta:
        attributes: ClassVar[dict[str, Any]] = {}

    return type(f"{model.__name__}Table", (), {"_model": model, "Meta": Meta, "query": staticmethod(model.query)})


def _one_page(results: Any) -> tuple[list, dict | None]:
    """The items of one Query call (PynamoDB's iterator would read further pages on demand; a page must not)."""
    try:
        page = next(results.page_iter)
    except StopIteration:
        return [], None
    mapped = [results._map_fn(raw) if results._map_fn else raw for raw in page.get("Items", [])]
    return mapped, results.page_iter.last_evaluated_key


def _sort_value(key: dict[str, dict[str, str]], order_by: str) -> Any:
    ((kind, text),) = key[order_by].items()
    return int(text) if kind == "N" else text


def _key_of(record: Any, key_names: set[str]) -> dict:
    serialized = record.serialize(null_check=False)  # an index may project only some attributes
    return {name: serialized[name] for name in key_names}


def _key_names(index: GlobalSecondaryIndex) -> set[str]:
    model = index._model
    names = {model._hash_keyname}
    if model._range_keyname:
        names.add(model._range_keyname)
    for attribute in index.Meta.attributes.values():
        if attribute.is_hash_key or attribute.is_range_key:
            names.add(attribute.attr_name)
    return names
