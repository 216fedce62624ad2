"""S3's checks of a browser form upload (POST Object with a SigV4 policy), which moto does not make.

moto 5 stores whatever a form POST sends: it never reads the policy, so an expired form, another
content type or a file over ``content-length-range`` would all be stored. S3 refuses them, and the
product images rely on that, so the emulator checks what S3 checks
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html):

- the signature: HMAC-SHA256 of the base64 policy with the SigV4 key of ``x-amz-credential`` (the
  process's own credentials, which the app signs with locally): ``403 SignatureDoesNotMatch``;
- the expiration: ``403 AccessDenied`` "Policy expired";
- every condition (exact match, ``eq``, ``starts-with``; ``bucket`` is the URL's): ``403 AccessDenied``
  "Policy Condition failed: ...";
- every form field but ``policy``, ``x-amz-signature``, ``file`` and ``x-ignore-*`` is named by a
  condition: ``403 AccessDenied`` "Extra input fields: ...";
- ``content-length-range``: ``400 EntityTooLarge`` / ``EntityTooSmall``.

A form POST without a policy is anonymous, and the local buckets are private: ``403 AccessDenied``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

UNSIGNED_FIELDS = {"policy", "x-amz-signature", "file"}
Refusal = tuple[int, dict[str, str], str]


def install() -> None:
    """Check every form POST to a bucket before moto stores it (once per process)."""
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post
    if getattr(original, "checks_policy", False):
        return

    def checked(self: Any, request: Any, bucket_name: str) -> Any:
        if "key" in self.form_data:  # a browser form upload (a DeleteObjects POST is XML)
            body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
            refused = refusal(self.form_data, len(body), bucket_name, datetime.now(UTC), os.environ)
            if refused is not None:
                return refused
        return original(self, request, bucket_name)

    checked.checks_policy = True  # type: ignore[attr-defined]
    S3Response._bucket_response_post = checked


def refusal(
    form: Mapping[str, str], size: int, bucket: str, now: datetime, environ: Mapping[str, str]
) -> Refusal | None:
    """S3's answer refusing this upload, or None when S3 would store it."""
    fields = {name.lower(): value for name, value in form.items() if name.lower() != "file"}
    encoded = fields.get("policy")
    if not encoded:
        return _error(403, "AccessDenied", "Access Denied")
    if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        return _error(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 (SigV4) form uploads are checked locally")
    if not _signed(encoded, fields, environ):
        return _error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True))
        expires = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
        conditions = list(policy["conditions"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return _error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    if now >= expires:
        return _error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    values = {**fields, "bucket": bucket}
    covered, smallest, largest = {"bucket"}, None, None
    for condition in conditions:
        if isinstance(condition, dict):
            for name, expected in condition.items():
                covered.add(name.lower())
                if values.get(name.lower()) != expected:
                    return _failed(["eq", f"${name}", expected])
        elif isinstance(condition, list) and len(condition) == 3 and condition[0] == "content-length-range":
            smallest, largest = int(condition[1]), int(condition[2])
        elif isinstance(condition, list) and len(condition) == 3 and condition[0] in ("eq", "starts-with"):
            operator, name, expected = condition
            name = str(name).removeprefix("$").lower()
            covered.add(name)
            value = values.get(name, "")
            matches = value == expected if operator == "eq" else value.startswith(str(expected))
            if not matches:
                return _failed(condition)
        else:
            return _error(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")
    extra = sorted(
        name for name in fields if name not in covered | UNSIGNED_FIELDS and not name.startswith("x-ignore-")
    )
    if extra:
        return _error(403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
    if largest is not None and size > largest:
        return _error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    if smallest is not None and size < smallest:
        return _error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
    return None


def _signed(policy: str, fields: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    """Whether ``x-amz-signature`` is the policy's SigV4 signature by this process's credentials."""
    try:
        access_key, day, region, service, terminator = fields["x-amz-credential"].split("/")
    except (KeyError, ValueError):
        return False
    secret = environ.get("AWS_SECRET_ACCESS_KEY")
    if not secret or access_key != environ.get("AWS_ACCESS_KEY_ID") or terminator != "aws4_request":
        return False
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("x-amz-signature", ""))


def _failed(condition: Any) -> Refusal:
    return _error(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}")


def _error(status: int, code: str, message: str) -> Refusal:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>'
    return status, {"Content-Type": "application/xml"}, body
