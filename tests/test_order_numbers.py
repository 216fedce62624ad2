"""The day's order numbers: unique however many containers take them, one counter write per block."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from chalicelib.adapters.dynamo.order_numbers import OrderNumbers

DAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_one_number_at_a_time_is_strictly_increasing(tables, dynamodb_calls):
    numbers = OrderNumbers()
    taken = [numbers.take(DAY) for _ in range(5)]
    assert taken == [1, 2, 3, 4, 5]
    assert dynamodb_calls == ["UpdateItem"] * 5


def test_blocks_shared_by_containers_never_repeat_a_number_and_write_once_per_block(tables, dynamodb_calls):
    """Three containers (each its own OrderNumbers) taking 10 at a time, 100 numbers between them, 8 threads each:
    every number is unique, each container's are increasing, and the counter is written once per block."""
    containers = [OrderNumbers(block=10) for _ in range(3)]

    def take(n: int) -> tuple[int, int]:
        which = n % 3
        return which, containers[which].take(DAY)

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(take, range(100)))

    numbers = [number for _, number in taken]
    assert len(set(numbers)) == 100
    assert dynamodb_calls.count("UpdateItem") <= 100 // 10 + 3  # one per block, at most one partly used each


def test_each_container_hands_out_its_block_in_order_and_containers_interleave(tables):
    """What blocks trade for throughput: within a container numbers increase; across two they interleave."""
    first, second = OrderNumbers(block=3), OrderNumbers(block=3)
    taken = [first.take(DAY), second.take(DAY), first.take(DAY), second.take(DAY), first.take(DAY), first.take(DAY)]
    assert taken == [1, 4, 2, 5, 3, 7]


def test_a_new_day_starts_again_from_one(tables):
    numbers = OrderNumbers(block=5)
    assert [numbers.take(DAY), numbers.take(DAY)] == [1, 2]
    assert numbers.take(DAY.replace(day=2)) == 1
