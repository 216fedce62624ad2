"""Pictures for the demo catalogue: small PNGs drawn here (zlib, no imaging library) and stored in the local
images bucket as an upload would store them, so ``make run`` shows a catalogue with images.

Each product gets its category's colour in stripes whose angle and shade differ per picture; the keys
are ``products/<sku>/<32 hex>.png`` as the API hands out, the same on every start (derived from the SKU).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import cache
from typing import Any

from chalicelib.adapters.images_store import CACHE_CONTROL
from chalicelib.domain.product_images import image_key, public_url

SIZE = 96  # pixels a side
COLOURS = {  # category -> RGB
    "apparel": (70, 110, 190),
    "food-drink": (200, 120, 50),
    "machinery-parts": (90, 100, 110),
    "home": (60, 150, 100),
}
DEFAULT_COLOUR = (150, 80, 160)


def png(width: int, height: int, pixel) -> bytes:
    """A truecolour PNG; ``pixel(x, y)`` is an (r, g, b) tuple."""
    rows = b"".join(b"\x00" + bytes(channel for x in range(width) for channel in pixel(x, y)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits per channel, RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


@cache
def picture(category: str, number: int) -> bytes:
    """Picture ``number`` (0, 1, ...) of a product in ``category``: stripes of its colour."""
    red, green, blue = COLOURS.get(category, DEFAULT_COLOUR)
    step = 2 + number  # the stripes' slope: each picture of a product looks different

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        light = ((x + step * y) // 12) % 2
        shade = 60 if light else 0
        return min(red + shade, 255), min(green + shade, 255), min(blue + shade, 255)

    return png(SIZE, SIZE, pixel)


def upload_pictures(s3: Any, bucket: str, base_url: str, sku: str, category: str, count: int) -> list[str]:
    """Store ``count`` pictures of ``sku`` in ``bucket``; returns their public URLs, first picture first."""
    urls = []
    for number in range(count):
        image_id = hashlib.sha256(f"{sku}#{number}".encode()).hexdigest()[:32]
        key = image_key(sku, image_id, "image/png")
        s3.put_object(
            Bucket=bucket, Key=key, Body=picture(category, number), ContentType="image/png", CacheControl=CACHE_CONTROL
        )
        urls.append(public_url(base_url, key))
    return urls
