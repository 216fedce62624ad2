"""Schemas of customer tickets: opening one, writing in it, and the listings of customers and staff."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import ConfigDict, Field

from chalicelib.domain.tickets import KINDS, MAX_MESSAGE, MAX_SUBJECT, STATUSES
from chalicelib.entrypoints.http.schemas.base import Cursor, Limit, Pattern, Schema, Strict, Text

TicketKind = Literal[KINDS]  # type: ignore[valid-type]
TicketStatus = Literal[STATUSES]  # type: ignore[valid-type]
OrderRef = Annotated[str, Pattern(r"^[A-Za-z0-9_-]{1,64}$", "must be an order id")]


class TicketIn(Strict):
    kind: TicketKind
    subject: Text(MAX_SUBJECT)
    message: Text(MAX_MESSAGE)
    order_id: Optional[OrderRef] = Field(None, description="One of the caller's own orders (404 for any other).")


class TicketMessageIn(Strict):
    message: Text(MAX_MESSAGE)


class TicketCloseIn(Strict):
    reason: Optional[Text(500)] = Field(None, description="Kept in the audit log with the close.")


class TicketsQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Limit = 20
    cursor: Optional[Cursor] = None


class StaffTicketsQuery(Schema):
    """Both filters combine. A ``kind`` filter reads a bounded number of items per page: a page may hold fewer
    than ``limit`` (even none) and still have a ``next_cursor``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Optional[TicketStatus] = None
    kind: Optional[TicketKind] = None
    limit: Limit = 20
    cursor: Optional[Cursor] = None


class TicketOut(Schema):
    ticket_id: str
    customer_id: str
    kind: str
    subject: str
    status: str = Field(description="open (waiting for staff), answered (staff wrote last) or closed.")
    order_id: Optional[str]
    created_at: str
    updated_at: str
    last_message_at: str
    closed_at: Optional[str]
    messages_count: int


class TicketMessageOut(Schema):
    seq: int
    at: str
    author: str = Field(description="customer or staff.")
    message: str


class StaffTicketMessageOut(TicketMessageOut):
    actor: str = Field(description="Who wrote it: customer:<sub> or staff:<sub>.")


class TicketDetailOut(TicketOut):
    messages: list[TicketMessageOut]


class StaffTicketDetailOut(TicketOut):
    messages: list[StaffTicketMessageOut]


class TicketPage(Schema):
    items: list[TicketOut]
    next_cursor: Optional[str]


class TicketMessageAddedOut(Schema):
    ticket: TicketOut
    message: TicketMessageOut


class StaffTicketMessageAddedOut(Schema):
    ticket: TicketOut
    message: StaffTicketMessageOut
