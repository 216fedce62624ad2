"""The emulator's checks of a browser form upload (devstack/s3_post_policy.py), on forms botocore signs.

tests/test_product_images.py uploads through the emulated S3; these name the rules one by one, including the
ones a test cannot wait for (expiry) and the policy forms the app does not use (``eq``, ``starts-with``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devstack.s3_post_policy import refusal

ENVIRON = {"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "local-secret"}


def form(conditions: list[Any] | None = None, fields: dict[str, str] | None = None, **credentials: str) -> dict:
    s3 = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:1",
        region_name="us-east-1",
        aws_access_key_id=credentials.get("key", ENVIRON["AWS_ACCESS_KEY_ID"]),
        aws_secret_access_key=credentials.get("secret", ENVIRON["AWS_SECRET_ACCESS_KEY"]),
        config=Config(signature_version="s3v4"),
    )
    post = s3.generate_presigned_post(
        "images",
        "products/A/1.png",
        Fields=fields if fields is not None else {"Content-Type": "image/png"},
        Conditions=conditions
        if conditions is not None
        else [{"Content-Type": "image/png"}, ["content-length-range", 1, 100]],
        ExpiresIn=600,
    )
    return post["fields"]


def now() -> datetime:
    return datetime.now(UTC)


def code(answer) -> str | None:
    return None if answer is None else answer[2].split("<Code>")[1].split("</Code>")[0]


def test_a_form_within_its_policy_is_stored():
    assert refusal(form(), 100, "images", now(), ENVIRON) is None


def test_an_expired_form_is_refused():
    answer = refusal(form(), 10, "images", now() + timedelta(seconds=601), ENVIRON)
    assert answer[0] == 403 and code(answer) == "AccessDenied" and "Policy expired" in answer[2]


@pytest.mark.parametrize(("size", "expected"), [(101, "EntityTooLarge"), (0, "EntityTooSmall")])
def test_the_size_range_is_enforced(size, expected):
    answer = refusal(form(), size, "images", now(), ENVIRON)
    assert answer[0] == 400 and code(answer) == expected


def test_another_bucket_is_refused():
    assert code(refusal(form(), 10, "receipts", now(), ENVIRON)) == "AccessDenied"


def test_a_form_without_a_policy_is_anonymous_and_refused():
    fields = {name: value for name, value in form().items() if name != "policy"}
    assert code(refusal(fields, 10, "images", now(), ENVIRON)) == "AccessDenied"


def test_a_form_signed_with_other_credentials_is_refused():
    assert code(refusal(form(secret="not-the-secret"), 10, "images", now(), ENVIRON)) == "SignatureDoesNotMatch"
    assert code(refusal(form(key="AKIDOTHER"), 10, "images", now(), ENVIRON)) == "SignatureDoesNotMatch"


def test_eq_and_starts_with_conditions():
    conditions = [["eq", "$Content-Type", "image/png"], ["starts-with", "$Cache-Control", "public"]]
    fields = {"Content-Type": "image/png", "Cache-Control": "public, max-age=60"}
    signed = form(conditions, fields)
    assert refusal(signed, 10, "images", now(), ENVIRON) is None
    assert code(refusal({**signed, "Cache-Control": "private"}, 10, "images", now(), ENVIRON)) == "AccessDenied"
    assert code(refusal({**signed, "Content-Type": "image/gif"}, 10, "images", now(), ENVIRON)) == "AccessDenied"


def test_a_field_no_condition_names_is_refused_but_x_ignore_fields_are_not():
    signed = form()
    answer = refusal({**signed, "success_action_redirect": "https://evil.example"}, 10, "images", now(), ENVIRON)
    assert code(answer) == "AccessDenied" and "Extra input fields: success_action_redirect" in answer[2]
    assert refusal({**signed, "x-ignore-note": "anything"}, 10, "images", now(), ENVIRON) is None
