"""The approval policy and an order's approval: which orders wait for people, and who may decide each step.

A policy is a list of rules. A rule *matches* an order when every condition of its
``when`` holds (``CONDITIONS`` below: one line each); an order needs the steps of the
matching rule with the most steps (the first such rule on a tie), and an order that
matches no rule is confirmed at once. The steps are decided in order, each by a role of
``DECIDES``; one person never decides two steps of one order, nor an order they placed.

``tiers`` matches no order yet: customer tiers do not exist (a later issue), so an order's
tier is unknown (``None``) and no tier list contains it.
``first_order`` is whether the customer had no order before this one; it costs one Query
(``customer-created`` index, limit 1) per placement, made only while a rule uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import lifecycle
from chalicelib.domain.errors import Conflict, Forbidden, InvalidTransition

ROLES = ("staff", "admin")
SETTING = "approval"  # the setting's name (its item: SETTING#approval)
DEFAULT_VERSION = 1  # the version of a policy nobody has written yet
REMINDER_KIND = "approval_reminder"  # the payment-due index's kind for approvers to remind

# the caller's role -> the step roles it may decide (admin can do all that staff can)
DECIDES: Mapping[str, frozenset[str]] = {
    "staff": frozenset({"staff"}),
    "admin": frozenset({"staff", "admin"}),
}


@dataclass(frozen=True)
class Facts:
    """What the conditions look at. ``first_order`` is None when no rule asked (nothing was read)."""

    total: int
    quantity: int
    channel: str
    first_order: bool | None = None
    tier: str | None = None  # no tiers yet


#  condition            holds when (value from the rule, facts of the order)
CONDITIONS: Mapping[str, Callable[[Any, Facts], bool]] = {
    "total_at_least":    lambda value, order: order.total >= value,
    "quantity_at_least": lambda value, order: order.quantity >= value,
    "first_order":       lambda value, order: order.first_order is value,
    "channels":          lambda value, order: order.channel in value,
    "tiers":             lambda value, order: order.tier is not None and order.tier in value,
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    name: str
    when: Mapping[str, Any]  # condition name -> value; all must hold
    steps: tuple[str, ...]

    def matches(self, facts: Facts) -> bool:
        return all(CONDITIONS[name](value, facts) for name, value in self.when.items())


@dataclass(frozen=True)
class Policy:
    version: int
    rules: tuple[Rule, ...]

    @property
    def asks_first_order(self) -> bool:
        """Whether reviewing an order needs to know if it is the customer's first (one Query)."""
        return any("first_order" in rule.when for rule in self.rules)

    def rule_for(self, facts: Facts) -> Rule | None:
        """The matching rule with the most steps (the first of those on a tie), or None: confirm at once."""
        best = None
        for rule in self.rules:
            if rule.matches(facts) and (best is None or len(rule.steps) > len(best.steps)):
                best = rule
        return best


DEFAULT_POLICY = Policy(
    DEFAULT_VERSION,
    (
        Rule("large_order", {"total_at_least": 500000}, ("staff",)),
        Rule("very_large_order", {"total_at_least": 2000000}, ("staff", "admin")),
    ),
)


@dataclass
class Step:
    role: str
    status: str = "pending"  # pending | approved | rejected
    by: str | None = None  # the decider's actor (staff:<sub>, admin:<sub>)
    at: str | None = None
    note: str | None = None


@dataclass
class Approval:
    """An order's approval, kept in its header. ``placed_by`` and ``reminded`` are internal."""

    status: str  # pending | approved | rejected
    rule: str
    steps: list[Step]
    for_version: int
    placed_by: str  # the subject of who placed the order: they never decide it
    deadline: str  # undecided by then, the order expires
    waiting_since: str  # when the current step started waiting (the approvals list's order)
    reminded: bool = False
    decided_at: str | None = None  # when the last step was approved or a step rejected

    @property
    def current(self) -> int | None:
        """The index of the step waiting for a decision, or None."""
        if self.status != "pending":
            return None
        return next((n for n, step in enumerate(self.steps) if step.status == "pending"), None)

    @property
    def waiting_role(self) -> str | None:
        current = self.current
        return None if current is None else self.steps[current].role

    @property
    def excluded(self) -> set[str]:
        """Subjects who may not decide the next step: who placed the order and who decided a step."""
        return {self.placed_by} | {_subject(step.by) for step in self.steps if step.by}


class NotAllowed(Forbidden):
    """The caller's role may not decide this step (``403``)."""


class SameApprover(Conflict):
    code = "same_approver"


class AlreadyDecided(Conflict):
    """The step this decision was for was decided by someone else meanwhile."""

    code = "step_already_decided"


def hold(rule: Rule, *, placed_by: str, at: str, deadline: str, for_version: int) -> Approval:
    """A new approval of an order, waiting for the rule's first step."""
    return Approval(
        status="pending",
        rule=rule.name,
        steps=[Step(role) for role in rule.steps],
        for_version=for_version,
        placed_by=placed_by,
        deadline=deadline,
        waiting_since=at,
    )


