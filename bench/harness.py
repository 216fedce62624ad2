"""What the benchmarks share: the local stack, an in-process API client, a DynamoDB call recorder, report pieces.

The stack is the test stack of ``tests/conftest.py``: moto on loopback (``devstack.emulator``),
tables and a user pool from infra/ (``devstack.resources``), real Cognito ID tokens, and
requests through ``devstack.gateway.VerifyingGateway``. Stripe is wired as ``tests/conftest.py``'s
``stripe_world`` wires it: the real SDK over an in-memory transport to ``devstack``'s stand-in
(the transport is a trimmed copy of ``tests/stripe_transport.py``, so the bench never imports tests/).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
PASSWORD = "Passw0rd-for-bench"
APP_ENV = {
    "ORDERS_TABLE": "orders",
    "PRODUCTS_TABLE": "products",
    "AUDIT_TABLE": "audit",
    "CATALOGUE_TABLE": "catalogue",
    "JOBS_TABLE": "jobs",
    "CURRENCY": "CNY",
    "PAYMENT_TTL_MINUTES": "30",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}
STRIPE_API_KEY = "sk_test_bench"
STRIPE_WEBHOOK_SECRET = "whsec_bench_0123456789abcdef"
ADDRESS = {"name": "王小明", "phone": "+86 138 0000 0000", "line1": "人民路 1 号", "city": "上海", "country": "CN"}


class BenchError(RuntimeError):
    """The benchmark could not measure what it meant to (a request failed, a child crashed)."""


def table_names() -> dict[str, str]:
    """Logical name in infra/ -> the table name the app uses."""
    return {
        "OrdersTable": os.environ["ORDERS_TABLE"],
        "ProductsTable": os.environ["PRODUCTS_TABLE"],
        "AuditTable": os.environ["AUDIT_TABLE"],
        "CatalogueTable": os.environ["CATALOGUE_TABLE"],
        "JobsTable": os.environ["JOBS_TABLE"],
    }


def configure_environment() -> None:
    """The app's environment; must run before anything imports ``chalicelib.config``."""
    os.environ.update(APP_ENV)


def order_body(*lines: tuple[str, int]) -> dict[str, Any]:
    """A valid POST /orders body for (sku, quantity) lines."""
    return {"items": [{"sku": sku, "quantity": qty} for sku, qty in lines], "shipping_address": ADDRESS}


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class User:
    email: str
    sub: str
    token: str


