"""The cart (read, set a line, remove, empty, check out) and quotes. Pricing is ``domain/pricing.py``'s.

A cart is keyed by the customer id (the token's ``sub``), so every device of one customer
sees and changes the same cart. Each change is a conditional write at the version read and is
retried from a fresh read when another device wrote first, so no line is ever lost.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import cart as domain
from chalicelib.domain import pricing
from chalicelib.domain.cart import Cart, CartEmpty, CartTooLarge, CartView
from chalicelib.domain.customers import Address
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import MAX_ORDER_LINES, Order, RequestedLine, iso
from chalicelib.services.changes import Busy
from chalicelib.services.orders import OrderService, PlaceOrder
from chalicelib.services.ports import CartChanged, CartRepo, CatalogueRepo, WriteConflict

WRITE_ATTEMPTS = 8
POINTS_AVAILABLE = 0  # points arrive with the customers issue


@dataclass(frozen=True)
class Checkout:
    """What a checkout asks for besides the cart's lines. ``body`` is the request as sent (its fingerprint)."""

    body: dict[str, Any]
    shipping_address: dict[str, str] | None
    address_id: str | None = None
    channel: str = "web"
    note: str | None = None
    points_to_redeem: int | None = None

    def fingerprint(self) -> str:
        canonical = json.dumps({"checkout": self.body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Quote:
    priced: pricing.Priced
    points_available: int


def delivery_and_points(
    shipping_address: Any, address_id: str | None, points_to_redeem: int | None, address: Address | None = None
) -> dict[str, str]:
    """Where the order goes: exactly one of ``shipping_address`` and ``address_id`` (``address``: that one of the
    caller's book, as read, or ``None`` if it is not there); its copy is what the order keeps. No points are
    available to redeem until the loyalty points arrive."""
    if (shipping_address is None) == (address_id is None):
        raise ValidationFailed(
            "Send either shipping_address or address_id.",
            fields={"shipping_address": "send either shipping_address or address_id, not both or neither"},
        )
    if address_id is not None and (address is None or address.address_id != address_id):
        raise ValidationFailed("No such address.", fields={"address_id": "no such address in your address book"})
    if points_to_redeem:
        raise ValidationFailed(
            "Not enough points.", fields={"points_to_redeem": f"at most {POINTS_AVAILABLE} points are available"}
        )
    return address.shipping() if address is not None else dict(shipping_address)


@dataclass
class CartService:
    carts: CartRepo
    catalogue: CatalogueRepo
    orders: OrderService
    currency: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    pause: Callable[[float], None] = time.sleep
    # the terms a customer gets for an order to a country (their tier, the shipping settings)
    terms: Callable[[str, str | None], pricing.Terms] | None = None

    def quote(self, items: list[RequestedLine], customer_id: str | None = None, country: str | None = None) -> Quote:
        """What ordering ``items`` would cost the customer now, to ``country``; nothing is reserved or written
        (one BatchGetItem, and the customer's profile: one GetItem)."""
        products = self.catalogue.get_many([item.sku for item in items])
        terms = self.terms(customer_id, country) if self.terms and customer_id else None
        return Quote(pricing.quote(items, products, self.currency, terms=terms), POINTS_AVAILABLE)

    def get(self, principal: Principal) -> CartView:
        """The caller's cart at today's prices and stock: GetItem, then one BatchGetItem of its products."""
        cart = self.carts.get(principal.subject) or Cart(principal.subject)
        return self._view(cart)

    def set_item(self, principal: Principal, sku: str, quantity: int) -> CartView:
        """Set one line (``0`` removes it): GetItem, BatchGetItem (its products), a conditional PutItem.

        The products are read with the cart's other lines so the answer shows the whole cart live.
        """
        for attempt in range(WRITE_ATTEMPTS):
            cart = self.carts.get(principal.subject) or Cart(principal.subject)
            if quantity:
                domain.check_room(cart, sku)  # a full cart refuses a new line before reading the catalogue
            products = self.catalogue.get_many([*cart.skus, sku])
            changed = domain.set_quantity(cart, sku, quantity, products.get(sku), self.currency, self._now())
            try:
                return domain.view(self._write(cart, changed), products, self.currency)
            except CartChanged:
                self._backoff(attempt)
        raise Busy("Your cart is being changed from elsewhere right now; retry shortly.")

    def remove_item(self, principal: Principal, sku: str) -> CartView:
        return self._change(principal, lambda cart: domain.remove(cart, sku, self._now()))

    def clear(self, principal: Principal) -> CartView:
        return self._change(principal, lambda cart: domain.emptied(cart, self._now()))

    def checkout(self, principal: Principal, checkout: Checkout, idempotency_key: str) -> tuple[Order, bool]:
        """The cart's lines placed as an order (``OrderService.place``), the cart emptied in its transaction.

        The key's earlier use is looked up first, with the cart, in one BatchGetItem: a replay answers
        the first order whatever the cart holds now. A cart changed between that read and the order's
        transaction fails the transaction's condition and is read again, never half-applied.
        """
        request_hash = checkout.fingerprint()
        for attempt in range(WRITE_ATTEMPTS):
            try:
                earlier, cart, address = self.carts.checkout_inputs(
                    principal.subject, idempotency_key, checkout.address_id
                )
            except WriteConflict:
                raise Busy("Too many requests right now; retry shortly.") from None
            if earlier is not None:
                return self.orders.replay(earlier, request_hash), False
            shipping = delivery_and_points(
                checkout.shipping_address, checkout.address_id, checkout.points_to_redeem, address
            )
            if cart is None or not cart.lines:
                raise CartEmpty("Your cart is empty.")
            if len(cart.lines) > MAX_ORDER_LINES:
                raise CartTooLarge(
                    f"One order takes at most {MAX_ORDER_LINES} lines; remove some from your cart.",
                    lines=len(cart.lines),
                    max_lines=MAX_ORDER_LINES,
                )
            command = PlaceOrder(
                items=domain.requested(cart),
                shipping_address=shipping,
                channel=checkout.channel,
                note=checkout.note,
            )
            try:
                return self.orders.place(
                    principal, command, idempotency_key, request_hash=request_hash, empty_cart=cart.version
                )
            except CartChanged:
                self._backoff(attempt)
        raise Busy("Your cart is being changed from elsewhere right now; retry shortly.")

    def _change(self, principal: Principal, change: Callable[[Cart], Cart]) -> CartView:
        for attempt in range(WRITE_ATTEMPTS):
            cart = self.carts.get(principal.subject) or Cart(principal.subject)
            try:
                return self._view(self._write(cart, change(cart)))
            except CartChanged:
                self._backoff(attempt)
        raise Busy("Your cart is being changed from elsewhere right now; retry shortly.")

    def _write(self, cart: Cart, changed: Cart) -> Cart:
        """Write ``changed`` if it differs from ``cart`` as read (``CartChanged`` if someone wrote first)."""
        return cart if changed == cart else self.carts.save(changed, cart.version)

    def _view(self, cart: Cart) -> CartView:
        products = self.catalogue.get_many(cart.skus) if cart.lines else {}
        return domain.view(cart, products, self.currency)

    def _now(self) -> str:
        return iso(self.clock())

    def _backoff(self, attempt: int) -> None:
        self.pause(random.uniform(0, 0.02 * 2**attempt))
