"""Orders, their timelines, idempotency records and order numbers in DynamoDB."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.catalogue_repo import to_product
from chalicelib.adapters.dynamo.models import (
    ORDER_SK,
    PAYMENT_REF_SK,
    CounterRecord,
    EventRecord,
    IdempotencyRecord,
    LineMap,
    OrderRecord,
    OrdersTableItem,
    PaymentMap,
    PaymentRefRecord,
    ProcessedEventRecord,
    ProductModel,
    RefundMap,
    applied_sk,
    event_sk,
    order_pk,
    payment_ref_pk,
)
from chalicelib.adapters.dynamo.pages import query_page, sharded_page
from chalicelib.config import settings
from chalicelib.domain import payments as ledger
from chalicelib.domain.catalogue import Product
from chalicelib.domain.orders import Order, OrderLine, TimelineEvent
from chalicelib.domain.payments import Payment, Refund
from chalicelib.services.ports import (
    DueCursor,
    DueOrder,
    IdempotencyClaim,
    IdempotentReplay,
    Page,
    StockChange,
    StockShortage,
    WriteConflict,
)

BATCH_GET_ATTEMPTS = 5
ORDER_SHARDS = 4  # partitions of the indexes over all orders: writes spread over them, a listing reads each once
LISTED = "ORDER"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
PROVIDER_EVENT_TTL_SECONDS = 90 * 24 * 3600  # Stripe retries for 3 days; keep markers well past that
COUNTER_TTL_SECONDS = 3 * 24 * 3600


def shard_of(order_id: str) -> int:
    return int(hashlib.sha256(order_id.encode()).hexdigest()[:8], 16) % ORDER_SHARDS


def sharded(value: str, shard: int) -> str:
    return f"{value}#{shard}"


def _summary(record: OrderRecord) -> Order:
    return to_order(record, None)


class OrdersRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def get(self, order_id: str) -> Order | None:
        """The order with its timeline: one Query over its item collection."""
        return self.get_with_applied(order_id)[0]

    def get_with_applied(self, order_id: str) -> tuple[Order | None, set[str]]:
        """The order and the ids of the provider events already applied to it (the same one Query)."""
        header, events, applied = None, [], set()
        for item in OrdersTableItem.query(order_pk(order_id), consistent_read=True):
            if isinstance(item, OrderRecord):
                header = item
            elif isinstance(item, EventRecord):
                events.append(item)
            elif isinstance(item, ProcessedEventRecord):
                applied.add(item.sk)
        return (None if header is None else to_order(header, events)), applied

    def order_for_payment(self, provider_reference: str) -> str | None:
        """The order a provider payment belongs to (one GetItem), for events without our metadata."""
        try:
            return PaymentRefRecord.get(payment_ref_pk(provider_reference), PAYMENT_REF_SK).order_id
        except PaymentRefRecord.DoesNotExist:
            return None

    def due(
        self, kind: str, until: str, limit: int, after: DueCursor | None = None
    ) -> tuple[list[DueOrder], DueCursor]:
        """Orders with ``kind`` work (reminder, provider_retry, expiry) due by ``until``, oldest first.

        One Query per shard of a sparse index (``payment-expiry`` for expiry, else
        ``payment-due``), at most ``limit`` items each, merged; ``after`` (the cursor this
        returned) continues past orders a sweep has already looked at. Each order comes with
        what the index projects (``reserved_until``), so a sweep can skip one without reading it.
        """
        if kind == "expiry":
            index, attribute, condition = OrderRecord.payment_expiry, "expiry_kind", OrderRecord.expiry_at <= until
            kind = "unpaid"
        else:
            index, attribute, condition = OrderRecord.payment_due, "due_kind", OrderRecord.due_at <= until
        shards = [sharded(kind, n) for n in range(ORDER_SHARDS)]
        starts = dict.fromkeys(shards) if after is None else dict(after)

        def fetch(shard: str) -> tuple[str, list[OrderRecord], dict | None]:
            results = index.query(shard, condition, limit=limit, page_size=limit, last_evaluated_key=starts[shard])
            return shard, list(results), results.last_evaluated_key

        with ThreadPoolExecutor(max_workers=len(starts) or 1) as pool:
            fetched = list(pool.map(fetch, [shard for shard in shards if shard in starts]))
        found = sorted(
            (
                DueOrder(
                    due_at=r.due_at if attribute == "due_kind" else r.expiry_at,
                    order_id=r.order_id,
                    reserved_until=r.reserved_until,
                ),
                shard,
            )
            for shard, records, _ in fetched
            for r in records
        )
        continued = {shard: last for shard, records, last in fetched if last is not None}
        return [order for order, _ in found[:limit]], continued

    def list_for_customer(self, customer_id: str, status: str | None, limit: int, cursor: str | None) -> Page[Order]:
        """A customer's orders, newest first (one Query; by status, one Query of the customer-status index)."""
        if status is not None:
            index, partition = OrderRecord.by_customer_status, ("customer_status", f"{customer_id}#{status}")
        else:
            index, partition = OrderRecord.by_customer, ("customer_id", customer_id)
        return query_page(
            index, partition, limit=limit, cursor=cursor, convert=_summary, order_by="created_at", newest_first=True
        )

    def list_by_status(self, status: str, limit: int, cursor: str | None) -> Page[Order]:
        """Everyone's orders in ``status``, newest first: one Query per shard, merged."""
        shards = [sharded(status, n) for n in range(ORDER_SHARDS)]
        return sharded_page(
            OrderRecord.by_status, "status_shard", shards, limit=limit, cursor=cursor, convert=_summary,
            order_by="created_at", newest_first=True,
        )  # fmt: skip

    def list_all(self, limit: int, cursor: str | None) -> Page[Order]:
        """Every order, newest first: one Query per shard, merged."""
        shards = [sharded(LISTED, n) for n in range(ORDER_SHARDS)]
        return sharded_page(
            OrderRecord.all_orders, "listed", shards, limit=limit, cursor=cursor, convert=_summary,
            order_by="created_at", newest_first=True,
        )  # fmt: skip

    def next_order_sequence(self, day: datetime) -> int:
        """Atomically take the next number of the day (one UpdateItem)."""
        counter = CounterRecord(f"COUNTER#order_number#{day:%Y%m%d}", "#COUNTER")
        counter.update(
            actions=[
                CounterRecord.value.add(1),
                CounterRecord.expires_at.set(datetime.fromtimestamp(time.time() + COUNTER_TTL_SECONDS, UTC)),
            ]
        )
        return int(counter.value)

    def order_inputs(
        self, customer_id: str, idempotency_key: str, skus: list[str]
    ) -> tuple[IdempotentReplay | None, dict[str, Product]]:
        """What placing an order reads first, in one BatchGetItem over both tables: the key's earlier use, if any
        (read consistently), and the SKUs' catalogue entries with their stock."""
        client = self._connection.client
        idem_key = {"pk": {"S": _idempotency_pk(customer_id, idempotency_key)}, "sk": {"S": "#IDEM"}}
        wanted: dict[str, Any] = {
            settings.orders_table: {"Keys": [idem_key], "ConsistentRead": True},
            settings.products_table: {"Keys": [{"sku": {"S": sku}} for sku in dict.fromkeys(skus)]},
        }
        found: dict[str, list[dict]] = {settings.orders_table: [], settings.products_table: []}
        for _ in range(BATCH_GET_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=wanted)
            for table, items in answer.get("Responses", {}).items():
                found[table].extend(items)
            wanted = answer.get("UnprocessedKeys") or {}
            if not wanted:
                break
            time.sleep(0.05)
        else:
            raise WriteConflict()  # DynamoDB kept some keys unprocessed (throttled): the caller answers 429
        earlier = None
        for item in found[settings.orders_table]:
            record = IdempotencyRecord.from_raw_data(item)
            earlier = IdempotentReplay(record.order_id, record.request_hash)
        products = {}
        for item in found[settings.products_table]:
            product = to_product(ProductModel.from_raw_data(item))
            products[product.sku] = product
        return earlier, products

    def find_idempotent(self, scope: str, key: str) -> IdempotentReplay | None:
        """What an Idempotency-Key of ``scope`` (a customer id, or ``refund``) was first used for (one GetItem)."""
        try:
            record = IdempotencyRecord.get(_idempotency_pk(scope, key), "#IDEM", consistent_read=True)
        except IdempotencyRecord.DoesNotExist:
            return None
        return IdempotentReplay(record.order_id, record.request_hash)

    def create(self, order: Order, idempotency_key: str, request_hash: str, stock: list[StockChange]) -> None:
        """Write the order, its events, its idempotency record and every reservation at once.

        One TransactWriteItems: all of it or none. Raises ``IdempotentReplay`` if the key
        was used, ``StockShortage`` naming the SKUs that could not be reserved, or
        ``WriteConflict`` when a concurrent transaction touched the same items.
        """
        idempotency = _idempotency_record(IdempotencyClaim(order.customer_id, idempotency_key, request_hash), order)
        puts = [(idempotency, IdempotencyRecord.pk.does_not_exist())]
        puts.append((to_record(order), OrderRecord.pk.does_not_exist()))
        puts.extend((record, EventRecord.pk.does_not_exist()) for record in event_records(order))
        try:
            self._commit(puts, stock)
        except TransactWriteError as error:
            reasons = _reasons(error)
            if reasons[0] == "ConditionalCheckFailed":
                replay = self.find_idempotent(order.customer_id, idempotency_key)
                if replay is not None:
                    raise replay from None
            if reasons[0] == "TransactionConflict":
                raise WriteConflict(on_idempotency_key=True) from None
            short = [
                change.sku
                for change, reason in zip(stock, reasons[len(puts) :], strict=False)
                if reason == "ConditionalCheckFailed"
            ]
            if short:
                raise StockShortage(short) from None
            if "TransactionConflict" in reasons:
                raise WriteConflict() from None
            raise

    def save(
        self,
        order: Order,
        expected_version: int,
        stock: list[StockChange],
        *,
        applied_event: tuple[str, str, str] | None = None,
        payment_refs: tuple[str, ...] = (),
        claim: IdempotencyClaim | None = None,
    ) -> None:
        """Write the changed header and its new events, if nobody changed the order since it was read.

        ``applied_event`` (source, id, type) marks an outside event (a Stripe event, a fulfilment
        update) as applied in the same transaction, so it takes effect once; ``payment_refs`` link
        provider payments to this order; ``claim`` takes an Idempotency-Key for this change
        (``IdempotentReplay`` when it was taken first).
        """
        puts = [(to_record(order), OrderRecord.version == expected_version)]
        if claim is not None:
            puts.append((_idempotency_record(claim, order), IdempotencyRecord.pk.does_not_exist()))
        puts.extend((record, EventRecord.pk.does_not_exist()) for record in event_records(order))
        if applied_event is not None:
            marker = ProcessedEventRecord(
                order_pk(order.order_id),
                applied_sk(applied_event[0], applied_event[1]),
                event_type=applied_event[2],
                at=order.updated_at,
                expires_at=datetime.fromtimestamp(time.time() + PROVIDER_EVENT_TTL_SECONDS, UTC),
            )
            puts.append((marker, ProcessedEventRecord.pk.does_not_exist()))
        puts.extend(
            (PaymentRefRecord(payment_ref_pk(ref), PAYMENT_REF_SK, order_id=order.order_id), None)
            for ref in payment_refs
        )
        try:
            self._commit(puts, stock)
        except TransactWriteError as error:
            reasons = _reasons(error)
            if claim is not None and reasons[1:2] == ["ConditionalCheckFailed"]:
                replay = self.find_idempotent(claim.scope, claim.key)
                if replay is not None:
                    raise replay from None
            if {"ConditionalCheckFailed", "TransactionConflict"} & set(
                reasons[: len(puts)]
            ) or "TransactionConflict" in reasons:
                raise WriteConflict() from None
            raise
        order.new_events.clear()

    def _commit(self, puts, stock: list[StockChange]) -> None:
        # PynamoDB sends puts before updates, so cancellation reasons line up with puts + stock.
        with TransactWrite(connection=self._connection) as transaction:
            for record, condition in puts:
                transaction.save(record, condition=condition)
            for change in stock:
                actions = [ProductModel.available.add(change.delta), ProductModel.sales_count.add(-change.delta)]
                condition = ProductModel.sku.exists()
                if change.delta < 0:
                    condition = condition & (ProductModel.available >= -change.delta) & (ProductModel.active == True)  # noqa: E712
                transaction.update(ProductModel(change.sku), actions=actions, condition=condition)


