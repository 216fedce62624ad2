"""Product images (API.md, Managing the catalogue): ``POST /staff/products/{sku}/images`` and the upload that follows.

Each test plays it as a staff console would: ask the API for an upload, POST the file to the returned URL
with the returned fields (multipart, as a browser form does) straight to the emulated S3, which enforces the
form's policy as S3 does (devstack/s3_post_policy.py), then let S3's ObjectCreated notification reach the
``image_uploads`` consumer through the ``image-uploads`` queue (the emulator delivers it), pumped as Lambda's
event source mapping would. What the customer then sees is ``GET /products/{sku}`` and the image's URL.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from chalicelib.domain.product_images import MAX_IMAGE_BYTES, MAX_IMAGES
from devstack import resources
from devstack.demo_images import picture
from tests.conftest import ADDRESS, assert_error

ROOT = Path(__file__).resolve().parent.parent
SKU = "TEE-IMG-1"
PNG = picture("apparel", 0)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200)
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(200)


@pytest.fixture
def images(stack, tables, monkeypatch):
    """The template's buckets (their S3 -> SQS notifications to this test's image-uploads queue) and a pump that
    plays Lambda's event source mapping for the ``image_uploads`` handler."""
    from app import app
    from chalicelib.config import settings
    from devstack.events import QueuePump, call

    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1")
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name="us-east-1")
    queues, _ = resources.create_messaging(sqs, sns, visibility_timeout=0, prefix=f"t{uuid.uuid4().hex[:8]}-")
    names = resources.create_buckets(
        s3, origin="https://console.example.com", queue_arns=resources.queue_arns(sqs, queues)
    )
    assert names["images"] == settings.images_bucket
    pump = QueuePump(sqs, queues["image-uploads"], call(app.handler_map["image_uploads"]), "us-east-1")
    world = ImagesWorld(s3, sqs, queues, settings.images_bucket, pump)
    world.drain()  # S3's test event, sent when the notification was configured: ignored
    yield world
    resources.delete_buckets(s3, names)


