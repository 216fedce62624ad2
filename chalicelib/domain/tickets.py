"""Customer tickets (API.md, "Tickets"): complaints, suggestions, questions and after-sales help, and the rules
of their conversation.

A ticket is ``open`` while it waits for staff, ``answered`` once staff wrote last and ``closed`` when staff close
it. A customer's message on a closed ticket reopens it (as Zendesk and Freshdesk reopen a solved ticket on the
requester's reply), so a customer is never told to start over. Pure: no AWS here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.domain.errors import Conflict, InvalidTransition, NotFound

KINDS = ("complaint", "suggestion", "question", "after_sales")
STATUSES = ("open", "answered", "closed")
OPEN, ANSWERED, CLOSED = STATUSES
CUSTOMER, STAFF = "customer", "staff"  # who wrote a message
MAX_SUBJECT = 200
MAX_MESSAGE = 4000
MAX_MESSAGES = 100


class NoSuchTicket(NotFound):
    pass


class TicketFull(Conflict):
    code = "ticket_full"


@dataclass(frozen=True)
class Message:
    seq: int  # 1 for the message that opened the ticket
    at: str
    author: str  # CUSTOMER or STAFF
    actor: str  # customer:<sub> or staff:<sub> (staff see it; a customer sees ``author`` only)
    message: str


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    customer_id: str
    kind: str
    subject: str
    status: str
    created_at: str
    updated_at: str
    last_message_at: str
    messages_count: int
    order_id: str | None = None
    closed_at: str | None = None
    version: int = 1


def opened(ticket_id: str, customer_id: str, actor: str, kind: str, subject: str, message: str,
           order_id: str | None, at: str) -> tuple[Ticket, Message]:  # fmt: skip
    """A new ticket, open, with the customer's first message."""
    if kind not in KINDS:
        raise ValueError(f"not a ticket kind: {kind}")
    ticket = Ticket(ticket_id=ticket_id, customer_id=customer_id, kind=kind, subject=subject, status=OPEN,
                    created_at=at, updated_at=at, last_message_at=at, messages_count=1, order_id=order_id)  # fmt: skip
    return ticket, Message(seq=1, at=at, author=CUSTOMER, actor=actor, message=message)


def with_message(ticket: Ticket, author: str, actor: str, text: str, at: str) -> tuple[Ticket, Message]:
    """The ticket once ``author`` wrote ``text``: a customer's message makes it ``open`` (reopening a closed one),
    a staff answer ``answered``. ``409 ticket_full`` past ``MAX_MESSAGES``."""
    if ticket.messages_count >= MAX_MESSAGES:
        raise TicketFull(f"A ticket holds at most {MAX_MESSAGES} messages; open a new one.",
                         ticket_id=ticket.ticket_id, max_messages=MAX_MESSAGES)  # fmt: skip
    seq = ticket.messages_count + 1
    status = OPEN if author == CUSTOMER else ANSWERED
    after = replace(ticket, status=status, messages_count=seq, last_message_at=at, updated_at=at, closed_at=None,
                    version=ticket.version + 1)  # fmt: skip
    return after, Message(seq=seq, at=at, author=author, actor=actor, message=text)


def closed(ticket: Ticket, at: str) -> Ticket:
    """The ticket closed by staff; ``409 invalid_transition`` if it already is."""
    if ticket.status == CLOSED:
        raise InvalidTransition("The ticket is already closed.", ticket_id=ticket.ticket_id, status=CLOSED)
    return replace(ticket, status=CLOSED, closed_at=at, updated_at=at, version=ticket.version + 1)
