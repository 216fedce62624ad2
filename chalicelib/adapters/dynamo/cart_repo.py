"""Carts in the orders table: one item per customer (``CUSTOMER#<sub>`` / ``#CART``), written conditionally."""

from __future__ import annotations

import time
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError

from chalicelib.adapters.dynamo.models import CART_SK, CartLineMap, CartRecord, IdempotencyRecord, customer_pk
from chalicelib.adapters.dynamo.orders_repo import BATCH_GET_ATTEMPTS, idempotency_pk
from chalicelib.config import settings
from chalicelib.domain import cart as domain
from chalicelib.domain.cart import Cart, CartLine
from chalicelib.domain.customers import Address
from chalicelib.domain.orders import parse_iso
from chalicelib.services.ports import CartChanged, IdempotentReplay, WriteConflict


def to_cart(record: CartRecord) -> Cart:
    lines = tuple(
        CartLine(line.sku, int(line.quantity), int(line.price_seen), line.name_seen, line.added_at)
        for line in record.lines or []
    )
    return Cart(record.customer_id, lines, int(record.version), record.updated_at)


def to_record(cart: Cart, version: int) -> CartRecord:
    """The cart as written at ``version``; it lapses 30 days after ``updated_at``."""
    updated_at = cart.updated_at or ""
    return CartRecord(
        customer_pk(cart.customer_id),
        CART_SK,
        customer_id=cart.customer_id,
        lines=[
            CartLineMap(
                sku=line.sku,
                quantity=line.quantity,
                price_seen=line.price_seen,
                name_seen=line.name_seen,
                added_at=line.added_at,
            )
            for line in cart.lines
        ],
        version=version,
        updated_at=updated_at,
        expires_at=domain.expires_at(parse_iso(updated_at)),
    )


def emptied_record(customer_id: str, version: int, at: str) -> tuple[CartRecord, Any]:
    """The put (and its condition) that empties a cart read at ``version``, for an order's transaction."""
    record = to_record(Cart(customer_id, (), version, at), version + 1)
    return record, CartRecord.version == version


class CartRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def get(self, customer_id: str) -> Cart | None:
        """The cart as last written (one consistent GetItem)."""
        try:
            return to_cart(CartRecord.get(customer_pk(customer_id), CART_SK, consistent_read=True))
        except CartRecord.DoesNotExist:
            return None

    def save(self, cart: Cart, expected_version: int) -> Cart:
        """One conditional PutItem: only if the cart is still at ``expected_version`` (0: none yet)."""
        version = expected_version + 1
        condition = CartRecord.pk.does_not_exist() if expected_version == 0 else CartRecord.version == expected_version
        try:
            to_record(cart, version).save(condition=condition)
        except PutError as error:
            if error.cause_response_code in ("ConditionalCheckFailedException", "TransactionConflictException"):
                raise CartChanged() from None  # another write (or a checkout's transaction) came first
            raise
        return Cart(cart.customer_id, cart.lines, version, cart.updated_at)

    def checkout_inputs(
        self, customer_id: str, idempotency_key: str, address_id: str | None = None
    ) -> tuple[IdempotentReplay | None, Cart | None, Address | None]:
        """The Idempotency-Key's earlier use, the cart and the address named: one consistent BatchGetItem."""
        from chalicelib.adapters.dynamo.customers_repo import address_from_raw, address_sk

        client = self._connection.client
        keys = [
            {"pk": {"S": idempotency_pk(customer_id, idempotency_key)}, "sk": {"S": "#IDEM"}},
            {"pk": {"S": customer_pk(customer_id)}, "sk": {"S": CART_SK}},
        ]
        if address_id is not None:
            keys.append({"pk": {"S": customer_pk(customer_id)}, "sk": {"S": address_sk(address_id)}})
        wanted: dict[str, Any] = {settings.orders_table: {"Keys": keys, "ConsistentRead": True}}
        found: list[dict] = []
        for _ in range(BATCH_GET_ATTEMPTS):
            answer = client.batch_get_item(RequestItems=wanted)
            found.extend(answer.get("Responses", {}).get(settings.orders_table, []))
            wanted = answer.get("UnprocessedKeys") or {}
            if not wanted:
                break
            time.sleep(0.05)
        else:
            raise WriteConflict()  # throttled: the caller answers 429
        earlier, cart, address = None, None, None
        for item in found:
            if item["sk"]["S"] == CART_SK:
                cart = to_cart(CartRecord.from_raw_data(item))
            elif item["sk"]["S"] == "#IDEM":
                record = IdempotencyRecord.from_raw_data(item)
                earlier = IdempotentReplay(record.order_id, record.request_hash)
            else:
                address = address_from_raw(item)
        return earlier, cart, address