class ImagesWorld:
    def __init__(self, s3: Any, sqs: Any, queues: dict[str, str], bucket: str, pump: Any) -> None:
        self.s3, self.sqs, self.queues, self.bucket, self.pump = s3, sqs, queues, bucket, pump

    def drain(self) -> list[tuple[int, int]]:
        """Deliver what the queue holds until it is empty (a failed message comes straight back: visibility 0)."""
        rounds = []
        for _ in range(20):
            handled, failed = self.pump.pump()
            if not handled and not failed:
                return rounds
            rounds.append((handled, failed))
        raise AssertionError(f"the image-uploads queue never emptied: {rounds}")

    def keys(self) -> list[str]:
        return sorted(item["Key"] for item in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []))

    def notify_again(self, key: str, size: int) -> None:
        """S3 delivers at least once: the notification of ``key`` once more, as S3 writes it."""
        record = {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                  "eventName": "ObjectCreated:Post", "s3": {"bucket": {"name": self.bucket},
                  "object": {"key": key.replace("/", "%2F"), "size": size}}}  # fmt: skip
        self.sqs.send_message(QueueUrl=self.queues["image-uploads"], MessageBody=json.dumps({"Records": [record]}))

    def dead_lettered(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queues["image-uploads-dlq"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def product(seed):
    return seed(SKU, name="纯棉T恤 图片")


def ask(api, sku: str = SKU, *, as_: str | None = "staff", **body: Any):
    return api.post(f"/staff/products/{sku}/images", {"content_type": "image/png", "size_bytes": len(PNG), **body},
                    as_=as_)  # fmt: skip


def upload(reply, data: bytes, *, filename: str = "photo.png", **override: str) -> requests.Response:
    """POST the form as a browser does: every field, then the file (the part's own type is the browser's guess)."""
    assert reply.status == 201, reply.body
    fields = {**reply.body["upload"]["fields"], **override}
    return requests.post(reply.body["upload"]["url"], data=fields, files={"file": (filename, data)}, timeout=10)


def policy_of(reply) -> dict[str, Any]:
    return json.loads(base64.b64decode(reply.body["upload"]["fields"]["policy"]))


def listed(api, sku: str = SKU) -> list[str]:
    reply = api.get(f"/products/{sku}")
    assert reply.status == 200, reply.body
    return reply.body["images"]


def stored_product(sku: str = SKU):
    from chalicelib.adapters.dynamo.models import ProductModel

    return ProductModel.get(sku, consistent_read=True)


# --- asking for an upload ----------------------------------------------------------------------------------------


def test_staff_get_a_presigned_post_for_exactly_that_type_at_most_that_size_for_ten_minutes(api, product, images):
    reply = ask(api, content_type="image/webp", size_bytes=123_456)
    assert reply.status == 201, reply.body
    assert set(reply.body) == {"upload", "image_url"} and set(reply.body["upload"]) == {"url", "fields", "expires_at"}
    fields = reply.body["upload"]["fields"]
    key = fields["key"]
    assert key.startswith(f"products/{SKU}/") and key.endswith(".webp") and len(key.rsplit("/", 1)[1]) == 32 + 5
    assert fields["Content-Type"] == "image/webp"
    assert reply.body["image_url"] == f"{images.s3.meta.endpoint_url}/{images.bucket}/{key}"
    assert reply.body["upload"]["url"] == f"{images.s3.meta.endpoint_url}/{images.bucket}"
    policy = policy_of(reply)
    assert {"Content-Type": "image/webp"} in policy["conditions"] and {"key": key} in policy["conditions"]
    assert ["content-length-range", 1, 123_456] in policy["conditions"]
    assert {"bucket": images.bucket} in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 590 <= (expires - datetime.now(UTC)).total_seconds() <= 600
    assert reply.body["upload"]["expires_at"][:16] == expires.strftime("%Y-%m-%dT%H:%M")
    assert ask(api, content_type="image/webp").body["upload"]["fields"]["key"] != key  # a new key every time
    assert images.keys() == [] and listed(api) == []  # nothing is stored or listed before the upload


def test_the_request_is_audited_and_nothing_else_changes_until_the_upload(api, product, images, dynamodb_calls):
    dynamodb_calls.clear()
    reply = ask(api)
    assert dynamodb_calls == ["GetItem", "PutItem"]  # the product; the audit entry (signing makes no call)
    entries = api.get(f"/staff/audit?target_type=product&target_id={SKU}", as_="admin").body["items"]
    (entry,) = entries
    assert entry["action"] == "product.image_requested" and entry["actor"] == f"staff:{api.users['staff'].sub}"
    assert entry["data"] == {"key": reply.body["upload"]["fields"]["key"], "content_type": "image/png",
                             "size_bytes": len(PNG), "image_url": reply.body["image_url"]}  # fmt: skip
    assert stored_product().version == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"content_type": "image/gif"}, {"content_type"}),
        ({"content_type": "text/html"}, {"content_type"}),
        ({"size_bytes": 0}, {"size_bytes"}),
        ({"size_bytes": MAX_IMAGE_BYTES + 1}, {"size_bytes"}),
        ({"size_bytes": "100"}, {"size_bytes"}),
        ({"size_bytes": 10.5}, {"size_bytes"}),
        ({"size_bytes": True}, {"size_bytes"}),
        ({"content_type": None, "size_bytes": -1}, {"content_type", "size_bytes"}),
        ({"url": "https://evil.example/x.png"}, {"url"}),
    ],
)
def test_a_bad_type_or_size_is_422_naming_each_field_and_writes_nothing(api, product, images, body, fields):
    reply = ask(api, **body)
    details = assert_error(reply, 422, "validation_failed")
    assert set(details["fields"]) == fields, details
    assert api.get(f"/staff/audit?target_type=product&target_id={SKU}", as_="admin").body["items"] == []


def test_a_missing_field_is_422(api, product, images):
    reply = api.post(f"/staff/products/{SKU}/images", {"size_bytes": 10}, as_="staff")
    assert assert_error(reply, 422, "validation_failed")["fields"] == {"content_type": "is required"}


@pytest.mark.parametrize("sku", ["NO-SUCH-SKU", "bad%20sku", "-x"])
def test_an_unknown_sku_is_404(api, product, images, sku):
    assert_error(ask(api, sku), 404, "not_found")


