"""The payment voucher of a paid order: built once per order version, stored, then handed out by link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from chalicelib.domain import receipt
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import iso
from chalicelib.domain.receipt import Voucher
from chalicelib.services.ports import OrdersRepo


class ReceiptStore(Protocol):
    def exists(self, key: str) -> bool: ...

    def put(self, key: str, body: bytes) -> None: ...

    def link(self, key: str, filename: str, seconds: int) -> str: ...


@dataclass(frozen=True)
class ReceiptLink:
    url: str
    expires_at: str
    built: bool  # this request built and stored the PDF (the first for this order version)


@dataclass
class ReceiptService:
    orders: OrdersRepo
    store: ReceiptStore
    render: Callable[[Voucher], bytes]
    business_name: str
    link_seconds: int = 300
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def link(self, principal: Principal, order_id: str) -> ReceiptLink:
        """A short-lived link to the voucher of the order as it is now (owner or staff; ``409 not_paid``).

        Calls: one DynamoDB Query (the order with its timeline), one S3 HeadObject; the first request
        for an order version also renders the PDF and PutObjects it. Two first requests at once
        both build it: the same version gives the same bytes, so either write is the voucher.
        """
        order = self.orders.get(order_id)
        if order is None or not (principal.is_staff or order.customer_id == principal.subject):
            raise NotFound("No such order.", order_id=order_id)
        receipt.check_paid(order)
        key = receipt.receipt_key(order)
        built = False
        if not self.store.exists(key):
            self.store.put(key, self.render(receipt.voucher(order, self.business_name)))
            built = True
        expires = self.clock() + timedelta(seconds=self.link_seconds)
        return ReceiptLink(self.store.link(key, receipt.filename(order), self.link_seconds), iso(expires), built)
