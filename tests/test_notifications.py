"""Notifications and fulfilment requests as staff, customers and the warehouse receive them (API.md: Notifications,
Fulfilment; ARCHITECTURE.md: "Side effects come from committed state").

Orders are placed, paid, refunded and cancelled through the HTTP API; Stripe is the in-memory stand-in. What was
published is read from queues subscribed to the staff and customer SNS topics (``event_world.staff`` /
``.customer``), and what the warehouse was asked from the ``fulfilment-requests`` queue. Lambda's part, reading the
tables' streams, is played by ``event_world.pump()`` or, where a test needs to replay a stream or see what the
handler answered Lambda, by a fresh ``Feed`` over the same streams.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

from chalicelib.config import settings
from chalicelib.entrypoints.http import wiring
from tests.conftest import ADDRESS, KEY, view

SKU, PRICE, STOCK = "MUG-01", 1500, 50


# --- helpers ---------------------------------------------------------------------------------------------------


class Feed:
    """A new Lambda event source mapping on the orders and products streams, reading from TRIM_HORIZON.

    A fresh ``Feed`` is what a new container (or a retry after a crash) sees: every record the streams still hold.
    It keeps what the handlers answered Lambda (``failures``: the batch item failures they reported).
    """

    def __init__(self, stack, tables) -> None:
        from app import app
        from devstack.events import StreamPump, call

        streams = boto3.client("dynamodbstreams", endpoint_url=stack.endpoint)
        self.failures: list[str] = []
        self._pumps = []
        for table, handler in (("OrdersTable", "orders_stream"), ("ProductsTable", "products_stream")):
            arn = stack.dynamodb.describe_table(TableName=tables[table])["Table"]["LatestStreamArn"]
            self._pumps.append(StreamPump(streams, arn, self._recording(call(app.handler_map[handler])), stack.region))

    def _recording(self, handler):
        def invoke(event: dict[str, Any], context: Any) -> Any:
            answer = handler(event, context)
            self.failures.extend(item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", []))
            return answer

        return invoke

    def pump(self) -> int:
        """Deliver every record not yet handled; returns how many the handlers accepted."""
        return sum(pump.pump() for pump in self._pumps)


def kinds(notifications: list[dict[str, Any]]) -> Counter:
    """How many notifications of each event_type (a Counter, so a duplicate shows as a 2)."""
    return Counter(n["attributes"]["event_type"] for n in notifications)


def only(notifications: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    found = [n for n in notifications if n["attributes"]["event_type"] == event_type]
    assert len(found) == 1, f"expected one {event_type}, got {kinds(notifications)}"
    return found[0]


def pay(api, deliver, stripe_world, order_id: str) -> dict[str, Any]:
    """The customer pays by card and Stripe's webhook arrives; returns Stripe's payment_intent.succeeded event."""
    started = api.post(f"/orders/{order_id}/payments", {"method": "card"}, as_="customer")
    assert started.status in (200, 201), started.body  # 200: the PaymentIntent of an earlier attempt, reused
    succeeded = stripe_world.standin.succeed(started.body["provider_reference"])
    assert deliver(succeeded).status == 200
    assert view(api, order_id)["payment_status"] == "paid"
    return succeeded


@pytest.fixture
def shop(api, seed, place, event_world):
    """A catalogue of one mug; ``shop(quantity)`` places an order as "customer" and returns it."""
    seed(SKU, stock=STOCK, price=PRICE, name="青花瓷茶杯")

    def order(quantity: int = 2, **extra: Any) -> dict[str, Any]:
        reply = place((SKU, quantity), **extra)
        assert reply.status == 201, reply.body
        return reply.body

    return order


@pytest.fixture
def customer_sub(stack) -> str:
    return stack.users["customer"].sub


def drained(event_world) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(staff, customer) notifications published since the last drain."""
    return event_world.staff.drain(), event_world.customer.drain()


# --- what each committed change announces ----------------------------------------------------------------------


