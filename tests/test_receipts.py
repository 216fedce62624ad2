"""The payment voucher (API.md, Receipts): ``GET /orders/{order_id}/receipt.pdf``.

Every test goes through the HTTP API and then, as a browser would, follows the ``303`` to the
presigned URL on the emulated S3, reads the PDF's bytes and extracts its text with pypdf (which
decodes reportlab's ``STSong-Light`` / ``UniGB-UCS2-H`` text): what the customer can read on the voucher.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from chalicelib.config import settings
from chalicelib.domain.receipt import format_money
from devstack import resources
from tests.conftest import ADDRESS, KEY, Reply, assert_error, view

ROOT = Path(__file__).resolve().parent.parent
SKU, NAME, PRICE, QUANTITY = "TEE-CN-1", "纯棉圆领T恤 白色", 12950, 2  # 129.50 CNY each
OTHER_SKU, OTHER_NAME, OTHER_PRICE = "MUG-1", "Enamel mug", 3000
TOTAL = PRICE * QUANTITY + OTHER_PRICE  # 289.00 CNY


@pytest.fixture
def bucket(stack):
    """The template's receipts bucket on the emulator (named as the app's settings say), emptied after."""
    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name="us-east-1")
    names = resources.create_buckets(s3)
    assert names["receipts"] == settings.receipts_bucket
    yield s3
    resources.delete_buckets(s3, names)


@pytest.fixture
def s3_calls(monkeypatch) -> list[str]:
    """S3 API calls by operation name, across every client (presigning a URL makes none)."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if self.meta.service_model.service_name == "s3":
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


@pytest.fixture
def placed(api, seed, place, bucket) -> str:
    """An unpaid order of "customer": two lines, one with a Chinese name."""
    seed(SKU, price=PRICE, name=NAME)
    seed(OTHER_SKU, price=OTHER_PRICE, name=OTHER_NAME)
    reply = place((SKU, QUANTITY), (OTHER_SKU, 1), as_="customer")
    assert reply.status == 201, reply.body
    return reply.body["order_id"]


@pytest.fixture
def card_paid(api, placed, stripe_world, deliver) -> tuple[str, str]:
    """The order paid by card: (order id, PaymentIntent id)."""
    started = api.post(f"/orders/{placed}/payments", {"method": "card"}, as_="customer")
    assert started.status == 201, started.body
    pi = started.body["provider_reference"]
    assert deliver(stripe_world.standin.succeed(pi)).status == 200
    assert view(api, placed)["payment_status"] == "paid"
    return placed, pi


def receipt(api, order_id: str, as_: str | None = "customer") -> Reply:
    return api.get(f"/orders/{order_id}/receipt.pdf", as_=as_)


def download(reply: Reply) -> bytes:
    """Follow the 303 as a browser would: GET the presigned URL (no token) and read the PDF."""
    assert reply.status == 303, reply.body
    assert reply.headers["location"] == reply.body["url"]
    with urllib.request.urlopen(reply.headers["location"], timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/pdf"
        return answer.read()


def text_of(pdf: bytes) -> str:
    from pypdf import PdfReader

    assert pdf.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def stored(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=settings.receipts_bucket).get("Contents", []))


# --- what the voucher says --------------------------------------------------------------------------------------