@pytest.mark.parametrize(("caller", "status", "code"), [(None, 401, "unauthorized"), ("customer", 403, "forbidden")])
def test_only_staff_and_admin_may_ask(api, product, images, caller, status, code):
    assert_error(ask(api, as_=caller), status, code)
    assert ask(api, as_="admin").status == 201
    assert len(api.get(f"/staff/audit?target_type=product&target_id={SKU}", as_="admin").body["items"]) == 1


def test_a_product_with_the_most_images_takes_no_more(api, seed, images):
    seed(SKU, images=[f"https://cdn.example.com/{n}.png" for n in range(MAX_IMAGES)])
    details = assert_error(ask(api), 409, "too_many_images")
    assert details == {"sku": SKU, "limit": MAX_IMAGES}


def test_a_retired_product_may_get_images_before_it_is_listed_again(api, seed, images):
    seed(SKU, active=False)
    reply = ask(api)
    assert upload(reply, PNG).status_code == 204
    images.drain()
    assert list(stored_product().images) == [reply.body["image_url"]]


# --- the upload, and the product listing it --------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "data"), [("image/png", PNG), ("image/jpeg", JPEG), ("image/webp", WEBP)])
def test_the_upload_lands_in_s3_and_the_product_lists_its_public_url(api, product, images, content_type, data):
    reply = ask(api, content_type=content_type, size_bytes=len(data))
    sent = upload(reply, data)
    assert sent.status_code == 204, sent.text
    assert images.drain() == [(1, 0)]
    assert listed(api) == [reply.body["image_url"]]
    served = requests.get(reply.body["image_url"], timeout=10)  # anonymous, as a shop page's <img> loads it
    assert served.status_code == 200 and served.content == data
    assert served.headers["Content-Type"] == content_type
    assert "immutable" in served.headers["Cache-Control"]
    record = stored_product()
    assert record.version == 1 and record.updated_at  # uploads move updated_at, never the staff edits' version


def test_a_file_of_exactly_the_size_asked_for_is_taken_a_smaller_one_too(api, product, images):
    assert upload(ask(api, size_bytes=len(PNG)), PNG).status_code == 204
    assert upload(ask(api, size_bytes=len(PNG) + 500), PNG).status_code == 204
    images.drain()
    assert len(listed(api)) == 2


def test_a_redelivered_notification_lists_the_image_once(api, product, images):
    reply = ask(api)
    assert upload(reply, PNG).status_code == 204
    key = reply.body["upload"]["fields"]["key"]
    images.notify_again(key, len(PNG))
    images.notify_again(key, len(PNG))
    assert sum(handled for handled, _ in images.drain()) == 3 and images.dead_lettered() == 0
    assert listed(api) == [reply.body["image_url"]]


def test_two_images_are_listed_in_the_order_they_arrive(api, product, images):
    first, second = ask(api), ask(api, content_type="image/jpeg", size_bytes=len(JPEG))
    assert upload(first, PNG).status_code == 204
    images.drain()
    assert upload(second, JPEG).status_code == 204
    images.drain()
    assert listed(api) == [first.body["image_url"], second.body["image_url"]]


@pytest.mark.parametrize(
    ("override", "data", "status", "code"),
    [
        ({}, PNG + bytes(1), 400, "EntityTooLarge"),  # one byte over the size asked for
        ({"Content-Type": "image/jpeg"}, PNG, 403, "AccessDenied"),  # another type than the one signed
        ({"Content-Type": "text/html"}, b"<script>alert(1)</script>", 403, "AccessDenied"),
        ({"key": f"products/{SKU}/{'0' * 32}.png"}, PNG, 403, "AccessDenied"),  # another key
        ({"acl": "public-read"}, PNG, 403, "AccessDenied"),  # a field the policy does not name
        ({"x-amz-signature": "0" * 64}, PNG, 403, "SignatureDoesNotMatch"),
        ({}, b"", 400, "EntityTooSmall"),
    ],
)
def test_s3_refuses_a_bigger_file_another_type_or_a_changed_form(api, product, images, override, data, status, code):
    sent = upload(ask(api), data, **override)
    assert sent.status_code == status and f"<Code>{code}</Code>" in sent.text, sent.text
    assert images.keys() == []
    images.drain()
    assert listed(api) == []


