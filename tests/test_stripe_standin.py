"""The local Stripe stand-in, through the real Stripe SDK: over the fake transport, and over HTTP."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from devstack.stripe_standin import (
    StripeStandIn,
    StripeStandInServer,
    decode_form,
    event_payload,
    fixture,
    sign,
)
from tests.stripe_transport import StandInTransport, make_client

SECRET = "whsec_test_standin"
ID = {prefix: re.compile(rf"{prefix}_[A-Za-z0-9]{{24}}") for prefix in ("pi", "ch", "re", "dp", "evt")}


def pi_params(order_id: str = "order-1", amount: int = 7900, **extra: Any) -> dict[str, Any]:
    metadata = {"order_id": order_id, "order_number": "20261123-000042", "payment_id": "pay-1"}
    return {"amount": amount, "currency": "CNY", "payment_method_types": ["card"], "metadata": metadata, **extra}


@pytest.fixture
def standin() -> StripeStandIn:
    return StripeStandIn()


@pytest.fixture
def transport(standin) -> StandInTransport:
    return StandInTransport(standin)


@pytest.fixture
def client(transport) -> stripe.StripeClient:
    return make_client(transport)


def paid_intent(client: stripe.StripeClient, standin: StripeStandIn, amount: int = 7900) -> Any:
    pi = client.v1.payment_intents.create(params=pi_params(amount=amount))
    standin.succeed(pi.id)
    return pi


def keys(name: str) -> set[str]:
    return set(fixture(name))


def test_form_bodies_decode_to_nested_params():
    text = (
        "amount=100&metadata[order_id]=o%201&metadata[0]=x&payment_method_types[0]=card&payment_method_types[1]=alipay"
    )
    assert decode_form(text + "&expand[]=a&expand[]=b&payment_method_options[wechat_pay][client]=web") == {
        "amount": "100",
        "metadata": {"order_id": "o 1", "0": "x"},
        "payment_method_types": ["card", "alipay"],
        "expand": ["a", "b"],
        "payment_method_options": {"wechat_pay": {"client": "web"}},
    }


def test_a_payment_intent_is_created_shaped_like_stripes(client, standin):
    pi = client.v1.payment_intents.create(params=pi_params(description="订单 20261123-000042"))
    assert ID["pi"].fullmatch(pi.id)
    assert set(pi.to_dict()) == keys("payment_intent")
    assert (pi.status, pi.amount, pi.amount_received, pi.currency) == ("requires_payment_method", 7900, 0, "cny")
    assert pi.client_secret.startswith(f"{pi.id}_secret_")
    assert pi.metadata.to_dict() == pi_params()["metadata"]
    assert pi.payment_method_types == ["card"] and pi.description == "订单 20261123-000042"
    assert pi.last_payment_error is None and pi.next_action is None and pi.canceled_at is None
    again = client.v1.payment_intents.retrieve(pi.id)
    assert again.to_dict() == pi.to_dict()
    assert [p["id"] for p in standin.find_payment_intents("order-1")] == [pi.id]
    assert standin.find_payment_intents("order-2") == []


def test_the_same_idempotency_key_replays_and_refuses_other_params(client, standin, transport):
    key = str(uuid.uuid4())
    first = client.v1.payment_intents.create(params=pi_params(), options={"idempotency_key": key})
    again = client.v1.payment_intents.create(params=pi_params(), options={"idempotency_key": key})
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError) as error:
        client.v1.payment_intents.create(params=pi_params(amount=8000), options={"idempotency_key": key})
    assert error.value.http_status == 400
    assert error.value.json_body["error"]["type"] == "idempotency_error"
    assert transport.count("POST", "/v1/payment_intents") == 3
    assert len(standin.find_payment_intents("order-1")) == 1


def test_a_rejected_parameter_leaves_the_key_free(client):
    key = str(uuid.uuid4())
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.create(params=pi_params(amount=0), options={"idempotency_key": key})
    assert error.value.param == "amount"
    assert client.v1.payment_intents.create(params=pi_params(), options={"idempotency_key": key}).amount == 7900


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"currency": "cny"}, "parameter_missing", "amount"),
        ({"amount": 100}, "parameter_missing", "currency"),
        ({"amount": 100, "currency": "cny", "payment_method_types": ["paypal"]}, "payment_method_type_invalid", None),
        ({"amount": 100, "currency": "cny", "confirm": True}, "parameter_unknown", "confirm"),
    ],
)
def test_bad_parameters_get_stripes_errors(client, params, code, param):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.create(params=params)
    assert error.value.http_status == 400 and error.value.code == code
    if param:
        assert error.value.param == param


def test_an_unknown_payment_intent_is_404(client):
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.retrieve("pi_nope")
    assert (error.value.http_status, error.value.code) == (404, "resource_missing")


def test_a_wrong_api_key_is_401(standin):
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("pk_test_public", http_client=StandInTransport(standin)).v1.payment_intents.retrieve("pi_x")


def test_cancel_and_cancelling_a_paid_intent(client, standin):
    pi = client.v1.payment_intents.create(params=pi_params())
    canceled = client.v1.payment_intents.cancel(pi.id)
    assert canceled.status == "canceled" and canceled.canceled_at >= pi.created
    paid = paid_intent(client, standin)
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.cancel(paid.id)
    assert error.value.code == "payment_intent_unexpected_state"
    assert client.v1.payment_intents.retrieve(paid.id).status == "succeeded"


def test_succeed_makes_a_charge_and_a_fixture_shaped_event(client, standin):
    pi = client.v1.payment_intents.create(params=pi_params())
    event = standin.succeed(pi.id)
    assert set(event) == keys("event_payment_intent_created") and ID["evt"].fullmatch(event["id"])
    assert (event["type"], event["object"], event["livemode"], event["pending_webhooks"]) == (
        "payment_intent.succeeded",
        "event",
        False,
        1,
    )
    paid = event["data"]["object"]
    assert set(paid) == keys("payment_intent")
    assert (paid["status"], paid["amount_received"], paid["metadata"]["order_id"]) == ("succeeded", 7900, "order-1")
    charge = client.v1.charges.retrieve(paid["latest_charge"]).to_dict()
    assert set(charge) == keys("charge") and ID["ch"].fullmatch(charge["id"])
    assert (charge["payment_intent"], charge["amount_captured"], charge["status"]) == (pi.id, 7900, "succeeded")
    assert charge["captured"] and charge["paid"] and charge["metadata"] == {}  # not the PI's metadata


def test_succeed_can_pay_a_different_amount_or_currency(client, standin):
    pi = client.v1.payment_intents.create(params=pi_params())
    paid = standin.succeed(pi.id, amount=100, currency="USD")["data"]["object"]
    assert (paid["amount"], paid["amount_received"], paid["currency"]) == (7900, 100, "usd")
    charge = client.v1.charges.retrieve(paid["latest_charge"])
    assert (charge.amount, charge.amount_captured, charge.currency) == (100, 100, "usd")


def test_fail_then_succeed(client, standin):
    pi = client.v1.payment_intents.create(params=pi_params())
    failed = standin.fail(pi.id)
    assert failed["type"] == "payment_intent.payment_failed"
    error = failed["data"]["object"]["last_payment_error"]
    assert (error["code"], error["type"], error["message"]) == (
        "card_declined",
        "card_error",
        "Your card was declined.",
    )
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"
    assert standin.succeed(pi.id)["data"]["object"]["last_payment_error"] is None


def test_refunds_update_the_charge_and_send_their_events(client, standin, transport):
    pi = paid_intent(client, standin)
    key = str(uuid.uuid4())
    params = {
        "payment_intent": pi.id,
        "amount": 2900,
        "reason": "requested_by_customer",
        "metadata": {"refund_id": "r1"},
    }
    refund = client.v1.refunds.create(params=params, options={"idempotency_key": key})
    assert ID["re"].fullmatch(refund.id) and set(refund.to_dict()) == keys("refund")
    assert (refund.status, refund.amount, refund.payment_intent, refund.metadata.to_dict()) == (
        "succeeded",
        2900,
        pi.id,
        {"refund_id": "r1"},
    )
    assert client.v1.refunds.retrieve(refund.id).to_dict() == refund.to_dict()
    assert client.v1.refunds.create(params=params, options={"idempotency_key": key}).id == refund.id  # no second refund

    created, refunded = standin.refund_events(refund.id)
    assert [created["type"], refunded["type"]] == ["refund.created", "charge.refunded"]
    assert transport.events == [created, refunded]  # what Stripe would now post to the webhook
    assert created["data"]["object"]["id"] == refund.id and created["request"]["idempotency_key"] == key
    charge = refunded["data"]["object"]
    assert set(charge) == keys("charge")
    assert (charge["amount_refunded"], charge["refunded"]) == (2900, False)
    assert [r["id"] for r in charge["refunds"]["data"]] == [refund.id]

    rest = client.v1.refunds.create(params={"payment_intent": pi.id})  # the remaining amount
    assert rest.amount == 5000
    assert standin.refund_events(rest.id)[1]["data"]["object"]["refunded"] is True


def test_over_refunds_are_refused(client, standin):
    pi = paid_intent(client, standin)
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 7901})
    assert (error.value.code, error.value.param) == ("amount_too_large", "amount")
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 7900})
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert error.value.code == "charge_already_refunded"
    unpaid = client.v1.payment_intents.create(params=pi_params())
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": unpaid.id})


def test_a_dispute_event(client, standin):
    pi = paid_intent(client, standin)
    event = standin.dispute(pi.id)
    dispute = event["data"]["object"]
    assert event["type"] == "charge.dispute.created" and set(dispute) == keys("dispute")
    assert ID["dp"].fullmatch(dispute["id"])
    assert (dispute["payment_intent"], dispute["amount"], dispute["reason"]) == (pi.id, 7900, "fraudulent")
    assert dispute["charge"] == client.v1.payment_intents.retrieve(pi.id).latest_charge


def test_signed_events_verify_with_the_sdk(client, standin):
    pi = client.v1.payment_intents.create(params=pi_params())
    payload = event_payload(standin.succeed(pi.id))
    event = stripe.Webhook.construct_event(payload, sign(payload, SECRET), SECRET, tolerance=300)
    assert event.type == "payment_intent.succeeded" and event.data.object.id == pi.id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, sign(payload, "whsec_other"), SECRET, tolerance=300)
    stale = sign(payload, SECRET, timestamp=int(time.time()) - 600)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, stale, SECRET, tolerance=300)


def test_the_transport_injects_outages(standin, transport):
    client = make_client(transport, max_network_retries=2)
    transport.fail_next("/v1/payment_intents", 2)  # two connection errors, then the SDK's third try works
    pi = client.v1.payment_intents.create(params=pi_params())
    assert transport.count("POST", "/v1/payment_intents") == 3
    assert len(standin.find_payment_intents("order-1")) == 1

    transport.fail_next("/v1/payment_intents/*", status=500, method="GET")
    with pytest.raises(stripe.APIError):
        make_client(transport, max_network_retries=0).v1.payment_intents.retrieve(pi.id)

    # Processed, but the answer was lost: the SDK retries with the same idempotency key and gets the same object.
    transport.fail_next("/v1/payment_intents", processed=True)
    again = client.v1.payment_intents.create(params=pi_params(order_id="order-2"))
    assert [p["id"] for p in standin.find_payment_intents("order-2")] == [again.id]


# --- over HTTP ---------------------------------------------------------------------------------------


class Webhook:
    """A webhook endpoint on loopback that records what it receives and answers the given statuses in turn."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[str, str]] = []  # (Stripe-Signature, body)
        self.statuses = statuses or []
        self.arrived = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with hook.arrived:
                    hook.received.append((self.headers["Stripe-Signature"], body))
                    hook.arrived.notify_all()
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"received": True}).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def events(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The first ``count`` events received, each verified with the SDK."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), self.received
            received = self.received[:count]
        return [
            stripe.Webhook.construct_event(body, header, SECRET, tolerance=300).to_dict() for header, body in received
        ]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def server(standin, webhook) -> Iterator[StripeStandInServer]:
    running = StripeStandInServer(standin, port=0, webhook_url=webhook.url, webhook_secret=SECRET, delivery_delay=0)
    running.start()
    yield running
    running.stop()


def control(server: StripeStandInServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}{path}", data=data, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_over_http_the_sdk_pays_refunds_and_webhooks_arrive_signed(server, webhook):
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": server.url}, max_network_retries=0)
    pi = client.v1.payment_intents.create(params=pi_params(), options={"idempotency_key": "k-1"})
    assert client.v1.payment_intents.create(params=pi_params(), options={"idempotency_key": "k-1"}).id == pi.id
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"

    status, listed = control(server, "GET", "/_devstack/payment_intents?order_id=order-1")
    assert status == 200 and [p["id"] for p in listed["data"]] == [pi.id]
    status, paid = control(server, "POST", f"/_devstack/payment_intents/{pi.id}/succeed")
    assert status == 200, paid
    assert (paid["event"]["type"], paid["webhook_status"], paid["webhook_body"]) == (
        "payment_intent.succeeded",
        200,
        {"received": True},
    )
    assert webhook.events(1)[0]["id"] == paid["event"]["id"]

    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 900, "metadata": {"refund_id": "r1"}})
    delivered = webhook.events(3)[1:]  # asynchronously, after the API answered
    assert [e["type"] for e in delivered] == ["refund.created", "charge.refunded"]
    assert delivered[0]["data"]["object"]["id"] == refund.id
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 7001})
    assert error.value.code == "amount_too_large"

    status, again = control(server, "POST", f"/_devstack/payment_intents/{pi.id}/succeed")
    assert status == 400 and again["error"]["code"] == "payment_intent_unexpected_state"
    status, _ = control(server, "POST", f"/_devstack/payment_intents/{pi.id}/cancel")
    assert status == 404


def test_over_http_a_failing_webhook_is_retried(server, webhook):
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": server.url}, max_network_retries=0)
    pi = client.v1.payment_intents.create(params=pi_params())
    webhook.statuses[:] = [500, 503]
    status, failed = control(server, "POST", f"/_devstack/payment_intents/{pi.id}/fail", {"code": "expired_card"})
    assert status == 200 and failed["webhook_status"] == 200
    attempts = webhook.events(3)
    assert {e["id"] for e in attempts} == {failed["event"]["id"]}
    assert attempts[0]["data"]["object"]["last_payment_error"]["code"] == "expired_card"


def test_over_http_a_missing_key_is_401(server):
    request = urllib.request.Request(f"{server.url}/v1/payment_intents/pi_x")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as error:
        opener.open(request, timeout=10)
    assert error.value.code == 401
    assert json.loads(error.value.read())["error"]["type"] == "invalid_request_error"
