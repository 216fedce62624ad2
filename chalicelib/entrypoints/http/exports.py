"""Staff exports (API.md, "Imports and exports"): start one, built in the background; read it, and once done
download its file by a presigned link."""

from __future__ import annotations

import re

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.routing import STAFF, Call, endpoint, respond

api = Blueprint(__name__)

EXPORT_ID = re.compile(r"^[0-9a-f]{32}$")


@endpoint(
    api,
    "POST",
    "/staff/exports",
    summary="Start an export of orders, payments, customers, products, stock movements or sales (CSV or XLSX)",
    access=STAFF,
    status=202,
    body="StartExportIn",
    response="ExportOut",
    response_headers=("Location",),
    errors=(400, 401, 403, 413, 422),
    tag="imports",
)
def start_export(call: Call):
    body = call.body.root
    filters = body.filters.model_dump(exclude_none=True)
    job = wiring.exports().start(call.principal, body.kind, body.format, filters)
    return respond({**job.view()}, 202, {"Location": f"/staff/exports/{job.export_id}"})


@endpoint(
    api,
    "GET",
    "/staff/exports/{export_id}",
    summary="An export: its status and rows; once done, a link to download its file (for 15 minutes)",
    access=STAFF,
    response="ExportOut",
    errors=(401, 403, 404),
    tag="imports",
)
def get_export(call: Call, export_id: str) -> dict:
    if not EXPORT_ID.match(export_id):
        raise NotFound("No such export.", export_id=export_id[:64])
    return wiring.exports().get(export_id)
