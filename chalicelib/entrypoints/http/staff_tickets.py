"""Staff answering customers' tickets (API.md, "Tickets"): ``/staff/tickets``. Every change is audited."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.routing import STAFF, Call, endpoint, respond
from chalicelib.entrypoints.http.tickets import message_view, thread_view, ticket_id_or_404, ticket_view

api = Blueprint(__name__)


@endpoint(
    api,
    "GET",
    "/staff/tickets",
    summary="Every ticket, newest first, by status and kind",
    access=STAFF,
    query="StaffTicketsQuery",
    response="TicketPage",
    errors=(400, 401, 403, 422, 429),
    tag="tickets",
)
def list_tickets(call: Call) -> dict:
    query = call.query
    page = wiring.tickets().staff_list(query.status, query.kind, query.limit, query.cursor)
    return {"items": [ticket_view(t) for t in page.items], "next_cursor": page.next_cursor}


@endpoint(
    api,
    "GET",
    "/staff/tickets/{ticket_id}",
    summary="A ticket with its messages, oldest first, each naming who wrote it",
    access=STAFF,
    response="StaffTicketDetailOut",
    errors=(401, 403, 404, 429),
    tag="tickets",
)
def get_ticket(call: Call, ticket_id: str) -> dict:
    thread = wiring.tickets().staff_thread(ticket_id_or_404(ticket_id))
    return thread_view(thread.ticket, thread.messages, staff=True)


@endpoint(
    api,
    "POST",
    "/staff/tickets/{ticket_id}/messages",
    summary="Answer a ticket: it is answered, and the customer is told (ticket_replied)",
    access=STAFF,
    status=201,
    body="TicketMessageIn",
    response="StaffTicketMessageAddedOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="tickets",
)
def answer_ticket(call: Call, ticket_id: str):
    ticket, message = wiring.tickets().answer(call.principal, ticket_id_or_404(ticket_id), call.body.message)
    return respond({"ticket": ticket_view(ticket), "message": message_view(message, staff=True)}, 201)


@endpoint(
    api,
    "POST",
    "/staff/tickets/{ticket_id}/close",
    summary="Close a ticket (409 if it is closed already); the customer may reopen it by writing",
    access=STAFF,
    body="TicketCloseIn",
    body_required=False,
    response="TicketOut",
    errors=(400, 401, 403, 404, 409, 413, 422, 429),
    tag="tickets",
)
def close_ticket(call: Call, ticket_id: str) -> dict:
    reason = call.body.reason if call.body is not None else None
    return ticket_view(wiring.tickets().close(call.principal, ticket_id_or_404(ticket_id), reason))
