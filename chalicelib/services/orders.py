"""Order use cases: place, read and list (cancelling is in ``services/payments.py``: it may refund)."""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import approval
from chalicelib.domain import orders as domain
from chalicelib.domain.approval import Approval
from chalicelib.domain.audit import AuditEntry, entry
from chalicelib.domain.errors import IdempotencyKeyReused, NotFound, OutOfStock, RequestInProgress, ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import Order, RequestedLine
from chalicelib.domain.pricing import Terms
from chalicelib.services.changes import Busy
from chalicelib.services.ports import (
    CatalogueRepo,
    CustomerDirectory,
    IdempotentReplay,
    OrderFilters,
    OrdersRepo,
    Page,
    StockChange,
    StockShortage,
    WriteConflict,
)

WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class PlaceOrder:
    items: list[RequestedLine]
    shipping_address: dict[str, str]
    channel: str = "web"
    note: str | None = None
    customer_id: str | None = None  # staff placing an order for this customer (``POST /staff/orders``)

    def fingerprint(self) -> str:
        """What makes two requests 'the same' for an idempotency key."""
        body: dict[str, Any] = {
            "items": [[line.sku, line.quantity] for line in self.items],
            "shipping_address": self.shipping_address,
            "channel": self.channel,
            "note": self.note,
        }
        if self.customer_id is not None:
            body["customer_id"] = self.customer_id
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class OrderService:
    orders: OrdersRepo
    catalogue: CatalogueRepo
    currency: str
    payment_ttl: timedelta
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    pause: Callable[[float], None] = time.sleep
    # the approval policy (services/approvals.py): for a caller, what reviews their priced new order
    reviewer: Callable[[Principal], Callable[[Order], Approval | None]] | None = None
    # the terms (services/pricing_settings.py) a customer of a tier gets for an order to a country
    terms: Callable[[str | None, str | None], Terms] | None = None

    def place(
        self,
        principal: Principal,
        command: PlaceOrder,
        idempotency_key: str,
        check_owner: Callable[[str], None] | None = None,
        *,
        request_hash: str | None = None,
        empty_cart: int | None = None,
    ) -> tuple[Order, bool]:
        """Price the lines from the catalogue and reserve all their stock at once.

        Returns the order and whether this call created it (``False`` for a replay).
        DynamoDB calls: BatchGetItem (the key's earlier use, prices and stock, both tables at once),
        UpdateItem (order number), TransactWriteItems; and GetItem (the approval policy) when its cache is
        cold, Query (limit 1: the customer's first order?) only while a policy rule uses ``first_order``.
        A replay is found by the first call, so it takes no order number and answers the first order even
        if the catalogue would refuse it now.
        A checkout (``services/cart.py``) names its own ``request_hash`` (its body's) and the cart
        version to empty in the same transaction (``CartChanged`` if the cart changed meanwhile).
        """
        request_hash = request_hash or command.fingerprint()
        owner = command.customer_id or principal.subject  # a staff order belongs to its customer
        earlier, products, tier = self.orders.order_inputs(
            principal.subject, idempotency_key, [line.sku for line in command.items], owner=owner
        )  # the caller's keys: a staff member's retry finds their own first request; the owner's tier
        if earlier is not None:  # a replay answers the first order, whatever the catalogue says now
            return self._replay(earlier, request_hash), False
        if check_owner is not None:
            check_owner(owner)
        lines = domain.price_lines(command.items, products, self.currency)
        domain.check_stock(command.items, {sku: p.stock_available for sku, p in products.items()})
        now = self.clock()
        number = domain.order_number(now, self.orders.next_order_sequence(now))
        order = domain.new_order(
            order_id=self.new_id(),
            order_number=number,
            customer_id=owner,
            lines=lines,
            currency=self.currency,
            shipping_address=command.shipping_address,
            channel=command.channel,
            note=command.note,
            now=now,
            payment_ttl=self.payment_ttl,
            actor=principal.actor,
            review=self.reviewer(principal) if self.reviewer else None,
            terms=self.terms(tier, command.shipping_address.get("country")) if self.terms else None,
        )
        if order.approval is not None:
            approval.ask(order, "system", order.created_at)  # staff hear which role decides first
        reservations = [StockChange(line.sku, -line.quantity, "order_placed", order.order_id) for line in command.items]
        for attempt in range(WRITE_ATTEMPTS):
            try:
                self.orders.create(
                    order, idempotency_key, request_hash, reservations, scope=principal.subject,
                    audit=_placed_by_staff(principal, order), empty_cart=empty_cart, seen=products,
                )  # fmt: skip
                order.new_events.clear()
                return order, True
            except IdempotentReplay as replay:
                return self._replay(replay, request_hash), False
            except StockShortage as shortage:
                requested = {line.sku: line.quantity for line in command.items}
                raise OutOfStock(
                    "Not enough stock for some items.",
                    skus=[
                        {"sku": sku, "requested": requested[sku], "available": self._available(sku)}
                        for sku in shortage.skus
                    ],
                ) from None
            except WriteConflict as conflict:
                if conflict.on_idempotency_key:
                    raise RequestInProgress(
                        "A request with this Idempotency-Key is still running; retry shortly."
                    ) from None
                self._backoff(attempt)
        raise Busy("Too many orders for the same items right now; retry shortly.")

    def place_for(
        self, principal: Principal, command: PlaceOrder, idempotency_key: str, directory: CustomerDirectory
    ) -> tuple[Order, bool]:
        """Staff place an order for a customer (phone, counter): the customer owns it, the timeline names the
        staff member, and it goes through the same review. An unknown customer is ``422``."""

        def known(customer_id: str) -> None:
            if not directory.is_customer(customer_id):
                raise ValidationFailed(
                    "No customer has this id.", fields={"customer_id": "no such customer"}, code="unknown_customer"
                )

        return self.place(principal, command, idempotency_key, check_owner=known)

    def replay(self, earlier: IdempotentReplay, request_hash: str) -> Order:
        """The order an Idempotency-Key's first request made, found by the caller (a checkout)."""
        return self._replay(earlier, request_hash)

    def _replay(self, earlier: IdempotentReplay, request_hash: str) -> Order:
        """The order the key's first request made (``422`` if this request is another one)."""
        if earlier.request_hash != request_hash:
            raise IdempotencyKeyReused()
        existing = self.orders.get(earlier.order_id)
        if existing is None:  # pragma: no cover - the record and order commit together
            raise RequestInProgress("The first request with this key is still running.")
        return existing

    def get(self, principal: Principal, order_id: str) -> Order:
        """The order, if it is the caller's or the caller is staff; otherwise it does not exist."""
        order = self.orders.get(order_id)
        if order is None or not (principal.is_staff or order.customer_id == principal.subject):
            raise NotFound("No such order.", order_id=order_id)
        return order

    def list(
        self,
        principal: Principal,
        filters: OrderFilters,
        *,
        order_number: str | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[Order]:
        """Newest first, every filter applied: a customer's own orders; staff see all.

        ``order_number`` finds at most one order (the number index); the other filters still apply to it.
        """
        if not principal.is_staff:
            filters = replace(filters, customer_id=principal.subject)
        if order_number is not None:
            found = self.orders.find_by_number(order_number)
            return Page([found] if found is not None and filters.matches(found) else [], None)
        return self.orders.search(filters, limit, cursor)

    def lookup(self, *, order_number: str | None = None, payment_reference: str | None = None) -> Order:
        """Staff: the order a customer reads out, by its number or a payment reference (``404`` if none).

        A PaymentIntent id is linked to its order (one GetItem); an offline reference code
        (``PAY-<number>``, ``RF-<number>-<n>``) names the order number it was made from.
        """
        order = None
        if order_number is not None:
            order = self.orders.find_by_number(order_number)
        elif payment_reference is not None and payment_reference.startswith("pi_"):
            order_id = self.orders.order_for_payment(payment_reference)
            order = self.orders.get(order_id) if order_id else None
        elif payment_reference is not None:
            number = domain.number_in_reference(payment_reference)
            order = self.orders.find_by_number(number) if number else None
            if order is not None and not domain.has_reference(order, payment_reference):
                order = None
        if order is None:
            raise NotFound("No order has this number or reference.")
        return order

    def _available(self, sku: str) -> int:
        """Stock as it is now, for the error message (one GetItem, only when refusing)."""
        product = self.catalogue.get(sku)
        return max(product.stock_available, 0) if product else 0

    def _backoff(self, attempt: int) -> None:
        self.pause(random.uniform(0, 0.02 * 2**attempt))


def _placed_by_staff(principal: Principal, order: Order) -> tuple[AuditEntry, ...]:
    """The audit entry of an order staff placed for a customer (none for a customer's own)."""
    if not principal.is_staff:
        return ()
    data = {"order_number": order.order_number, "customer_id": order.customer_id, "channel": order.channel,
            "total": order.total, "currency": order.currency,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines]}  # fmt: skip
    return (entry(principal, "order.create", ("order", order.order_id), at=order.created_at, key="v1", data=data),)
