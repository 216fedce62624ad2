"""The warehouse's fulfilment updates as the warehouse, staff and customers see them (API.md: Fulfilment (queues)).

The warehouse posts ``{update_id, order_id, event, carrier?, tracking_number?, occurred_at}`` to the
``fulfilment-updates`` queue (made from infra/: 1 s visibility timeout here, ``maxReceiveCount`` 5, dead-letter
queue ``fulfilment-updates-dlq``). ``event_world.updates.pump()`` plays Lambda's SQS event source once: one receive
of up to ten messages, the ``fulfilment_updates`` handler, and the deletion of what it did not report as failed. What
the order became is read through the API; what customers and staff were told, from the SNS topics.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest

from chalicelib.entrypoints.fulfilment_messages import parse_update
from chalicelib.entrypoints.http import wiring
from tests.conftest import events_of, view

SKU, PRICE = "BOX-01", 2000
MAX_RECEIVES = 5  # fulfilment-updates' maxReceiveCount in infra/resources.json


# --- helpers ---------------------------------------------------------------------------------------------------


def update(order_id: str, event: str, update_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A fulfilment update as the warehouse sends it."""
    return {
        "update_id": update_id or f"wh-{uuid.uuid4().hex[:12]}",
        "order_id": order_id,
        "event": event,
        "occurred_at": "2026-11-26T08:00:00Z",
        **extra,
    }


def kinds(notifications: list[dict[str, Any]]) -> Counter:
    return Counter(n["attributes"]["event_type"] for n in notifications)


def raw_bodies(event_world, queue: str) -> list[str]:
    """The bodies in a queue now, exactly as they were sent (not parsed)."""
    found = []
    url = event_world.queues[queue]
    while messages := event_world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(message["Body"])
            event_world.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def until_settled(event_world, receives: int = MAX_RECEIVES + 1) -> list[tuple[int, int]]:
    """Keep receiving, as Lambda polls, until the queue is empty (failed messages come back at once: the test
    queues' visibility timeout is 0); returns what each receive handled and failed."""
    results = []
    for _ in range(receives):
        handled, failed = event_world.updates.pump()
        results.append((handled, failed))
        if not failed and not handled:
            break
    return results


@pytest.fixture
def paid_order(api, seed, place, deliver, stripe_world, event_world):
    """``paid_order()`` places an order of "customer" and pays it by card; returns the order id."""
    seed(SKU, stock=1000, price=PRICE)

    def make() -> str:
        placed = place((SKU, 1))
        assert placed.status == 201, placed.body
        order_id = placed.body["order_id"]
        started = api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_="customer")
        assert started.status == 201, started.body
        assert deliver(stripe_world.standin.succeed(started.body["provider_reference"])).status == 200
        assert view(api, order_id)["payment_status"] == "paid"
        return order_id

    return make


# --- the warehouse's progress ----------------------------------------------------------------------------------


def test_picked_packed_shipped_delivered_are_applied_and_the_customer_is_told(api, event_world, paid_order, stack):
    """Each update moves fulfilment_status on; the timeline records it (actor warehouse, with carrier and tracking
    number when given); delivered completes the order. The customer gets ``shipped`` and ``delivered``; staff are
    not told of routine progress."""
    order_id = paid_order()
    event_world.pump()
    event_world.staff.drain(), event_world.customer.drain()
    steps = [
        ("picked", {}),
        ("packed", {}),
        ("shipped", {"carrier": "顺丰速运", "tracking_number": "SF1234567890"}),
        ("delivered", {"carrier": "顺丰速运", "tracking_number": "SF1234567890"}),
    ]

    for event, extra in steps:
        sent = update(order_id, event, **extra)
        event_world.send_update(sent)
        assert event_world.updates.pump() == (1, 0)
        order = view(api, order_id)
        assert order["fulfilment_status"] == event
        [recorded] = events_of(order, event)
        assert recorded["actor"] == "warehouse"
        assert recorded["data"]["update_id"] == sent["update_id"]
        for field, value in extra.items():
            assert recorded["data"][field] == value

    final = view(api, order_id)
    assert (final["status"], final["payment_status"], final["fulfilment_status"]) == ("completed", "paid", "delivered")

    assert event_world.customer.drain() == []  # nothing before the stream is delivered
    event_world.pump()
    customer = event_world.customer.drain()
    assert kinds(customer) == {"shipped": 1, "delivered": 1}
    sub = stack.users["customer"].sub
    for note in customer:
        assert note["attributes"] == {"event_type": note["message"]["event_type"], "customer_id": sub}
        assert note["message"]["order_id"] == order_id
    shipped = next(n for n in customer if n["attributes"]["event_type"] == "shipped")
    assert shipped["message"]["data"]["tracking_number"] == "SF1234567890"
    assert kinds(event_world.staff.drain()) == {}


