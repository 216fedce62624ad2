"""Play the warehouse against the running local stack's queues.

``python -m devstack.warehouse requests`` (``make requests``) takes the fulfilment
requests waiting in ``fulfilment-requests`` (sent when an order is paid) and prints
each as one JSON line, as the warehouse's consumer would read and delete them.

``python -m devstack.warehouse ship ORDER_ID [EVENT] [--carrier C] [--tracking T]``
(``make ship ORDER=... [EVENT=shipped]``) posts a fulfilment update to the
``fulfilment-updates`` queue, as the warehouse or carrier would; ``make run``'s
consumer applies it. EVENT is picked, packed, shipped (the default), delivered or
returned; a shipment gets a carrier and a tracking number unless given.
"""

from __future__ import annotations

import json
import secrets
import shlex
import sys
import urllib.parse
import uuid
from datetime import UTC, datetime
from typing import Any

from devstack import state
from devstack.awsenv import use_emulator

NOT_RUNNING = "the local stack is not running ({why}); start it with `make run`."
EVENTS = ("picked", "packed", "shipped", "delivered", "returned")
DEFAULT_CARRIER = "SF Express"
USAGE = {
    "ship": "usage: python -m devstack.warehouse ship ORDER_ID [EVENT] [--carrier NAME] [--tracking NUMBER]\n"
    f"  (or: make ship ORDER=<order_id> [EVENT=shipped] [CARRIER=...] [TRACKING=...]); EVENT is one of "
    f"{', '.join(EVENTS)}",
    "requests": "usage: python -m devstack.warehouse requests  (or: make requests)",
}


class Failed(Exception):
    """What went wrong, in a sentence for the user."""


def update(order_id: str, event: str, carrier: str | None = None, tracking: str | None = None) -> dict[str, Any]:
    """The fulfilment-updates message of the contract (API.md, Fulfilment)."""
    if event == "shipped":
        carrier = carrier or DEFAULT_CARRIER
        tracking = tracking or f"SF{secrets.randbelow(10**12):012d}"
    body: dict[str, Any] = {"update_id": f"wh-{uuid.uuid4().hex[:16]}", "order_id": order_id, "event": event}
    if carrier:
        body["carrier"] = carrier
    if tracking:
        body["tracking_number"] = tracking
    body["occurred_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def _sqs(env: dict[str, Any]) -> Any:
    use_emulator(env["aws_endpoint_url"], env["region"])
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=15, retries={"mode": "standard", "max_attempts": 1})
    return boto3.client("sqs", endpoint_url=env["aws_endpoint_url"], region_name=env["region"], config=config)


def _queue(env: dict[str, Any], name: str) -> str:
    url = (env.get("queues") or {}).get(name)
    if not url:
        raise Failed("the running stack has no fulfilment queues; restart it (Ctrl-C, then `make run`).")
    return url


def ship(env: dict[str, Any], order_id: str, event: str, carrier: str | None, tracking: str | None) -> list[str]:
    body = update(order_id, event, carrier, tracking)
    text = json.dumps(body, ensure_ascii=False)
    sent = _call(env, lambda sqs: sqs.send_message(QueueUrl=_queue(env, "fulfilment-updates"), MessageBody=text))
    events = env.get("event_seconds")
    applied = (
        "`make run` applies it within a few seconds and prints the notifications it causes."
        if events
        else "This stack does not pump its queues (DEVSTACK_EVENT_SECONDS=0): nothing will apply it."
    )
    quoted = urllib.parse.quote(order_id, safe="")
    return [
        f"Sent to fulfilment-updates (message {sent['MessageId']}): {text}",
        applied,
        f'See the order: curl -s {env["api_url"]}/orders/{quoted} -H "Authorization: Bearer $TOKEN"',
    ]


def requests(env: dict[str, Any]) -> list[str]:
    """Receive and delete every waiting fulfilment request; one JSON line each."""
    url = _queue(env, "fulfilment-requests")

    def take(sqs: Any) -> list[str]:
        taken: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return taken
            for message in messages:
                try:
                    taken.append(json.dumps(json.loads(message["Body"]), ensure_ascii=False))
                except ValueError:
                    taken.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return _call(env, take)


def _call(env: dict[str, Any], action: Any) -> Any:
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        return action(_sqs(env))
    except EndpointConnectionError:
        raise Failed(NOT_RUNNING.format(why=f"nothing answers at {env['aws_endpoint_url']}")) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        if "NonExistentQueue" in str(details.get("Code")):  # a stack restarted elsewhere, or a stale env.json
            raise Failed(NOT_RUNNING.format(why="its queue is gone")) from None
        raise Failed(f"the emulator refused: {details.get('Code')}: {details.get('Message')}") from None


def _parse_ship(args: list[str]) -> tuple[str, str, str | None, str | None]:
    options: dict[str, str | None] = {"--carrier": None, "--tracking": None}
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, _, value = arg.partition("=")
        if name in options:
            if not value:
                if not rest:
                    raise ValueError(f"{name} needs a value")
                value = rest.pop(0)
            options[name] = value.strip() or None
        elif arg.startswith("-"):
            raise ValueError(f"unknown option {arg}")
        else:
            positional.append(arg)
    if not 1 <= len(positional) <= 2 or not positional[0].strip():
        raise ValueError("give an order id")
    event = positional[1].strip().lower() if len(positional) == 2 and positional[1].strip() else "shipped"
    if event not in EVENTS:
        raise ValueError(f"EVENT {event!r} is not one of {', '.join(EVENTS)}")
    return positional[0].strip(), event, options["--carrier"], options["--tracking"]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command not in USAGE or any(a in ("-h", "--help") for a in argv):
        print("\n".join(USAGE.values()), file=sys.stderr)
        return 2
    label = "make ship" if command == "ship" else "make requests"
    try:
        parsed = _parse_ship(argv[1:]) if command == "ship" else None
        if command == "requests" and len(argv) > 1:
            raise ValueError("requests takes no arguments")
    except ValueError as error:
        print(f"{label}: {error}.\n{USAGE[command]}", file=sys.stderr)
        return 2
    directory = state.state_dir()
    env = state.read_env(directory)
    try:
        if env is None:
            raise Failed(NOT_RUNNING.format(why=f"no {shlex.quote(str(directory / state.ENV_JSON))}"))
        if parsed is not None:
            lines = ship(env, *parsed)
        else:
            lines = requests(env)
            if not lines:
                print("No fulfilment requests waiting (one is sent when an order is paid).", file=sys.stderr)
    except Failed as error:
        print(f"{label}: {error}", file=sys.stderr)
        return 1
    if lines:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
