"""The README's voucher walk on a real ``make run`` stack: pay an order with ``make pay``, then fetch its voucher.

The API answers ``303`` over real HTTP; the presigned URL is then fetched, without a token, from the stack's
emulated S3, as ``curl -L`` or a browser would.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

from tests.test_devstack import ADDRESS, devstack, place_order, request, running, sign_in  # noqa: F401


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the 303 itself is what this test reads first
        return None


def test_make_run_serves_a_paid_orders_voucher_through_the_emulators_s3(running):  # noqa: F811
    token = sign_in(running.env)
    order, product = place_order(running, token)
    order_id = order["order_id"]
    voucher = f"{running.api}/orders/{order_id}/receipt.pdf"
    status, refused = request("GET", voucher, token=token)
    assert (status, refused["error"]["code"]) == (409, "not_paid")
    status, payment = request("POST", f"{running.api}/orders/{order_id}/payments", token=token, body={"method": "card"})
    assert status == 201, payment
    paid = devstack(running.environ, "devstack.pay", order_id)
    assert paid.returncode == 0, paid.stderr

    opener = urllib.request.build_opener(_NoRedirect)
    call = urllib.request.Request(voucher, headers={"Authorization": f"Bearer {token}"})
    try:
        opener.open(call, timeout=10)
        raise AssertionError("expected a 303")
    except urllib.error.HTTPError as answer:
        assert answer.code == 303
        body = json.loads(answer.read())
        location = answer.headers["Location"]
    assert location == body["url"] and location.startswith(running.env["aws_endpoint_url"] + "/receipts/")

    origin = {"Origin": "https://shop.example.com"}
    with urllib.request.urlopen(urllib.request.Request(location, headers=origin), timeout=10) as pdf:
        assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf"
        # the bucket's CORS rule allows the dev stage's origin, *: S3 answers * or echoes the caller's origin
        assert pdf.headers["Access-Control-Allow-Origin"] in ("*", origin["Origin"])
        content = pdf.read()
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert order["order_number"] in text and product["name"] in text and ADDRESS["name"] in text
    assert payment["provider_reference"] in text
    assert "Demo Shop Ltd" in text  # the local stack's BUSINESS_NAME
