"""Declaring an endpoint: its route, who may call it, what it takes and returns.

``endpoint`` registers the Chalice route *and* records its description, from which
``/openapi.json`` is built, so a route cannot exist without being described. The
wrapper parses and checks input, maps every failure to the contract's error shape
and never lets an exception become a bare 500.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, CORSConfig, Response

from chalicelib.config import settings
from chalicelib.domain.errors import DomainError
from chalicelib.domain.identity import Principal
from chalicelib.entrypoints.http.auth import cognito, principal_from
from chalicelib.entrypoints.http.errors import JSON, ApiError, error_response, from_api, from_domain
from chalicelib.services.ports import InvalidCursor

log = logging.getLogger("orders.http")

PUBLIC = "public"  # anyone, no token
SIGNED_IN = "signed_in"  # any verified token; the service decides what the caller may see
CUSTOMER = "customer"  # a customer (no staff group)
STAFF = "staff"  # staff or admin

CORS = CORSConfig(
    allow_origin=settings.cors_allow_origin,
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    expose_headers=["Location", "ETag", "Idempotent-Replayed"],
    max_age=600,
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    access: str
    status: int
    body: str | None = None
    body_required: bool = True
    raw_body: bool = False  # described by ``body`` but handed to the handler unparsed (signed payloads)
    query: str | None = None
    response: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    errors: tuple[int, ...] = ()
    tag: str = "default"


ENDPOINTS: list[Endpoint] = []


@dataclass
class Call:
    """What a handler gets: the parsed, checked request."""

    request: Any
    principal: Principal | None = None
    body: Any = None
    query: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def schemas():
    """The pydantic schemas, imported on first use: routes without a body or query never load pydantic."""
    return importlib.import_module("chalicelib.entrypoints.http.schemas")


def endpoint(
    blueprint: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    access: str,
    status: int = 200,
    body: str | None = None,
    body_required: bool = True,
    raw_body: bool = False,
    query: str | None = None,
    response: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    errors: tuple[int, ...] = (),
    tag: str = "default",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    spec = Endpoint(
        method, path, summary, access, status, body, body_required, raw_body, query, response, headers, errors, tag
    )

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        ENDPOINTS.append(spec)

        def view(**path_params: str) -> Response:
            return _handle(spec, handler, blueprint.current_request, path_params)

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        blueprint.route(
            path,
            methods=[method],
            authorizer=None if access == PUBLIC else cognito,
            cors=CORS,
        )(view)
        return handler

    return register


def _handle(spec: Endpoint, handler: Callable[..., Any], request: Any, path_params: dict[str, str]) -> Response:
    try:
        call = Call(request=request)
        if spec.access != PUBLIC:
            call.principal = principal_from(request.context)
            _check_role(spec.access, call.principal)
        if spec.query:
            call.query = _validate(spec.query, dict(request.query_params or {}), location="query")
        if spec.body and not spec.raw_body:
            call.body = _validate(spec.body, _json_body(request, spec.body_required), location="body")
        result = handler(call, **path_params)
    except ApiError as error:
        return from_api(error)
    except DomainError as error:
        return from_domain(error)
    except InvalidCursor as error:
        return error_response(
            400, "invalid_cursor", "The cursor is not one this listing handed out.", {"reason": str(error)}
        )
    except Exception:
        log.exception("unhandled error in %s %s", spec.method, spec.path)
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
    if isinstance(result, Response):
        return result
    return respond(result, spec.status)


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response; non-ASCII text (Chinese names) is sent as UTF-8, not escaped."""
    return Response(body=json.dumps(data, ensure_ascii=False), status_code=status, headers={**JSON, **(headers or {})})


def _check_role(access: str, principal: Principal) -> None:
    if access == STAFF and not principal.is_staff:
        raise ApiError(403, "forbidden", "This needs a staff account.")
    if access == CUSTOMER and principal.is_staff:
        raise ApiError(403, "forbidden", "This is for customer accounts.")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_body(request: Any, required: bool) -> Any:
    raw = request.raw_body or b""
    if len(raw) > settings.max_body_bytes:
        raise ApiError(413, "payload_too_large", "The request body is too large.", limit_bytes=settings.max_body_bytes)
    if not raw.strip():
        if required:
            raise ApiError(400, "malformed_request", "A JSON body is required.")
        return {}
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_json", "The body is not UTF-8.") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "The body is nested too deeply.") from None
    except ValueError as error:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {error}") from None


def _validate(schema_name: str, data: Any, location: str) -> Any:
    module = schemas()
    from pydantic import ValidationError

    try:
        return getattr(module, schema_name).model_validate(data)
    except ValidationError as error:
        fields = {}
        for problem in error.errors(include_url=False):
            name = _field_path(problem["loc"]) or location
            message = "unknown field" if problem["type"] == "extra_forbidden" else problem["msg"]
            fields.setdefault(name, message)
        raise ApiError(422, "validation_failed", f"Some {location} fields are not valid.", fields=fields) from None


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
