"""The test stack: moto on loopback, tables from infra/, a Cognito pool with real tokens.

Requests go through the same verifying gateway as the local stack (API Gateway's
Cognito authorizer, emulated), in-process, so tests are fast but still see
exactly what a client sees: status, headers and JSON.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    ORDERS_TABLE="orders",
    PRODUCTS_TABLE="products",
    AUDIT_TABLE="audit",
    CATALOGUE_TABLE="catalogue",
    JOBS_TABLE="jobs",
    CURRENCY="CNY",
    PAYMENT_TTL_MINUTES="30",
)

import boto3
import pytest
from chalice.config import Config
from chalice.local import LocalGatewayException

from devstack import resources
from devstack.emulator import Emulator
from devstack.gateway import CognitoVerifier, VerifyingGateway, local_app

PASSWORD = "Passw0rd-for-tests"
pytest_plugins = ("tests.import_world",)  # the import tests' fixtures (imports, categories)


@dataclass
class User:
    email: str
    sub: str
    token: str
    role: str


@dataclass
class Stack:
    endpoint: str
    region: str
    pool_id: str
    client_id: str
    dynamodb: Any
    cognito: Any
    users: dict[str, User] = field(default_factory=dict)

    def new_user(self, role: str = "customer") -> User:
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        groups = () if role == "customer" else (role,)
        sub = resources.create_user(self.cognito, self.pool_id, email, PASSWORD, groups)
        return User(email, sub, resources.sign_in(self.cognito, self.client_id, email, PASSWORD), role)


@pytest.fixture(scope="session")
def stack():
    emulator = Emulator()
    endpoint = emulator.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint)
    pool_id, client_id = resources.create_user_pool(cognito)
    result = Stack(endpoint, "us-east-1", pool_id, client_id, dynamodb, cognito)
    for role in ("customer", "other", "staff", "admin"):
        result.users[role] = result.new_user("customer" if role == "other" else role)
    yield result
    emulator.stop()


@pytest.fixture
def tables(stack, request):
    """Every table of the template, empty, for one test. Unless the test is marked ``shop_shipping``, orders
    are priced with no shipping fee (as the shop's shipping settings could say), so a test's totals are its
    lines' (tests/test_pricing_on_orders.py and test_pricing_settings.py price with the shop's defaults)."""
    from chalicelib.domain.pricing import ShippingSettings
    from chalicelib.entrypoints.http import wiring

    names = resources.create_tables(stack.dynamodb)
    wiring.approval_policies().forget()  # each test's tables start with no policy written: the default one
    wiring.pricing_settings().tiers.forget()  # and the default tiers and shipping
    shipping = wiring.pricing_settings().shipping
    shipping.forget()
    shop_default = shipping.default
    if request.node.get_closest_marker("shop_shipping") is None:
        shipping.default = ShippingSettings(1, 0, None)  # not monkeypatch: its undo would run after the teardown
    yield names
    shipping.default = shop_default
    resources.delete_tables(stack.dynamodb, names)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        return self.body["error"]


class ApiClient:
    """Calls the API as a checkout would, through the verifying gateway."""

    def __init__(self, stack: Stack) -> None:
        from app import app

        verifier = CognitoVerifier(
            stack.region, stack.pool_id, stack.client_id, f"{stack.endpoint}/{stack.pool_id}/.well-known/jwks.json"
        )
        self.gateway = VerifyingGateway(local_app(app), Config(), verifier)
        self.users = stack.users

    def request(
        self,
        method: str,
        path: str,
        *,
        as_: str | User | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        user = self.users[as_] if isinstance(as_, str) else as_
        if user is not None:
            headers.setdefault("authorization", f"Bearer {user.token}")
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            headers.setdefault("content-type", "application/json")
        try:
            response = self.gateway.handle_request(method, path, headers, body)
        except LocalGatewayException as error:
            return Reply(error.CODE, dict(error.headers), json.loads(error.body))
        raw = response.get("body")
        parsed = json.loads(raw) if raw else None
        return Reply(response["statusCode"], {k.lower(): v for k, v in response["headers"].items()}, parsed)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, json_body=json_body, **kwargs)


WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@dataclass
class StripeWorld:
    """Stripe as the app sees it in tests: the real SDK over ``transport`` to an in-memory ``standin``."""

    standin: Any
    transport: Any

    def payload(self, event: dict[str, Any]) -> bytes:
        from devstack.stripe_standin import event_payload

        return event_payload(event).encode()

    def signature(self, payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
        from devstack.stripe_standin import sign

        return sign(payload.decode(), secret, timestamp)


@pytest.fixture
def stripe_world(monkeypatch) -> StripeWorld:
    """Every test's Stripe: the app's gateway talks to a fresh stand-in through the fake transport."""
    from chalicelib.adapters.stripe_gateway import StripeGateway
    from chalicelib.entrypoints.http import wiring
    from devstack.stripe_standin import StripeStandIn
    from tests.stripe_transport import API_KEY, StandInTransport

    standin = StripeStandIn()
    transport = StandInTransport(standin)
    gateway = StripeGateway(API_KEY, WEBHOOK_SECRET, http_client=transport)
    monkeypatch.setattr(wiring, "payment_provider", lambda: gateway)
    return StripeWorld(standin, transport)


@dataclass(frozen=True)
class Sent:
    """One request the app's Stripe SDK sent, as the stand-in received it."""

    method: str
    path: str
    idempotency_key: str | None
    params: dict[str, Any]


