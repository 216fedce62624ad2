"""`make run` end to end: `python -m devstack` as a real process, called over real HTTP.

Each stack gets free ports and its own DEVSTACK_DIR, so a developer's running
`make run` is neither disturbed nor in the way.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import stripe

ROOT = Path(__file__).resolve().parent.parent
ENV_KEYS = {
    "api_url",
    "aws_endpoint_url",
    "region",
    "user_pool_id",
    "user_pool_client_id",
    "stripe_webhook_secret",
    "schedule_seconds",
    "event_seconds",
    "stripe_api_base",
    "queues",
    "topics",
    "tables",
    "buckets",
    "images_base_url",
    "demo_accounts",
}
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
EVENT_TIMEOUT = 20.0  # the stack pumps its streams and queue every second
QUEUES = {
    "fulfilment-requests",
    "fulfilment-requests-dlq",
    "fulfilment-updates",
    "fulfilment-updates-dlq",
    "orders-stream-failures",  # the streams' on-failure destinations (infra/resources.json)
    "products-stream-failures",
    "image-uploads",  # S3's notifications of uploaded product images, and their dead letters
    "image-uploads-dlq",
    "import-uploads",  # S3's notifications of import files and the import worker's own messages
    "import-uploads-dlq",
    "export-jobs",  # the export worker's requests, and their dead letters
    "export-jobs-dlq",
}
CJK_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")
ADDRESS = {"name": "王小明", "phone": "+86 138 0000 0000", "line1": "人民路 1 号", "city": "上海", "country": "CN"}


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (each probe held open until all are chosen, so none is handed out twice)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class Running:
    process: subprocess.Popen
    directory: Path
    environ: dict[str, str]
    log: Path
    env: dict[str, Any]

    @property
    def api(self) -> str:
        return self.env["api_url"]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def stack_environ(directory: Path, **overrides: str) -> dict[str, str]:
    # Never a developer's real Stripe: the stack runs its stand-in when STRIPE_API_KEY is unset.
    ignored = ("DEVSTACK_PORT", "STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET")
    environ = {k: v for k, v in os.environ.items() if k not in ignored}
    api, aws, stripe_port = free_ports(3)
    environ.update(DEVSTACK_DIR=str(directory), PORT=str(api), DEVSTACK_AWS_PORT=str(aws))
    environ.update(DEVSTACK_STRIPE_PORT=str(stripe_port))
    environ.update(PYTHONUNBUFFERED="1", **overrides)
    return environ


def devstack(environ: dict[str, str], *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run a devstack command to completion (a second stack that should refuse, the token command)."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )


def start(directory: Path) -> Running:
    """Start `python -m devstack` and wait until env.json exists and /health answers."""
    directory.mkdir(parents=True, exist_ok=True)
    environ = stack_environ(directory)
    log = directory.parent / f"{directory.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    running = Running(process, directory, environ, log, {})
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the stack exited with {process.returncode} while starting:\n{running.output()}")
        env_path = directory / "env.json"
        if env_path.exists():
            running.env = json.loads(env_path.read_text())
            try:
                if request("GET", f"{running.api}/health")[0] == 200:
                    return running
            except OSError:
                pass
        time.sleep(0.1)
    stop(running)
    pytest.fail(f"the stack was not ready within {START_TIMEOUT} s:\n{running.output()}")


def stop(running: Running, signum: int = signal.SIGINT) -> int | None:
    """Signal the stack and wait for it; kill it if it does not stop. Returns its exit code (None if killed)."""
    if running.process.poll() is None:
        running.process.send_signal(signum)
    try:
        return running.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()
        return None


def request(
    method: str, url: str, *, token: str | None = None, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One real HTTP request; returns (status, parsed JSON body)."""
    headers = dict(headers or {})
    data = None
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    call = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(call, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def sign_in(env: dict[str, Any], role: str = "customer", index: int = 0) -> str:
    """An ID token from Cognito InitiateAuth (USER_PASSWORD_AUTH) against the stack's emulator."""
    account = [a for a in env["demo_accounts"] if a["role"] == role][index]
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=env["aws_endpoint_url"],
        region_name=env["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    result = cognito.initiate_auth(
        ClientId=env["user_pool_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": account["email"], "PASSWORD": account["password"]},
    )
    return result["AuthenticationResult"]["IdToken"]


def eventually(check, what: str, timeout: float = EVENT_TIMEOUT) -> Any:
    """Poll ``check`` until it answers something truthy; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s")
        time.sleep(0.2)


def all_products(api: str, **query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        params = {"limit": "10", **query, **({"cursor": cursor} if cursor else {})}
        status, page = request("GET", f"{api}/products?{urllib.parse.urlencode(params)}")
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
    pytest.fail("the product listing did not end")


def place_order(running: Running, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A demo customer orders one unit of a well-stocked demo product; returns (order, product as listed)."""
    product = next(p for p in all_products(running.api) if p["stock_available"] >= 10)
    body = {"items": [{"sku": product["sku"], "quantity": 1}], "shipping_address": ADDRESS}
    status, order = request(
        "POST", f"{running.api}/orders", token=token, body=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert status == 201, order
    return order, product


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Running]:
    stack = start(tmp_path_factory.mktemp("devstack") / "state")
    yield stack
    stop(stack)


def test_env_json_says_what_scripts_need(running):
    env = running.env
    assert set(env) == ENV_KEYS
    assert env["api_url"] == f"http://127.0.0.1:{running.environ['PORT']}"
    assert env["aws_endpoint_url"] == f"http://127.0.0.1:{running.environ['DEVSTACK_AWS_PORT']}"
    assert env["region"] == "us-east-1"
    assert env["stripe_webhook_secret"].startswith("whsec_local_")
    assert env["stripe_api_base"] == f"http://127.0.0.1:{running.environ['DEVSTACK_STRIPE_PORT']}"
    assert env["tables"] == {"orders": "orders", "products": "products", "audit": "audit", "catalogue": "catalogue",
                             "jobs": "jobs"}  # fmt: skip
    assert env["buckets"] == {
        "receipts": "receipts",
        "images": "images",
        "imports": "imports",
        "exports": "exports",
    }  # vouchers, images, imports
    assert env["images_base_url"] == f"{env['aws_endpoint_url']}/images"  # the emulator serves them
    endpoint = env["aws_endpoint_url"]
    assert set(env["queues"]) == QUEUES
    assert all(url.startswith(endpoint) and url.endswith(f"/{name}") for name, url in env["queues"].items())
    assert set(env["topics"]) == {"staff", "customer", "ops"}  # ops: the alarms' topic
    assert all(arn.startswith("arn:aws:sns:us-east-1:") for arn in env["topics"].values())
    assert env["event_seconds"] == 1.0
    roles = [a["role"] for a in env["demo_accounts"]]
    assert sorted(roles) == ["admin", "customer", "customer", "staff"]
    assert all(a["email"].endswith("@demo.local") and a["password"] for a in env["demo_accounts"])
    assert "customer1@demo.local" in running.output()  # the banner names the demo accounts


def test_the_demo_catalogue_is_browsable_and_searchable(running):
    products = all_products(running.api)
    assert len(products) >= 30
    assert len({p["sku"] for p in products}) == len(products)
    assert len({p["category"] for p in products}) >= 4
    assert {p["currency"] for p in products} == {"CNY"}
    assert all(isinstance(p["price"], int) and p["price"] > 0 for p in products)
    assert any(1 <= p["stock_available"] <= 3 for p in products)

    chinese = next(p for p in products if CJK_PAIR.search(p["name"]))
    pair = CJK_PAIR.search(chinese["name"]).group()
    found = all_products(running.api, q=pair)
    assert chinese["sku"] in {p["sku"] for p in found}
    assert all(pair in p["name"] for p in found)


def test_every_demo_product_shows_pictures_the_emulator_serves(running):
    products = all_products(running.api)
    assert all(p["images"] for p in products) and max(len(p["images"]) for p in products) >= 3
    first = products[0]["images"][0]
    assert first.startswith(f"{running.env['images_base_url']}/products/{products[0]['sku']}/")
    with urllib.request.urlopen(first, timeout=10) as picture:  # anonymous, as a shop page loads it
        assert picture.headers["Content-Type"] == "image/png"
        assert picture.read().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_staff_upload_goes_to_s3_and_the_stacks_consumer_lists_it(running):
    """The README's walk: ask for an upload, POST the file to S3 (as curl -F would), see the product list it."""
    import requests

    from devstack.demo_images import picture

    sku = all_products(running.api)[0]["sku"]
    data = picture("home", 5)
    body = {"content_type": "image/png", "size_bytes": len(data)}
    status, answer = request("POST", f"{running.api}/staff/products/{sku}/images", token=sign_in(running.env, "staff"),
                             body=body)  # fmt: skip
    assert status == 201, answer
    sent = requests.post(answer["upload"]["url"], data=answer["upload"]["fields"], files={"file": ("a.png", data)},
                         timeout=10)  # fmt: skip
    assert sent.status_code == 204, sent.text

    def shown() -> bool:
        return answer["image_url"] in request("GET", f"{running.api}/products/{sku}")[1]["images"]

    eventually(shown, "the uploaded image was not listed on the product")
    with urllib.request.urlopen(answer["image_url"], timeout=10) as served:
        assert served.read() == data


def test_a_demo_customer_places_and_reads_an_order(running):
    token = sign_in(running.env)
    order, product = place_order(running, token)
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [(product["sku"], 1)]
    assert order["subtotal"] == product["price"] and order["currency"] == "CNY"
    fee = 0 if product["price"] >= 19_900 else 1000  # a fresh shop's shipping (a demo customer is standard)
    assert (order["shipping"], order["total"]) == (fee, product["price"] + fee)

    status, again = request("GET", f"{running.api}/orders/{order['order_id']}", token=token)
    assert status == 200, again
    assert again["order_id"] == order["order_id"]
    assert again["shipping_address"]["city"] == "上海"
    status, after = request("GET", f"{running.api}/products/{urllib.parse.quote(product['sku'])}")
    assert after["stock_available"] == product["stock_available"] - 1


def test_bank_transfers_show_the_demo_account_and_the_console_stays_quiet(running):
    """A bank transfer's instructions name the demo bank account; the requests print no access-log line and the
    dev stage logs at INFO, so the notifications are what the console shows."""
    token = sign_in(running.env)
    order, _ = place_order(running, token)
    status, payment = request(
        "POST", f"{running.api}/orders/{order['order_id']}/payments", token=token, body={"method": "bank_transfer"}
    )
    assert status == 201, payment
    assert payment["instructions"]["bank"] == "Demo Bank (local stack)"
    assert payment["instructions"]["account_name"] == "Demo Shop Ltd"
    assert payment["instructions"]["account_number"].startswith("6222")

    output = running.output()
    assert "/payments HTTP/1.1" not in output and '"GET /products' not in output
    assert not [line for line in output.splitlines() if line.startswith("DEBUG ")]


def test_a_garbage_token_is_refused(running):
    status, body = request("GET", f"{running.api}/orders", token="not-a-token")
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_make_token_prints_a_working_id_token(running):
    result = devstack(running.environ, "devstack.token", "customer2@demo.local")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2
    status, page = request("GET", f"{running.api}/orders", token=token)
    assert status == 200, page
    assert page["items"] == []  # customer2 has placed nothing


def test_a_second_stack_on_the_same_state_says_one_is_running(running):
    result = devstack(running.environ, "devstack")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "already running" in output
    assert f"pid {running.process.pid}" in output and running.api in output
    assert (running.directory / "run.lock").exists()
    assert request("GET", f"{running.api}/health")[0] == 200  # the first one is untouched


def test_a_taken_port_is_named(running, tmp_path):
    environ = stack_environ(tmp_path / "other", PORT=running.environ["PORT"])
    result = devstack(environ, "devstack")
    assert result.returncode != 0
    assert f"port {running.environ['PORT']}" in result.stderr and "already in use" in result.stderr
    assert not (tmp_path / "other" / "run.lock").exists()


def test_the_stripe_stand_in_answers_through_the_sdk(running):
    client = stripe.StripeClient(
        "sk_test_devstack_local", base_addresses={"api": running.env["stripe_api_base"]}, max_network_retries=0
    )
    order_id = f"no-such-order-{uuid.uuid4().hex[:8]}"
    params = {"amount": 7900, "currency": "cny", "payment_method_types": ["card"], "metadata": {"order_id": order_id}}
    intent = client.v1.payment_intents.create(params=params, options={"idempotency_key": uuid.uuid4().hex})
    assert intent.status == "requires_payment_method"
    assert client.v1.payment_intents.retrieve(intent.id).metadata["order_id"] == order_id
    query = urllib.parse.urlencode({"order_id": order_id})
    status, listed = request("GET", f"{running.env['stripe_api_base']}/_devstack/payment_intents?{query}")
    assert status == 200 and [pi["id"] for pi in listed["data"]] == [intent.id]


def test_make_pay_without_a_payment_says_how_to_make_one(running):
    token = sign_in(running.env)
    order, _ = place_order(running, token)
    result = devstack(running.environ, "devstack.pay", order["order_id"])
    assert result.returncode == 1
    assert f"{running.api}/orders/{order['order_id']}/payments" in result.stderr and '"method"' in result.stderr


def test_make_pay_of_an_unknown_order_says_there_is_no_such_order(running):
    result = devstack(running.environ, "devstack.pay", "no-such-order-42")
    assert result.returncode == 1
    assert "there is no order no-such-order-42" in result.stderr
    assert "/payments" not in result.stderr  # not told to pay an order that does not exist


def test_make_pay_without_a_stack_says_so(tmp_path):
    result = devstack(stack_environ(tmp_path / "none"), "devstack.pay", "some-order")
    assert result.returncode == 1
    assert "not running" in result.stderr and "make run" in result.stderr


def test_a_taken_stripe_port_is_named(running, tmp_path):
    taken = running.environ["DEVSTACK_STRIPE_PORT"]
    result = devstack(stack_environ(tmp_path / "other", DEVSTACK_STRIPE_PORT=taken), "devstack")
    assert result.returncode != 0
    assert f"port {taken}" in result.stderr and "Stripe stand-in" in result.stderr
    assert "DEVSTACK_STRIPE_PORT" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_it_cleanly(tmp_path, signum):
    stack = start(tmp_path / "state")
    assert (stack.directory / "run.lock").exists()

    assert stop(stack, signum) == 0, stack.output()
    assert "Traceback" not in stack.output()
    assert not (stack.directory / "run.lock").exists()
    assert not (stack.directory / "env.json").exists()
    with pytest.raises(OSError):
        request("GET", f"{stack.api}/health")


def test_a_paid_order_is_announced_sent_to_the_warehouse_and_shipped(running):
    token = sign_in(running.env)
    order, product = place_order(running, token)
    order_id, number = order["order_id"], order["order_number"]
    status, payment = request("POST", f"{running.api}/orders/{order_id}/payments", token=token, body={"method": "card"})
    assert status == 201, payment

    paid = devstack(running.environ, "devstack.pay", order_id)
    assert paid.returncode == 0, paid.stderr
    staff_line = f"[staff] payment_received  Payment received for order {number}"
    for line in (
        staff_line,
        f"[staff] order_placed  New order {number}",
        f"[customer] order_confirmed  Your order {number} is confirmed",
        f"[customer] payment_received  Payment received for order {number}",
    ):  # the staff and customer topics are read one after the other: either may print first
        eventually(lambda line=line: line in running.output(), f"make run did not print {line!r}")

    taken = devstack(running.environ, "devstack.warehouse", "requests")
    assert taken.returncode == 0, taken.stderr
    requests = [json.loads(line) for line in taken.stdout.splitlines()]
    (mine,) = [r for r in requests if r["order_id"] == order_id]
    assert mine["order_number"] == number and mine["shipping_address"]["city"] == "上海"
    assert [(line["sku"], line["quantity"]) for line in mine["lines"]] == [(product["sku"], 1)]

    shipped = devstack(
        running.environ,
        "devstack.warehouse",
        "ship",
        order_id,
        "shipped",
        "--carrier",
        "SF Express",
        "--tracking",
        "SF1",
    )
    assert shipped.returncode == 0, shipped.stderr

    def shipped_in_timeline() -> dict[str, Any] | None:
        _, now = request("GET", f"{running.api}/orders/{order_id}", token=token)
        return next((e for e in now["timeline"] if e["type"] == "shipped"), None)

    event = eventually(shipped_in_timeline, "the shipped update was not applied")
    assert event["actor"] == "provider"  # the customer's view: staff see "warehouse"
    assert event["data"]["carrier"] == "SF Express" and event["data"]["tracking_number"] == "SF1"
    assert request("GET", f"{running.api}/orders/{order_id}", token=token)[1]["fulfilment_status"] == "shipped"
    eventually(
        lambda: f"[customer] shipped  Order {number} is on its way  (SF Express SF1; customer" in running.output(),
        "make run did not print the customer's shipped notification",
    )
    assert "Traceback" not in running.output()


def test_make_ship_checks_its_arguments_and_needs_a_stack(tmp_path):
    environ = stack_environ(tmp_path / "none")
    wrong = devstack(environ, "devstack.warehouse", "ship", "some-order", "teleported")
    assert wrong.returncode == 2 and "teleported" in wrong.stderr and "shipped" in wrong.stderr
    missing = devstack(environ, "devstack.warehouse", "ship")
    assert missing.returncode == 2 and "order id" in missing.stderr
    result = devstack(environ, "devstack.warehouse", "ship", "some-order")
    assert result.returncode == 1
    assert "not running" in result.stderr and "make run" in result.stderr


def test_notifications_are_printed_as_one_readable_line():
    from devstack.notices import describe

    staff = {
        "subject": "Payment received for order 20261126-000003",
        "attributes": {"event_type": "payment_received"},
        "message": {"event_type": "payment_received", "order_number": "20261126-000003", "data": {}},
    }
    assert describe("staff", staff) == "[staff] payment_received  Payment received for order 20261126-000003"
    customer = {
        "subject": "Order 20261126-000003 is on its way",
        "attributes": {"event_type": "shipped", "customer_id": "5f0c1a2b-1111-2222-3333-444455556666"},
        "message": {"event_type": "shipped", "data": {"carrier": "SF Express", "tracking_number": "SF1"}},
    }
    assert describe("customer", customer) == (
        "[customer] shipped  Order 20261126-000003 is on its way  (SF Express SF1; customer 5f0c1a2b)"
    )
    dead = {
        "subject": "A fulfilment update could not be applied",
        "attributes": {"event_type": "fulfilment_dead_letter"},
        "message": {"message_id": "m-1", "receive_count": 5, "reason": "NotFound('No such order.')"},
    }
    assert describe("staff", dead).endswith("(message m-1, 5 receives: NotFound('No such order.'))")


def test_a_refund_to_send_is_printed_with_what_to_pay_whom():
    from devstack.notices import describe

    to_send = {
        "subject": "Order 20261201-000001: pay a refund back to the customer",
        "attributes": {"event_type": "refund_to_send"},
        "message": {"event_type": "refund_to_send", "data": {"amount": 500, "currency": "CNY", "method": "bank_transfer",
                                                              "customer_name": "王小明",
                                                              "reference_code": "RF-20261201-000001-1"}},
    }  # fmt: skip
    assert describe("staff", to_send).endswith("(5.00 CNY by bank_transfer to 王小明, quote RF-20261201-000001-1)")


def test_approval_notifications_are_printed_with_the_role_that_decides():
    from devstack.notices import describe

    asked = {
        "subject": "Order 20261201-000004 needs approval",
        "attributes": {"event_type": "approval_required", "approval_role": "admin"},
        "message": {
            "event_type": "approval_required",
            "data": {"rule": "very_large_order", "step": 2, "role": "admin"},
        },
    }
    assert describe("staff", asked) == (
        "[staff] approval_required  Order 20261201-000004 needs approval  (admin decides step 2 of rule very_large_order)"
    )
    approved = {
        "subject": "Your order 20261201-000004 is approved",
        "attributes": {"event_type": "order_approved", "customer_id": "5f0c1a2b-1111"},
        "message": {"event_type": "order_approved", "data": {"reserved_until": "2026-12-01T10:30:00.000Z"}},
    }
    assert describe("customer", approved) == (
        "[customer] order_approved  Your order 20261201-000004 is approved  "
        "(pay by 2026-12-01T10:30:00.000Z; customer 5f0c1a2b)"
    )