def test_a_paid_orders_voucher_shows_its_number_lines_totals_payment_and_chinese_text(api, card_paid, bucket):
    order_id, pi = card_paid
    order = view(api, order_id)
    reply = receipt(api, order_id)
    assert reply.status == 303, reply.body
    assert set(reply.body) == {"url", "expires_at"}
    expires = datetime.strptime(reply.body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= settings.receipt_link_seconds
    text = text_of(download(reply))
    assert order["order_number"] in text
    assert NAME in text and SKU in text and OTHER_NAME in text and OTHER_SKU in text  # Chinese renders
    assert ADDRESS["name"] in text and ADDRESS["line1"] in text and ADDRESS["city"] in text
    assert "CNY 129.50" in text and "CNY 259.00" in text and "CNY 30.00" in text  # unit price, line totals
    assert "Subtotal" in text and "Total" in text and text.count("CNY 289.00") >= 3  # subtotal, total, paid
    assert "Card" in text and pi in text  # the payment: method and its PaymentIntent
    assert "Refunds" not in text
    (key,) = stored(bucket)
    assert re.fullmatch(rf"receipts/{order_id}/v[0-9]+\.pdf", key)


def test_the_link_is_private_and_short_lived_the_object_is_not_public(api, card_paid, bucket):
    order_id, _ = card_paid
    url = receipt(api, order_id).headers["location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == [str(settings.receipt_link_seconds)] and "X-Amz-Signature" in query
    unsigned = url.split("?", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as refused:  # the same object without the signature
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403


def test_the_second_request_for_the_same_version_only_signs_a_new_link(api, card_paid, bucket, s3_calls):
    order_id, _ = card_paid
    first = receipt(api, order_id)
    assert s3_calls == ["HeadObject", "PutObject"]
    s3_calls.clear()
    second = receipt(api, order_id, as_="staff")
    assert s3_calls == ["HeadObject"]  # no rebuild, no second write
    assert first.headers["location"].split("?")[0] == second.headers["location"].split("?")[0]
    assert download(first) == download(second)


def test_first_requests_at_once_all_get_the_one_voucher_of_the_version(api, card_paid, bucket):
    """Concurrent first requests may each draw the PDF (no lock is worth it for a rebuildable file): the same
    version gives the same bytes, so every link serves one voucher and one object is stored."""
    from concurrent.futures import ThreadPoolExecutor

    order_id, pi = card_paid
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda role: receipt(api, order_id, as_=role), ["customer", "staff"] * 3))
    assert {reply.status for reply in replies} == {303}
    assert len({reply.headers["location"].split("?")[0] for reply in replies}) == 1
    assert len(stored(bucket)) == 1 and pi in text_of(download(replies[0]))


def test_a_refund_makes_a_new_voucher_version_that_shows_it(api, card_paid, bucket):
    order_id, _ = card_paid
    before = text_of(download(receipt(api, order_id)))
    refunded = api.post(
        f"/staff/orders/{order_id}/refunds", {"amount": 3000, "reason": "mug chipped"}, as_="staff", headers=KEY()
    )
    assert refunded.status == 201, refunded.body
    order = view(api, order_id)
    assert order["payment_status"] == "partially_refunded"
    (refund,) = order["refunds"]
    after = text_of(download(receipt(api, order_id)))
    assert "Refunds" not in before
    assert "Refunds" in after and "CNY 30.00" in after and refund["status"] in after
    assert refund["provider_reference"] in after  # Stripe's refund id
    assert "mug chipped" not in after  # the reason is for staff
    assert "partially refunded" in after
    keys = stored(bucket)
    assert len(keys) == 2 and all(re.fullmatch(rf"receipts/{order_id}/v[0-9]+\.pdf", key) for key in keys)


def test_a_paid_order_edited_dearer_shows_its_balance_due_on_a_new_version(api, card_paid, bucket):
    order_id, _ = card_paid
    before = text_of(download(receipt(api, order_id)))
    order = view(api, order_id)
    items = {"items": [{"sku": SKU, "quantity": QUANTITY}, {"sku": OTHER_SKU, "quantity": 2}]}
    headers = {"if-match": f'"{order["version"]}"'}
    edited = api.request("PATCH", f"/orders/{order_id}", as_="staff", json_body=items, headers=headers)
    assert edited.status == 200, edited.body
    assert (edited.body["payment_status"], edited.body["balance_due"]) == ("paid", OTHER_PRICE)
    after = text_of(download(receipt(api, order_id)))
    assert "Balance due" not in before
    assert "Balance due" in after and "CNY 319.00" in after and "CNY 60.00" in after  # new total, new line total
    assert len(stored(bucket)) == 2


def test_an_offline_payment_shows_the_customers_reference_code_not_the_banks(api, placed, stripe_world, bucket):
    started = api.post(f"/orders/{placed}/payments", {"method": "bank_transfer"}, as_="customer")
    assert started.status == 201, started.body
    code = started.body["instructions"]["reference_code"]
    confirm = f"/staff/orders/{placed}/payments/{started.body['payment_id']}/confirm"
    confirmed = api.post(confirm, {"amount": TOTAL, "reference": "ICBC 0042"}, as_="staff")
    assert confirmed.status == 200, confirmed.body
    text = text_of(download(receipt(api, placed)))
    assert "Bank transfer" in text and code in text
    assert "ICBC 0042" not in text


def test_money_is_formatted_with_the_currencys_minor_unit():
    assert format_money(128950, "CNY") == "CNY 1,289.50"
    assert format_money(5, "usd") == "USD 0.05"
    assert format_money(-3000, "CNY") == "-CNY 30.00"
    assert format_money(1500, "JPY") == "JPY 1,500"  # no minor unit
    with pytest.raises(TypeError):
        format_money(1.5, "CNY")  # type: ignore[arg-type]


def test_a_long_voucher_breaks_onto_pages_repeats_the_heading_and_loses_no_line():
    from chalicelib.adapters.receipt_pdf import render
    from chalicelib.domain.receipt import Voucher, VoucherLine, VoucherPayment

    lines = tuple(
        VoucherLine(f"纯棉圆领T恤 白色 加长款 第{i}号" * (3 if i % 7 == 0 else 1), f"SKU-{i:02d}", "CNY 1,129.50", 999,
                    "CNY 1,128,370.50")
        for i in range(50)
    )  # fmt: skip
    paid = (VoucherPayment("Card", "2026-12-01 10:00 UTC", "CNY 1.00", "pi_123"),)
    voucher = Voucher("Shop", "o1", "20261201-000001", 9, "d", "d", "王小明", ("上海",), lines, (), paid, (), "paid")
    pdf = render(voucher)
    assert render(voucher) == pdf  # the same voucher, the same bytes
    from pypdf import PdfReader

    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 2 and all("Line total" in page for page in pages[:-1])
    text = "\n".join(pages)
    assert all(f"SKU-{i:02d}" in text for i in range(50)) and "pi_123" in pages[-1]


# --- who may have it, and when ----------------------------------------------------------------------------------


def test_an_unpaid_order_has_no_voucher_and_nothing_is_stored(api, placed, stripe_world, bucket, s3_calls):
    details = assert_error(receipt(api, placed), 409, "not_paid")
    assert details["payment_status"] == "unpaid"
    started = api.post(f"/orders/{placed}/payments", {"method": "card"}, as_="customer")
    assert started.status == 201
    assert assert_error(receipt(api, placed, as_="staff"), 409, "not_paid")["payment_status"] == "pending"
    assert s3_calls == [] and stored(bucket) == []


@pytest.mark.parametrize("role", ["customer", "staff", "admin"])
def test_the_owner_and_staff_get_the_voucher(api, card_paid, bucket, role):
    order_id, pi = card_paid
    assert pi in text_of(download(receipt(api, order_id, as_=role)))


def test_another_customer_gets_404_and_anonymous_401(api, card_paid, bucket, s3_calls):
    order_id, _ = card_paid
    assert_error(receipt(api, order_id, as_="other"), 404, "not_found")
    reply = receipt(api, order_id, as_=None)
    assert reply.status == 401, reply.body
    assert s3_calls == [] and stored(bucket) == []


@pytest.mark.parametrize("order_id", ["no-such-order", "x" * 65, "bad%20id", "%E4%B8%AD"])
def test_an_unknown_or_malformed_order_id_is_404(api, bucket, stripe_world, order_id):
    assert_error(receipt(api, order_id), 404, "not_found")


def test_dynamodb_and_s3_calls_per_voucher(api, card_paid, bucket, dynamodb_calls, s3_calls):
    order_id, _ = card_paid
    dynamodb_calls.clear()
    assert receipt(api, order_id).status == 303
    assert dynamodb_calls == ["Query"] and s3_calls == ["HeadObject", "PutObject"]


def test_the_route_is_in_openapi_with_its_redirect_and_errors(api):
    reply = api.get("/openapi.json")
    operation = reply.body["paths"]["/orders/{order_id}/receipt.pdf"]["get"]
    assert {"303", "401", "404", "409"} <= set(operation["responses"])
    assert "Location" in operation["responses"]["303"]["headers"]


# --- reportlab stays off the cold path ---------------------------------------------------------------------------

CONTAINER = """
import json, sys
sys.path[:0] = [{root!r}, {bench!r}]
import app
import probe

loaded = {{"import app": "reportlab" in sys.modules}}
probe.handle(app.app, probe.event("GET", "/products"), 200)
loaded["GET /products"] = "reportlab" in sys.modules
body = {{"items": [{{"sku": "COLD-1", "quantity": 1}}], "shipping_address": {address!r}}}
claims = {{"sub": "cold-customer", "token_use": "id", "cognito:groups": []}}
order = probe.handle(app.app, probe.event("POST", "/orders", body, claims), 201)
loaded["POST /orders"] = "reportlab" in sys.modules
probe.handle(app.app, probe.event("GET", "/orders/{{order_id}}", None, claims, order["order_id"]), 200)
loaded["GET /orders/{{id}}"] = "reportlab" in sys.modules
probe.handle(app.app, probe.event("GET", "/orders/{{order_id}}/receipt.pdf", None, claims, order["order_id"]), 409)
loaded["GET receipt.pdf (unpaid)"] = "reportlab" in sys.modules
print(json.dumps(loaded))
"""


def test_reportlab_is_not_imported_by_routes_that_draw_no_voucher(stack, seed):
    seed("COLD-1", stock=10)
    script = CONTAINER.format(root=str(ROOT), bench=str(ROOT / "bench"), address=ADDRESS)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {step: False for step in loaded} and len(loaded) == 5


def test_reportlab_is_imported_inside_functions_only():
    import ast

    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(name.split(".")[0] == "reportlab" for name in names), path
