"""What ``make run`` prints once the stack is up: where things are, who to sign in as, what to paste."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

EXAMPLE_SKU = "TEE-CREW-WHT-M"
EXAMPLE_ADDRESS = {
    "name": "王小明",
    "phone": "+86 138 0000 0000",
    "line1": "人民路 1 号",
    "city": "上海",
    "country": "CN",
}


def banner(env: dict[str, Any], env_path: Path, *, default_dir: bool) -> str:
    """The friendly block: URLs, demo accounts and copy-pasteable commands."""
    api = env["api_url"]
    accounts = env["demo_accounts"]
    customer = next(a["email"] for a in accounts if a["role"] == "customer")
    passwords = {a["password"] for a in accounts}
    password = passwords.pop() if len(passwords) == 1 else "see env.json"
    make = "make -s" if default_dir else f"DEVSTACK_DIR={shlex.quote(str(env_path.parent))} make -s"
    body = json.dumps(
        {"items": [{"sku": EXAMPLE_SKU, "quantity": 1}], "shipping_address": EXAMPLE_ADDRESS}, ensure_ascii=False
    )
    width = max(len(a["email"]) for a in accounts) + 2
    stripe_base = env.get("stripe_api_base")
    stripe = (
        f"{stripe_base}   (local stand-in; signed webhooks to {api}/webhooks/stripe)"
        if stripe_base
        else f"Stripe test mode (STRIPE_API_KEY); stripe listen --forward-to {api}/webhooks/stripe"
    )
    plain_make = make.replace("make -s", "make")  # `make pay` is quiet already
    pay = (
        f"Pay an order: {plain_make} pay ORDER=<order_id>   (the customer pays; FAIL=1 declines the card)"
        if stripe_base
        else "Pay an order: stripe payment_intents confirm <provider_reference> --payment-method pm_card_visa"
    )
    lines = [
        "",
        "The local stack is running. Ctrl-C stops it.",
        "",
        f"  API            {api}   (/health, /products, /openapi.json)",
        f"  AWS emulator   {env['aws_endpoint_url']}   (region {env['region']}, dummy keys)",
        f"  Stripe         {stripe}",
        f"  Schedules      {_schedules(env.get('schedule_seconds'))}",
        f"  Events         {_events(env.get('event_seconds'))}",
        f"  For scripts    {env_path}",
        "",
        f"Demo accounts (password {password}):",
        *(f"  {a['email']:<{width}} {a['role']}" for a in accounts),
        "",
        "Try it from another terminal:",
        f"  curl -s '{api}/products?limit=5'",
        f"  curl -s '{api}/products?category=apparel&sort=-sales'",
        f"  TOKEN=$({make} token EMAIL={customer})",
        f"  curl -s -X POST {api}/orders \\",
        """    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\""",
        """    -H "Idempotency-Key: $(python3 -c 'import uuid; print(uuid.uuid4())')" \\""",
        f"    -d '{body}'",
        f'  curl -s {api}/orders -H "Authorization: Bearer $TOKEN"',
        "",
        "Payments: create one for an order, then play the customer paying it:",
        f"  curl -s -X POST {api}/orders/<order_id>/payments \\",
        """    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"method": "card"}'""",
        pay,
        f'  curl -s {api}/orders/<order_id> -H "Authorization: Bearer $TOKEN"',
        "",
        "Fulfilment: paying an order sends it to the warehouse's queue; play the warehouse:",
        *_aligned(
            (f"{plain_make} requests", "(take and print the fulfilment requests waiting)"),
            (f"{plain_make} ship ORDER=<order_id> [EVENT=shipped]", "(post a report to fulfilment-updates)"),
        ),
        "Staff and customer notifications are printed below as they are published.",
        "",
    ]
    return "\n".join(lines)


def _aligned(*rows: tuple[str, str]) -> list[str]:
    width = max(len(command) for command, _ in rows) + 3
    return [f"  {command:<{width}}{note}" for command, note in rows]


def _events(seconds: float | None) -> str:
    if not seconds:
        return "off (DEVSTACK_EVENT_SECONDS=0): streams and fulfilment-updates not consumed"
    return (
        f"orders and products stream handlers, fulfilment-updates consumer every {seconds:g} s (DEVSTACK_EVENT_SECONDS)"
    )


def _schedules(seconds: float | None) -> str:
    if not seconds:
        return "off (DEVSTACK_SCHEDULE_SECONDS=0)"
    return f"payment reminders, expiry and refund retries every {seconds:g} s (DEVSTACK_SCHEDULE_SECONDS)"
