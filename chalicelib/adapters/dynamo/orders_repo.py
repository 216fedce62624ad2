"""Orders, their timelines, idempotency records and order numbers in DynamoDB."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import order_search
from chalicelib.adapters.dynamo.catalogue_repo import to_product
from chalicelib.adapters.dynamo.models import (
    PAYMENT_REF_SK,
    EventRecord,
    IdempotencyRecord,
    OrderRecord,
    OrdersTableItem,
    PaymentRefRecord,
    ProcessedEventRecord,
    ProductModel,
    applied_sk,
    customer_pk,
    order_pk,
    payment_ref_pk,
)
from chalicelib.adapters.dynamo.order_numbers import OrderNumbers
from chalicelib.adapters.dynamo.order_records import (
    ORDER_SHARDS,
    event_records,
    sharded,
    to_order,
    to_record,
)
from chalicelib.config import settings
from chalicelib.domain.catalogue import Product
from chalicelib.domain.orders import Order
from chalicelib.services.ports import (
    CartChanged,
    DueCursor,
    DueOrder,
    IdempotencyClaim,
    IdempotentReplay,
    OrderFilters,
    Page,
    StockChange,
    WriteConflict,
)

if TYPE_CHECKING:
    from chalicelib.domain.audit import AuditEntry

BATCH_GET_ATTEMPTS = 5
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
PROVIDER_EVENT_TTL_SECONDS = 90 * 24 * 3600  # Stripe retries for 3 days; keep markers well past that

PROFILE_SK = "#PROFILE"  # customers_repo.py's: the owner's profile, read with what an order reads first


class OrdersRepository:
    def __init__(self, policy_cache: Any = None, setting_caches: tuple[Any, ...] = ()) -> None:
        """``policy_cache``, ``setting_caches``: the approval policy's and pricing's versioned settings
        (``settings_repo.VersionedSetting``); those that are stale are read in the BatchGetItem placing an order
        makes anyway (no GetItem of their own)."""
        self._connection = Connection(region=settings.region)
        self._numbers = OrderNumbers(settings.order_number_block)
        self._settings = [cache for cache in (policy_cache, *setting_caches) if cache is not None]

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

    def search(self, filters: OrderFilters, limit: int, cursor: str | None) -> Page[Order]:
        """Newest first, filtered: one Query per partition of the narrowest index (``order_search.py``)."""
        return order_search.search(filters, limit, cursor)

    def find_by_number(self, order_number: str) -> Order | None:
        """The order with this number: one Query of the number index, one of the order."""
        order_id = order_search.order_id_by_number(order_number)
        return None if order_id is None else self.get(order_id)

    def next_order_sequence(self, day: datetime) -> int:
        """The next number of the day (one UpdateItem, or one per block: ``adapters/dynamo/order_numbers.py``)."""
        return self._numbers.take(day)

    def order_inputs(
        self, customer_id: str, idempotency_key: str, skus: list[str], owner: str | None = None
    ) -> tuple[IdempotentReplay | None, dict[str, Product], str | None]:
        """What placing an order reads first, in one BatchGetItem over both tables: the key's earlier use, if any,
        the SKUs' catalogue entries with their stock (both read consistently), the stale settings, and ``owner``'s
        tier from their profile (``None``: no profile yet)."""
        client = self._connection.client
        idem_key = {"pk": {"S": _idempotency_pk(customer_id, idempotency_key)}, "sk": {"S": "#IDEM"}}
        stale = {cache.key()["pk"]["S"]: cache for cache in self._settings if cache.stale()}
        profile = {"pk": {"S": customer_pk(owner)}, "sk": {"S": PROFILE_SK}} if owner else None
        keys = [idem_key, *(cache.key() for cache in stale.values()), *([profile] if profile else [])]
        wanted: dict[str, Any] = {
            settings.orders_table: {"Keys": keys, "ConsistentRead": True},
            settings.products_table: {
                "Keys": [{"sku": {"S": sku}} for sku in dict.fromkeys(skus)],
                "ConsistentRead": True,  # the reservations are conditional on this read (stock_ledger.py)
            },
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
        earlier, tier, seen = None, None, {}
        for item in found[settings.orders_table]:
            pk = item["pk"]["S"]
            if pk in stale:
                seen[pk] = item
            elif profile is not None and pk == profile["pk"]["S"]:
                tier = (item.get("tier") or {}).get("S") or "standard"
            else:
                record = IdempotencyRecord.from_raw_data(item)
                earlier = IdempotentReplay(record.order_id, record.request_hash)
        for pk, cache in stale.items():
            cache.remember_item(seen.get(pk))
        products = {}
        for item in found[settings.products_table]:
            product = to_product(ProductModel.from_raw_data(item))
            products[product.sku] = product
        return earlier, products, tier

    def find_idempotent(self, scope: str, key: str) -> IdempotentReplay | None:
        """What an Idempotency-Key of ``scope`` (a customer id, or ``refund``) was first used for (one GetItem)."""
        try:
            record = IdempotencyRecord.get(_idempotency_pk(scope, key), "#IDEM", consistent_read=True)
        except IdempotencyRecord.DoesNotExist:
            return None
        return IdempotentReplay(record.order_id, record.request_hash)

    def create(
        self,
        order: Order,
        idempotency_key: str,
        request_hash: str,
        stock: list[StockChange],
        *,
        empty_cart: int | None = None,
        scope: str | None = None,
        audit: tuple[AuditEntry, ...] = (),
        seen: Mapping[str, Product] | None = None,
    ) -> None:
        """Write the order, its events, its idempotency record, its ``audit`` entries and every reservation at once.

        One TransactWriteItems: all of it or none. Raises ``IdempotentReplay`` if the key
        was used, ``StockShortage`` naming the SKUs that could not be reserved, or
        ``WriteConflict`` when a concurrent transaction touched the same items. ``scope``: whose
        keys these are (the caller: the customer, or the staff member placing an order for one).
        ``empty_cart`` (a checkout) empties the customer's cart in it too, if still at that version
        (``CartChanged`` otherwise). ``seen``: the SKUs as ``order_inputs`` just read them, which the
        reservations are computed from (read again only if they moved since).
        """
        scope = scope or order.customer_id
        idempotency = _idempotency_record(IdempotencyClaim(scope, idempotency_key, request_hash), order)
        puts = [(idempotency, IdempotencyRecord.pk.does_not_exist())]
        puts.append((to_record(order), OrderRecord.pk.does_not_exist()))
        puts.extend((record, EventRecord.pk.does_not_exist()) for record in event_records(order))
        puts.extend(_audit_puts(audit))
        if empty_cart is not None:
            from chalicelib.adapters.dynamo.cart_repo import emptied_record

            puts.append(emptied_record(order.customer_id, empty_cart, order.created_at))
        try:
            self._commit(puts, stock, order, seen=seen)
        except TransactWriteError as error:
            reasons = _reasons(error)
            if reasons[0] == "ConditionalCheckFailed":
                replay = self.find_idempotent(scope, idempotency_key)
                if replay is not None:
                    raise replay from None
            if empty_cart is not None and reasons[len(puts) - 1 : len(puts)] == ["ConditionalCheckFailed"]:
                raise CartChanged() from None
            if reasons[0] == "TransactionConflict":
                raise WriteConflict(on_idempotency_key=True) from None
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
        audit: tuple[AuditEntry, ...] = (),
        seen: Mapping[str, Product] | None = None,
    ) -> None:
        """Write the changed header and its new events, if nobody changed the order since it was read.

        ``applied_event`` (source, id, type) marks an outside event (a Stripe event, a fulfilment
        update) as applied in the same transaction, so it takes effect once; ``payment_refs`` link
        provider payments to this order; ``claim`` takes an Idempotency-Key for this change
        (``IdempotentReplay`` when it was taken first); ``audit`` entries are written in the same transaction.
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
        puts.extend(_audit_puts(audit))
        try:
            self._commit(puts, stock, order, seen=seen)
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

    def _commit(
        self, puts, stock: list[StockChange], order: Order, *, seen: Mapping[str, Product] | None = None
    ) -> None:
        """One transaction of ``puts`` and the stock changes with their ledger entries
        (``adapters/dynamo/stock_ledger.py``: ``StockShortage`` when a SKU has too little)."""

        def build(transaction: TransactWrite, moves: object = None) -> int:
            for record, condition in puts:
                transaction.save(record, condition=condition)
            return len(puts)

        if not stock:
            with TransactWrite(connection=self._connection) as transaction:
                build(transaction)
            return
        from chalicelib.adapters.dynamo.stock_ledger import StockState, commit_with_stock

        actor = next((event.actor for event in reversed(order.new_events)), "system")
        states = {sku: StockState.of(product) for sku, product in (seen or {}).items()}
        commit_with_stock(self._connection, build, stock, at=order.updated_at, actor=actor, seen=states)


def _reasons(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in (error.cancellation_reasons or [])] or [None]


def _idempotency_pk(scope: str, key: str) -> str:
    return f"IDEM#{scope}#{key}"


idempotency_pk = _idempotency_pk  # also read by the cart's checkout (cart_repo.py)


def _idempotency_record(claim: IdempotencyClaim, order: Order) -> IdempotencyRecord:
    return IdempotencyRecord(
        _idempotency_pk(claim.scope, claim.key),
        "#IDEM",
        order_id=order.order_id,
        request_hash=claim.request_hash,
        expires_at=datetime.fromtimestamp(time.time() + IDEMPOTENCY_TTL_SECONDS, UTC),
    )


def _audit_puts(entries: tuple[AuditEntry, ...]) -> list:
    """The audit entries' Puts (the audit table's model is loaded only by a change that has entries)."""
    if not entries:
        return []
    from chalicelib.adapters.dynamo.audit_repo import audit_puts

    return audit_puts(entries)