class DynamoCalls:
    """Every DynamoDB API call this process makes, by operation name, from any client or thread."""

    def __init__(self) -> None:
        self.calls: list[str] = []  # list.append is atomic, so threads can share it
        self._original: Callable[..., Any] | None = None

    def install(self) -> None:
        import botocore.client

        original = self._original = botocore.client.BaseClient._make_api_call
        calls = self.calls

        def counting(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                calls.append(operation_name)
            return original(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = counting

    def uninstall(self) -> None:
        import botocore.client

        if self._original is not None:
            botocore.client.BaseClient._make_api_call = self._original
            self._original = None

    @contextmanager
    def capture(self) -> Iterator[Counter[str]]:
        """The calls made inside the block, filled in when it ends."""
        counts: Counter[str] = Counter()
        start = len(self.calls)
        try:
            yield counts
        finally:
            counts.update(self.calls[start:])

    def totals(self) -> Counter[str]:
        return Counter(self.calls)


@dataclass
class Stack:
    """The emulator and what was provisioned in it."""

    endpoint: str
    pool_id: str
    client_id: str
    dynamodb: Any
    cognito: Any
    calls: DynamoCalls = field(default_factory=DynamoCalls)

    def new_user(self, role: str = "customer") -> User:
        """A confirmed user (in the staff/admin group for those roles) with a fresh ID token."""
        from devstack import resources

        email = f"bench-{role}-{uuid.uuid4().hex[:8]}@example.com"
        groups = () if role == "customer" else (role,)
        sub = resources.create_user(self.cognito, self.pool_id, email, PASSWORD, groups)
        return User(email, sub, resources.sign_in(self.cognito, self.client_id, email, PASSWORD))

    def verifier(self) -> Any:
        """Checks ID tokens of the pool as API Gateway's Cognito authorizer does."""
        from devstack.gateway import CognitoVerifier

        jwks = f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"
        return CognitoVerifier(REGION, self.pool_id, self.client_id, jwks)

    def seed(
        self, sku: str, *, stock: int, price: int = 1000, name: str | None = None, category: str = "general"
    ) -> None:
        """Put a product with its stock straight into the catalogue."""
        from chalicelib.adapters.dynamo.catalogue_repo import CatalogueRepository
        from chalicelib.domain.catalogue import Product

        product = Product(
            sku=sku,
            name=name or f"Product {sku}",
            category=category,
            price=price,
            currency="CNY",
            stock_available=stock,
        )
        CatalogueRepository().put(product)

    def reset_tables(self) -> None:
        """Drop and re-create the tables, empty (an emulated transaction costs more as its tables grow)."""
        from devstack import resources

        resources.delete_tables(self.dynamodb, table_names())
        resources.create_tables(self.dynamodb, table_names())

    def stock(self, sku: str) -> int:
        """A product's available stock, read consistently."""
        item = self.dynamodb.get_item(
            TableName=os.environ["PRODUCTS_TABLE"], Key={"sku": {"S": sku}}, ConsistentRead=True
        )["Item"]
        return int(item["available"]["N"])


@contextmanager
def local_stack() -> Iterator[Stack]:
    """moto on a free loopback port, this process's AWS clients pointed at it, tables and user pool created."""
    from devstack.awsenv import use_emulator
    from devstack.emulator import Emulator

    with ExitStack() as cleanup:
        emulator = Emulator()
        endpoint = emulator.start()
        cleanup.callback(emulator.stop)
        use_emulator(endpoint, REGION)
        import boto3

        from devstack import resources

        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
        cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=REGION)
        resources.create_tables(dynamodb, table_names())
        pool_id, client_id = resources.create_user_pool(cognito)
        stack = Stack(endpoint, pool_id, client_id, dynamodb, cognito)
        stack.calls.install()
        cleanup.callback(stack.calls.uninstall)
        yield stack


class Api:
    """Calls the app in-process through the verifying gateway, as ``tests/conftest.py``'s ApiClient does."""

    def __init__(self, stack: Stack) -> None:
        from chalice.config import Config

        from app import app
        from devstack.gateway import VerifyingGateway, local_app

        self._gateway = VerifyingGateway(local_app(app), Config(), stack.verifier())

    def call(
        self,
        method: str,
        path: str,
        user: User | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body) of one request; ``raw`` is sent as is (with the given headers)."""
        from chalice.local import LocalGatewayException

        headers = dict(headers or {})
        if user is not None:
            headers["authorization"] = f"Bearer {user.token}"
        if body is not None:
            raw = json.dumps(body, ensure_ascii=False).encode()
            headers["content-type"] = "application/json"
        try:
            response = self._gateway.handle_request(method, path, headers, raw)
        except LocalGatewayException as error:
            return error.CODE, json.loads(error.body)
        text = response.get("body")
        return response["statusCode"], json.loads(text) if text else None


class StripeWorld:
    """Stripe as the app sees it in the bench: the real SDK over an in-memory transport to a fresh stand-in.

    ``events`` collects the events Stripe would send to the webhook after an API request
    (a refund's ``refund.created`` and ``charge.refunded``); ``requests`` lists the SDK's requests.
    """

    def __init__(self) -> None:
        from devstack.stripe_standin import StripeStandIn

        self.standin = StripeStandIn()
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []  # (method, path), in order
        self.transport = _standin_transport(self)

    def signed(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST to the webhook for ``event``."""
        from devstack.stripe_standin import event_payload, sign

        payload = event_payload(event)
        headers = {
            "stripe-signature": sign(payload, STRIPE_WEBHOOK_SECRET),
            "content-type": "application/json; charset=utf-8",
        }
        return payload.encode(), headers


def _standin_transport(world: StripeWorld) -> Any:
    """A sync ``stripe.HTTPClient`` answering from ``world.standin`` (``tests/stripe_transport.py``, trimmed).

    Built here, not at import, so that importing the bench does not import ``stripe``.
    """
    import io
    import urllib.parse

    import stripe

    class StandInTransport(stripe.HTTPClient):
        name = "stripe-standin"

        def request(
            self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None
        ) -> tuple[str, int, dict[str, str]]:
            parts = urllib.parse.urlsplit(url)
            world.requests.append((method.upper(), parts.path))
            response = world.standin.handle(
                method, parts.path, query=parts.query, headers=headers or {}, body=post_data
            )
            world.events.extend(response.events)
            return json.dumps(response.body), response.status, dict(response.headers)

        def request_stream(
            self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None
        ) -> tuple[io.BytesIO, int, dict[str, str]]:
            body, status, headers_out = self.request(method, url, headers, post_data)
            return io.BytesIO(body.encode("utf-8")), status, headers_out

        def close(self) -> None:
            pass

        def _sleep_time_seconds(self, num_retries: int) -> float:
            return 0.0

    return StandInTransport()


@contextmanager
def stripe_world() -> Iterator[StripeWorld]:
    """Point the app's payment provider at a fresh stand-in (as ``tests/conftest.py``'s ``stripe_world``)."""
    from chalicelib.adapters.stripe_gateway import StripeGateway
    from chalicelib.entrypoints.http import wiring

    world = StripeWorld()
    gateway = StripeGateway(STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET, http_client=world.transport)
    original = wiring.payment_provider
    wiring.payment_provider = lambda: gateway
    try:
        yield world
    finally:
        wiring.payment_provider = original


@dataclass(frozen=True)
class Check:
    """One target: what was measured against what was wanted."""

    name: str
    measured: str
    target: str
    passed: bool

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.measured} (target {self.target})"


@dataclass
class Section:
    """A benchmark's printed lines, its JSON data and its checks."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def render(self) -> str:
        return "\n".join([self.title, "-" * len(self.title), *self.lines, ""])


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


class Ticker:
    """Hands out 0..total-1 to worker threads, once each."""

    def __init__(self, total: int) -> None:
        self._next = 0
        self._total = total
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._total:
                return None
            self._next += 1
            return self._next - 1
