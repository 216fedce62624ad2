"""The payment voucher of a paid order, as plain rows of text: what goes on it, not how it is drawn.

A voucher is for the customer: payments show their method, when they were received and the
reference the customer knows (the PaymentIntent id, or the offline reference code they quoted),
never staff-only facts (the bank's reference staff recorded, a refund's reason, flags). Money is
formatted here, from integer minor units, with the currency's own number of decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import Conflict
from chalicelib.domain.money import minor_digits
from chalicelib.domain.orders import Order
from chalicelib.domain.payment_records import balance_due

RECEIPT_PAYMENT_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})  # money was received

METHOD_LABELS = {
    "card": "Card",
    "alipay": "Alipay",
    "wechat_pay": "WeChat Pay",
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
}


class NotPaid(Conflict):
    """The order has received no payment: there is nothing to put on a voucher."""

    code = "not_paid"


@dataclass(frozen=True)
class VoucherLine:
    name: str
    sku: str
    unit_price: str
    quantity: int
    line_total: str


@dataclass(frozen=True)
class VoucherPayment:
    method: str
    at: str
    amount: str
    reference: str


@dataclass(frozen=True)
class VoucherRefund:
    amount: str
    at: str
    status: str
    reference: str


@dataclass(frozen=True)
class Voucher:
    """Everything printed on one order version's voucher, as text (amounts formatted)."""

    business_name: str
    order_id: str
    order_number: str
    version: int
    order_date: str
    issued_at: str
    customer_name: str
    address: tuple[str, ...]
    lines: tuple[VoucherLine, ...]
    totals: tuple[tuple[str, str], ...]  # (label, amount): subtotal, discount, shipping, total, paid, refunded, due
    payments: tuple[VoucherPayment, ...]
    refunds: tuple[VoucherRefund, ...]
    payment_status: str


def format_money(amount: int, currency: str) -> str:
    """``129000, "CNY"`` → ``CNY 1,290.00``; ``1500, "JPY"`` → ``JPY 1,500`` (no minor unit)."""
    if not isinstance(amount, int):
        raise TypeError("money is integer minor units")
    digits = minor_digits(currency)
    sign, value = ("-" if amount < 0 else ""), abs(amount)
    whole, minor = divmod(value, 10**digits)
    text = f"{whole:,}" + (f".{minor:0{digits}d}" if digits else "")
    return f"{sign}{currency.upper()} {text}"


def format_time(iso: str) -> str:
    """``2026-12-01T23:20:29.123Z`` → ``2026-12-01 23:20 UTC``."""
    return f"{iso[:10]} {iso[11:16]} UTC" if len(iso) >= 16 else iso


def receipt_key(order: Order) -> str:
    """Where this order version's voucher is kept: a changed order (a refund) is a new version, a new file."""
    return f"receipts/{order.order_id}/v{order.version}.pdf"


def filename(order: Order) -> str:
    return f"receipt-{order.order_number}-v{order.version}.pdf"


def check_paid(order: Order) -> None:
    """Refuse (``409 not_paid``) an order that has received no payment."""
    if order.payment_status not in RECEIPT_PAYMENT_STATUSES:
        raise NotPaid(
            "This order has not been paid: a voucher is issued once a payment is received.",
            order_id=order.order_id,
            payment_status=order.payment_status,
        )


def voucher(order: Order, business_name: str) -> Voucher:
    """The voucher of ``order`` as it is now (its version), or ``NotPaid``."""
    check_paid(order)
    currency = order.currency

    def money(amount: int) -> str:
        return format_money(amount, currency)

    received = _event_times(order, "payment_received", "payment_id")
    refunded_at = _event_times(order, "refund_issued", "refund_id")
    payments = tuple(
        VoucherPayment(
            method=METHOD_LABELS.get(p.method, p.method),
            at=format_time(received.get(p.payment_id, p.created_at)),
            amount=money(p.received_amount or p.amount),
            reference=p.provider_reference or p.reference_code or p.payment_id,
        )
        for p in order.payments.values()
        if p.status == "succeeded"
    )
    refunds = tuple(
        VoucherRefund(
            amount=money(r.amount),
            at=format_time(refunded_at.get(r.refund_id, r.created_at)),
            status=r.status,
            reference=r.provider_reference or r.reference_code or r.refund_id,
        )
        for r in order.refunds.values()
    )
    address = order.shipping_address
    return Voucher(
        business_name=business_name,
        order_id=order.order_id,
        order_number=order.order_number,
        version=order.version,
        order_date=format_time(order.created_at),
        issued_at=format_time(order.updated_at),
        customer_name=address.get("name", ""),
        address=_address_lines(address),
        lines=tuple(
            VoucherLine(line.name, line.sku, money(line.unit_price), line.quantity, money(line.line_total))
            for line in order.lines
        ),
        totals=(
            ("Subtotal", money(order.subtotal)),
            ("Discount", money(-order.discount) if order.discount else money(0)),
            ("Shipping", money(order.shipping)),
            ("Total", money(order.total)),
            ("Paid", money(order.amount_paid)),
            ("Refunded", money(order.amount_refunded)),
            *((("Balance due", money(balance_due(order))),) if balance_due(order) > 0 else ()),
        ),
        payments=payments,
        refunds=refunds,
        payment_status=order.payment_status,
    )


def _event_times(order: Order, event_type: str, id_field: str) -> dict[str, str]:
    """When each payment was received (or refund issued), from the timeline: id → the event's time."""
    return {
        str(event.data[id_field]): event.at
        for event in order.timeline
        if event.type == event_type and event.data.get(id_field)
    }


def _address_lines(address: dict[str, str]) -> tuple[str, ...]:
    place = " ".join(part for part in (address.get("postal_code"), address.get("city"), address.get("region")) if part)
    rows = (address.get("line1"), address.get("line2"), place, address.get("country"), address.get("phone"))
    return tuple(row for row in rows if row)
