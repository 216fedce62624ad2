"""Staff stock routes: adjustments, a SKU's ledger, what runs low."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.entrypoints.http import presenters, wiring
from chalicelib.entrypoints.http.orders import idempotency_key
from chalicelib.entrypoints.http.routing import STAFF, Call, endpoint, respond
from chalicelib.entrypoints.http.staff_catalogue import sku_or_404

api = Blueprint(__name__)


@endpoint(
    api,
    "POST",
    "/staff/stock/adjustments",
    summary="Add or take units (restock, stocktake, damage, ...): one stock movement; never below zero",
    access=STAFF,
    status=201,
    body="AdjustmentIn",
    response="AdjustmentOut",
    headers=(("Idempotency-Key", "Required. The same key with the same body answers the first result again."),),
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="stock",
)
def adjust(call: Call):
    key = idempotency_key(call, "Send an Idempotency-Key header (e.g. a UUID) with every stock adjustment.")
    body = call.body
    result = wiring.stock().adjust(call.principal, body.sku, body.delta, body.reason, body.note, key)
    return respond(result.answer, 200 if result.replayed else 201,
                   {"Idempotent-Replayed": "true" if result.replayed else "false"})  # fmt: skip


@endpoint(
    api,
    "GET",
    "/staff/products/{sku}/stock-movements",
    summary="Every change of a SKU's stock, newest first",
    access=STAFF,
    query="PageQuery",
    response="MovementPage",
    errors=(400, 401, 403, 404, 422),
    tag="stock",
)
def movements(call: Call, sku: str) -> dict:
    from chalicelib.services.stock import movement_view

    page = wiring.stock().movements(sku_or_404(sku), limit=call.query.limit, cursor=call.query.cursor)
    return presenters.page(page, movement_view)


@endpoint(
    api,
    "GET",
    "/staff/stock/low",
    summary="Products under their low-stock threshold, largest shortfall first",
    access=STAFF,
    query="PageQuery",
    response="LowStockPage",
    errors=(400, 401, 403, 422),
    tag="stock",
)
def low(call: Call) -> dict:
    return presenters.page(wiring.stock().low(limit=call.query.limit, cursor=call.query.cursor), presenters.low_stock)