def test_placing_an_order_tells_staff_and_confirms_to_the_customer(event_world, shop, customer_sub):
    """Staff get ``order_placed`` (attribute event_type only); the customer gets ``order_confirmed`` carrying their
    own customer_id, so a subscription filtered on it reaches just them. Both name the order."""
    order = shop(2)
    event_world.pump()
    staff, customer = drained(event_world)

    assert kinds(staff) == {"order_placed": 1}
    assert kinds(customer) == {"order_confirmed": 1}
    placed, confirmed = staff[0], customer[0]
    assert placed["attributes"] == {"event_type": "order_placed"}
    assert confirmed["attributes"] == {"event_type": "order_confirmed", "customer_id": customer_sub}
    for note in (placed, confirmed):
        assert note["message"]["order_id"] == order["order_id"]
        assert note["message"]["order_number"] == order["order_number"]
        assert order["order_number"] in note["subject"]
    assert confirmed["message"]["customer_id"] == customer_sub


def test_a_payment_tells_staff_and_customer_and_asks_the_warehouse_to_ship_once(
    api, event_world, shop, deliver, stripe_world, customer_sub
):
    """Once paid: staff and customer both get ``payment_received`` and the warehouse gets exactly one
    fulfilment request with the order's number, lines and shipping address. Stripe delivering the success
    again and the stream being pumped again change nothing."""
    order = shop(3)
    event_world.pump()
    drained(event_world)

    succeeded = pay(api, deliver, stripe_world, order["order_id"])
    event_world.pump()
    staff, customer = drained(event_world)

    assert kinds(staff) == {"payment_received": 1}
    assert kinds(customer) == {"payment_received": 1}
    assert customer[0]["attributes"] == {"event_type": "payment_received", "customer_id": customer_sub}
    [request] = event_world.messages("fulfilment-requests")
    assert request["order_id"] == order["order_id"]
    assert request["order_number"] == order["order_number"]
    assert [(line["sku"], line["quantity"]) for line in request["lines"]] == [(SKU, 3)]
    assert request["lines"][0]["name"] == "青花瓷茶杯"
    assert request["shipping_address"] == ADDRESS

    assert deliver(succeeded).body["result"] == "duplicate"
    event_world.pump()
    assert drained(event_world) == ([], [])
    assert event_world.messages("fulfilment-requests") == []


def test_an_order_paid_twice_is_shipped_once(api, event_world, shop, deliver, stripe_world):
    """Staff confirm a bank transfer, then a second payment of the order succeeds (one taken in the Stripe dashboard,
    outside the shop's own flow): both are recorded, the second is refunded automatically, and the warehouse is asked
    to ship once. The customer hears of one payment received (and later of the refund), not of two."""
    import stripe

    from tests.stripe_transport import API_KEY

    order = shop(1)
    transfer = api.post(f"/orders/{order['order_id']}/payments", {"method": "bank_transfer"}, as_="customer")
    assert transfer.status == 201, transfer.body
    confirmed = api.post(
        f"/staff/orders/{order['order_id']}/payments/{transfer.body['payment_id']}/confirm",
        {"amount": order["total"], "reference": "ICBC-0042"},
        as_="staff",
    )
    assert confirmed.status == 200, confirmed.body
    event_world.pump()
    outside = stripe.StripeClient(API_KEY, http_client=stripe_world.transport).v1.payment_intents.create(
        params={"amount": order["total"], "currency": "cny", "payment_method_types": ["card"],
                "metadata": {"order_id": order["order_id"]}}
    )  # fmt: skip
    assert deliver(stripe_world.standin.succeed(outside.id)).status == 200
    assert len([e for e in view(api, order["order_id"])["timeline"] if e["type"] == "payment_received"]) == 2

    event_world.pump()
    staff, customer = drained(event_world)
    assert kinds(staff)["payment_received"] == 2
    assert kinds(customer)["payment_received"] == 1
    assert [r["order_id"] for r in event_world.messages("fulfilment-requests")] == [order["order_id"]]


