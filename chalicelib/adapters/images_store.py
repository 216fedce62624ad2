"""The product images bucket (S3): signing uploads, and looking at (or deleting) what was uploaded.

Browsers upload straight to S3 with a presigned POST whose policy S3 enforces: the key the server
chose, exactly one ``Content-Type``, a ``content-length-range`` of 1 to the size asked for, and an
expiry. The bucket is private; in AWS a CloudFront distribution (Origin Access Control) serves
``products/*`` at ``IMAGES_BASE_URL``. The API may only PutObject under ``products/`` (the POST is
authorised as the API's role); the upload handler may only GetObject (HeadObject too) and DeleteObject there.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import aws
from chalicelib.domain.product_images import SNIFF_BYTES, StoredObject

ABSENT = frozenset({"404", "403", "NoSuchKey", "NotFound", "Forbidden", "AccessDenied"})
CACHE_CONTROL = "public, max-age=31536000, immutable"  # every key is new (a uuid): its bytes never change


class S3Images:
    """Product images as objects of one bucket, under ``products/``."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        """``client``: an S3 client; by default one from the container's shared session."""
        from botocore.config import Config

        self.bucket = bucket
        self._s3 = client or aws.client("s3", config=Config(signature_version="s3v4"))  # SigV4 POST policies

    def default_base_url(self) -> str:
        """The bucket's own address (path style): what serves images locally, where the emulator is S3."""
        return f"{self._s3.meta.endpoint_url.rstrip('/')}/{self.bucket}"

    def upload_form(self, key: str, content_type: str, max_bytes: int, seconds: int) -> tuple[str, dict[str, str]]:
        """A presigned POST (URL and form fields) storing ``key`` as ``content_type``, 1 to ``max_bytes`` bytes,
        for ``seconds``. Signed here with the role's credentials: no call to S3."""
        fields = {"Content-Type": content_type, "Cache-Control": CACHE_CONTROL}
        conditions: list[Any] = [
            {"Content-Type": content_type},
            {"Cache-Control": CACHE_CONTROL},
            ["content-length-range", 1, max_bytes],
        ]
        post = self._s3.generate_presigned_post(
            self.bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=seconds
        )
        return post["url"], {name: str(value) for name, value in post["fields"].items()}

    def stored(self, key: str) -> StoredObject | None:
        """What S3 holds at ``key`` (HeadObject, then its first bytes by a ranged GetObject); None when absent."""
        from botocore.exceptions import ClientError

        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
            size = int(head["ContentLength"])
            first = b""
            if size > 0:
                part = self._s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}")
                first = part["Body"].read(SNIFF_BYTES)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in ABSENT:
                return None
            raise
        return StoredObject(key=key, size=size, content_type=str(head.get("ContentType") or ""), head=first)

    def delete(self, key: str) -> None:
        """Delete ``key`` (nothing happens when it is gone already)."""
        self._s3.delete_object(Bucket=self.bucket, Key=key)
