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
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from chalice import Blueprint, CORSConfig, Response

from chalicelib.config import settings
from chalicelib.domain.errors import DomainError
from chalicelib.domain.identity import Origin, Principal
from chalicelib.entrypoints.http.auth import cognito, principal_from
from chalicelib.entrypoints.http.errors import JSON, ApiError, error_response, from_api, from_domain
from chalicelib.services.ports import InvalidCursor

log = logging.getLogger("orders.http")

PUBLIC = "public"  # anyone, no token
SIGNED_IN = "signed_in"  # any verified token; the service decides what the caller may see
CUSTOMER = "customer"  # a customer (no staff group)
STAFF = "staff"  # staff or admin
ADMIN = "admin"  # admin only (403 for staff)

CORS = CORSConfig(
    allow_origin=settings.cors_allow_origin,
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
    expose_headers=["Location", "ETag", "Idempotent-Replayed"],
    max_age=600,
)


IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # 1 to 255 visible ASCII characters


@dataclass(frozen=True)
class Header:
    """A request header an endpoint reads: published as a header parameter with these constraints."""

    name: str
    description: str
    required: bool = False
    pattern: str | None = None
    max_length: int | None = None


# The contract's idempotency key (Conventions): declaring a header of this name makes it this one, and the
# endpoint also answers ``200`` with ``Idempotent-Replayed: true`` when the same key and body come again.
IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
REPLAY_TEXT = "A replay: the same Idempotency-Key and body again answer the first result"


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
    headers: tuple[Header, ...] = ()
    errors: tuple[int, ...] = ()
    tag: str = "default"
    also: tuple[tuple[int, str], ...] = ()  # other success statuses, with the same response body, and why
    response_headers: tuple[str, ...] = ()  # headers every success response carries (see openapi.RESPONSE_HEADERS)
    files: tuple[str, ...] = ()  # media types of a file the success answers with (instead of JSON)

    @property
    def idempotent(self) -> bool:
        return any(header.name == IDEMPOTENCY_KEY for header in self.headers)


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
    headers: tuple[Header | tuple[str, str], ...] = (),
    errors: tuple[int, ...] = (),
    tag: str = "default",
    also: tuple[int | tuple[int, str], ...] = (),
    response_headers: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route and its description.

    ``headers``: ``Header(...)`` or ``(name, description)`` (a required header). ``also``: more success
    statuses, e.g. ``also=((200, "Started before: the same payment"),)`` or ``also=(200,)``.
    ``response_headers``: names every success response carries, e.g. ``("Location",)``. ``files``: the media
    types of the file a success answers with (a download), instead of a JSON ``response``. An
    ``Idempotency-Key`` header is the contract's: required, 1-255 visible ASCII, and it adds
    ``200`` + ``Idempotent-Replayed: true`` for a replay (unless ``also`` names 200 itself).
    """
    declared = tuple(_header(item) for item in headers)
    extra = tuple(item if isinstance(item, tuple) else (item, "Also a success") for item in also)
    if any(header.name == IDEMPOTENCY_KEY for header in declared) and 200 not in {code for code, _ in extra}:
        extra += ((200, REPLAY_TEXT),)
    spec = Endpoint(
        method=method,
        path=path,
        summary=summary,
        access=access,
        status=status,
        body=body,
        body_required=body_required,
        raw_body=raw_body,
        query=query,
        response=response,
        headers=declared,
        errors=errors,
        tag=tag,
        also=extra,
        response_headers=response_headers,
        files=files,
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


def _header(item: Header | tuple[str, str]) -> Header:
    header = item if isinstance(item, Header) else Header(item[0], item[1], required=True)
    if header.name == IDEMPOTENCY_KEY:
        return Header(IDEMPOTENCY_KEY, header.description, required=True, pattern=IDEMPOTENCY_KEY_PATTERN)
    return header


def _handle(spec: Endpoint, handler: Callable[..., Any], request: Any, path_params: dict[str, str]) -> Response:
    try:
        call = Call(request=request)
        if spec.access != PUBLIC:
            call.principal = replace(principal_from(request.context), origin=_origin(request))
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
    if access == ADMIN and principal.role != "admin":
        raise ApiError(403, "forbidden", "This needs an admin account.")


def _origin(request: Any) -> Origin:
    """Where the request came from, for the audit log: API Gateway's source IP and the User-Agent header."""
    identity = (request.context or {}).get("identity") or {}
    source_ip = identity.get("sourceIp")
    user_agent = (request.headers or {}).get("user-agent")
    return Origin(source_ip=source_ip if isinstance(source_ip, str) else None, user_agent=user_agent or None)


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

    model = getattr(module, schema_name)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields: dict[str, str] = {}
        for problem in error.errors(include_url=False):
            loc = problem["loc"]
            if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):  # a tagged union: name its tag
                loc = (str((problem.get("ctx") or {}).get("discriminator", "")).strip("'"),)
            elif getattr(model, "TAGGED_UNION", False) and loc:
                loc = loc[1:]  # pydantic names the member (the tag) first: the client named no such field
            fields.setdefault(_field_path(loc) or location, sentence(problem))
        if set(fields) == {location}:  # the whole body (or query) is wrong, not one field of it
            message = f"The {location} {fields[location]}."
        else:
            message = f"Some {location} fields are not valid."
        raise ApiError(422, "validation_failed", message, fields=fields) from None


# What a client is told about a field, by pydantic's error type: plain words, no class names or regexes.
_SENTENCES = {
    "missing": "is required",
    "union_tag_not_found": "is required",
    "union_tag_invalid": "must be one of {expected_tags}",
    "extra_forbidden": "unknown field",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "string_unicode": "must be text without unpaired surrogates",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing_size": "is too large a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} items",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "string_pattern_mismatch": "is not in the expected format",
}


def sentence(problem: dict[str, Any]) -> str:
    """One pydantic error as the words after the field's name, e.g. ``must be at most 999``."""
    kind, context = problem["type"], problem.get("ctx") or {}
    if kind == schemas().PATTERN_MISMATCH:
        return problem["msg"]  # the field's own sentence
    if kind == "value_error":  # a validator's ValueError: its message, without pydantic's prefix
        return str(context.get("error", problem["msg"].removeprefix("Value error, ")))
    if kind == "string_too_short" and context.get("min_length") == 1:
        return "must not be empty"
    try:
        return _SENTENCES.get(kind, "is not valid").format(**context)
    except (KeyError, IndexError):
        return "is not valid"


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


IF_MATCH_PATTERN = r'^(W/)?"[0-9]{1,12}"$'
IF_MATCH = re.compile(r'^(?:W/)?"([0-9]{1,12})"$')
IF_MATCH_HEADER = Header(
    "If-Match", 'Required: the ETag read, "<version>". A stale one is 412, none 428.', True, IF_MATCH_PATTERN
)


def if_match(call: Call) -> int:
    """The version named by ``If-Match: "<version>"`` (``428`` without it, ``412`` when it cannot be a version)."""
    from chalicelib.entrypoints.http.errors import ApiError

    raw = call.request.headers.get("if-match")
    if raw is None:
        raise ApiError(428, "precondition_required", 'Send If-Match: "<version>" with the ETag you read.')
    found = IF_MATCH.match(raw.strip())
    if found is None:
        raise ApiError(412, "version_mismatch", 'If-Match must be the ETag read, "<version>".')
    return int(found.group(1))
