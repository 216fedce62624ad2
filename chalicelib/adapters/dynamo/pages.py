"""One page of a Query, with its cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