def rereview(order, rule: Rule | None, *, actor: str, at: str, deadline: str) -> bool:
    """After an edit: when the policy now asks for more steps than the order's approval has (none, if it needed
    none), the order waits again, for the new rule's steps from the first (``approval_reopened``). Returns
    whether it does. An unpaid order's time to be decided runs from now; a paid one keeps no expiry."""
    needed = 0 if order.approval is None else len(order.approval.steps)
    if rule is None or len(rule.steps) <= needed:
        return False
    placer = order.approval.placed_by if order.approval is not None else _placer(order)
    order.approval = hold(rule, placed_by=placer, at=at, deadline=deadline, for_version=order.version)  # the edit's
    if order.payment_status in lifecycle.UNPAID:
        order.reserved_until = deadline
    data = {"rule": rule.name, "steps": list(rule.steps)}
    if order.status == "pending_approval":
        order.record("approval_reopened", actor, at, data)
    else:
        order.transition("reapprove", actor, at, "approval_reopened", data)
    ask(order, actor, at)
    return True


def _placer(order) -> str:
    placed = next((event for event in order.timeline if event.type == "order_placed"), None)
    return _subject(placed.actor) if placed is not None else ""


def ask(order, actor: str, at: str) -> None:
    """Record that the order's current step waits (``approval_required``: staff are told, with the role)."""
    approval: Approval = order.approval
    current = approval.current
    assert current is not None
    order.record(
        "approval_required",
        actor,
        at,
        {"rule": approval.rule, "step": current + 1, "role": approval.steps[current].role},
    )


def check_decider(order, role: str, subject: str, step: int | None) -> int:
    """The index of the step the caller decides now; ``step`` is the one they set out to decide (None: the current).

    Refusals: not waiting for approval (``409 invalid_transition``), decided meanwhile (``409
    step_already_decided``), the caller's role may not decide it (``403``), the caller placed the
    order or decided a step of it (``409 same_approver``).
    """
    approval: Approval | None = order.approval
    lifecycle.apply(order.states, "approve")  # pending_approval, or invalid_transition
    current = None if approval is None else approval.current
    if approval is None or current is None:
        raise InvalidTransition("This order is not waiting for approval.", status=order.status)
    if step is not None and current != step:
        raise AlreadyDecided("This approval step was just decided by someone else.", step=step + 1)
    needed = approval.steps[current].role
    if needed not in DECIDES.get(role, frozenset()):
        raise NotAllowed(f"This step needs the {needed} role.", step=current + 1, role=needed)
    if subject in approval.excluded:
        raise SameApprover(
            "You placed this order or decided one of its steps: another person must decide this one.",
            step=current + 1,
        )
    return current


def approve(order, step: int, actor: str, at: str, note: str | None, payment_until: str) -> bool:
    """Approve step ``step`` (checked by ``check_decider``). Returns True when it was the last one.

    The last step confirms the order and starts its payment window (``payment_until``);
    otherwise the next step's role is asked (``approval_required``).
    """
    approval: Approval = order.approval
    decided = approval.steps[step]
    decided.status, decided.by, decided.at, decided.note = "approved", actor, at, note
    data = _without_none({"rule": approval.rule, "step": step + 1, "role": decided.role, "note": note})
    if approval.current is not None:
        approval.waiting_since = at
        order.record("approval_granted", actor, at, data)
        ask(order, actor, at)
        return False
    approval.status, approval.decided_at = "approved", at
    order.reserved_until = payment_until
    order.transition("approve", actor, at, "order_approved", {**data, "reserved_until": payment_until})
    return True


def reject(order, step: int, actor: str, at: str, reason: str) -> None:
    """Reject the order at step ``step``: it is cancelled (its stock is released with the write)."""
    approval: Approval = order.approval
    decided = approval.steps[step]
    decided.status, decided.by, decided.at, decided.note = "rejected", actor, at, reason
    approval.status, approval.decided_at = "rejected", at
    order.transition(
        "reject", actor, at, "order_rejected", {"rule": approval.rule, "step": step + 1, "role": decided.role,
                                               "reason": reason},
    )  # fmt: skip


def reminder_due(order) -> str | None:
    """When approvers are reminded of this waiting order (half its approval time), or None."""
    approval: Approval | None = getattr(order, "approval", None)
    if order.status != "pending_approval" or approval is None or approval.reminded or approval.current is None:
        return None
    from chalicelib.domain.orders import iso, parse_iso

    begin = parse_iso(order.created_at)
    return iso(begin + (parse_iso(approval.deadline) - begin) / 2)


def remind(order, actor: str, at: str) -> None:
    """The one ``approval_reminder`` of a waiting order (staff are told, with the waiting role)."""
    approval: Approval = order.approval
    approval.reminded = True
    current = approval.current
    assert current is not None
    order.record(
        "approval_reminder",
        actor,
        at,
        {"rule": approval.rule, "step": current + 1, "role": approval.steps[current].role,
         "deadline": approval.deadline},
    )  # fmt: skip


def _subject(actor: str) -> str:
    return actor.split(":", 1)[-1]


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