def test_an_order_paid_after_it_expired_is_not_shipped(api, event_world, shop, deliver, stripe_world, monkeypatch):
    """Stripe's success arrives after the order expired: the money goes back (the customer is told ``refunded``) and
    the warehouse is never asked to ship the expired order."""
    start = datetime.now(UTC).replace(microsecond=0)
    now = [start]
    monkeypatch.setattr(wiring.orders(), "clock", lambda: now[0])
    monkeypatch.setattr(wiring.changes(), "clock", lambda: now[0])
    order = shop(1)
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    succeeded = stripe_world.standin.succeed(started.body["provider_reference"])
    now[0] = start + timedelta(minutes=settings.payment_ttl_minutes)
    assert wiring.schedules().expire_unpaid() == 1

    assert deliver(succeeded).status == 200
    assert view(api, order["order_id"])["payment_status"] == "refunded"
    event_world.pump()
    staff, customer = drained(event_world)

    assert kinds(customer)["order_expired"] == 1 and kinds(customer)["refunded"] == 1
    assert kinds(staff)["refund_issued"] == 1
    assert event_world.messages("fulfilment-requests") == []


def test_the_payment_reminder_and_the_expiry_reach_the_customer(api, event_world, shop, monkeypatch, customer_sub):
    """Unpaid at half the payment time: the customer gets one ``payment_reminder``; unpaid at the deadline: one
    ``order_expired``. Staff hear of neither; no fulfilment request is ever sent."""
    start = datetime.now(UTC).replace(microsecond=0)
    now = [start]
    monkeypatch.setattr(wiring.orders(), "clock", lambda: now[0])
    monkeypatch.setattr(wiring.changes(), "clock", lambda: now[0])
    ttl = timedelta(minutes=settings.payment_ttl_minutes)
    order = shop(1)
    event_world.pump()
    drained(event_world)

    now[0] = start + ttl / 2
    assert wiring.schedules().send_reminders() == 1
    event_world.pump()
    staff, customer = drained(event_world)
    assert (kinds(staff), kinds(customer)) == ({}, {"payment_reminder": 1})
    reminder = customer[0]
    assert reminder["attributes"] == {"event_type": "payment_reminder", "customer_id": customer_sub}
    assert reminder["message"]["order_id"] == order["order_id"]

    now[0] = start + ttl
    assert wiring.schedules().expire_unpaid() == 1
    event_world.pump()
    staff, customer = drained(event_world)
    assert (kinds(staff), kinds(customer)) == ({}, {"order_expired": 1})
    assert customer[0]["attributes"] == {"event_type": "order_expired", "customer_id": customer_sub}
    assert customer[0]["message"]["order_id"] == order["order_id"]
    assert event_world.messages("fulfilment-requests") == []


def test_a_refund_tells_staff_and_the_customer(api, event_world, shop, deliver, stripe_world, customer_sub):
    """A staff refund that Stripe took: staff get ``refund_issued``, the customer ``refunded`` with the amount."""
    order = shop(2)
    pay(api, deliver, stripe_world, order["order_id"])
    event_world.pump()
    drained(event_world)

    reply = api.post(
        f"/staff/orders/{order['order_id']}/refunds", {"amount": 1000, "reason": "chipped"}, as_="staff", headers=KEY()
    )
    assert reply.status == 201, reply.body
    event_world.pump()
    staff, customer = drained(event_world)

    assert kinds(staff) == {"refund_issued": 1}
    assert kinds(customer) == {"refunded": 1}
    assert customer[0]["attributes"] == {"event_type": "refunded", "customer_id": customer_sub}
    assert customer[0]["message"]["data"]["amount"] == 1000
    assert staff[0]["message"]["order_id"] == order["order_id"]


