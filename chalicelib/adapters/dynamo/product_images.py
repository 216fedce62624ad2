"""A product's ``images`` list in DynamoDB, changed by uploads alone (staff edits go through the catalogue).

An upload appends its URL with one conditional UpdateItem: the product must exist, must not list the
URL already (so a redelivered notification adds nothing) and must list fewer than the limit. Neither
this nor an unlisting moves the product's ``version``: only a staff edit does (``If-Match``), and an
image arriving must not make a staff member's ETag stale.
"""

from __future__ import annotations

from typing import Literal

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size

from chalicelib.adapters.dynamo.audit_repo import audit_puts
from chalicelib.adapters.dynamo.models import ProductModel
from chalicelib.domain.audit import AuditEntry

CONDITION_FAILED = "ConditionalCheckFailedException"


class ProductImagesRepository:
    def record_request(self, entry: AuditEntry) -> None:
        """Write the audit entry of an upload request: one PutItem (nothing else changes until the upload)."""
        ((record, condition),) = audit_puts([entry])
        record.save(condition=condition)

    def add_image(self, sku: str, url: str, at: str, max_images: int) -> Literal["added", "listed", "missing", "full"]:
        """Append ``url`` to the product's images unless it is there already; ``updated_at = at``.

        One UpdateItem; only when its condition fails, one GetItem to say why (listed already, no such
        product, or full).
        """
        images = ProductModel.images
        condition = (
            ProductModel.sku.exists() & ~images.contains(url) & (images.does_not_exist() | (size(images) < max_images))
        )
        try:
            ProductModel(sku).update(
                actions=[images.set((images | []).append([url])), ProductModel.updated_at.set(at)],
                condition=condition,
            )
        except UpdateError as error:
            if error.cause_response_code != CONDITION_FAILED:
                raise
            return self._why_not(sku, url)
        return "added"

    def remove_image(self, sku: str, url: str, at: str) -> bool:
        """Take ``url`` off the product's images if it is listed (a bad object replaced a good one at its key).

        A GetItem finds its position; the UpdateItem removes that element only if it still holds ``url``
        (a concurrent change raises, and the message is retried). Returns whether it was listed.
        """
        try:
            listed = list(ProductModel.get(sku, consistent_read=True, attributes_to_get=["images"]).images or [])
        except ProductModel.DoesNotExist:
            return False
        if url not in listed:
            return False
        position = listed.index(url)
        element = ProductModel.images[position]  # type: ignore[index]
        ProductModel(sku).update(
            actions=[element.remove(), ProductModel.updated_at.set(at)],
            condition=ProductModel.sku.exists() & (element == url),
        )
        return True

    def _why_not(self, sku: str, url: str) -> Literal["listed", "missing", "full"]:
        try:
            product = ProductModel.get(sku, consistent_read=True, attributes_to_get=["images"])
        except ProductModel.DoesNotExist:
            return "missing"
        return "listed" if url in (product.images or []) else "full"
