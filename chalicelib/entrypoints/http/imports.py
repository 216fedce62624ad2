"""Staff imports of products and stock (API.md, "Imports and exports"): a template to fill in, an upload
straight to S3, the background check's errors and preview, and applying it."""

from __future__ import annotations

import re

from chalice import Blueprint, Response

from chalicelib.domain.errors import NotFound
from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.errors import error_response
from chalicelib.entrypoints.http.routing import STAFF, Call, endpoint, respond

api = Blueprint(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
IMPORT_ID = re.compile(r"^[0-9a-f]{32}$")


def import_id_or_404(raw: str) -> str:
    if not IMPORT_ID.match(raw):
        raise NotFound("No such import.", import_id=raw[:64])
    return raw


@endpoint(
    api,
    "GET",
    "/staff/imports/template",
    summary="The template of an import: its header row and one example row, as a workbook or a CSV file",
    access=STAFF,
    query="TemplateQuery",
    files=(XLSX, "text/csv"),
    response_headers=("Content-Disposition",),
    errors=(401, 403, 406, 422),
    tag="imports",
)
def template(call: Call):
    from chalicelib.adapters.import_files import template as build

    kind, file_format = call.query.kind, call.query.format
    filename = f'attachment; filename="{kind}-import-template.{file_format}"'
    if file_format == "csv":
        text = build(kind, "csv").decode("utf-8")  # its byte-order mark included: Excel then reads UTF-8
        return Response(body=text, status_code=200, headers={"Content-Type": CSV, "Content-Disposition": filename})
    accept = (call.request.headers or {}).get("accept") or ""
    if accept.split(",")[0].split(";")[0].strip().lower() != XLSX:
        return error_response(
            406, "not_acceptable", f"Send 'Accept: {XLSX}' to download the workbook (API Gateway sends binary "
            "files only to a request whose first Accept type is theirs); or ask for format=csv.",
            {"accept": XLSX},
        )  # fmt: skip
    return Response(body=build(kind, "xlsx"), status_code=200,
                    headers={"Content-Type": XLSX, "Content-Disposition": filename})  # fmt: skip


@endpoint(
    api,
    "POST",
    "/staff/imports",
    summary="Start an import: the form that uploads its file (at most 5 MB) straight to S3; it is checked then",
    access=STAFF,
    status=201,
    body="StartImportIn",
    response="ImportStartedOut",
    response_headers=("Location",),
    errors=(400, 401, 403, 413, 422),
    tag="imports",
)
def start_import(call: Call):
    from chalicelib.domain.imports import MAX_UPLOAD_BYTES

    started = wiring.imports().start(call.principal, call.body.kind, call.body.format)
    body = {
        "import_id": started.job.import_id,
        "status": started.job.status,
        "upload": {
            "url": started.url,
            "fields": started.fields,
            "expires_at": started.expires_at,
            "max_bytes": MAX_UPLOAD_BYTES,
        },
    }
    return respond(body, 201, {"Location": f"/staff/imports/{started.job.import_id}"})


@endpoint(
    api,
    "GET",
    "/staff/imports/{import_id}",
    summary="An import: its status, the check's errors (first 100) and what its first 20 rows would do",
    access=STAFF,
    response="ImportOut",
    errors=(401, 403, 404),
    tag="imports",
)
def get_import(call: Call, import_id: str) -> dict:
    return wiring.imports().get(import_id_or_404(import_id)).view()


@endpoint(
    api,
    "POST",
    "/staff/imports/{import_id}/apply",
    summary="Apply a ready import in the background, each row once (409 import_invalid unless it is ready)",
    access=STAFF,
    status=202,
    body="ApplyImportIn",
    body_required=False,
    response="ImportOut",
    also=((200, "Applying or applied already: nothing more is done"),),
    errors=(400, 401, 403, 404, 409, 413, 422),
    tag="imports",
)
def apply_import(call: Call, import_id: str):
    job, started = wiring.imports().apply(call.principal, import_id_or_404(import_id))
    return respond(job.view(), 202 if started else 200)