def test_an_offline_refund_tells_staff_what_to_pay_back_and_the_customer_once_it_is_sent(
    api, event_world, shop, customer_sub
):
    """A refund of a bank transfer: staff get ``refund_to_send`` (the amount, who to pay, the reference to quote and
    the customer's own transfer); the customer hears ``refunded`` only once staff record the money as sent, and
    never sees the bank's references."""
    order = shop(2)
    transfer = api.post(f"/orders/{order['order_id']}/payments", {"method": "bank_transfer"}, as_="customer").body
    confirm = f"/staff/orders/{order['order_id']}/payments/{transfer['payment_id']}/confirm"
    assert api.post(confirm, {"amount": order["total"], "reference": "ICBC-IN-1"}, as_="staff").status == 200
    event_world.pump()
    drained(event_world)

    made = api.post(f"/staff/orders/{order['order_id']}/refunds", {"amount": 1000}, as_="staff", headers=KEY())
    assert made.status == 201, made.body
    event_world.pump()
    staff, customer = drained(event_world)

    assert (kinds(staff), kinds(customer)) == ({"refund_to_send": 1}, {})
    data = staff[0]["message"]["data"]
    assert (data["amount"], data["currency"], data["method"]) == (1000, "CNY", "bank_transfer")
    assert data["reference_code"] == made.body["refunds"][0]["reference_code"]
    assert (data["paid_with_reference"], data["customer_name"]) == ("ICBC-IN-1", ADDRESS["name"])
    assert staff[0]["message"]["customer_id"] == customer_sub

    sent = f"/staff/orders/{order['order_id']}/refunds/{made.body['refunds'][0]['refund_id']}/sent"
    assert api.post(sent, {"reference": "ICBC-OUT-2"}, as_="staff").status == 200
    event_world.pump()
    staff, customer = drained(event_world)

    assert (kinds(staff), kinds(customer)) == ({"refund_issued": 1}, {"refunded": 1})
    assert customer[0]["message"]["data"]["amount"] == 1000
    assert "ICBC" not in json.dumps(customer[0]["message"])  # the bank's references are staff's


def test_a_refund_stripe_refuses_for_good_tells_staff(api, event_world, shop, deliver, stripe_world):
    order = shop(2)
    pay(api, deliver, stripe_world, order["order_id"])
    event_world.pump()
    drained(event_world)
    stripe_world.transport.fail_next("/v1/refunds", times=1, status=400)

    reply = api.post(f"/staff/orders/{order['order_id']}/refunds", {"amount": 1000}, as_="staff", headers=KEY())

    assert reply.status == 502, reply.body
    event_world.pump()
    staff, customer = drained(event_world)
    assert (kinds(staff), kinds(customer)) == ({"refund_failed": 1}, {})
    assert staff[0]["message"]["data"]["amount"] == 1000


def test_a_payment_that_does_not_match_the_order_tells_staff(api, event_world, shop, deliver, stripe_world):
    """Stripe reports less money than the order's total: staff get ``payment_mismatch``; nobody is told the order
    was paid and the warehouse is not asked to ship it."""
    order = shop(2)
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    event_world.pump()
    drained(event_world)

    short = stripe_world.standin.succeed(started.body["provider_reference"], amount=order["total"] - 1)
    assert deliver(short).status == 200
    event_world.pump()
    staff, customer = drained(event_world)

    assert kinds(staff) == {"payment_mismatch": 1}
    assert staff[0]["message"]["order_id"] == order["order_id"]
    assert kinds(customer) == {}
    assert event_world.messages("fulfilment-requests") == []


def test_a_declined_card_tells_staff_and_the_customer_may_pay_again(api, event_world, shop, deliver, stripe_world):
    """The card is declined: staff get ``payment_failed``; the customer is not told the order was paid and the
    warehouse is not asked to ship. Paying again afterwards does tell both and asks the warehouse once."""
    order = shop(1)
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    event_world.pump()
    drained(event_world)

    assert deliver(stripe_world.standin.fail(started.body["provider_reference"])).status == 200
    event_world.pump()
    staff, customer = drained(event_world)
    assert kinds(staff) == {"payment_failed": 1}
    assert staff[0]["message"]["order_id"] == order["order_id"]
    assert kinds(customer) == {}
    assert event_world.messages("fulfilment-requests") == []

    pay(api, deliver, stripe_world, order["order_id"])
    event_world.pump()
    staff, customer = drained(event_world)
    assert (kinds(staff), kinds(customer)) == ({"payment_received": 1}, {"payment_received": 1})
    assert [r["order_id"] for r in event_world.messages("fulfilment-requests")] == [order["order_id"]]


def test_a_dispute_tells_staff(api, event_world, shop, deliver, stripe_world):
    """The customer disputes the card payment at their bank: staff get ``dispute_opened``."""
    order = shop(1)
    pi = pay(api, deliver, stripe_world, order["order_id"])["data"]["object"]["id"]
    event_world.pump()
    drained(event_world)

    assert deliver(stripe_world.standin.dispute(pi)).status == 200
    event_world.pump()
    staff, customer = drained(event_world)

    assert kinds(staff) == {"dispute_opened": 1}
    assert staff[0]["message"]["order_id"] == order["order_id"]
    assert kinds(customer) == {}


