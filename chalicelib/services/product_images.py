"""Product images: signing an upload for staff, and listing what S3 then holds on the product.

No image passes through a Lambda: ``request_upload`` hands out a presigned S3 POST (one content type,
at most the size asked for, a key the server chose, ten minutes), and S3's ObjectCreated notification
reaches ``record_upload`` through the ``image-uploads`` queue. That handler is idempotent: a
redelivered notification finds the URL listed already and changes nothing; an object that may not be
listed is deleted (and unlisted, if a first upload to the same key was listed), never retried.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from chalicelib.domain import audit
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.errors import Conflict, NotFound, ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import iso
from chalicelib.domain.product_images import (
    CONTENT_TYPES,
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    PREFIX,
    StoredObject,
    image_key,
    public_url,
    refusal,
    sku_of,
)
from chalicelib.services.ports import CatalogueRepo

log = logging.getLogger("orders.images")

Added = Literal["added", "listed", "missing", "full"]


class ImageStore(Protocol):
    bucket: str

    def upload_form(self, key: str, content_type: str, max_bytes: int, seconds: int) -> tuple[str, dict[str, str]]: ...

    def stored(self, key: str) -> StoredObject | None: ...

    def delete(self, key: str) -> None: ...


class ProductImagesRepo(Protocol):
    def record_request(self, entry: AuditEntry) -> None: ...

    def add_image(self, sku: str, url: str, at: str, max_images: int) -> Added: ...

    def remove_image(self, sku: str, url: str, at: str) -> bool: ...


class TooManyImages(Conflict):
    code = "too_many_images"


@dataclass(frozen=True)
class ImageUpload:
    url: str  # where the browser POSTs the form
    fields: dict[str, str]  # the form's fields, sent before the file
    expires_at: str
    image_url: str  # where the image is served once uploaded
    key: str


@dataclass
class ProductImageService:
    catalogue: CatalogueRepo
    images: ProductImagesRepo
    store: ImageStore
    base_url: str
    upload_seconds: int = 600
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex

    def request_upload(self, principal: Principal, sku: str, content_type: str, size_bytes: int) -> ImageUpload:
        """A presigned POST for one image of ``sku`` (staff), audited as ``product.image_requested``.

        Calls: one GetItem (the product: ``404`` when unknown, ``409 too_many_images`` when full) and one
        PutItem (the audit entry; nothing else changes until the upload arrives). Signing makes no call.
        """
        fields: dict[str, str] = {}
        if content_type not in CONTENT_TYPES:
            fields["content_type"] = f"must be one of {', '.join(CONTENT_TYPES)}"
        if not 1 <= size_bytes <= MAX_IMAGE_BYTES:
            fields["size_bytes"] = f"must be 1 to {MAX_IMAGE_BYTES} bytes (5 MB)"
        if fields:
            raise ValidationFailed("Some body fields are not valid.", fields=fields)
        product = self.catalogue.get(sku)
        if product is None:
            raise NotFound("No such product.", sku=sku)
        if len(product.images) >= MAX_IMAGES:
            raise TooManyImages(f"A product lists at most {MAX_IMAGES} images.", sku=sku, limit=MAX_IMAGES)
        key = image_key(sku, self.new_id(), content_type)
        now = self.clock()
        url, form = self.store.upload_form(key, content_type, size_bytes, self.upload_seconds)
        image_url = public_url(self.base_url, key)
        data = {"key": key, "content_type": content_type, "size_bytes": size_bytes, "image_url": image_url}
        entry = audit.entry(principal, "product.image_requested", ("product", sku), at=iso(now), key=key, data=data)
        self.images.record_request(entry)
        return ImageUpload(url, form, iso(now + timedelta(seconds=self.upload_seconds)), image_url, key)

    def record_upload(self, bucket: str, key: str) -> str:
        """List the object S3 just stored at ``key`` on its product, once; returns what happened (for the log).

        Calls: one HeadObject and one ranged GetObject (the first bytes), then one conditional UpdateItem
        that appends the URL unless it is listed already (``version`` unchanged: only staff edits move it).
        An object that may not be listed is deleted; a failure of any call raises, and the message is retried.
        """
        if bucket != self.store.bucket or not key.startswith(PREFIX):
            return f"ignored: s3://{bucket}/{key} is not under {PREFIX} of the images bucket"
        sku = sku_of(key)
        if sku is None:
            self.store.delete(key)
            return "deleted: not a key the API hands out"
        stored = self.store.stored(key)
        if stored is None:
            return "ignored: the object is gone (deleted after an earlier delivery)"
        url = public_url(self.base_url, key)
        now = iso(self.clock())
        reason = refusal(stored)
        if reason is not None:
            self.store.delete(key)
            unlisted = self.images.remove_image(sku, url, now)  # a first upload to this key may have been listed
            return f"deleted: {reason}" + (" (and unlisted from the product)" if unlisted else "")
        added = self.images.add_image(sku, url, now, MAX_IMAGES)
        if added in ("missing", "full"):
            self.store.delete(key)
            why = "no such product" if added == "missing" else f"the product lists {MAX_IMAGES} images already"
            return f"deleted: {why}"
        return f"{added}: {url} on {sku}"
