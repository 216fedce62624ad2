"""Product images: which uploads are allowed, where they are stored, and which stored objects a product may list.

A staff member asks for an upload (a content type and a size); the server chooses the key,
``products/<sku>/<32 hex>.<ext>``, and signs an S3 POST that stores exactly that type and at most that
size there. Once S3 has the object, its notification makes the product list ``<base URL>/<key>``. The
checks here are pure: the adapters supply what S3 says about an object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTENT_TYPES: dict[str, str] = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # 5 MiB
MAX_IMAGES = 10  # per product, as many as a staff edit may list (schemas/products.py); the item stays small
PREFIX = "products/"
SNIFF_BYTES = 12  # what ``sniffed_type`` needs to read of an object

_KEY = re.compile(r"^products/([A-Za-z0-9][A-Za-z0-9._-]{0,63})/([0-9a-f]{32})\.(jpg|png|webp)$")
_EXTENSIONS = {extension: content_type for content_type, extension in CONTENT_TYPES.items()}


@dataclass(frozen=True)
class StoredObject:
    """What S3 says about an uploaded object (HeadObject) and its first bytes."""

    key: str
    size: int
    content_type: str
    head: bytes  # the first SNIFF_BYTES bytes (fewer if the object is shorter)


def image_key(sku: str, image_id: str, content_type: str) -> str:
    """Where an upload of ``content_type`` for ``sku`` is stored (``image_id``: 32 hex digits, e.g. a uuid4)."""
    return f"{PREFIX}{sku}/{image_id}.{CONTENT_TYPES[content_type]}"


def sku_of(key: str) -> str | None:
    """The SKU an image key belongs to; None when ``key`` is not one the server hands out."""
    found = _KEY.fullmatch(key)
    return found.group(1) if found else None


def public_url(base_url: str, key: str) -> str:
    """The image's public address: the CDN (or, locally, the emulator's bucket) followed by the key."""
    return f"{base_url.rstrip('/')}/{key}"


def sniffed_type(head: bytes) -> str | None:
    """The image type the bytes start with (JPEG, PNG or WebP signature); None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def refusal(stored: StoredObject) -> str | None:
    """Why a stored object may not be listed (a sentence for the log), or None when it may.

    The presigned POST already limits type and size; this is checked again on what S3 holds, so an
    object that reached the bucket some other way (or a signature bug) is never published.
    """
    extension_type = _EXTENSIONS.get(stored.key.rsplit(".", 1)[-1])
    content_type = stored.content_type.split(";", 1)[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        return f"content type {stored.content_type!r} is not one of {', '.join(CONTENT_TYPES)}"
    if content_type != extension_type:
        return f"content type {content_type} does not match the key's extension"
    if stored.size > MAX_IMAGE_BYTES:
        return f"{stored.size} bytes is over the {MAX_IMAGE_BYTES}-byte limit"
    if stored.size < 1:
        return "the object is empty"
    if sniffed_type(stored.head) != content_type:
        return f"the bytes are not a {content_type} image"
    return None