def test_a_cancellation_tells_staff_and_the_customer(api, event_world, shop):
    """The customer cancels an unpaid order: staff and the customer get ``order_cancelled`` for it."""
    order = shop(1)
    event_world.pump()
    drained(event_world)

    assert api.post(f"/orders/{order['order_id']}/cancel", {"reason": "changed my mind"}, as_="customer").status == 200
    event_world.pump()
    staff, customer = drained(event_world)

    assert kinds(staff) == {"order_cancelled": 1}
    assert staff[0]["message"]["order_id"] == order["order_id"]
    assert kinds(customer) == {"order_cancelled": 1}
    assert customer[0]["attributes"]["customer_id"] == api.users["customer"].sub


def test_refused_requests_notify_nobody(api, event_world, shop, place):
    """Only committed changes notify: an order refused for lack of stock, a second cancel (409
    invalid_transition) and a refund of an unpaid order (409) produce no notification at all."""
    order = shop(1)
    assert api.post(f"/orders/{order['order_id']}/cancel", as_="customer").status == 200
    event_world.pump()
    drained(event_world)

    assert place((SKU, STOCK + 1)).status == 409
    assert api.post(f"/orders/{order['order_id']}/cancel", as_="customer").status == 409
    unpaid = shop(1)
    event_world.pump()
    drained(event_world)
    refused = api.post(
        f"/staff/orders/{unpaid['order_id']}/refunds", {"amount": 100, "reason": "x"}, as_="staff", headers=KEY()
    )
    assert refused.status == 409, refused.body
    event_world.pump()

    assert drained(event_world) == ([], [])
    assert event_world.messages("fulfilment-requests") == []


# --- where notifications come from -----------------------------------------------------------------------------


def test_no_request_publishes_everything_arrives_from_the_stream(api, event_world, shop, deliver, stripe_world):
    """Requests only commit: after placing, paying, refunding and cancelling orders through the API, nothing has
    been published or queued yet. Everything arrives once the stream is delivered to its handler."""
    first, second = shop(1), shop(2)
    pay(api, deliver, stripe_world, first["order_id"])
    refund = {"amount": 500, "reason": "goodwill"}
    assert api.post(f"/staff/orders/{first['order_id']}/refunds", refund, as_="staff", headers=KEY()).status == 201
    assert api.post(f"/orders/{second['order_id']}/cancel", as_="customer").status == 200

    assert drained(event_world) == ([], [])
    assert event_world.messages("fulfilment-requests") == []

    event_world.pump()
    staff, customer = drained(event_world)
    assert kinds(staff) == {"order_placed": 2, "payment_received": 1, "refund_issued": 1, "order_cancelled": 1}
    assert kinds(customer) == {"order_confirmed": 2, "payment_received": 1, "refunded": 1, "order_cancelled": 1}
    assert [r["order_id"] for r in event_world.messages("fulfilment-requests")] == [first["order_id"]]


def test_redelivered_stream_records_do_not_notify_twice(
    api, stack, tables, event_world, shop, deliver, stripe_world, seed, place
):
    """Lambda may deliver stream records again (a retry, a new container reading from TRIM_HORIZON): nobody gets a
    notification twice and the warehouse is not asked twice to ship."""
    seed("LOW-1", stock=6, low_stock_threshold=5)
    assert place(("LOW-1", 2)).status == 201
    order = shop(2)
    pay(api, deliver, stripe_world, order["order_id"])
    event_world.pump()
    staff, customer = drained(event_world)
    assert kinds(staff) == {"order_placed": 2, "payment_received": 1, "low_stock": 1}
    assert kinds(customer) == {"order_confirmed": 2, "payment_received": 1}
    assert len(event_world.messages("fulfilment-requests")) == 1

    replayed = Feed(stack, tables)
    assert replayed.pump() > 0
    assert replayed.failures == []
    assert Feed(stack, tables).pump() > 0

    assert drained(event_world) == ([], [])
    assert event_world.messages("fulfilment-requests") == []


# --- faults ----------------------------------------------------------------------------------------------------


