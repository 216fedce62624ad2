"""``python -m devstack.pay ORDER_ID [--fail]`` (``make pay ORDER=...``): play the customer paying an order.

Against the running local stack's Stripe stand-in: it completes the order's newest
unpaid PaymentIntent (the one ``POST /orders/{id}/payments`` created), and the
stand-in posts the signed ``payment_intent.succeeded`` (or, with ``--fail``,
``payment_intent.payment_failed``) to the API's webhook, as Stripe would.
"""

from __future__ import annotations

import json
import shlex
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from devstack import state

NOT_RUNNING = "the local stack is not running ({why}); start it with `make run`."
USAGE = "usage: python -m devstack.pay ORDER_ID [--fail]  (or: make pay ORDER=<order_id> [FAIL=1])"
DONE = ("succeeded", "canceled")
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof"}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


class Failed(Exception):
    """Why nothing was paid, in a sentence for the user."""


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    try:
        with _OPENER.open(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except OSError as error:
        raise Failed(NOT_RUNNING.format(why=f"the Stripe stand-in at {base} does not answer: {error}")) from None


def _money(amount: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount // 100}.{amount % 100:02d} {currency.upper()}"


def _no_payment(api: str, order_id: str) -> str:
    return (
        f"order {order_id} has no Stripe payment to pay yet. The customer creates one first:\n"
        f"  TOKEN=$(make -s token)\n"
        f"  curl -s -X POST {api}/orders/{urllib.parse.quote(order_id)}/payments "
        f"""-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{{"method": "card"}}'"""
    )


def _order_exists(env: dict[str, Any], order_id: str) -> bool:
    """Ask the API, as the demo staff account, whether the order exists (any customer's)."""
    from devstack.token import SignInFailed, demo_token

    staff = next((a for a in env["demo_accounts"] if a["role"] == "staff"), None)
    if staff is None:
        return True  # cannot tell: say what a customer would do next
    try:
        token = demo_token(env, staff)
    except SignInFailed as error:
        raise Failed(str(error)) from None
    request = urllib.request.Request(
        f"{env['api_url']}/orders/{urllib.parse.quote(order_id, safe='')}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with _OPENER.open(request, timeout=30):
            return True
    except urllib.error.HTTPError as error:
        return error.code != 404
    except OSError as error:
        raise Failed(NOT_RUNNING.format(why=f"the API at {env['api_url']} does not answer: {error}")) from None


def pay(env: dict[str, Any], order_id: str, *, fail: bool = False) -> list[str]:
    """Complete (or decline) the order's newest open PaymentIntent; the lines to print. Raises Failed."""
    base, api = env.get("stripe_api_base"), env["api_url"]
    if "stripe_api_base" not in env:
        raise Failed("the running stack predates the Stripe stand-in; restart it (Ctrl-C, then `make run`).")
    if not base:
        raise Failed(
            "this stack uses Stripe's test mode (STRIPE_API_KEY is set), not the stand-in: pay with a test card "
            "in the client, or `stripe payment_intents confirm <provider_reference> --payment-method pm_card_visa`."
        )
    status, listed = _call(base, "GET", f"/_devstack/payment_intents?{urllib.parse.urlencode({'order_id': order_id})}")
    if status != 200:
        raise Failed(f"the Stripe stand-in answered {status}: {listed}")
    intents = listed["data"]  # newest first
    open_ = [pi for pi in intents if pi["status"] not in DONE]
    if not open_:
        paid = next((pi for pi in intents if pi["status"] == "succeeded"), None)
        if paid is not None:
            return [f"Order {order_id} is already paid ({paid['id']}); nothing to do."]
        if not intents and not _order_exists(env, order_id):
            raise Failed(f"there is no order {order_id} on this stack; `curl -s {api}/orders -H \"Authorization: "
                         f"Bearer $(make -s token)\"` lists yours.")  # fmt: skip
        raise Failed(_no_payment(api, order_id))
    pi = open_[0]
    action = "fail" if fail else "succeed"
    status, result = _call(base, "POST", f"/_devstack/payment_intents/{urllib.parse.quote(pi['id'])}/{action}")
    if status != 200:
        raise Failed(f"the Stripe stand-in could not {action} {pi['id']}: {result}")
    event, hook, answer = result["event"], result["webhook_status"], result["webhook_body"]
    verb = "declined" if fail else "paid"
    lines = [
        f"{pi['id']} ({_money(pi['amount'], pi['currency'])}, {', '.join(pi['payment_method_types'])}) {verb}.",
        f"Stripe sent {event['type']} {event['id']} to {api}/webhooks/stripe: "
        + (f"HTTP {hook}" if hook is not None else f"no answer ({answer})"),
    ]
    if hook is None or not 200 <= hook < 300:
        raise Failed("\n".join([*lines, f"The webhook did not accept it: {json.dumps(answer, ensure_ascii=False)}"]))
    quoted = urllib.parse.quote(order_id)
    lines.append(f'See the order: curl -s {api}/orders/{quoted} -H "Authorization: Bearer $TOKEN"')
    return lines


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--fail"]
    if len(args) != 1 or args[0] in ("-h", "--help") or args[0].startswith("-"):
        print(f"make pay: {USAGE}", file=sys.stderr)
        return 2
    directory = state.state_dir()
    env = state.read_env(directory)
    try:
        if env is None:
            raise Failed(NOT_RUNNING.format(why=f"no {shlex.quote(str(directory / state.ENV_JSON))}"))
        lines = pay(env, args[0], fail="--fail" in argv)
    except Failed as error:
        print(f"make pay: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
