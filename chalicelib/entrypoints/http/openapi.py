"""The OpenAPI 3.1 description, built from the registered endpoints and their schemas."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from chalicelib.entrypoints.http.routing import ENDPOINTS, PUBLIC, REPLAYED, Endpoint, Header, schemas

_ERROR_TEXT = {
    400: "Malformed request (bad JSON, missing header, bad cursor)",
    401: "No valid token",
    403: "Role not allowed",
    404: "Not found (also another customer's order)",
    406: "The Accept header does not name the file's type (API Gateway sends binary files only then)",
    409: "State conflict: out_of_stock, invalid_transition, request_in_progress",
    412: "If-Match names a version that is not the current one (version_mismatch); nothing changed",
    413: "Body too large",
    415: "Content-Type is not application/json",
    422: "Validation failed; details.fields names each bad field",
    428: "If-Match is required (precondition_required); nothing changed",
    429: "Throttled or contended; retry after Retry-After seconds",
    502: "The payment provider could not be reached or refused",
    503: "Busy; the sender should deliver again",
}

# Response headers an endpoint may declare by name (``endpoint(..., response_headers=(...))``).
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "Where the created resource is read.", "schema": {"type": "string"}},
    "Content-Disposition": {"description": "attachment, with the file's name.", "schema": {"type": "string"}},
    REPLAYED: {
        "description": "true when this answers again an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "ETag": {"description": 'The version read, as "<version>"; send it as If-Match.', "schema": {"type": "string"}},
}
# Path parameters whose form the server checks (the rest are any string, answered 404 when they name nothing).
PATH_SCHEMAS = {
    "address_id": {"type": "string", "pattern": "^addr_[0-9a-f]{20}$"},
    "ticket_id": {"type": "string", "pattern": "^tkt_[0-9a-f]{20}$"},
    "category": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\x00-\\x1f\\x7f/#?%\\\\]+$"},
}

RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


@cache
def document() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    module = schemas()
    names = sorted({name for spec in ENDPOINTS for name in (spec.body, spec.response) if name} | {"ErrorOut"})
    _, defs = models_json_schema(
        [(getattr(module, name), "serialization") for name in names],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for spec in ENDPOINTS:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, module)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Order & payment API",
            "version": "1.0.0",
            "description": (
                "Catalogue, orders with reserved stock, payments and fulfilment. Strings are Unicode text: "
                "one holding an unpaired surrogate escape (\\ud800) is refused, in every field."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "cognito": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Cognito ID token; groups staff/admin from cognito:groups.",
                },
            },
        },
    }


def _operation(spec: Endpoint, module: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": spec.summary,
        "tags": [spec.tag],
        "operationId": f"{spec.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', spec.path.lower()).strip('_')}",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(name, {"type": "string"})}
            for name in re.findall(r"{(\w+)}", spec.path)
        ],
        "responses": _successes(spec),
        "x-access": spec.access,
    }
    if spec.access != PUBLIC:
        operation["security"] = [{"cognito": []}]
    for header in spec.headers:
        operation["parameters"].append(_header_parameter(header))
    if spec.query:
        query_schema = getattr(module, spec.query).model_json_schema()
        for name, field in query_schema.get("properties", {}).items():
            operation["parameters"].append(_query_parameter(name, field, name in query_schema.get("required", [])))
    if spec.body:
        operation["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{spec.body}"}}},
        }
    errors = set(spec.errors) | ({415} if spec.body else set())
    for status in sorted(errors):
        operation["responses"][str(status)] = _json("#/components/schemas/ErrorOut", _ERROR_TEXT[status])
    if 429 in errors:
        operation["responses"]["429"]["headers"] = {"Retry-After": RETRY_AFTER}
    if spec.access != PUBLIC:
        operation["responses"].setdefault("401", _json("#/components/schemas/ErrorOut", _ERROR_TEXT[401]))
    return operation


def _successes(spec: Endpoint) -> dict[str, Any]:
    """The main success status and the ``also`` ones, each with the response body and headers declared."""
    responses = {}
    for status, description in ((spec.status, "Success"), *spec.also):
        if spec.response:
            response = _json(f"#/components/schemas/{spec.response}", description)
        elif spec.files:
            file = {"type": "string", "description": "The file's bytes."}
            response = {"description": description, "content": {media: {"schema": file} for media in spec.files}}
        else:
            response = {"description": description}
        headers = {name: {**RESPONSE_HEADERS[name], "required": True} for name in spec.response_headers}
        if spec.idempotent:  # sent with a replay; a first answer may send it as "false"
            replay = status == 200 and status != spec.status
            headers[REPLAYED] = {
                **RESPONSE_HEADERS[REPLAYED],
                "required": replay or REPLAYED in spec.response_headers,
                **({"schema": {"type": "string", "const": "true"}} if replay else {}),
            }
        if headers:
            response["headers"] = headers
        responses[str(status)] = response
    return responses


def _query_parameter(name: str, field: dict[str, Any], required: bool) -> dict[str, Any]:
    """A query field as a parameter: never null (an absent parameter is the field's None)."""
    schema = {k: v for k, v in field.items() if k not in ("title", "description")}
    options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema = {**options[0], **schema}
    elif options:
        schema["anyOf"] = options
    if schema.get("default", 0) is None:
        del schema["default"]
    parameter = {"name": name, "in": "query", "required": required, "schema": schema}
    description = field.get("description") or schema.pop("description", None)
    schema.pop("description", None)
    if description:
        parameter["description"] = description
    return parameter


def _header_parameter(header: Header) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if header.pattern:
        schema["pattern"] = header.pattern
    if header.max_length is not None:
        schema["maxLength"] = header.max_length
    return {
        "name": header.name,
        "in": "header",
        "required": header.required,
        "description": header.description,
        "schema": schema,
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}