class SnsOutage:
    """SNS refusing Publish (as a throttled or failing endpoint answers) while ``down``, or ``times`` more times."""

    def __init__(self, monkeypatch) -> None:
        self.down, self.times, self.refused = False, 0, 0
        original = botocore.client.BaseClient._make_api_call

        def calling(client, operation_name, api_params):
            publish = client.meta.service_model.service_name == "sns" and operation_name == "Publish"
            if publish and (self.down or self.times > 0):
                self.times = max(0, self.times - 1)
                self.refused += 1
                error = {"Error": {"Code": "InternalFailure", "Message": "SNS is unavailable"}}
                raise ClientError(error, operation_name)
            return original(client, operation_name, api_params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", calling)


def test_while_publishing_fails_nothing_is_lost_or_sent_twice(
    api, stack, tables, event_world, shop, deliver, stripe_world, monkeypatch
):
    """SNS fails for a while: the stream handler reports the failed records to Lambda, the orders are untouched,
    and once SNS works again every notification arrives exactly once, including those of records after the failed
    one in the same batch, and the warehouse is asked once."""
    outage = SnsOutage(monkeypatch)
    first, second = shop(1), shop(2)
    pay(api, deliver, stripe_world, first["order_id"])
    before = [view(api, o["order_id"]) for o in (first, second)]
    feed = Feed(stack, tables)

    outage.down = True
    feed.pump()
    feed.pump()
    assert outage.refused >= 2
    assert feed.failures, "the handler must report the records it could not announce"
    assert [view(api, o["order_id"]) for o in (first, second)] == before
    assert drained(event_world) == ([], [])

    outage.down = False
    outage.times = 1  # the first try after the outage fails too: the records after it in the batch still go out
    feed.failures.clear()
    feed.pump()
    assert len(feed.failures) == 1
    staff, customer = drained(event_world)
    assert len(staff) + len(customer) == 4  # the two later events' four went out; the failed event's two wait

    feed.failures.clear()
    feed.pump()
    feed.pump()
    assert feed.failures == []
    more_staff, more_customer = drained(event_world)
    staff, customer = staff + more_staff, customer + more_customer
    assert kinds(staff) == {"order_placed": 2, "payment_received": 1}
    assert kinds(customer) == {"order_confirmed": 2, "payment_received": 1}
    assert sorted(n["message"]["order_id"] for n in staff if n["attributes"]["event_type"] == "order_placed") == sorted(
        [first["order_id"], second["order_id"]]
    )
    assert [r["order_id"] for r in event_world.messages("fulfilment-requests")] == [first["order_id"]]
    assert [view(api, o["order_id"]) for o in (first, second)] == before


def test_while_the_warehouse_queue_refuses_messages_the_fulfilment_request_waits_and_is_sent_once(
    api, stack, tables, event_world, shop, deliver, stripe_world, monkeypatch
):
    """SQS refuses the fulfilment request twice: the handler reports the payment's record as failed, and on the
    retries the warehouse gets one request while staff and customer get one ``payment_received`` each."""
    order = shop(1)
    pay(api, deliver, stripe_world, order["order_id"])
    refusals = [2]
    original = botocore.client.BaseClient._make_api_call

    def calling(client, operation_name, api_params):
        if operation_name == "SendMessage" and refusals[0] > 0:
            refusals[0] -= 1
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try again"}}, operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", calling)
    feed = Feed(stack, tables)
    feed.pump()
    feed.pump()
    assert len(feed.failures) == 2 and refusals == [0]
    assert event_world.messages("fulfilment-requests") == []

    feed.failures.clear()
    feed.pump()
    Feed(stack, tables).pump()
    assert feed.failures == []

    assert [r["order_id"] for r in event_world.messages("fulfilment-requests")] == [order["order_id"]]
    staff, customer = drained(event_world)
    assert kinds(staff) == {"order_placed": 1, "payment_received": 1}
    assert kinds(customer) == {"order_confirmed": 1, "payment_received": 1}


