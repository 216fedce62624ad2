"""Who is calling: the verified token's subject and Cognito groups."""

from __future__ import annotations

from dataclasses import dataclass, field

STAFF_GROUPS = frozenset({"staff", "admin"})


@dataclass(frozen=True)
class Origin:
    """Where a request came from (for the audit log): API Gateway's source IP and the User-Agent header."""

    source_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Principal:
    subject: str
    groups: frozenset[str] = frozenset()
    email: str | None = None
    origin: Origin | None = field(default=None, compare=False)  # set by the HTTP routing; None elsewhere

    @property
    def is_staff(self) -> bool:
        """Admin can do all that staff can."""
        return bool(self.groups & STAFF_GROUPS)

    @property
    def role(self) -> str:
        if "admin" in self.groups:
            return "admin"
        return "staff" if "staff" in self.groups else "customer"

    @property
    def actor(self) -> str:
        """How this principal appears in an order's timeline."""
        return f"{self.role}:{self.subject}"
