"""Editing an order (``PATCH /orders/{id}``): a new version, with its stock and money moved alongside it."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from chalicelib.domain import edits
from chalicelib.domain.audit import order_change
from chalicelib.domain.edits import Revised, Revision
from chalicelib.domain.errors import NotFound, OutOfStock, VersionMismatch
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import Order
from chalicelib.services.approvals import ApprovalService
from chalicelib.services.changes import Changes
from chalicelib.services.payments import PaymentService
from chalicelib.services.ports import CatalogueRepo, StockChange, StockShortage


@dataclass
class EditService:
    changes: Changes
    catalogue: CatalogueRepo
    payments: PaymentService
    approvals: ApprovalService | None = None  # re-review after the edit (services/approvals.py)

    def edit(self, principal: Principal, order_id: str, if_match: int, revision: Revision) -> Order:
        """Write the order's next version if ``if_match`` is still its version (else ``412``, nothing changed).

        Before anything is written: the catalogue entries of the new lines are read (one
        BatchGetItem), the edit is tried on a copy (``409``/``422`` early), and an unpaid order's
        open PaymentIntent is canceled at the provider (``502`` if it cannot be reached; ``409
        payment_in_progress`` if it was paid meanwhile). Then one conditional transaction writes
        the version, its events and every SKU's stock difference; a refund the edit owes is sent
        after it. DynamoDB calls: Query (the order), BatchGetItem (if items change), TransactWriteItems.
        """
        order = self.changes.orders.get(order_id)
        if order is None or not (principal.is_staff or order.customer_id == principal.subject):
            raise NotFound("No such order.", order_id=order_id)
        _check_version(order, if_match)
        skus = [item.sku for item in revision.items or []]
        # the lines kept and dropped too: their stock is written from this read (consistent), so no second one
        products = (
            self.catalogue.get_many([*skus, *(line.sku for line in order.lines)], consistent=True) if skus else {}
        )
        trial = edits.revise(copy.deepcopy(order), revision, products, principal.actor, self.changes.now(),
                             staff=principal.is_staff)  # fmt: skip
        _check_stock(trial, products)
        if not trial.changed:
            return order
        open_online = [p for p in order.payments.values() if p.status == "pending" and p.online]
        closed = self.payments.close_at_provider(open_online) if open_online else frozenset()

        def apply(current: Order, at: str) -> Revised:
            _check_version(current, if_match)
            revised = edits.revise(current, revision, products, principal.actor, at, staff=principal.is_staff,
                                   closed_at_provider=closed)  # fmt: skip
            if revised.changed and self.approvals is not None:
                self.approvals.rereview(current, "system", at)
            return revised

        try:
            order, revised = self.changes.change(
                order_id,
                apply,
                read=order,
                seen=products,
                audit=order_change(principal, "order.edit"),
                stock_moves=lambda revised: [
                    StockChange(sku, delta, "order_edited", order_id) for sku, delta in sorted(revised.stock.items())
                ],
            )
        except StockShortage as shortage:
            raise _out_of_stock(trial, shortage.skus, self.catalogue) from None
        if revised.refunds:
            order = self.changes.send_refunds(order, revised.refunds)
        if any(p.cancel_pending for p in order.payments.values()):
            order = self.changes.cancel_intents(order)
        return order


def _check_version(order: Order, if_match: int) -> None:
    if order.version != if_match:
        raise VersionMismatch(
            "The order changed since you read it; read it again and repeat your change.",
            current_version=order.version,
            if_match=if_match,
        )


def _check_stock(trial: Revised, products: dict) -> None:
    """Refuse early what the catalogue already shows cannot be reserved (the transaction checks it again)."""
    short = [
        {"sku": sku, "requested": -delta, "available": max(products[sku].stock_available, 0)}
        for sku, delta in sorted(trial.stock.items())
        if delta < 0 and sku in products and products[sku].stock_available < -delta
    ]
    if short:
        raise OutOfStock("Not enough stock for the change.", skus=short)


def _out_of_stock(trial: Revised, skus: list[str], catalogue: CatalogueRepo) -> OutOfStock:
    found = catalogue.get_many(skus)
    return OutOfStock(
        "Not enough stock for the change.",
        skus=[
            {"sku": sku, "requested": -trial.stock[sku], "available": max(found[sku].stock_available, 0)}
            for sku in skus
            if sku in found
        ],
    )
