"""Schemas of errors, health and the OpenAPI document itself."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from chalicelib.entrypoints.http.schemas.base import Schema


class ErrorBody(Schema):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(Schema):
    error: ErrorBody


class HealthOut(Schema):
    status: Literal["ok"]


class OpenApiOut(Schema):
    """An OpenAPI 3.1 document (this one)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
