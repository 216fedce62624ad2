"""Tickets in the orders table: the ticket (``TICKET#<id>`` / ``#TICKET``) and its messages (``MSG#<seq>``), so one
Query reads a ticket with its conversation.

The listings reuse the table's generic indexes, each sorted by ``created_at``, under partition values no order
can hold: a customer's tickets are ``customer_status = TICKET#<customer id>`` (``customer-status-created``), the
staff's by status ``status_shard = TICKET#<status>#<n>`` (``status-shard-created``) and all of them ``listed =
TICKET#<n>`` (``all-created``), the shard from the ticket id. The customer's id is kept as ``owner`` (not
``customer_id``) so a ticket never enters a customer's orders in ``customer-created``; the kind as
``ticket_kind`` (``kind`` is the table's discriminator).

Every message is one transaction: the ticket written over the version read (status, counters) and the message
put where none is, with the staff's audit entries. A message carries what the stream needs to announce it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.audit_repo import add_audit
from chalicelib.adapters.dynamo.models import OrdersTableItem, _gsi
from chalicelib.adapters.dynamo.pages import query_page, sharded_page
from chalicelib.config import settings
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.tickets import Message, Ticket
from chalicelib.services.ports import Page, WriteConflict

TICKET_SK = "#TICKET"
MESSAGE_PREFIX = "MSG#"
TICKET = "TICKET"
TICKET_SHARDS = 4


def ticket_pk(ticket_id: str) -> str:
    return f"{TICKET}#{ticket_id}"


def message_sk(seq: int) -> str:
    return f"{MESSAGE_PREFIX}{seq:04d}"


def _shard(ticket_id: str) -> int:
    return int(hashlib.sha256(ticket_id.encode()).hexdigest()[:8], 16) % TICKET_SHARDS


def customer_partition(customer_id: str) -> str:
    return f"{TICKET}#{customer_id}"


def status_partition(status: str, shard: int) -> str:
    return f"{TICKET}#{status}#{shard}"


def all_partition(shard: int) -> str:
    return f"{TICKET}#{shard}"


class TicketRecord(OrdersTableItem, discriminator="ticket"):
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute(attr_name="owner")
    ticket_kind = UnicodeAttribute()
    subject = UnicodeAttribute()
    status = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    last_message_at = UnicodeAttribute()
    closed_at = UnicodeAttribute(null=True)
    messages_count = NumberAttribute()
    version = NumberAttribute()
    customer_status = UnicodeAttribute()  # TICKET#<customer id>
    status_shard = UnicodeAttribute()  # TICKET#<status>#<n>
    listed = UnicodeAttribute()  # TICKET#<n>

    by_customer = _gsi("customer-status-created", "customer_status", "created_at", UnicodeAttribute)
    by_status = _gsi("status-shard-created", "status_shard", "created_at", UnicodeAttribute)
    every = _gsi("all-created", "listed", "created_at", UnicodeAttribute)


class TicketMessageRecord(OrdersTableItem, discriminator="ticket_message"):
    ticket_id = UnicodeAttribute()
    seq = NumberAttribute()
    at = UnicodeAttribute()
    author = UnicodeAttribute()
    actor = UnicodeAttribute()
    message = UnicodeAttribute()
    # for the stream: what a notification names, without reading the ticket
    customer_id = UnicodeAttribute(attr_name="owner")
    ticket_kind = UnicodeAttribute()
    subject = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)


_TICKET = ("ticket_id", "customer_id", "subject", "status", "order_id", "created_at", "updated_at",
           "last_message_at", "closed_at")  # fmt: skip


def to_ticket(record: TicketRecord) -> Ticket:
    return Ticket(kind=record.ticket_kind, messages_count=int(record.messages_count), version=int(record.version),
                  **{name: getattr(record, name) for name in _TICKET})  # fmt: skip


def ticket_record(ticket: Ticket) -> TicketRecord:
    shard = _shard(ticket.ticket_id)
    return TicketRecord(
        ticket_pk(ticket.ticket_id), TICKET_SK, ticket_kind=ticket.kind, messages_count=ticket.messages_count,
        version=ticket.version, customer_status=customer_partition(ticket.customer_id),
        status_shard=status_partition(ticket.status, shard), listed=all_partition(shard),
        **{name: getattr(ticket, name) for name in _TICKET},
    )  # fmt: skip


def to_message(record: TicketMessageRecord) -> Message:
    return Message(seq=int(record.seq), at=record.at, author=record.author, actor=record.actor,
                   message=record.message)  # fmt: skip


def message_record(ticket: Ticket, message: Message) -> TicketMessageRecord:
    return TicketMessageRecord(
        ticket_pk(ticket.ticket_id), message_sk(message.seq), ticket_id=ticket.ticket_id, seq=message.seq,
        at=message.at, author=message.author, actor=message.actor, message=message.message,
        customer_id=ticket.customer_id, ticket_kind=ticket.kind, subject=ticket.subject, order_id=ticket.order_id,
    )  # fmt: skip


def message_fact(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The ticket message a stream record inserted (its fields and the ticket's), or None for any other record."""
    if raw.get("eventName") != "INSERT":
        return None
    image = (raw.get("dynamodb") or {}).get("NewImage") or {}
    if (image.get("kind") or {}).get("S") != "ticket_message":
        return None
    record = TicketMessageRecord.from_raw_data(image)
    return {"ticket_id": record.ticket_id, "customer_id": record.customer_id, "kind": record.ticket_kind,
            "subject": record.subject, "order_id": record.order_id, "seq": int(record.seq), "at": record.at,
            "author": record.author, "actor": record.actor, "message": record.message}  # fmt: skip


class TicketsRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def get(self, ticket_id: str) -> Ticket | None:
        """GetItem (consistent)."""
        try:
            return to_ticket(TicketRecord.get(ticket_pk(ticket_id), TICKET_SK, consistent_read=True))
        except TicketRecord.DoesNotExist:
            return None

    def thread(self, ticket_id: str) -> tuple[Ticket | None, list[Message]]:
        """The ticket and its messages, oldest first: one consistent Query (more pages only past 1 MB)."""
        ticket, messages = None, []
        for item in OrdersTableItem.query(ticket_pk(ticket_id), consistent_read=True):
            if isinstance(item, TicketRecord):
                ticket = to_ticket(item)
            elif isinstance(item, TicketMessageRecord):
                messages.append(to_message(item))
        return ticket, sorted(messages, key=lambda m: m.seq)

    def create(self, ticket: Ticket, message: Message) -> None:
        """One transaction: the ticket and its first message, neither over an existing item."""
        self._write(ticket, None, message, ())

    def append(self, ticket: Ticket, read_version: int, message: Message, audit: tuple[AuditEntry, ...]) -> None:
        """One transaction: the ticket over the version read, the message where none is, the audit entries.
        ``WriteConflict`` when another write came first."""
        self._write(ticket, read_version, message, audit)

    def save(self, ticket: Ticket, read_version: int, audit: tuple[AuditEntry, ...]) -> None:
        """One transaction: the ticket over the version read and the audit entries."""
        self._write(ticket, read_version, None, audit)

    def customer_page(self, customer_id: str, limit: int, cursor: str | None) -> Page[Ticket]:
        """A customer's tickets, newest first: one Query of ``customer-status-created``."""
        return query_page(TicketRecord.by_customer, ("customer_status", customer_partition(customer_id)),
                          limit=limit, cursor=cursor, convert=to_ticket, order_by="created_at",
                          newest_first=True)  # fmt: skip

    def staff_page(self, status: str | None, kind: str | None, limit: int, cursor: str | None) -> Page[Ticket]:
        """Every ticket (or those of ``status``), newest first: one Query per shard of ``status-shard-created``
        (``all-created`` without a status); ``kind`` is a filter, so a page may come back short with a cursor."""
        if status is not None:
            index, attribute = TicketRecord.by_status, "status_shard"
            shards = [status_partition(status, n) for n in range(TICKET_SHARDS)]
        else:
            index, attribute, shards = TicketRecord.every, "listed", [all_partition(n) for n in range(TICKET_SHARDS)]
        kinds = TicketRecord.ticket_kind == kind if kind is not None else None
        return sharded_page(index, attribute, shards, limit=limit, cursor=cursor, convert=to_ticket,
                            order_by="created_at", newest_first=True, filter_condition=kinds)  # fmt: skip

    def _write(self, ticket: Ticket, read_version: int | None, message: Message | None,
               audit: tuple[AuditEntry, ...]) -> None:  # fmt: skip
        record = ticket_record(ticket)
        condition = TicketRecord.sk.does_not_exist() if read_version is None else TicketRecord.version == read_version
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.save(record, condition=condition)
                if message is not None:
                    transaction.save(message_record(ticket, message), condition=TicketMessageRecord.sk.does_not_exist())
                add_audit(transaction, audit)
        except TransactWriteError as error:
            if error.cause_response_code == "TransactionCanceledException":
                raise WriteConflict() from None
            raise