def test_a_duplicate_update_is_harmless(api, event_world, paid_order):
    """The same update delivered twice, or its update_id reused with another event, is acknowledged (not retried)
    and changes nothing: one picked event in the timeline, the order still picked."""
    order_id = paid_order()
    picked = update(order_id, "picked")
    event_world.send_update(picked)
    assert event_world.updates.pump() == (1, 0)
    after_first = view(api, order_id)

    event_world.send_update(picked)
    event_world.send_update({**picked, "event": "packed"})
    assert event_world.updates.pump() == (2, 0)

    again = view(api, order_id)
    assert again == after_first
    assert again["fulfilment_status"] == "picked"
    assert len(events_of(again, "picked")) == 1 and events_of(again, "packed") == []
    assert raw_bodies(event_world, "fulfilment-updates-dlq") == []


def test_a_late_update_is_ignored_without_failing(api, event_world, paid_order):
    """``picked`` and ``packed`` arriving after ``shipped`` are acknowledged and ignored: the order stays shipped
    and nothing goes to the dead-letter queue."""
    order_id = paid_order()
    event_world.send_update(update(order_id, "shipped", carrier="EMS", tracking_number="EA000000001CN"))
    assert event_world.updates.pump() == (1, 0)
    shipped = view(api, order_id)

    event_world.send_update(update(order_id, "picked"))
    event_world.send_update(update(order_id, "packed"))
    assert event_world.updates.pump() == (2, 0)

    assert view(api, order_id) == shipped
    assert shipped["fulfilment_status"] == "shipped"
    assert events_of(shipped, "picked") == [] and events_of(shipped, "packed") == []
    assert raw_bodies(event_world, "fulfilment-updates-dlq") == []


def test_delivered_before_shipped_completes_the_order_and_the_late_shipped_is_ignored(api, event_world, paid_order):
    """The carrier's ``delivered`` overtakes the warehouse's ``shipped``: delivery proves the shipment, so the order
    is delivered and completed at once, and the ``shipped`` that arrives afterwards is acknowledged and ignored."""
    order_id = paid_order()
    event_world.send_update(update(order_id, "delivered", carrier="SF", tracking_number="SF1"))
    assert event_world.updates.pump() == (1, 0)
    delivered = view(api, order_id)
    assert (delivered["status"], delivered["fulfilment_status"]) == ("completed", "delivered")

    event_world.send_update(update(order_id, "shipped", carrier="SF", tracking_number="SF1"))
    assert event_world.updates.pump() == (1, 0)

    assert view(api, order_id) == delivered
    assert events_of(delivered, "shipped") == [] and len(events_of(delivered, "delivered")) == 1
    assert raw_bodies(event_world, "fulfilment-updates-dlq") == []


# --- messages that can never apply -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "poison",
    [
        "{not json at all",
        json.dumps(update("0123456789abcdef0123456789abcdef", "picked")),
    ],
    ids=["malformed", "unknown order"],
)
def test_a_poison_message_is_dead_lettered_without_holding_back_its_batch(api, event_world, paid_order, poison):
    """Ten messages in one receive: nine good updates for nine paid orders and one that can never apply. The nine
    are applied at once; the poison is retried, and after its fifth receive it is in fulfilment-updates-dlq,
    unchanged, and staff got one ``fulfilment_dead_letter`` about it."""
    orders = [paid_order() for _ in range(9)]
    bodies = [json.dumps(update(order_id, "picked")) for order_id in orders]
    bodies.insert(4, poison)
    poison_id = None
    for body in bodies:
        message_id = event_world.send_update(body)
        poison_id = message_id if body == poison else poison_id

    assert event_world.updates.pump() == (9, 1)
    for order_id in orders:
        assert view(api, order_id)["fulfilment_status"] == "picked"
    assert kinds(event_world.staff.drain()) == {}

    for receive in range(2, MAX_RECEIVES + 1):
        assert event_world.updates.pump() == (0, 1), f"receive {receive}"
        if receive < MAX_RECEIVES:
            assert event_world.staff.drain() == []
    assert event_world.updates.pump() == (0, 0)  # the queue's redrive took it

    assert raw_bodies(event_world, "fulfilment-updates-dlq") == [poison]
    assert raw_bodies(event_world, "fulfilment-updates") == []
    [alert] = event_world.staff.drain()
    assert alert["attributes"] == {"event_type": "fulfilment_dead_letter"}
    assert alert["message"]["body"] == poison
    assert alert["message"]["message_id"] == poison_id
    assert alert["message"]["receive_count"] == MAX_RECEIVES
    for order_id in orders:
        assert len(events_of(view(api, order_id), "picked")) == 1


def test_an_update_for_an_unpaid_order_is_dead_lettered(api, event_world, place, seed):
    """The warehouse reports shipping an order that was never paid: the order is not touched, and the update ends
    in fulfilment-updates-dlq with one ``fulfilment_dead_letter`` for staff."""
    seed(SKU, stock=10, price=PRICE)
    placed = place((SKU, 1))
    order_id = placed.body["order_id"]
    before = view(api, order_id)
    body = json.dumps(update(order_id, "shipped", carrier="SF", tracking_number="SF9"))
    event_world.send_update(body)

    results = until_settled(event_world)

    assert results[: MAX_RECEIVES + 1] == [(0, 1)] * MAX_RECEIVES + [(0, 0)]
    assert view(api, order_id) == before
    assert raw_bodies(event_world, "fulfilment-updates-dlq") == [body]
    assert kinds(event_world.staff.drain()) == {"fulfilment_dead_letter": 1}


