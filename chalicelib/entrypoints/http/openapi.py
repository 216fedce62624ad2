"""The OpenAPI 3.1 description, built from the registered endpoints and their schemas."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from chalicelib.entrypoints.http.routing import ENDPOINTS, PUBLIC, Endpoint, schemas

_ERROR_TEXT = {
    400: "Malformed request (bad JSON, missing header, bad cursor)",
    401: "No valid token",
    403: "Role not allowed",
    404: "Not found (also another customer's order)",
    409: "State conflict: out_of_stock, invalid_transition, request_in_progress",
    413: "Body too large",
    415: "Content-Type is not application/json",
    422: "Validation failed; details.fields names each bad field",
    429: "Throttled or contended; retry after Retry-After seconds",
    502: "The payment provider could not be reached or refused",
    503: "Busy; the sender should deliver again",
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
            "description": "Catalogue, orders with reserved stock, payments and fulfilment.",
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
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", spec.path)
        ],
        "responses": {
            str(spec.status): _json(f"#/components/schemas/{spec.response}", "Success")
            if spec.response
            else {"description": "Success"},
        },
        "x-access": spec.access,
    }
    if spec.access != PUBLIC:
        operation["security"] = [{"cognito": []}]
    for name, text in spec.headers:
        operation["parameters"].append(
            {
                "name": name,
                "in": "header",
                "required": True,
                "description": text,
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    if spec.query:
        query_schema = getattr(module, spec.query).model_json_schema()
        for name, field in query_schema.get("properties", {}).items():
            operation["parameters"].append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in query_schema.get("required", []),
                    "schema": {k: v for k, v in field.items() if k != "title"},
                }
            )
    if spec.body:
        operation["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{spec.body}"}}},
        }
    errors = set(spec.errors) | ({415} if spec.body else set())
    for status in sorted(errors):
        operation["responses"][str(status)] = _json("#/components/schemas/ErrorOut", _ERROR_TEXT[status])
    if spec.access != PUBLIC:
        operation["responses"].setdefault("401", _json("#/components/schemas/ErrorOut", _ERROR_TEXT[401]))
    return operation


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}
