"""The receipts bucket (S3): the only code that stores vouchers or signs links to them.

Clients download a voucher from S3 with a short-lived presigned GET URL, never through the
Lambda's body. The API's role may only GetObject and PutObject under ``receipts/``: without
ListBucket, S3 answers a HeadObject of a missing key ``403`` rather than ``404``, so both mean
"not there yet" here (a real refusal shows when the PutObject that follows fails too).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters import aws

ABSENT = frozenset({"404", "403", "NoSuchKey", "NotFound", "Forbidden", "AccessDenied"})


class S3Receipts:
    """Vouchers as private objects of one bucket."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        """``client``: an S3 client; by default one from the container's shared session."""
        from botocore.config import Config

        self._bucket = bucket
        # SigV4 links (botocore would presign S3 with the deprecated SigV2 unless told)
        self._s3 = client or aws.client("s3", config=Config(signature_version="s3v4"))

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored (one HeadObject)."""
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in ABSENT:
                return False
            raise
        return True

    def put(self, key: str, body: bytes) -> None:
        """Store a PDF (encrypted at rest by the bucket's default encryption)."""
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType="application/pdf", CacheControl="private, max-age=300"
        )

    def link(self, key: str, filename: str, seconds: int) -> str:
        """A presigned GET URL of ``key`` valid for ``seconds`` (signed here: no call to S3)."""
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentType": "application/pdf",
                "ResponseContentDisposition": f'inline; filename="{filename}"',
            },
            ExpiresIn=seconds,
        )
