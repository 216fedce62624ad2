"""Errors the use cases raise; entrypoints map them to the HTTP contract."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the caller can act on. `code` is the contract's stable error code."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    """The caller's role may not do this (``403``)."""

    code = "forbidden"


class ValidationFailed(DomainError):
    """Input that is well-formed but not acceptable; `fields` maps field path to reason."""

    code = "validation_failed"

    def __init__(self, message: str, fields: dict[str, str], code: str | None = None) -> None:
        super().__init__(message, fields=fields)
        if code:
            self.code = code


class Conflict(DomainError):
    """The request is valid but the current state does not allow it."""

    code = "conflict"


class OutOfStock(Conflict):
    code = "out_of_stock"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class VersionMismatch(Conflict):
    """``If-Match`` names a version that is no longer the current one (``412``)."""

    code = "version_mismatch"


class RequestInProgress(Conflict):
    code = "request_in_progress"


class IdempotencyKeyReused(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request body.",
            fields={"Idempotency-Key": "already used with a different body"},
            code="idempotency_key_reused",
        )