def _reasons(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in (error.cancellation_reasons or [])] or [None]


def _idempotency_pk(scope: str, key: str) -> str:
    return f"IDEM#{scope}#{key}"


def _idempotency_record(claim: IdempotencyClaim, order: Order) -> IdempotencyRecord:
    return IdempotencyRecord(
        _idempotency_pk(claim.scope, claim.key),
        "#IDEM",
        order_id=order.order_id,
        request_hash=claim.request_hash,
        expires_at=datetime.fromtimestamp(time.time() + IDEMPOTENCY_TTL_SECONDS, UTC),
    )


def to_record(order: Order) -> OrderRecord:
    due, expires, shard = ledger.next_due(order), ledger.expiry_due(order), shard_of(order.order_id)
    return OrderRecord(
        order_pk(order.order_id),
        ORDER_SK,
        order_id=order.order_id,
        order_number=order.order_number,
        customer_id=order.customer_id,
        status=order.status,
        payment_status=order.payment_status,
        fulfilment_status=order.fulfilment_status,
        lines=[
            LineMap(sku=line.sku, name=line.name, unit_price=line.unit_price, quantity=line.quantity)
            for line in order.lines
        ],
        subtotal=order.subtotal,
        discount=order.discount,
        shipping=order.shipping,
        total=order.total,
        currency=order.currency,
        amount_paid=order.amount_paid,
        amount_refunded=order.amount_refunded,
        shipping_address=order.shipping_address,
        channel=order.channel,
        note=order.note,
        flags=list(order.flags),
        reserved_until=order.reserved_until,
        created_at=order.created_at,
        updated_at=order.updated_at,
        version=order.version,
        payments=[PaymentMap(**vars(payment)) for payment in order.payments.values()],
        refunds=[RefundMap(**vars(refund)) for refund in order.refunds.values()],
        reminded=order.reminded,
        due_kind=sharded(due[0], shard) if due else None,
        due_at=due[1] if due else None,
        expiry_kind=sharded("unpaid", shard) if expires else None,
        expiry_at=expires,
        listed=sharded(LISTED, shard),
        customer_status=f"{order.customer_id}#{order.status}",
        status_shard=sharded(order.status, shard),
    )


