"""Schemas of imports: templates, starting one (its upload form), reading it, applying it."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import ConfigDict, Field

from chalicelib.domain.imports import FORMATS, KINDS, STATUSES
from chalicelib.entrypoints.http.schemas.base import Schema, Strict

Kind = Literal[KINDS]  # type: ignore[valid-type]
Format = Literal[FORMATS]  # type: ignore[valid-type]


class TemplateQuery(Schema):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = Field(description="products or stock.")
    format: Format = Field("xlsx", description="xlsx (send Accept naming its type) or csv (UTF-8 with a BOM).")


class StartImportIn(Strict):
    kind: Kind
    format: Format


class ApplyImportIn(Strict):
    """No fields: the import applied is the one in the path, as its check found it."""


class UploadFormOut(Schema):
    url: str = Field(description="POST a multipart/form-data form here: these fields, then the file as 'file'.")
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


class ImportStartedOut(Schema):
    import_id: str
    status: Literal["awaiting_upload"]
    upload: UploadFormOut


class ImportErrorOut(Schema):
    row: Optional[int] = Field(description="The spreadsheet's row number (the header is 1); null: the whole file.")
    column: Optional[str]
    message: str


class ImportPreviewOut(Schema):
    row: int
    sku: str
    action: Literal["create", "update", "unchanged"]
    fields: Optional[dict[str, Any]] = Field(None, description="create: the new product's fields.")
    changes: Optional[dict[str, Any]] = Field(None, description='update: {"<field>": {"from": ..., "to": ...}}.')
    ignored: Optional[list[str]] = Field(
        None, description="Columns given but not applied (an existing product's stock)."
    )


class ImportOut(Schema):
    import_id: str
    kind: Kind
    format: Format
    status: Literal[STATUSES]  # type: ignore[valid-type]
    created_at: str
    updated_at: str
    rows_total: Optional[int]
    rows_valid: Optional[int]
    rows_applied: int
    rows_unchanged: int
    rows_failed: int
    errors: list[ImportErrorOut] = Field(description="The first 100 errors, by row.")
    errors_total: int
    preview: list[ImportPreviewOut] = Field(description="What the first 20 valid rows do.")
    failure: Optional[str]
