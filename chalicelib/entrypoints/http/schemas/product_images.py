"""Schemas of product images: asking for a presigned upload (``entrypoints/http/product_images.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from chalicelib.domain.product_images import MAX_IMAGE_BYTES
from chalicelib.entrypoints.http.schemas.base import Schema, Strict, WholeNumber

ImageType = Literal["image/jpeg", "image/png", "image/webp"]


class ImageUploadIn(Strict):
    content_type: ImageType = Field(description="The image's type: the upload must be sent as exactly this type.")
    size_bytes: Annotated[int, WholeNumber] = Field(
        ge=1, le=MAX_IMAGE_BYTES, description=f"The file's size in bytes, at most {MAX_IMAGE_BYTES} (5 MB)."
    )


class ImageUploadFormOut(Schema):
    url: str = Field(description="POST a multipart/form-data form here: every field below, then the file as `file`.")
    fields: dict[str, str] = Field(description="The form's fields (key, Content-Type, policy, signature, ...).")
    expires_at: str = Field(description="The form works until then (10 minutes).")


class ImageUploadOut(Schema):
    upload: ImageUploadFormOut
    image_url: str = Field(description="Where the image is served; the product lists it once S3 has the file.")
