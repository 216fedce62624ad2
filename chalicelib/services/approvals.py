"""Approval use cases: the policy setting, reviewing a new order, the list of orders waiting, approve, reject.

Deciding a step is one version-conditional write of the order (``Changes.change``). When two
people decide the same step at once, one write wins; the other is re-applied to the order as
the winner left it, and refuses (``409 step_already_decided``, or ``invalid_transition`` once the
order is decided), because a decision names the step it was made for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.domain import approval as policy_rules
from chalicelib.domain.approval import Approval, Facts, Policy, Rule
from chalicelib.domain.audit import entry, order_change
from chalicelib.domain.errors import VersionMismatch
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import Order, iso, parse_iso
from chalicelib.services.changes import Changes
from chalicelib.services.ports import ApprovalPolicies, ApprovalQueue, Page, WriteConflict


@dataclass
class ApprovalService:
    changes: Changes
    policies: ApprovalPolicies
    queue: ApprovalQueue
    payment_ttl: timedelta
    approval_ttl: timedelta

    # --- the policy -------------------------------------------------------------------------------------------

    def policy(self) -> Policy:
        """The policy in effect (the per-container cache: no read most of the time)."""
        return self.policies.current()

    def replace_policy(self, principal: Principal, expected_version: int, rules: list[Rule]) -> Policy:
        """Write a new version of the policy, if ``expected_version`` is still current (else ``412``, nothing written)."""
        new, at = Policy(expected_version + 1, tuple(rules)), self.changes.now()
        audited = entry(principal, "settings.approval.replace", ("settings", "approval"), at=at,
                        key=f"v{new.version}", data={"version": {"from": expected_version, "to": new.version},
                                                     "rules": [{"name": r.name, "when": dict(r.when), "steps": list(r.steps)} for r in rules]},
                        )  # fmt: skip
        try:
            self.policies.replace(new, expected_version, principal.actor, at, audit=(audited,))
        except WriteConflict:
            current = self.policies.current(fresh=True)
            raise VersionMismatch(
                "The approval policy has changed since you read it; read it again.", current_version=current.version
            ) from None
        return new

    # --- placing an order -------------------------------------------------------------------------------------

    def reviewer(self, principal: Principal) -> Callable[[Order], Approval | None]:
        """What ``new_order`` calls with the priced order: its approval, or None (confirmed at once)."""
        policy = self.policies.current()

        def review(order: Order) -> Approval | None:
            first = (not self.queue.has_ordered(order.customer_id)) if policy.asks_first_order else None
            facts = Facts(
                total=order.total,
                quantity=sum(line.quantity for line in order.lines),
                channel=order.channel,
                first_order=first,
            )
            rule = policy.rule_for(facts)
            if rule is None:
                return None
            deadline = iso(parse_iso(order.created_at) + self.approval_ttl)
            return policy_rules.hold(
                rule, placed_by=principal.subject, at=order.created_at, deadline=deadline, for_version=order.version + 1
            )

        return review

    def rereview(self, order: Order, actor: str, at: str) -> bool:
        """After an edit: hold the order again if the policy now asks for more steps than it had.

        ``first_order`` rules do not apply to an edit (the order itself is the customer's order now)."""
        facts = Facts(total=order.total, quantity=sum(line.quantity for line in order.lines), channel=order.channel)
        deadline = iso(parse_iso(at) + self.approval_ttl)
        rule = self.policies.current().rule_for(facts)
        return policy_rules.rereview(order, rule, actor=actor, at=at, deadline=deadline)

    # --- deciding -----------------------------------------------------------------------------------------------

    def waiting(self, principal: Principal, limit: int, cursor: str | None) -> Page[Order]:
        """Orders waiting on a step the caller may decide (and has not placed or decided a step of), oldest first."""
        roles = sorted(policy_rules.DECIDES.get(principal.role, frozenset()))
        return self.queue.waiting(roles, principal.subject, limit, cursor)

    def approve(self, principal: Principal, order_id: str, note: str | None) -> Order:
        """Approve the current step; after the last one the order is confirmed and its payment time starts."""
        decision = _Decision(principal)

        def apply(order: Order, at: str) -> bool:
            step = decision.step_of(order)
            until = iso(parse_iso(at) + self.payment_ttl)
            return policy_rules.approve(order, step, principal.actor, at, note, until)

        order, _ = self.changes.change(order_id, apply, audit=order_change(principal, "order.approve"))
        return order

    def reject(self, principal: Principal, order_id: str, reason: str) -> Order:
        """Reject the order at its current step: cancelled, its stock released in the same write."""
        decision = _Decision(principal)

        def apply(order: Order, at: str) -> None:
            policy_rules.reject(order, decision.step_of(order), principal.actor, at, reason)

        order, _ = self.changes.change(
            order_id, apply, release_stock=lambda order: True, audit=order_change(principal, "order.reject")
        )
        return order


@dataclass
class _Decision:
    """One person's decision: the step it is for is the one current when it was first applied."""

    principal: Principal
    step: int | None = None

    def step_of(self, order: Order) -> int:
        current = policy_rules.check_decider(order, self.principal.role, self.principal.subject, self.step)
        self.step = current
        return current
