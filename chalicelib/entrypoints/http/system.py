"""Health and the API's own description."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.entrypoints.http.routing import PUBLIC, Call, endpoint

api = Blueprint(__name__)


@endpoint(api, "GET", "/health", summary="Liveness", access=PUBLIC, response="HealthOut", tag="system")
def health(call: Call) -> dict:
    return {"status": "ok"}


@endpoint(
    api,
    "GET",
    "/openapi.json",
    summary="This API's OpenAPI 3.1 description",
    access=PUBLIC,
    response="OpenApiOut",
    tag="system",
)
def openapi(call: Call) -> dict:
    from chalicelib.entrypoints.http.openapi import document

    return document()
