"""Cost as the orders table grows: DynamoDB calls and items read per listing and per idle sweep, 100 vs 10,000 orders.

Orders are written straight into the emulator (batch writes of order headers, not through
HTTP). One customer owns most of them, so their listings are the ones a filter over a
single partition would make grow; a third are unpaid with their payment time still to
run, so the sweeps' indexes hold work that is not due yet. Calls and items evaluated
(``ScannedCount``) do not depend on the emulator's speed; the target is that both are the
same at both sizes (items read may be lower at 100 orders, where a shard can hold less than a
page, but never more than one page per Query at 10,000).
"""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Api, BenchError, Check, Section, Stack, User

SIZES = (100, 10_000)
SKU = "GROWTH-1"
PAGE_READ = 21  # the listings' default limit (20) + 1: the most one Query of an unfiltered page reads
FILTERED_PAGE_SIZE = 1000  # adapters/dynamo/pages.py: the most one filtered Query evaluates


@contextmanager
def scanned():
    """Items every DynamoDB Query/Scan evaluated inside the block (summed), filled in when it ends."""
    import botocore.client

    total = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        response = original(client, operation_name, api_params)
        total["items"] += int(response.get("ScannedCount", 0)) if isinstance(response, dict) else 0
        return response

    botocore.client.BaseClient._make_api_call = counting
    try:
        yield total
    finally:
        botocore.client.BaseClient._make_api_call = original


def seed_orders(count: int, customer: User, other: User, start: datetime) -> None:
    """``count`` order headers: 3 of 4 the customer's; one in three unpaid (due later), the rest paid."""
    from chalicelib.adapters.dynamo.models import OrderRecord
    from chalicelib.adapters.dynamo.order_records import to_record
    from chalicelib.domain import payments as ledger
    from chalicelib.domain.orders import OrderLine, new_order

    with OrderRecord.batch_write() as batch:
        for n in range(count):
            order = new_order(
                order_id=uuid.uuid4().hex,
                order_number=f"{start:%Y%m%d}-{n:06d}",
                customer_id=customer.sub if n % 4 else other.sub,
                lines=[OrderLine(SKU, "Growth", 1000, 1)],
                currency="CNY",
                shipping_address={"name": "王", "phone": "+86 1380000", "line1": "路", "city": "上海", "country": "CN"},
                channel="web",
                note=None,
                now=start + timedelta(seconds=n),
                payment_ttl=timedelta(days=30),  # unpaid ones stay not yet due: nothing for the sweeps to do
                actor="customer:bench",
            )
            if n % 3:
                payment, _ = ledger.start(order, "bank_transfer", "customer:bench", order.created_at)
                ledger.confirm_offline(order, payment.payment_id, order.total, "BENCH", "staff:bench", order.created_at)
            batch.save(to_record(order))


def seed_stock(start_seq: int, count: int) -> None:
    """``count`` more movements in SKU's ledger, and ``count // 10`` more products under their threshold."""
    from chalicelib.adapters.dynamo.models import ProductModel
    from chalicelib.adapters.dynamo.stock_ledger import low_stock_shard, to_record
    from chalicelib.domain.catalogue import StockMovement

    with ProductModel.batch_write() as products:
        for n in range(start_seq, start_seq + count, 10):
            sku = f"GROWTH-LOW-{n:06d}"
            products.save(ProductModel(sku, name=sku, name_key=sku.casefold(), category="growth", price=100,
                                       currency="CNY", available=1, low_stock_threshold=5, low_stock=low_stock_shard(sku),
                                       shortfall=4))  # fmt: skip
    from chalicelib.adapters.dynamo.catalogue_table import MovementRecord

    with MovementRecord.batch_write() as moves:
        for seq in range(start_seq + 1, start_seq + count + 1):
            moves.save(
                to_record(StockMovement(SKU, seq, f"2026-12-01T00:00:{seq % 60:02d}Z", 1, "restock", "bench", seq))
            )