def event_records(order: Order) -> list[EventRecord]:
    return [
        EventRecord(
            order_pk(order.order_id),
            event_sk(event.seq),
            order_id=order.order_id,
            customer_id=order.customer_id,
            order_number=order.order_number,
            seq=event.seq,
            at=event.at,
            type=event.type,
            actor=event.actor,
            data=event.data,
        )
        for event in order.new_events
    ]


def to_order(record: OrderRecord, events: list[EventRecord] | None) -> Order:
    return Order(
        order_id=record.order_id,
        order_number=record.order_number,
        customer_id=record.customer_id,
        status=record.status,
        payment_status=record.payment_status,
        fulfilment_status=record.fulfilment_status,
        lines=[OrderLine(line.sku, line.name, int(line.unit_price), int(line.quantity)) for line in record.lines],
        subtotal=int(record.subtotal),
        discount=int(record.discount),
        shipping=int(record.shipping),
        total=int(record.total),
        currency=record.currency,
        amount_paid=int(record.amount_paid or 0),
        amount_refunded=int(record.amount_refunded or 0),
        shipping_address=record.shipping_address.as_dict(),
        channel=record.channel,
        note=record.note,
        flags=list(record.flags or []),
        reserved_until=record.reserved_until,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version),
        payments={p.payment_id: _payment(p) for p in record.payments or []},
        refunds={r.refund_id: _refund(r) for r in record.refunds or []},
        reminded=bool(record.reminded),
        timeline=[
            TimelineEvent(int(e.seq), e.at, e.type, e.actor, e.data.as_dict() if e.data else {})
            for e in sorted(events or [], key=lambda e: e.seq)
        ],
    )


def _payment(item: PaymentMap) -> Payment:
    return Payment(
        payment_id=item.payment_id,
        method=item.method,
        amount=int(item.amount),
        currency=item.currency,
        status=item.status,
        created_at=item.created_at,
        provider_reference=item.provider_reference,
        reference_code=item.reference_code,
        received_amount=int(item.received_amount or 0),
        received_currency=item.received_currency,
        reported_refunded=int(item.reported_refunded or 0),
        cancel_pending=bool(item.cancel_pending),
        received_reference=item.received_reference,
    )


def _refund(item: RefundMap) -> Refund:
    return Refund(
        refund_id=item.refund_id,
        payment_id=item.payment_id,
        amount=int(item.amount),
        status=item.status,
        created_at=item.created_at,
        reason=item.reason,
        provider_reference=item.provider_reference,
        automatic=bool(item.automatic),
        reference_code=item.reference_code,
        sent_reference=item.sent_reference,
    )
