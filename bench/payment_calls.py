"""DynamoDB calls per payment operation and per Stripe webhook event, counted at botocore.

Stripe is wired as in the tests (``harness.stripe_world``): the app's real ``StripeGateway``
and SDK over an in-memory transport to ``devstack``'s stand-in. Events are the ones the
stand-in produces (a customer paying, a card declined, a refund) and reach the app as
Stripe sends them: the exact payload, signed, POSTed to /webhooks/stripe through the
verifying gateway. The whole sequence runs once as a warm-up, then again to be counted.

Stand-in ``charge.*`` events carry no order id (Stripe does not copy a PaymentIntent's
metadata to its charge), so the webhook first finds the order by the charge: one GetItem more.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.dynamodb_calls import Target, describe
from bench.harness import Api, BenchError, Check, Section, Stack, StripeWorld, User, new_key, order_body, stripe_world

SKU = "PAY-1"
REFUND_AMOUNT = 100  # minor units: a part of what was paid


@dataclass(frozen=True)
class Goal:
    target: Target | None
    gate: bool  # False: reported against its target, but a miss does not fail the run


SUCCEEDED = "webhook payment_intent.succeeded"
FAILED = "webhook payment_intent.payment_failed"
DUPLICATE = "webhook duplicate delivery (succeeded again)"
CHARGE_REFUNDED = "webhook charge.refunded"
REFUND_CREATED = "webhook refund.created"
START = "start a card payment (POST /orders/{id}/payments)"
REFUND = "staff refund (POST /staff/orders/{id}/refunds)"

GOALS: dict[str, Goal] = {  # in the order they are printed
    SUCCEEDED: Goal(Target(2, exact=False), gate=True),
    FAILED: Goal(Target(2, exact=False), gate=True),
    DUPLICATE: Goal(Target(1), gate=True),
    CHARGE_REFUNDED: Goal(Target(3, exact=False), gate=False),
    REFUND_CREATED: Goal(Target(3, exact=False), gate=False),
    START: Goal(None, gate=False),
    REFUND: Goal(None, gate=False),
}


@dataclass
class Measured:
    calls: Counter[str]
    stripe_requests: list[tuple[str, str]]
    result: str | None = None  # the webhook's answer: applied, duplicate, ...


class PaymentOperations:
    """Runs the payment sequence once, recording each step's DynamoDB calls and Stripe API requests."""

    def __init__(self, stack: Stack, api: Api, world: StripeWorld, customer: User, staff: User) -> None:
        self.stack, self.api, self.world, self.customer, self.staff = stack, api, world, customer, staff
        self.measured: dict[str, Measured] = {}

    def request(self, name: str | None, method: str, path: str, user: User | None, expect: int, **kwargs: Any) -> Any:
        """One API call; counted under ``name`` (None: setup, not counted)."""
        sent = len(self.world.requests)
        with self.stack.calls.capture() as calls:
            status, body = self.api.call(method, path, user, **kwargs)
        if status != expect:
            raise BenchError(f"{name or 'setup'}: {method} {path} answered {status}, not {expect}: {body}")
        if name is not None:
            self.measured[name] = Measured(calls, self.world.requests[sent:])
        return body

    def deliver(self, name: str, event: dict[str, Any], expect: tuple[str, ...]) -> None:
        """POST ``event`` to the webhook as Stripe does (exact payload, signed)."""
        raw, headers = self.world.signed(event)
        body = self.request(name, "POST", "/webhooks/stripe", None, 200, raw=raw, headers=headers)
        result = body.get("result")
        if result not in expect:
            raise BenchError(f"{name}: the webhook answered {result!r}, expected {' or '.join(expect)}")
        self.measured[name].result = result

    def place(self) -> str:
        body = order_body((SKU, 1))
        order = self.request(
            None, "POST", "/orders", self.customer, 201, body=body, headers={"idempotency-key": new_key()}
        )
        return order["order_id"]

    def pay(self, name: str | None, order_id: str) -> str:
        """Start a card payment; the PaymentIntent's id."""
        body = {"method": "card"}
        payment = self.request(name, "POST", f"/orders/{order_id}/payments", self.customer, 201, body=body)
        if not payment.get("provider_reference") or not payment.get("client_secret"):
            raise BenchError(f"{name or 'setup'}: no PaymentIntent in {payment}")
        return payment["provider_reference"]

    def run(self) -> dict[str, Measured]:
        standin = self.world.standin
        order_id = self.place()
        intent = self.pay(START, order_id)
        succeeded = standin.succeed(intent)
        self.deliver(SUCCEEDED, succeeded, ("applied",))
        self.deliver(DUPLICATE, succeeded, ("duplicate",))

        self.world.events.clear()
        self.request(
            REFUND, "POST", f"/staff/orders/{order_id}/refunds", self.staff, 201, body={"amount": REFUND_AMOUNT},
            headers={"idempotency-key": new_key()},
        )  # fmt: skip
        sent = {event["type"]: event for event in self.world.events}
        if set(sent) != {"refund.created", "charge.refunded"}:
            raise BenchError(f"{REFUND}: Stripe would have sent {sorted(sent)}, not refund.created and charge.refunded")
        self.deliver(REFUND_CREATED, sent["refund.created"], ("applied",))
        self.deliver(CHARGE_REFUNDED, sent["charge.refunded"], ("applied",))

        declined = self.pay(None, self.place())
        self.deliver(FAILED, standin.fail(declined), ("applied",))
        return self.measured


