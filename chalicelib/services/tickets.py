"""Customer tickets (``/me/tickets``, ``/staff/tickets``): opening one, the conversation, closing it, and what
the orders table's stream announces of it.

Every message is written with the ticket over the version read, and retried from a fresh read when another
message came first, so the counters and the status always tell the truth and a ticket never passes
``MAX_MESSAGES``. Staff answers and closes are audited in the same transaction. A ticket that is not the
caller's does not exist for them (``404``), as an order that is not theirs.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.domain import tickets as domain
from chalicelib.domain.audit import AuditEntry, entry
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identity import Principal
from chalicelib.domain.notifications import CUSTOMER, STAFF, Notification
from chalicelib.domain.orders import Order, iso
from chalicelib.domain.tickets import Message, NoSuchTicket, Ticket
from chalicelib.services.changes import Busy
from chalicelib.services.ports import Notifier, Page, SentMarkers, WriteConflict

log = logging.getLogger("orders.tickets")
ATTEMPTS = 8


class Tickets(Protocol):
    def get(self, ticket_id: str) -> Ticket | None: ...
    def thread(self, ticket_id: str) -> tuple[Ticket | None, list[Message]]: ...
    def create(self, ticket: Ticket, message: Message) -> None: ...
    def append(self, ticket: Ticket, read_version: int, message: Message, audit: tuple[AuditEntry, ...]) -> None: ...
    def save(self, ticket: Ticket, read_version: int, audit: tuple[AuditEntry, ...]) -> None: ...
    def customer_page(self, customer_id: str, limit: int, cursor: str | None) -> Page[Ticket]: ...
    def staff_page(self, status: str | None, kind: str | None, limit: int, cursor: str | None) -> Page[Ticket]: ...


@dataclass(frozen=True)
class Thread:
    ticket: Ticket
    messages: list[Message]


@dataclass
class TicketService:
    tickets: Tickets
    find_order: Callable[[str], Order | None]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:20]
    pause: Callable[[float], None] = time.sleep

    def open(self, principal: Principal, kind: str, subject: str, message: str, order_id: str | None) -> Thread:
        """A new ticket with its first message; ``order_id`` must name one of the caller's own orders (``404``
        otherwise, as for the order's own routes). One transaction (and a read of the order, if named)."""
        if order_id is not None:
            order = self.find_order(order_id)
            if order is None or order.customer_id != principal.subject:
                raise NotFound("No such order.", order_id=order_id)
        ticket, first = domain.opened(f"tkt_{self.new_id()}", principal.subject, principal.actor, kind, subject,
                                      message, order_id, self._now())  # fmt: skip
        self.tickets.create(ticket, first)
        return Thread(ticket, [first])

    def mine(self, principal: Principal, limit: int, cursor: str | None) -> Page[Ticket]:
        """The caller's tickets, newest first: one Query."""
        return self.tickets.customer_page(principal.subject, limit, cursor)

    def my_thread(self, principal: Principal, ticket_id: str) -> Thread:
        """One of the caller's tickets with its messages: one Query."""
        ticket, messages = self.tickets.thread(ticket_id)
        if ticket is None or ticket.customer_id != principal.subject:
            raise _missing(ticket_id)
        return Thread(ticket, messages)

    def write(self, principal: Principal, ticket_id: str, text: str) -> tuple[Ticket, Message]:
        """The caller's message on their ticket: it is ``open`` again (a closed one reopens)."""
        return self._add(principal, ticket_id, text, domain.CUSTOMER)

    def staff_list(self, status: str | None, kind: str | None, limit: int, cursor: str | None) -> Page[Ticket]:
        """Every ticket (of a status, of a kind), newest first: one Query per index shard, never a Scan."""
        return self.tickets.staff_page(status, kind, limit, cursor)

    def staff_thread(self, ticket_id: str) -> Thread:
        ticket, messages = self.tickets.thread(ticket_id)
        if ticket is None:
            raise _missing(ticket_id)
        return Thread(ticket, messages)

    def answer(self, principal: Principal, ticket_id: str, text: str) -> tuple[Ticket, Message]:
        """A staff answer: the ticket is ``answered`` (a closed one too); audited with it."""
        return self._add(principal, ticket_id, text, domain.STAFF)

    def close(self, principal: Principal, ticket_id: str, reason: str | None = None) -> Ticket:
        """Closed by staff (``409 invalid_transition`` if it is already); audited with it, and the reason given."""
        for attempt in range(ATTEMPTS):
            before = self._read(ticket_id)
            after = domain.closed(before, self._now())
            audit = _audit(principal, "ticket.close", before, after, None, reason)
            try:
                self.tickets.save(after, before.version, audit)
                return after
            except WriteConflict:
                self._backoff(attempt)
        raise Busy("The ticket is being changed from elsewhere right now; retry shortly.")

    def _add(self, principal: Principal, ticket_id: str, text: str, author: str) -> tuple[Ticket, Message]:
        for attempt in range(ATTEMPTS):
            before = self._read(ticket_id)
            if author == domain.CUSTOMER and before.customer_id != principal.subject:
                raise _missing(ticket_id)
            after, message = domain.with_message(before, author, principal.actor, text, self._now())
            audit = _audit(principal, "ticket.answer", before, after, message) if author == domain.STAFF else ()
            try:
                self.tickets.append(after, before.version, message, audit)
                return after, message
            except WriteConflict:
                self._backoff(attempt)
        raise Busy("The ticket is being changed from elsewhere right now; retry shortly.")

    def _read(self, ticket_id: str) -> Ticket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise _missing(ticket_id)
        return ticket

    def _now(self) -> str:
        return iso(self.clock())

    def _backoff(self, attempt: int) -> None:
        self.pause(random.uniform(0, 0.02 * 2**attempt))


