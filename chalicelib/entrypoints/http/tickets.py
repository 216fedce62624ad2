"""A customer's own tickets (API.md, "Tickets"): ``/me/tickets``; and the views staff and customers get of one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.routing import CUSTOMER, Call, endpoint, respond

if TYPE_CHECKING:
    from chalicelib.domain.tickets import Message, Ticket

api = Blueprint(__name__)

TICKET_ID = re.compile(r"^tkt_[0-9a-f]{20}$")
_TICKET = ("ticket_id", "customer_id", "kind", "subject", "status", "order_id", "created_at", "updated_at",
           "last_message_at", "closed_at", "messages_count")  # fmt: skip


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    return {name: getattr(ticket, name) for name in _TICKET}


def message_view(message: Message, staff: bool = False) -> dict[str, Any]:
    """A customer sees that staff answered, never who: the actor is for staff."""
    seen = {"seq": message.seq, "at": message.at, "author": message.author, "message": message.message}
    return {**seen, "actor": message.actor} if staff else seen


def thread_view(ticket: Ticket, messages: list[Message], staff: bool = False) -> dict[str, Any]:
    return {**ticket_view(ticket), "messages": [message_view(m, staff) for m in messages]}


def ticket_id_or_404(raw: str) -> str:
    if not TICKET_ID.match(raw):
        raise NotFound("No such ticket.", ticket_id=raw[:64])
    return raw


@endpoint(
    api,
    "POST",
    "/me/tickets",
    summary="Open a ticket (a complaint, a suggestion, a question or after-sales help), optionally about an order",
    access=CUSTOMER,
    status=201,
    body="TicketIn",
    response="TicketDetailOut",
    response_headers=("Location",),
    errors=(400, 401, 403, 404, 413, 422, 429),
    tag="tickets",
)
def open_ticket(call: Call):
    body = call.body
    thread = wiring.tickets().open(call.principal, body.kind, body.subject, body.message, body.order_id)
    view = thread_view(thread.ticket, thread.messages)
    return respond(view, 201, {"Location": f"/me/tickets/{thread.ticket.ticket_id}"})


@endpoint(
    api,
    "GET",
    "/me/tickets",
    summary="The caller's tickets, newest first",
    access=CUSTOMER,
    query="TicketsQuery",
    response="TicketPage",
    errors=(400, 401, 403, 422, 429),
    tag="tickets",
)
def list_my_tickets(call: Call) -> dict:
    page = wiring.tickets().mine(call.principal, call.query.limit, call.query.cursor)
    return {"items": [ticket_view(t) for t in page.items], "next_cursor": page.next_cursor}


@endpoint(
    api,
    "GET",
    "/me/tickets/{ticket_id}",
    summary="One of the caller's tickets with its messages, oldest first",
    access=CUSTOMER,
    response="TicketDetailOut",
    errors=(401, 403, 404, 429),
    tag="tickets",
)
def get_my_ticket(call: Call, ticket_id: str) -> dict:
    thread = wiring.tickets().my_thread(call.principal, ticket_id_or_404(ticket_id))
    return thread_view(thread.ticket, thread.messages)


@endpoint(
    api,
    "POST",
    "/me/tickets/{ticket_id}/messages",
    summary="Write in one of the caller's tickets: it waits for staff again (a closed one reopens)",
    access=CUSTOMER,
    status=201,
    body="TicketMessageIn",
    response="TicketMessageAddedOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="tickets",
)
def write_in_ticket(call: Call, ticket_id: str):
    ticket, message = wiring.tickets().write(call.principal, ticket_id_or_404(ticket_id), call.body.message)
    return respond({"ticket": ticket_view(ticket), "message": message_view(message)}, 201)