def row_result(goal: Goal, total: int) -> tuple[bool | None, str]:
    """(passed, what the result column shows): gates PASS or FAIL; the rest are info."""
    if goal.target is None:
        return None, "info"
    met = goal.target.met(total)
    if goal.gate:
        return met, "PASS" if met else "FAIL"
    return None, "info" if met else "info (over its target)"


def run(stack: Stack) -> Section:
    """Warm up, then count each payment step's DynamoDB calls and check them against GOALS."""
    stack.seed(SKU, stock=1_000_000, price=4_900, name="Payment bench product", category="payments")
    api = Api(stack)
    with stripe_world() as world:
        operations = PaymentOperations(stack, api, world, stack.new_user("customer"), stack.new_user("staff"))
        with stack.calls.capture() as warm_up:
            operations.run()
        measured = dict(operations.run())
    if set(measured) != set(GOALS):
        raise BenchError(f"payment steps measured {sorted(measured)}, expected {sorted(GOALS)}")
    measured_calls = sum((m.calls for m in measured.values()), Counter())
    scans = measured_calls["Scan"] + measured_calls["ParallelScan"]

    section = Section(
        "payment_calls",
        "3. DynamoDB calls per payment operation and Stripe webhook event (counted at botocore, after a warm-up pass)",
    )
    section.lines.append(
        f"  {'operation':<52} {'calls':>5}  {'target':<6}  {'result':<6}  {'Stripe':>6}  by API operation"
    )
    rows: dict[str, dict[str, Any]] = {}
    for name, goal in GOALS.items():
        step = measured[name]
        total = sum(step.calls.values())
        passed, shown = row_result(goal, total)
        answer = f"  (webhook: {step.result})" if step.result else ""
        section.lines.append(
            f"  {name:<52} {total:>5}  {goal.target or '-'!s:<6}  {shown:<6}  {len(step.stripe_requests):>6}"
            f"  {describe(step.calls)}{answer}"
        )
        if goal.gate and goal.target is not None:
            check = Check(f"DynamoDB calls: {name}", f"{total} calls", str(goal.target), bool(passed))
            section.checks.append(check)
        rows[name] = {
            "total": total,
            "by_api_operation": dict(step.calls),
            "target": None if goal.target is None else str(goal.target),
            "gate": goal.gate,
            "within_target": None if goal.target is None else goal.target.met(total),
            "passed": passed,
            "stripe_requests": [f"{method} {path}" for method, path in step.stripe_requests],
            "webhook_result": step.result,
        }
    section.lines += [
        "  (Stripe: the SDK's requests to the stand-in during the operation; events are signed and"
        " POSTed as Stripe sends them)",
        f"  warm-up pass (same steps, first time, with their setup): {sum(warm_up.values())} calls: {describe(warm_up)}",
        f"  Scans in the measured payment steps: {scans}  {'PASS' if scans == 0 else 'FAIL'} (target 0)",
    ]
    section.checks.append(Check("Scans in the measured payment steps", str(scans), "0", scans == 0))
    section.data = {
        "operations": rows,
        "warm_up": {"total": sum(warm_up.values()), "by_api_operation": dict(warm_up)},
        "scans": scans,
    }
    return section