HOSTILE = {
    "not JSON": "shipped!!",
    "a JSON list": json.dumps([{"event": "shipped"}]),
    "a JSON string": json.dumps("shipped"),
    "null": "null",
    "missing fields": json.dumps({"event": "shipped"}),
    "no occurred_at": json.dumps({"update_id": "u-1", "order_id": "{order_id}", "event": "shipped"}),
    "unknown event": json.dumps({**update("{order_id}", "teleported")}),
    "extra fields": json.dumps({**update("{order_id}", "shipped"), "status": "cancelled"}),
    "wrong types": json.dumps({**update("{order_id}", "shipped"), "update_id": 12345}),
    "tracking number a list": json.dumps({**update("{order_id}", "shipped"), "tracking_number": ["a", "b"]}),
    "occurred_at not a time": json.dumps(update("{order_id}", "shipped", occurred_at="yesterday")),
    "occurred_at without zone": json.dumps(update("{order_id}", "shipped", occurred_at="2026-11-26T08:00:00")),
    "order id with a path": json.dumps(update("../ORDER#{order_id}", "shipped")),
    "huge": json.dumps(update("{order_id}", "shipped", carrier="顺" * 30_000)),
    "a lone surrogate": json.dumps(update("{order_id}", "shipped", carrier="\ud800")),  # \ud800 escaped: valid JSON
    "nested 5000 deep": json.dumps(update("{order_id}", "shipped"))[:-1]
    + ', "carrier": '
    + "[" * 5000
    + "]" * 5000
    + "}",
}


def test_hostile_messages_never_crash_the_consumer_and_never_write(api, event_world, paid_order, dynamodb_calls):
    """Malformed messages of every kind are refused one by one, with no DynamoDB call: each is retried until the
    queue dead-letters it, while a good update sent among them is applied once."""
    order_id = paid_order()
    before = view(api, order_id)
    hostile = [body.replace("{order_id}", order_id) for body in HOSTILE.values()]
    good = update(order_id, "picked")
    for body in [*hostile[:7], json.dumps(good), *hostile[7:]]:
        event_world.send_update(body)

    dynamodb_calls.clear()
    handled_total = failed_total = 0
    while True:
        handled, failed = event_world.updates.pump()
        if not handled and not failed:
            break
        handled_total, failed_total = handled_total + handled, failed_total + failed

    assert (handled_total, failed_total) == (1, len(hostile) * MAX_RECEIVES)
    assert sorted(raw_bodies(event_world, "fulfilment-updates-dlq")) == sorted(hostile)
    assert kinds(event_world.staff.drain())["fulfilment_dead_letter"] == len(hostile)  # each one alerted staff
    assert dynamodb_calls == ["Query", "TransactWriteItems"]  # the good update's, nothing for the hostile ones
    order = view(api, order_id)
    assert order["fulfilment_status"] == "picked"
    [picked] = events_of(order, "picked")
    assert picked["data"]["update_id"] == good["update_id"]
    assert len(order["timeline"]) == len(before["timeline"]) + 1


# --- cost --------------------------------------------------------------------------------------------------------


def test_a_fulfilment_update_costs_one_query_and_one_transaction(api, event_world, paid_order, dynamodb_calls):
    """Applying an update reads the order with one Query and writes it, its timeline event and the update's marker
    with one TransactWriteItems; a duplicate costs only the Query. The same holds through the queue's handler."""
    order_id = paid_order()
    first = parse_update(json.dumps(update(order_id, "picked")))

    dynamodb_calls.clear()
    assert wiring.fulfilment().apply(first) == "applied"
    assert dynamodb_calls == ["Query", "TransactWriteItems"]

    dynamodb_calls.clear()
    assert wiring.fulfilment().apply(first) == "duplicate"
    assert dynamodb_calls == ["Query"]

    event_world.send_update(update(order_id, "packed"))
    dynamodb_calls.clear()
    assert event_world.updates.pump() == (1, 0)
    assert dynamodb_calls == ["Query", "TransactWriteItems"]
    assert view(api, order_id)["fulfilment_status"] == "packed"


def test_a_shipped_order_cannot_be_cancelled_and_the_customer_is_told_why(api, event_world, paid_order):
    """Once the warehouse has shipped it, cancelling says so in plain words (409 invalid_transition) and points to a
    return; nothing changes."""
    order_id = paid_order()
    event_world.send_update(update(order_id, "shipped", carrier="SF Express", tracking_number="SF1"))
    event_world.updates.pump()
    before = view(api, order_id)
    assert before["fulfilment_status"] == "shipped"

    reply = api.post(f"/orders/{order_id}/cancel", as_="customer")

    assert reply.status == 409 and reply.error["code"] == "invalid_transition", reply.body
    assert (
        reply.error["message"]
        == "This order cannot be cancelled: it has already shipped. Ask for a return once it arrives."
    )
    assert view(api, order_id) == before
