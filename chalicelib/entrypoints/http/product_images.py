"""Product images (staff): a presigned S3 POST for one image; S3's notification lists it on the product."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain.errors import NotFound
from chalicelib.entrypoints.http import wiring
from chalicelib.entrypoints.http.catalogue import SKU
from chalicelib.entrypoints.http.routing import STAFF, Call, endpoint

api = Blueprint(__name__)


@endpoint(
    api,
    "POST",
    "/staff/products/{sku}/images",
    summary="A presigned upload (S3 POST) of one product image: that content type, at most that size, 10 minutes",
    access=STAFF,
    status=201,
    body="ImageUploadIn",
    response="ImageUploadOut",
    errors=(400, 401, 403, 404, 409, 422),
    tag="catalogue",
)
def request_image_upload(call: Call, sku: str) -> dict:
    if not SKU.match(sku):
        raise NotFound("No such product.", sku=sku[:64])
    body = call.body
    upload = wiring.product_images().request_upload(call.principal, sku, body.content_type, body.size_bytes)
    return {
        "upload": {"url": upload.url, "fields": upload.fields, "expires_at": upload.expires_at},
        "image_url": upload.image_url,
    }