def _missing(ticket_id: str) -> NoSuchTicket:
    return NoSuchTicket("No such ticket.", ticket_id=ticket_id)


def _audit(principal: Principal, action: str, before: Ticket, after: Ticket,
           message: Message | None, reason: str | None = None) -> tuple[AuditEntry, ...]:  # fmt: skip
    """One entry on ("ticket", id) named by the version written; the message's number, never its text."""
    data: dict[str, Any] = {"customer_id": after.customer_id, "kind": after.kind, "reason": reason}
    if before.status != after.status:
        data["status"] = {"from": before.status, "to": after.status}
    if message is not None:
        data["message_seq"] = message.seq
    key = f"v{after.version}"
    return (entry(principal, action, ("ticket", after.ticket_id), at=after.updated_at, key=key, data=data),)


# --- what the stream announces ----------------------------------------------------------------------------------

SUBJECTS = {
    "ticket_opened": "New ticket: {subject}",
    "ticket_customer_replied": "The customer wrote again: {subject}",
    "ticket_replied": "We answered your ticket: {subject}",
}


def notifications_for(fact: dict[str, Any]) -> list[Notification]:
    """A new ticket tells staff (``ticket_opened``), a customer's later message too (``ticket_customer_replied``);
    a staff answer tells the customer (``ticket_replied``), never naming who answered."""
    message = {"ticket_id": fact["ticket_id"], "customer_id": fact["customer_id"], "kind": fact["kind"],
               "subject": fact["subject"], "order_id": fact["order_id"], "at": fact["at"], "seq": fact["seq"],
               "author": fact["author"], "message": fact["message"]}  # fmt: skip
    if fact["author"] == domain.STAFF:
        kind, audience, customer_id = "ticket_replied", CUSTOMER, fact["customer_id"]
    else:
        kind, audience, customer_id = ("ticket_opened" if fact["seq"] == 1 else "ticket_customer_replied"), STAFF, None
    subject = SUBJECTS[kind].format(subject=fact["subject"])[:100]
    return [Notification(audience, kind, subject, {**message, "event_type": kind}, customer_id)]


@dataclass
class TicketAnnouncer:
    notifier: Notifier
    markers: SentMarkers

    def message_added(self, fact: dict[str, Any]) -> list[str]:
        """Send what a committed message calls for and was not sent yet (a redelivered record sends nothing)."""
        key = f"ticket#{fact['ticket_id']}#{fact['seq']}"
        done = self.markers.sent(key)
        sent = []
        for notification in notifications_for(fact):
            if notification.key not in done:
                self.notifier.publish(notification)
                self.markers.mark(key, notification.key)
                sent.append(notification.key)
        return sent
