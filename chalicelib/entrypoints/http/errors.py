"""The contract's one error shape, and how failures map onto it."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.domain import errors as domain

JSON = {"Content-Type": "application/json"}


class ApiError(Exception):
    """An HTTP-level refusal (malformed request, no token, wrong role, ...)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status, headers={**JSON, **(headers or {})})


def from_domain(error: domain.DomainError) -> Response:
    status = 409
    headers = None
    if isinstance(error, domain.NotFound):
        status = 404
    elif isinstance(error, domain.Forbidden):
        status = 403
    elif isinstance(error, domain.VersionMismatch):
        status = 412
    elif isinstance(error, domain.ValidationFailed):
        status = 422
    elif error.code == "throttled":
        status, headers = 429, {"Retry-After": "1"}
    return error_response(status, error.code, error.message, error.details, headers)


def from_api(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.details, error.headers)


# Chalice answers some requests itself (unknown method, wrong media type) in its own shape.
_CHALICE_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "BadRequestError": "bad_request",
    "NotFoundError": "not_found",
    "InternalServerError": "internal_error",
}


def reshape_chalice_error(response: Response) -> Response:
    """Rewrite a Chalice-native error body into the contract's shape."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = _CHALICE_CODES.get(body["Code"], "error")
        message = body.get("Message") or "Request failed."
        if code == "internal_error":
            message = "Something went wrong on our side; it has been logged."
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
        return error_response(response.status_code, code, message, headers=headers)
    return response
