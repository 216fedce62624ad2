"""Side effects of committed changes, driven by the tables' streams: notifications and fulfilment requests.

Each side effect of an event is marked done after it succeeds (one marker item per
event, holding what was sent), so a redelivered stream record sends only what is
missing. A failure raises: the stream delivers the record again until it works, so
nothing committed goes unannounced. (A crash between a publish and its marker can
repeat that one message: at least once, never lost.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chalicelib.domain import notifications
from chalicelib.domain.lifecycle import NOT_SHIPPED, PAID
from chalicelib.domain.notifications import TimelineFact
from chalicelib.services.ports import FulfilmentRequests, Notifier, OrdersRepo, SentMarkers

log = logging.getLogger("orders.notify")
FULFILMENT_REQUEST = "fulfilment_request"


@dataclass
class EventDispatcher:
    orders: OrdersRepo
    notifier: Notifier
    fulfilment_requests: FulfilmentRequests
    markers: SentMarkers

    def timeline_event(self, fact: TimelineFact) -> list[str]:
        """Send what ``fact`` calls for and has not been sent; returns what was sent now."""
        due = {n.key: n for n in notifications.for_event(fact)}
        wants_fulfilment = fact.type == "payment_received"
        key = f"{fact.order_id}#{fact.seq}"
        done = self.markers.sent(key) if due else set()
        sent = []
        for target, notification in due.items():
            if target not in done:
                self.notifier.publish(notification)
                self.markers.mark(key, target)
                sent.append(target)
        once = f"{fact.order_id}#fulfilment"  # per order: a second payment never ships twice
        if wants_fulfilment:
            if FULFILMENT_REQUEST not in self.markers.sent(once) and self._request_fulfilment(fact.order_id):
                self.markers.mark(once, FULFILMENT_REQUEST)
                sent.append(FULFILMENT_REQUEST)
        elif fact.type == "order_modified" and FULFILMENT_REQUEST in self.markers.sent(once):
            revised = f"{once}#v{fact.seq}"  # the warehouse has the order: it gets the new version, once
            if FULFILMENT_REQUEST not in self.markers.sent(revised) and self._request_fulfilment(
                fact.order_id, revision=True
            ):
                self.markers.mark(revised, FULFILMENT_REQUEST)
                sent.append(FULFILMENT_REQUEST)
        return sent

    def stock_changed(
        self, record_id: str, sku: str, name: str, before: int | None, after: int | None, threshold: int, at: str
    ) -> bool:
        """A ``low_stock`` alert when this change took the SKU below its threshold (once per crossing)."""
        if not notifications.crossed_below(before, after, threshold):
            return False
        key = f"stock#{record_id}"
        if "low_stock" in self.markers.sent(key):
            return False
        self.notifier.publish(notifications.low_stock(sku, name, int(after or 0), threshold, at))
        self.markers.mark(key, "low_stock")
        return True

    def _request_fulfilment(self, order_id: str, revision: bool = False) -> bool:
        """Ask the warehouse to ship a paid order, or (``revision``) to ship the new version of one it has:
        the same ``order_id``, a higher ``version``, until it has shipped."""
        order = self.orders.get(order_id)
        if order is None or order.status != "confirmed" or order.payment_status not in PAID:
            return False
        if order.fulfilment_status not in (NOT_SHIPPED if revision else ("unfulfilled",)):
            return False
        message = {
            "order_id": order.order_id,
            "order_number": order.order_number,
            "version": order.version,
            "revised": revision,
            "lines": [{"sku": line.sku, "name": line.name, "quantity": line.quantity} for line in order.lines],
            "shipping_address": order.shipping_address,
        }
        self.fulfilment_requests.send(message, dedupe_key=order.order_id)
        log.info("fulfilment requested for order %s", order.order_number)
        return True
