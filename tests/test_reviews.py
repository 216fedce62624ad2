"""Order reviews and product ratings (API.md, "Reviews"): a customer reviews a delivered order of theirs once;
anyone reads a product's reviews with the reviewers' names masked; the orders table's stream adds each review's
ratings to its products once, however often it is delivered."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.domain.reviews import average, masked
from chalicelib.entrypoints.fulfilment_messages import parse_update
from chalicelib.entrypoints.http import wiring
from tests.conftest import assert_error, view
from tests.test_notifications import Feed

MUG, TEE = "RVW-MUG", "RVW-TEE"


@pytest.fixture
def delivered(api, seed, place):
    """``delivered(as_)`` places an order of a mug and a tee, has staff confirm its bank transfer and the warehouse
    report it delivered; returns the order id."""
    seed(MUG, stock=100, price=1500)
    seed(TEE, stock=100, price=2500)

    def make(as_: str = "customer", deliver: bool = True) -> str:
        placed = place((MUG, 1), (TEE, 2), as_=as_)
        assert placed.status == 201, placed.body
        order_id = placed.body["order_id"]
        started = api.post(f"/orders/{order_id}/payments", {"method": "bank_transfer"}, as_=as_)
        assert started.status == 201, started.body
        confirm = f"/staff/orders/{order_id}/payments/{started.body['payment_id']}/confirm"
        paid = api.post(confirm, {"amount": placed.body["total"], "reference": "BANK-1"}, as_="staff")
        assert paid.status == 200, paid.body
        if deliver:
            report = {"update_id": f"wh-{uuid.uuid4().hex[:12]}", "order_id": order_id, "event": "delivered",
                      "occurred_at": "2026-11-26T08:00:00Z"}  # fmt: skip
            assert wiring.fulfilment().apply(parse_update(json.dumps(report))) == "applied"
            assert view(api, order_id)["fulfilment_status"] == "delivered"
        return order_id

    return make


def review(api, order_id: str, body: dict, as_: str = "customer"):
    return api.post(f"/orders/{order_id}/review", body, as_=as_)


def product(api, sku: str) -> tuple[float | None, int]:
    body = api.get(f"/products/{sku}").body
    return body["rating_avg"], body["rating_count"]


def test_a_delivered_order_is_reviewed_once_by_its_customer(api, delivered):
    order_id = delivered()
    body = {"rating": 4, "comment": "杯子很好看，T恤偏大。", "lines": [{"sku": TEE, "rating": 3}]}
    written = review(api, order_id, body)
    assert written.status == 201, written.body
    assert written.headers["location"] == f"/orders/{order_id}/review"
    assert {k: v for k, v in written.body.items() if k != "created_at"} == {
        "order_id": order_id,
        "rating": 4,
        "comment": "杯子很好看，T恤偏大。",
        "lines": [{"sku": TEE, "rating": 3}],
        "name": "王**",
    }  # fmt: skip  (no profile name: the order's shipping name, masked)
    for who in ("customer", "staff", "admin"):
        seen = api.get(f"/orders/{order_id}/review", as_=who)
        assert (seen.status, seen.body) == (200, written.body), who

    again = review(api, order_id, {"rating": 1, "comment": "改主意了"})
    assert_error(again, 409, "already_reviewed")
    assert api.get(f"/orders/{order_id}/review", as_="customer").body == written.body  # the first one stands


def test_only_a_delivered_order_can_be_reviewed_and_only_by_its_customer(api, delivered):
    paid = delivered(deliver=False)
    details = assert_error(review(api, paid, {"rating": 5}), 409, "not_delivered")
    assert details["fulfilment_status"] == "unfulfilled"

    order_id = delivered()
    theirs, nowhere = review(api, order_id, {"rating": 1}, as_="other"), review(api, uuid.uuid4().hex, {"rating": 1})
    assert_error(theirs, 404, "not_found")
    assert_error(nowhere, 404, "not_found")
    assert theirs.body["error"]["message"] == nowhere.body["error"]["message"] == "No such order."
    assert_error(review(api, order_id, {"rating": 5}, as_="staff"), 403, "forbidden")
    for who in ("other", "customer"):  # nobody else's review, and none written yet
        assert_error(api.get(f"/orders/{order_id}/review", as_=who), 404, "not_found")
    assert api.get(f"/products/{MUG}/reviews").body == {"items": [], "next_cursor": None}
    assert review(api, order_id, {"rating": 5}).status == 201  # the refusals wrote nothing
    assert_error(api.get(f"/orders/{order_id}/review", as_="other"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"rating": 0}, "rating"), ({"rating": 6}, "rating"), ({"rating": 2.5}, "rating"), ({"rating": "5"}, "rating"),
     ({"rating": True}, "rating"), ({}, "rating"), ({"rating": 5, "comment": "x" * 2001}, "comment"),
     ({"rating": 5, "comment": "  "}, "comment"), ({"rating": 5, "customer_id": "someone"}, "customer_id"),
     ({"rating": 5, "name": "匿名"}, "name"), ({"rating": 5, "lines": [{"sku": MUG, "rating": 0}]}, "lines[0].rating"),
     ({"rating": 5, "lines": [{"sku": MUG}]}, "lines[0].rating"),
     ({"rating": 5, "lines": [{"sku": "NOT-IN-ORDER", "rating": 4}]}, "lines[0].sku"),
     ({"rating": 5, "lines": [{"sku": MUG, "rating": 4}, {"sku": MUG, "rating": 2}]}, "lines[1].sku")],
)  # fmt: skip
def test_a_review_that_is_not_acceptable_is_422_naming_the_field(api, delivered, body, field):
    order_id = delivered()
    details = assert_error(review(api, order_id, body), 422, "validation_failed")
    assert field in details["fields"], details
    assert_error(api.get(f"/orders/{order_id}/review", as_="customer"), 404, "not_found")
    assert api.get(f"/products/{MUG}/reviews").body["items"] == []


def test_a_comment_at_the_limit_and_a_whole_number_written_as_a_float_are_taken(api, delivered):
    order_id = delivered()
    written = review(api, order_id, {"rating": 5.0, "comment": "好" * 2000, "lines": [{"sku": MUG, "rating": 1.0}]})
    assert written.status == 201, written.body
    assert (written.body["rating"], written.body["lines"], len(written.body["comment"])) == (
        5, [{"sku": MUG, "rating": 1}], 2000)  # fmt: skip


def test_the_public_listing_masks_names_and_never_names_the_customer(api, stack, delivered):
    first = delivered("customer")
    second = delivered("other")
    assert api.request("PATCH", "/me", as_="other", json_body={"name": "Jane Doe"}).status == 200
    assert review(api, first, {"rating": 5, "comment": "很好"}).status == 201
    assert review(api, second, {"rating": 2, "lines": [{"sku": TEE, "rating": 1}]}, as_="other").status == 201

    reply = api.get(f"/products/{TEE}/reviews")  # no token
    assert reply.status == 200, reply.body
    got = [{k: v for k, v in item.items() if k != "created_at"} for item in reply.body["items"]]
    assert got == [{"rating": 1, "comment": None, "name": "J**"}, {"rating": 5, "comment": "很好", "name": "王**"}]
    assert reply.body["items"][0]["created_at"] > reply.body["items"][1]["created_at"]  # newest first
    assert [i["rating"] for i in api.get(f"/products/{MUG}/reviews").body["items"]] == [2, 5]
    text = json.dumps(reply.body, ensure_ascii=False)
    for secret in (stack.users["customer"].sub, stack.users["other"].sub, stack.users["customer"].email,
                   stack.users["other"].email, "王小明", "Jane", "Doe", first, second):  # fmt: skip
        assert secret not in text

    pages, cursor = [], None
    while True:
        page = api.get(f"/products/{TEE}/reviews?limit=1" + (f"&cursor={cursor}" if cursor else "")).body
        pages.append([item["name"] for item in page["items"]])
        if (cursor := page["next_cursor"]) is None:
            break
    assert [name for names in pages for name in names] == ["J**", "王**"]
    assert api.get("/products/NO-SUCH-SKU/reviews").body == {"items": [], "next_cursor": None}
    assert_error(api.get(f"/products/{TEE}/reviews?cursor=bm90LW91cnM"), 400, "invalid_cursor")


def test_the_stream_rates_each_product_once_however_often_it_is_delivered(api, stack, tables, event_world, delivered):
    first, second, third = delivered("customer"), delivered("other"), delivered("customer")
    assert review(api, first, {"rating": 3, "lines": [{"sku": MUG, "rating": 5}]}).status == 201
    assert review(api, second, {"rating": 4}, as_="other").status == 201
    assert product(api, MUG) == product(api, TEE) == (None, 0)  # nothing before the stream is delivered

    event_world.pump()
    assert product(api, MUG) == (4.5, 2)  # 5 (its line) and 4 (the overall rating)
    assert product(api, TEE) == (3.5, 2)  # 3 and 4, both overall
    listed = {p["sku"]: (p["rating_avg"], p["rating_count"]) for p in api.get("/products").body["items"]}
    assert (listed[MUG], listed[TEE]) == ((4.5, 2), (3.5, 2))

    replayed = Feed(stack, tables)  # every record again, as a new container after a crash sees them
    assert replayed.pump() > 0
    assert replayed.failures == []
    assert product(api, MUG) == (4.5, 2) and product(api, TEE) == (3.5, 2)

    assert review(api, third, {"rating": 4}).status == 201
    event_world.pump()
    assert product(api, MUG) == (4.33, 3)  # (5 + 4 + 4) / 3, to two decimals
    assert product(api, TEE) == (3.67, 3)


def test_a_staff_edit_keeps_the_ratings_and_one_counted_meanwhile(api, event_world, delivered):
    first, second = delivered(), delivered()
    assert review(api, first, {"rating": 5}).status == 201
    event_world.pump()
    edited = api.request("PATCH", f"/staff/products/{MUG}", as_="staff", json_body={"description": "新描述"},
                         headers={"if-match": '"1"'})  # fmt: skip
    assert edited.status == 200, edited.body
    assert product(api, MUG) == (5.0, 1)
    assert review(api, second, {"rating": 3}).status == 201
    event_world.pump()
    assert product(api, MUG) == (4.0, 2)  # the sum survived the edit: (5 + 3) / 2

    # an edit computed from a read made before a rating landed is refused, to be computed again
    from chalicelib.adapters.dynamo.product_store import ProductStore
    from chalicelib.adapters.dynamo.reviews_repo import ProductRatings
    from chalicelib.services.ports import WriteConflict

    store = ProductStore()
    before = store.get(MUG)
    assert ProductRatings().add("ord-elsewhere", MUG, 1, "2026-12-01T00:00:00.000Z") == "rated"
    from dataclasses import replace

    with pytest.raises(WriteConflict):
        store.replace(before, replace(before, description="陈旧", version=before.version + 1), audit=[])
    assert product(api, MUG) == (3.0, 3)
    assert api.get(f"/products/{MUG}").body["description"] == "新描述"


def test_two_reviews_of_one_order_at_once_one_is_taken(api, delivered):
    order_id = delivered()
    bodies = [{"rating": 5, "comment": "A"}, {"rating": 1, "comment": "B"}]
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda body: review(api, order_id, body), bodies))
    assert sorted(r.status for r in replies) == [201, 409], [r.body for r in replies]
    [won] = [r for r in replies if r.status == 201]
    assert_error(next(r for r in replies if r.status == 409), 409, "already_reviewed")
    assert api.get(f"/orders/{order_id}/review", as_="customer").body == won.body
    for sku in (MUG, TEE):
        assert [i["comment"] for i in api.get(f"/products/{sku}/reviews").body["items"]] == [won.body["comment"]]


def test_ratings_added_at_once_all_count_and_each_only_once(api, seed):
    from chalicelib.adapters.dynamo.reviews_repo import ProductRatings

    seed(MUG, stock=10)
    adds = [(f"ord-{n}", 1 + n % 5) for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda add: ProductRatings().add(add[0], MUG, add[1], "2026-12-01T00:00:00.000Z"),
                                 adds + adds))  # fmt: skip
    assert sorted(outcomes) == ["already"] * 6 + ["rated"] * 6
    assert product(api, MUG) == (average(sum(r for _, r in adds), 6), 6)
    assert ProductRatings().add("ord-x", "NO-SUCH-SKU", 5, "2026-12-01T00:00:00.000Z") == "missing"


@pytest.mark.parametrize(
    ("name", "shown"), [("王小明", "王**"), ("Jane Doe", "J**"), ("  li ", "l**"), ("", "***"), (None, "***")]
)
def test_a_name_is_masked_to_its_first_character(name, shown):
    assert masked(name) == shown


def test_the_average_is_to_two_decimals_half_up():
    assert (average(0, 0), average(9, 2), average(13, 3), average(14, 3), average(1, 8)) == (None, 4.5, 4.33, 4.67,
                                                                                             0.13)  # fmt: skip