def test_a_crash_between_two_publishes_of_one_event_sends_each_once(
    api, stack, tables, event_world, shop, monkeypatch, customer_sub
):
    """The handler published the staff notification of a new order and died before the customer's: when the record
    is delivered again staff are not told twice and the customer still gets their confirmation, once."""
    notifier = wiring.dispatcher().notifier
    real_publish = notifier.publish
    calls = []

    def dies_on_the_second(notification):
        calls.append(notification.event_type)
        if len(calls) == 2:
            raise RuntimeError("Lambda timed out")
        real_publish(notification)

    monkeypatch.setattr(notifier, "publish", dies_on_the_second)
    order = shop(1)
    feed = Feed(stack, tables)
    feed.pump()
    assert feed.failures
    assert kinds(event_world.staff.drain()) == {"order_placed": 1}
    assert event_world.customer.drain() == []

    feed.failures.clear()
    feed.pump()
    Feed(stack, tables).pump()

    assert event_world.staff.drain() == []
    [confirmed] = event_world.customer.drain()
    assert confirmed["attributes"] == {"event_type": "order_confirmed", "customer_id": customer_sub}
    assert confirmed["message"]["order_id"] == order["order_id"]


def test_a_process_dying_after_the_commit_loses_no_notification(
    api, stack, tables, event_world, shop, deliver, stripe_world, monkeypatch
):
    """The order and its payment are committed, then the stream handler's process dies (no answer to Lambda at all)
    before it published anything: a new container reading the stream again still sends every notification and the
    fulfilment request, each once."""
    order = shop(2)
    pay(api, deliver, stripe_world, order["order_id"])
    notifier = wiring.dispatcher().notifier
    real_publish = notifier.publish

    def killed(notification):
        raise SystemExit("the Lambda process was killed")

    monkeypatch.setattr(notifier, "publish", killed)
    with pytest.raises(SystemExit):
        Feed(stack, tables).pump()
    assert drained(event_world) == ([], [])
    assert event_world.messages("fulfilment-requests") == []

    monkeypatch.setattr(notifier, "publish", real_publish)
    restarted = Feed(stack, tables)
    restarted.pump()
    assert restarted.failures == []
    Feed(stack, tables).pump()

    staff, customer = drained(event_world)
    assert kinds(staff) == {"order_placed": 1, "payment_received": 1}
    assert kinds(customer) == {"order_confirmed": 1, "payment_received": 1}
    assert [r["order_id"] for r in event_world.messages("fulfilment-requests")] == [order["order_id"]]


# --- low stock -------------------------------------------------------------------------------------------------


def test_low_stock_is_announced_once_per_crossing_of_the_threshold(api, event_world, seed, place):
    """A SKU with low_stock_threshold 5: the order taking it from 8 to 4 alerts staff once (naming the SKU and what
    is left); a further order keeping it below does not. Stock given back by a cancellation, or a restock, and the
    next order crossing the threshold again alerts once more; reaching exactly the threshold is not below it."""
    seed("TEA-LOW", stock=8, low_stock_threshold=5, name="龙井茶")

    def low_stock_alerts() -> int:
        event_world.pump()
        staff, customer = drained(event_world)
        assert "low_stock" not in kinds(customer)
        return kinds(staff)["low_stock"]

    first = place(("TEA-LOW", 4))  # 8 -> 4: crosses
    assert first.status == 201
    event_world.pump()
    alert = only(event_world.staff.drain(), "low_stock")
    assert alert["attributes"] == {"event_type": "low_stock"}
    assert (alert["message"]["sku"], alert["message"]["available"], alert["message"]["threshold"]) == ("TEA-LOW", 4, 5)
    assert "TEA-LOW" in alert["subject"]

    assert place(("TEA-LOW", 1)).status == 201  # 4 -> 3: still below
    assert low_stock_alerts() == 0

    assert api.post(f"/orders/{first.body['order_id']}/cancel", as_="customer").status == 200  # 3 -> 7
    assert low_stock_alerts() == 0
    assert place(("TEA-LOW", 3)).status == 201  # 7 -> 4: crosses again
    assert low_stock_alerts() == 1

    seed("TEA-LOW", stock=20, low_stock_threshold=5, name="龙井茶")  # restocked
    assert low_stock_alerts() == 0
    assert place(("TEA-LOW", 15)).status == 201  # 20 -> 5: at the threshold, not below it
    assert low_stock_alerts() == 0
    assert place(("TEA-LOW", 1)).status == 201  # 5 -> 4: crosses a third time
    assert low_stock_alerts() == 1