def test_a_changed_policy_is_refused_even_with_the_size_it_names(api, product, images):
    reply = ask(api)
    policy = policy_of(reply)
    policy["conditions"] = [
        c for c in policy["conditions"] if not (isinstance(c, list) and c[0] == "content-length-range")
    ]
    forged = base64.b64encode(json.dumps(policy).encode()).decode()
    sent = upload(reply, PNG + bytes(10_000), policy=forged)
    assert sent.status_code == 403 and "SignatureDoesNotMatch" in sent.text
    assert images.keys() == []


def test_the_bucket_lets_the_consoles_origin_post_from_a_browser(api, product, images):
    reply = ask(api)
    preflight = requests.options(
        reply.body["upload"]["url"],
        headers={"Origin": "https://console.example.com", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://console.example.com"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_a_staff_edit_racing_an_images_arrival_keeps_both(api, product, images, monkeypatch):
    """The edit read the product before the image was listed and writes it whole after: the listing is part of
    what the edit's write is conditional on, so it is computed again from a fresh read and the image stays."""
    from chalicelib.adapters.dynamo.product_store import ProductStore

    reply = ask(api)
    original, reads = ProductStore.get, []

    def read_then_image_arrives(self, sku):
        found = original(self, sku)
        reads.append(found)
        if len(reads) == 1:
            assert upload(reply, PNG).status_code == 204
            images.drain()  # listed between the edit's read and its write
        return found

    monkeypatch.setattr(ProductStore, "get", read_then_image_arrives)
    edited = api.request("PATCH", f"/staff/products/{SKU}", json_body={"description": "新的描述"}, as_="staff",
                         headers={"if-match": '"1"'})  # fmt: skip
    assert edited.status == 200, edited.body
    assert len(reads) == 2  # the first write was refused, the second computed from what holds the image
    shown = api.get(f"/products/{SKU}").body
    assert shown["description"] == "新的描述" and shown["images"] == [reply.body["image_url"]]


def test_staff_may_reorder_or_drop_uploaded_images_with_an_edit(api, product, images):
    first, second = ask(api), ask(api, content_type="image/jpeg", size_bytes=len(JPEG))
    assert upload(first, PNG).status_code == 204 and upload(second, JPEG).status_code == 204
    images.drain()
    version = api.get(f"/staff/products/{SKU}", as_="staff").body["version"]
    assert version == 1  # uploads never move it
    edited = api.request("PATCH", f"/staff/products/{SKU}", json_body={"images": [second.body["image_url"]]},
                         as_="staff", headers={"if-match": f'"{version}"'})  # fmt: skip
    assert edited.status == 200, edited.body
    assert listed(api) == [second.body["image_url"]]


# --- the route in the API's description, and off the cold path ---------------------------------------------------


def test_the_route_is_in_openapi_with_its_body_answer_and_errors(api):
    operation = api.get("/openapi.json").body["paths"]["/staff/products/{sku}/images"]["post"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(operation["responses"])


CONTAINER = """
import json, sys
sys.path[:0] = [{root!r}, {bench!r}]
import app
import probe

watched = ("chalicelib.services.product_images", "chalicelib.adapters.images_store")
loaded = {{"import app": [m for m in watched if m in sys.modules]}}
probe.handle(app.app, probe.event("GET", "/products"), 200)
loaded["GET /products"] = [m for m in watched if m in sys.modules]
body = {{"items": [{{"sku": "COLD-IMG-1", "quantity": 1}}], "shipping_address": {address!r}}}
claims = {{"sub": "cold-customer", "token_use": "id", "cognito:groups": []}}
probe.handle(app.app, probe.event("POST", "/orders", body, claims), 201)
loaded["POST /orders"] = [m for m in watched if m in sys.modules]
print(json.dumps(loaded))
"""


def test_image_modules_are_not_imported_by_a_cold_start_or_the_first_requests(stack, seed):
    seed("COLD-IMG-1", stock=10)
    script = CONTAINER.format(root=str(ROOT), bench=str(ROOT / "bench"), address=ADDRESS)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"import app": [], "GET /products": [], "POST /orders": []}
