"""Changing a placed order: its lines, address or note, as a new version (API.md: PATCH /orders/{id}).

The rules, in the order they apply:

- who and when: the owner while the order is unpaid (lifecycle row ``edit``), staff until
  it ships, paid or not (``edit_paid``); anything else is ``409 invalid_transition``;
- ``items`` is the whole new list: a kept line keeps its unit price, a new SKU takes
  today's catalogue price, and each SKU's stock moves by the difference (more reserved, or
  given back), in the same transaction as the new version;
- money: an unpaid order's open attempts are closed (an online one canceled at the
  provider), so the customer pays the new total; a paid order that now costs less gets the
  difference refunded (reason ``order_modified``), one that costs more owes it
  (``balance_due``, paid with ``POST /orders/{id}/payments``);
- the timeline gets ``order_modified`` ``{from_version, to_version, lines: [{sku, from, to}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain import lifecycle, pricing
from chalicelib.domain import payments as ledger
from chalicelib.domain.catalogue import Product
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.orders import MAX_ORDER_LINES, Order, OrderLine, RequestedLine
from chalicelib.domain.payment_records import balance_due, excess_paid

# SKUs one edit may move: each is two items (the product, its ledger entry) of the edit's one transaction,
# which DynamoDB caps at 100 items (with the order, its events and its audit entry).
MAX_STOCK_MOVES = MAX_ORDER_LINES


@dataclass(frozen=True)
class Revision:
    """What the request changes; ``None`` leaves a part as it is."""

    items: list[RequestedLine] | None = None
    shipping_address: dict[str, str] | None = None
    note: str | None = None
    clear_note: bool = False


@dataclass
class Revised:
    """What the new version needs besides itself: stock to move per SKU (+ given back, - taken) and refunds."""

    stock: dict[str, int] = field(default_factory=dict)
    refunds: list[ledger.Refund] = field(default_factory=list)
    changed: bool = False


def action_for(order: Order, *, staff: bool) -> str:
    """The lifecycle action an edit by this caller is: staff may change a paid order, its owner may not."""
    return "edit_paid" if staff and order.payment_status in lifecycle.PAID else "edit"


def revise(
    order: Order,
    revision: Revision,
    catalogue: dict[str, Product],
    actor: str,
    at: str,
    *,
    staff: bool,
    closed_at_provider: frozenset[str] = frozenset(),
) -> Revised:
    """Apply ``revision`` to ``order`` (or raise ``InvalidTransition`` / ``ValidationFailed``)."""
    lifecycle.apply(order.states, action_for(order, staff=staff))
    result = Revised()
    from_version, before = order.version, {line.sku: line.quantity for line in order.lines}
    lines = _new_lines(order, revision.items, catalogue) if revision.items is not None else order.lines
    address = revision.shipping_address if revision.shipping_address is not None else order.shipping_address
    note = None if revision.clear_note else (revision.note if revision.note is not None else order.note)
    if (lines, address, note) == (order.lines, order.shipping_address, order.note):
        return result  # nothing to change: no new version
    after = {line.sku: line.quantity for line in lines}
    result.stock = {sku: before.get(sku, 0) - after.get(sku, 0) for sku in {*before, *after}}
    result.stock = {sku: delta for sku, delta in result.stock.items() if delta}
    if len(result.stock) > MAX_STOCK_MOVES:
        raise ValidationFailed(
            f"One edit changes at most {MAX_STOCK_MOVES} lines' quantities; make the change in two edits.",
            fields={"items": f"changes {len(result.stock)} lines, at most {MAX_STOCK_MOVES}"},
        )
    total_from, moved = order.total, address != order.shipping_address
    order.lines, order.shipping_address, order.note = lines, address, note
    priced = pricing.totals(lines, order.currency, terms=order.terms)  # its own terms; 422 beyond MAX_AMOUNT
    order.subtotal, order.discount, order.shipping = priced.subtotal, priced.discount, priced.shipping
    order.discounts = priced.discounts
    order.total = priced.total
    if order.payment_status in lifecycle.UNPAID:
        ledger.close_open(order, actor, at, "order_modified", closed_at_provider=closed_at_provider)
    else:
        ledger.settle(order)
        excess = excess_paid(order)
        if excess:
            refund_id = f"edit-{order.order_id[:12]}-v{from_version + 1}"
            result.refunds = ledger.refund_difference(order, excess, refund_id, actor, at)
    ledger.settle(order)
    changes = [
        {"sku": sku, "from": before.get(sku, 0), "to": after.get(sku, 0)}
        for sku in dict.fromkeys([*before, *after])
        if before.get(sku, 0) != after.get(sku, 0)
    ]
    data = {"from_version": from_version, "to_version": order.version + 1, "lines": changes,
            "total_from": total_from, "total": order.total, "currency": order.currency}  # fmt: skip
    if moved:
        data["address_changed"] = True
    if balance_due(order):
        data["balance_due"] = balance_due(order)
    order.record("order_modified", actor, at, data)
    result.changed = True
    return result


def _new_lines(order: Order, items: list[RequestedLine], catalogue: dict[str, Product]) -> list[OrderLine]:
    """Kept SKUs at the price they were ordered at, new ones at today's (refused if unknown or inactive)."""
    if not items:
        raise ValidationFailed("An order needs at least one line; cancel it instead.", fields={"items": "empty"})
    return pricing.price_lines(items, catalogue, order.currency, kept={line.sku: line for line in order.lines})