def measure(stack: Stack, api: Api, customer: User, staff: User, day: str) -> dict[str, tuple[int, int]]:
    """(calls, items read) per operation."""
    number = f"{day.replace('-', '')}-{0:06d}"
    from chalicelib.entrypoints.http import wiring

    operations = {
        "list orders (customer)": ("GET", "/orders", customer),
        "list orders (customer, status=cancelled: none)": ("GET", "/orders?status=cancelled", customer),
        "list orders (customer, status=confirmed)": ("GET", "/orders?status=confirmed", customer),
        "list orders (staff)": ("GET", "/orders", staff),
        "list orders (staff, status=expired: none)": ("GET", "/orders?status=expired", staff),
        "list orders (staff, customer_id=...)": ("GET", f"/orders?customer_id={customer.sub}", staff),
        "list orders (staff, payment_status=refunded: none)": ("GET", "/orders?payment_status=refunded", staff),
        "list orders (staff, channel=pos, dates: none)": (
            "GET",
            f"/orders?channel=pos&created_from={day}&created_to={day}",
            staff,
        ),
        "lookup by order number": ("GET", f"/staff/orders/lookup?order_number={number}", staff),
        "stock movements of a SKU (a page)": ("GET", f"/staff/products/{SKU}/stock-movements", staff),
        "low stock (a page)": ("GET", "/staff/stock/low", staff),
    }
    results: dict[str, tuple[int, int]] = {}
    for name, (method, path, user) in operations.items():
        with stack.calls.capture() as calls, scanned() as items:
            status, body = api.call(method, path, user)
        if status != 200:
            raise BenchError(f"{name}: {path} answered {status}: {body}")
        results[name] = (sum(calls.values()), items["items"])
    schedules = wiring.schedules()
    for name, sweep in (
        ("sweep: payment reminders (none due)", schedules.send_reminders),
        ("sweep: expire unpaid (none due)", schedules.expire_unpaid),
        ("sweep: retry refunds and cancels (none due)", schedules.retry_refunds),
    ):
        with stack.calls.capture() as calls, scanned() as items:
            done = sweep()
        if done:
            raise BenchError(f"{name}: did {done} things; nothing should be due")
        results[name] = (sum(calls.values()), items["items"])
    return results


def run(stack: Stack) -> Section:
    stack.reset_tables()
    api = Api(stack)
    customer, other, staff = stack.new_user("customer"), stack.new_user("customer"), stack.new_user("staff")
    stack.seed(SKU, stock=10)
    start = datetime.now(UTC) - timedelta(days=1)
    by_size: dict[int, dict[str, tuple[int, int]]] = {}
    seeded = 0
    for size in SIZES:
        seed_orders(size - seeded, customer, other, start + timedelta(seconds=seeded))
        seed_stock(seeded, size - seeded)  # as many movements of one SKU as orders, a tenth as many low products
        seeded = size
        measure(stack, api, customer, staff, f"{start:%Y-%m-%d}")  # warm-up at this size
        by_size[size] = measure(stack, api, customer, staff, f"{start:%Y-%m-%d}")

    small, large = SIZES
    section = Section("growth", f"8. Cost as the table grows: {small:,} vs {large:,} orders (calls / items read)")
    section.lines.append(f"  {'operation':<48} {small:>12,} {large:>12,}  result")
    flat_all = True
    for name in by_size[small]:
        (calls_s, read_s), (calls_l, read_l) = by_size[small][name], by_size[large][name]
        # flat: the same calls, and no Query reads more than one page (limit + 1; a filtered one FILTERED_PAGE_SIZE)
        # at either size; at 100 orders a shard may hold fewer than a page, so its reads can be lower there
        page = FILTERED_PAGE_SIZE if "status=refunded" in name or "channel=" in name else PAGE_READ
        flat = calls_s == calls_l and read_l <= max(read_s, calls_l * page)
        flat_all &= flat
        section.lines.append(
            f"  {name:<48} {calls_s:>5} / {read_s:<5} {calls_l:>5} / {read_l:<5}  {'PASS' if flat else 'FAIL'}"
        )
        target = "equal calls, ≤ 1 filtered page per Query" if page == FILTERED_PAGE_SIZE else "equal"
        section.checks.append(
            Check(f"flat as orders grow: {name}", f"{calls_s}/{read_s} vs {calls_l}/{read_l}", target, flat)
        )
    section.lines.append("  (calls / items evaluated per request; a Query's ScannedCount, not the emulator's own work)")
    section.data.update({str(size): {k: list(v) for k, v in rows.items()} for size, rows in by_size.items()})
    section.data["flat"] = flat_all
    stack.reset_tables()  # the sections after this one start from empty tables
    return section
