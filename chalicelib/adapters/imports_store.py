"""The imports bucket (S3) and the import worker's queue (SQS): the only code that touches them.

Browsers upload an import's file straight to S3 with a presigned POST (``imports/<id>.<ext>``, 1 byte to
5 MB, which S3 enforces); S3 tells the ``import-uploads`` queue, whose worker checks the file and writes
the valid rows, normalised, beside it as JSON lines (``parsed/<id>.jsonl``): applying then reads that
object (one GetObject per chunk) and never parses the workbook again. Applying is started, and continued
chunk after chunk, by messages the app sends to the same queue. Both prefixes expire after 7 days.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters import aws
from chalicelib.domain.imports import FileRefused

ABSENT = frozenset({"404", "403", "NoSuchKey", "NotFound", "Forbidden", "AccessDenied"})
UPLOADS = "imports/"
PARSED = "parsed/"


def upload_key(import_id: str, file_format: str) -> str:
    return f"{UPLOADS}{import_id}.{file_format}"


def rows_key(import_id: str) -> str:
    return f"{PARSED}{import_id}.jsonl"


class ObjectChanged(Exception):
    """The object is no longer the one the notification named (uploaded again meanwhile)."""


class S3Imports:
    """Import files as private objects of one bucket."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        """``client``: an S3 client; by default one from the container's shared session."""
        from botocore.config import Config

        self.bucket = bucket
        self._s3 = client or aws.client("s3", config=Config(signature_version="s3v4"))  # SigV4 POST policies

    def upload_form(self, key: str, max_bytes: int, seconds: int) -> tuple[str, dict[str, str]]:
        """A presigned POST (URL and form fields) storing ``key``, 1 to ``max_bytes`` bytes, for ``seconds``.
        Signed here with the role's credentials: no call to S3."""
        post = self._s3.generate_presigned_post(
            self.bucket, key, Conditions=[["content-length-range", 1, max_bytes]], ExpiresIn=seconds
        )
        return post["url"], {name: str(value) for name, value in post["fields"].items()}

    def read(self, key: str, etag: str | None, max_bytes: int) -> bytes | None:
        """The object's bytes if it is still ``etag`` (``ObjectChanged`` if not); None when it is gone;
        ``FileRefused`` (unread) when it holds more than ``max_bytes``."""
        from botocore.exceptions import ClientError

        extra = {"IfMatch": etag} if etag else {}
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=key, **extra)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code in ("PreconditionFailed", "412"):
                raise ObjectChanged(key) from None
            if code in ABSENT:
                return None
            raise
        if int(answer.get("ContentLength") or 0) > max_bytes:
            answer["Body"].close()
            raise FileRefused(f"the file is larger than {max_bytes // 2**20} MB: split it into smaller files")
        return answer["Body"].read(max_bytes + 1)

    def put_rows(self, key: str, lines: list[dict[str, Any]]) -> None:
        """The valid rows, one JSON object per line."""
        body = "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/x-ndjson")

    def rows(self, key: str) -> list[dict[str, Any]]:
        """What ``put_rows`` wrote (one GetObject)."""
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")
        return [json.loads(line) for line in body.splitlines() if line]


class SqsImportJobs:
    """Messages to the import worker: apply an import from a row on (``{"import_id", "apply_from"}``)."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self._url = queue_url
        self._sqs = client or aws.client("sqs")

    def apply(self, import_id: str, position: int) -> None:
        self._sqs.send_message(
            QueueUrl=self._url, MessageBody=json.dumps({"import_id": import_id, "apply_from": position})
        )