@pytest.fixture
def sent(stripe_world, monkeypatch) -> list[Sent]:
    """Every request that reached the Stripe stand-in (method, path, Idempotency-Key, decoded form)."""
    from devstack.stripe_standin import decode_form

    requests: list[Sent] = []
    standin = stripe_world.standin
    original = standin.handle

    def recording(method: str, path: str, *, query: str = "", headers=None, body=None):
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        text = body.decode() if isinstance(body, bytes) else body or ""
        params = decode_form(text) if method.upper() == "POST" else {}
        requests.append(Sent(method.upper(), path, lowered.get("idempotency-key"), params))
        return original(method, path, query=query, headers=headers, body=body)

    monkeypatch.setattr(standin, "handle", recording)
    return requests


@pytest.fixture
def api(stack, tables, stripe_world, monkeypatch) -> ApiClient:
    from chalicelib.adapters.cognito_directory import CognitoDirectory
    from chalicelib.entrypoints.http import wiring

    pool = CognitoDirectory(f"arn:aws:cognito-idp:{stack.region}:000000000000:userpool/{stack.pool_id}")
    monkeypatch.setattr(wiring, "directory", lambda: pool)  # the stack's pool (settings name a placeholder here)
    return ApiClient(stack)


@pytest.fixture
def deliver(api, stripe_world):
    """POST a Stripe event to the webhook, signed as Stripe signs it (or as told)."""

    def _deliver(
        event: dict[str, Any], *, signature: str | None = None, payload: bytes | None = None, **sign: Any
    ) -> Reply:
        body = stripe_world.payload(event) if payload is None else payload
        header = stripe_world.signature(body, **sign) if signature is None else signature
        return api.request(
            "POST",
            "/webhooks/stripe",
            body=body,
            headers={"stripe-signature": header, "content-type": "application/json; charset=utf-8"},
        )

    return _deliver


@pytest.fixture
def seed(tables):
    """Put products straight into the catalogue: seed(sku, stock=.., price=.., ...)."""
    from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository
    from chalicelib.domain.catalogue import Product

    repo = CatalogueRepository()

    def put(
        sku: str,
        *,
        stock: int = 100,
        price: int = 1000,
        name: str | None = None,
        category: str = "general",
        active: bool = True,
        currency: str = "CNY",
        **extra: Any,
    ) -> Product:
        product = Product(
            sku=sku,
            name=name or f"Product {sku}",
            category=category,
            price=price,
            currency=currency,
            stock_available=stock,
            active=active,
            **extra,
        )
        repo.put(product)
        return product

    return put


def view(api: ApiClient, order_id: str) -> dict[str, Any]:
    """The order as staff see it (with its timeline)."""
    reply = api.get(f"/orders/{order_id}", as_="staff")
    assert reply.status == 200, reply.body
    return reply.body


def types(order: dict[str, Any]) -> list[str]:
    """The order's timeline event types, oldest first."""
    return [event["type"] for event in order["timeline"]]


def events_of(order: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event for event in order["timeline"] if event["type"] == kind]


ADDRESS = {"name": "王小明", "phone": "+86 138 0000 0000", "line1": "人民路 1 号", "city": "上海", "country": "CN"}


def order_body(*items: tuple[str, int], **extra: Any) -> dict[str, Any]:
    return {"items": [{"sku": sku, "quantity": qty} for sku, qty in items], "shipping_address": ADDRESS, **extra}


@pytest.fixture
def place(api):
    """Place an order as a user; returns the reply."""

    def _place(*items: tuple[str, int], as_: str | User = "customer", key: str | None = None, **extra: Any) -> Reply:
        return api.post(
            "/orders", order_body(*items, **extra), as_=as_, headers={"idempotency-key": key or uuid.uuid4().hex}
        )

    return _place


