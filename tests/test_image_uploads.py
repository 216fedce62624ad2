"""The image-uploads consumer (``image_uploads``) on objects it must not list, and on failures.

tests/test_product_images.py plays the upload a staff console makes; here objects reach the images bucket some
other way (the notification is all the handler trusts), notifications come for objects already gone, a message
is not S3's at all, or a call fails: a bad object is deleted and logged at once (never retried, never listed),
a failure is retried and then dead-lettered.
"""

from __future__ import annotations

import uuid

import pytest

from chalicelib.domain.product_images import MAX_IMAGE_BYTES
from tests.test_product_images import PNG, SKU, ask, listed, stored_product, upload
from tests.test_product_images import images as images  # the fixtures: buckets, queues and the pump
from tests.test_product_images import product as product

# --- objects that may not be listed ----------------------------------------------------------------------------


def bad_key(sku: str = SKU, extension: str = "png") -> str:
    return f"products/{sku}/{uuid.uuid4().hex}.{extension}"


@pytest.mark.parametrize(
    ("key", "body", "content_type"),
    [
        (bad_key(), b"<html>not an image</html>", "text/html"),  # a type other than the three
        (bad_key(), b"<html>not an image</html>", "image/png"),  # labelled PNG, but not PNG bytes
        (bad_key(extension="jpg"), PNG, "image/png"),  # the type does not match the key's extension
        (bad_key(), PNG + bytes(MAX_IMAGE_BYTES), "image/png"),  # over 5 MB
        (bad_key("NO-SUCH-SKU"), PNG, "image/png"),  # no such product
        (f"products/{SKU}/photo.png", PNG, "image/png"),  # not a key the API hands out
    ],
    ids=["type", "bytes", "extension", "size", "sku", "key"],
)
def test_an_object_that_may_not_be_listed_is_deleted_not_retried_and_not_listed(
    api, product, images, key, body, content_type
):
    """An object that reached the bucket without the API's form (the notification is all the handler trusts)."""
    before = stored_product().updated_at
    images.s3.put_object(Bucket=images.bucket, Key=key, Body=body, ContentType=content_type)
    assert images.drain() == [(1, 0)]  # handled at once: deleted, not failed and retried
    assert images.keys() == [] and images.dead_lettered() == 0
    assert listed(api) == [] and stored_product().updated_at == before


def test_a_bad_object_replacing_a_listed_one_at_its_key_is_unlisted_too(api, product, images):
    reply = ask(api)
    assert upload(reply, PNG).status_code == 204
    images.drain()
    assert listed(api) == [reply.body["image_url"]]
    sent = upload(reply, b"\x89PNG but not really", filename="x.png")  # the same form again, within ten minutes
    assert sent.status_code == 204
    images.drain()
    assert images.keys() == [] and listed(api) == []


def test_an_object_outside_products_is_left_alone(api, product, images):
    images.s3.put_object(Bucket=images.bucket, Key="notes/readme.txt", Body=b"x")
    images.drain()
    assert images.keys() == ["notes/readme.txt"]


def test_a_notification_of_an_object_already_gone_changes_nothing(api, product, images):
    images.notify_again(bad_key(), 10)
    assert images.drain() == [(1, 0)] and listed(api) == []


def test_a_message_that_is_not_an_s3_notification_is_retried_then_dead_lettered(api, product, images):
    images.sqs.send_message(QueueUrl=images.queues["image-uploads"], MessageBody='{"hello": "world"}')
    rounds = images.drain()
    assert rounds == [(0, 1)] * 5  # maxReceiveCount receives, each failed, then the queue's redrive
    assert images.dead_lettered() == 1


def test_a_failing_call_is_retried_and_the_next_delivery_lists_the_image(api, product, images, monkeypatch):
    from chalicelib.adapters.dynamo.product_images import ProductImagesRepository

    reply = ask(api)
    original, calls = ProductImagesRepository.add_image, []

    def flaky(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("DynamoDB throttled")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ProductImagesRepository, "add_image", flaky)
    assert upload(reply, PNG).status_code == 204
    assert images.drain() == [(0, 1), (1, 0)]
    assert listed(api) == [reply.body["image_url"]]