@pytest.fixture
def dynamodb_calls(monkeypatch):
    """Counts DynamoDB API calls by operation name, across every client."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


@pytest.fixture
def items_read(monkeypatch) -> list[int]:
    """Items each DynamoDB Query evaluated (its ScannedCount), whatever it returned."""
    import botocore.client

    counts: list[int] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        response = original(self, operation_name, api_params)
        if operation_name == "Query":
            counts.append(int(response.get("ScannedCount", 0)))
        return response

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return counts


@dataclass
class EventWorld:
    """The tables' streams, the queues and the topics of one test, and Lambda's part played by pumps."""

    queues: dict[str, str]
    topics: dict[str, str]
    sqs: Any
    staff: Any  # TopicTap: what staff were sent
    customer: Any  # TopicTap: what customers were sent
    orders_stream: Any  # StreamPump -> orders_stream handler
    products_stream: Any  # StreamPump -> products_stream handler
    updates: Any  # QueuePump -> fulfilment_updates handler

    def pump(self) -> int:
        """Deliver every committed change to the stream handlers (as Lambda would, shortly after)."""
        return self.orders_stream.pump() + self.products_stream.pump()

    def send_update(self, body: Any) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return self.sqs.send_message(QueueUrl=self.queues["fulfilment-updates"], MessageBody=text)["MessageId"]

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """Read (and delete) what is in a queue now; bodies parsed when JSON."""
        found = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queues[queue], MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return found
            for message in got:
                try:
                    found.append(json.loads(message["Body"]))
                except ValueError:
                    found.append(message["Body"])
                self.sqs.delete_message(QueueUrl=self.queues[queue], ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def event_world(stack, tables, monkeypatch) -> EventWorld:
    """Queues and topics made from infra/, wired into the app's dispatcher.

    The queues' visibility timeout is 0: a failed message is received again by the next pump, as
    it would be once the timeout passed, so tests need not wait (receive counts and redrive are real).
    """
    from app import app
    from chalicelib.adapters.dynamo.markers_repo import SentMarkersRepository
    from chalicelib.adapters.messaging import SnsNotifier, SqsFulfilmentRequests
    from chalicelib.entrypoints.http import wiring
    from chalicelib.services.notify import EventDispatcher
    from devstack.events import QueuePump, StreamPump, TopicTap, call

    sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
    sns = boto3.client("sns", endpoint_url=stack.endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=stack.endpoint)
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    queues, topics = resources.create_messaging(sqs, sns, visibility_timeout=0, prefix=prefix)
    notifier = SnsNotifier(topics["staff"], topics["customer"], client=sns)
    dispatcher = EventDispatcher(
        orders=wiring.orders_repo(),
        notifier=notifier,
        fulfilment_requests=SqsFulfilmentRequests(queues["fulfilment-requests"], client=sqs),
        markers=SentMarkersRepository(),
    )
    monkeypatch.setattr(wiring, "dispatcher", lambda: dispatcher)
    monkeypatch.setattr(wiring, "notifier", lambda: notifier)

    def stream_of(table: str) -> str:
        return stack.dynamodb.describe_table(TableName=tables[table])["Table"]["LatestStreamArn"]

    handlers = app.handler_map
    return EventWorld(
        queues=queues,
        topics=topics,
        sqs=sqs,
        staff=TopicTap(sqs, sns, topics["staff"], f"{prefix}staff-tap"),
        customer=TopicTap(sqs, sns, topics["customer"], f"{prefix}customer-tap"),
        orders_stream=StreamPump(streams, stream_of("OrdersTable"), call(handlers["orders_stream"]), stack.region),
        products_stream=StreamPump(
            streams, stream_of("ProductsTable"), call(handlers["products_stream"]), stack.region
        ),
        updates=QueuePump(sqs, queues["fulfilment-updates"], call(handlers["fulfilment_updates"]), stack.region),
    )


def KEY() -> dict[str, str]:
    """A fresh Idempotency-Key header."""
    return {"idempotency-key": uuid.uuid4().hex}


def assert_error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """The contract's one error shape with this status and code; returns its details."""
    assert reply.status == status, reply.body
    assert set(reply.body) == {"error"}, reply.body
    assert set(reply.error) == {"code", "message", "details"}, reply.body
    assert reply.error["code"] == code, reply.body
    assert isinstance(reply.error["message"], str) and reply.error["message"]
    assert isinstance(reply.error["details"], dict)
    return reply.error["details"]
