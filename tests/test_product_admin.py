"""Staff manage the catalogue: categories, products with variants, edits on the version read, retirement."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import assert_error
from tests.test_audit import entries

TEE = {
    "sku": "TEE-W-M",
    "name": "纯棉圆领T恤",
    "description": "Organic cotton, 180 g/m²",
    "category": "Apparel",
    "price": 9900,
    "product_group": "TEE",
    "options": {"size": "M", "colour": "白色"},
    "stock": 30,
    "low_stock_threshold": 5,
}


@pytest.fixture
def apparel(api):
    reply = api.request("PUT", "/staff/categories/apparel", json_body={"name": "服装"}, as_="staff")
    assert reply.status == 200, reply.body
    return reply.body


def create(api, body=None, as_="staff", **changes):
    return api.post("/staff/products", {**(body or TEE), **changes}, as_=as_)


def patch(api, sku, body, version, as_="staff"):
    return api.request("PATCH", f"/staff/products/{sku}", json_body=body, as_=as_,
                       headers={"if-match": f'"{version}"'})  # fmt: skip


def movements(api, sku):
    reply = api.get(f"/staff/products/{sku}/stock-movements?limit=100", as_="staff")
    assert reply.status == 200, reply.body
    return reply.body["items"]


def test_a_product_with_two_variants_is_created_listed_by_group_and_counted_in_its_category(api, apparel):
    first = create(api)
    second = create(api, sku="TEE-W-L", options={"size": "L", "colour": "白色"}, stock=0)

    assert first.status == 201, first.body
    assert first.headers["location"] == "/products/TEE-W-M" and first.headers["etag"] == '"1"'
    assert first.body["version"] == 1 and first.body["stock_available"] == 30
    assert first.body["options"] == {"size": "M", "colour": "白色"} and first.body["product_group"] == "TEE"
    assert second.status == 201
    variants = api.get("/products?product_group=TEE").body["items"]
    assert [item["sku"] for item in variants] == ["TEE-W-L", "TEE-W-M"]
    assert api.get("/categories").body["items"] == [
        {"category": "apparel", "name": "服装", "sort_order": 0, "product_count": 2}
    ]
    assert [(m["delta"], m["reason"], m["balance_after"]) for m in movements(api, "TEE-W-M")] == [(30, "created", 30)]
    assert movements(api, "TEE-W-L") == []  # no stock, no movement


def test_a_second_product_with_the_same_sku_is_409_and_an_unknown_category_422(api, apparel):
    assert create(api).status == 201
    assert assert_error(create(api, name="another"), 409, "sku_exists")["sku"] == "TEE-W-M"
    details = assert_error(create(api, sku="MUG-1", category="kitchen"), 422, "unknown_category")
    assert details["fields"] == {"category": "unknown category"}
    assert api.get("/products/MUG-1").status == 404
    assert api.get("/products/TEE-W-M").body["name"] == "纯棉圆领T恤"  # unchanged


def test_an_edit_needs_the_version_read_and_a_stale_one_changes_nothing(api, apparel):
    create(api)
    missing = api.request("PATCH", "/staff/products/TEE-W-M", json_body={"price": 8900}, as_="staff")
    assert_error(missing, 428, "precondition_required")

    edited = patch(api, "TEE-W-M", {"price": 8900, "name": "圆领T恤"}, 1)
    stale = patch(api, "TEE-W-M", {"price": 7900}, 1)

    assert edited.status == 200 and edited.body["version"] == 2 and edited.headers["etag"] == '"2"'
    assert_error(stale, 412, "version_mismatch")
    shown = api.get("/products/TEE-W-M")
    assert shown.body["price"] == 8900 and shown.headers["etag"] == '"2"'
    changes = entries(api, target_type="product", target_id="TEE-W-M")
    assert [e["action"] for e in changes] == ["product.update", "product.create"]
    assert changes[0]["data"]["price"] == {"from": 9900, "to": 8900}
    assert changes[0]["actor"].startswith("staff:")


def test_an_edit_that_changes_nothing_keeps_the_version(api, apparel):
    create(api)
    same = patch(api, "TEE-W-M", {"price": 9900}, 1)
    assert same.status == 200 and same.body["version"] == 1
    assert [e["action"] for e in entries(api, target_type="product", target_id="TEE-W-M")] == ["product.create"]


def test_a_price_change_reaches_new_orders_only(api, apparel, place):
    create(api)
    before = place(("TEE-W-M", 1))
    assert patch(api, "TEE-W-M", {"price": 12000}, 1).status == 200
    after = place(("TEE-W-M", 1))

    assert api.get(f"/orders/{before.body['order_id']}", as_="customer").body["lines"][0]["unit_price"] == 9900
    assert after.body["lines"][0]["unit_price"] == 12000


def test_an_edit_does_not_lose_a_concurrent_orders_reservation(api, apparel, place):
    create(api)

    def buy(_):
        return place(("TEE-W-M", 1))

    def rename(n):
        return patch(api, "TEE-W-M", {"description": f"edition {n}"}, api.get("/products/TEE-W-M").body["version"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        bought = list(pool.map(buy, range(6)))
        list(pool.map(rename, range(3)))
    sold = sum(1 for reply in bought if reply.status == 201)
    product = api.get("/staff/products/TEE-W-M", as_="staff").body
    assert product["stock_available"] == 30 - sold
    assert sum(m["delta"] for m in movements(api, "TEE-W-M")) == product["stock_available"]


def test_retiring_takes_a_product_out_of_listings_and_orders_but_orders_keep_their_lines(api, apparel, place):
    create(api)
    order = place(("TEE-W-M", 2))
    retired = api.request("DELETE", "/staff/products/TEE-W-M", as_="staff")

    assert retired.status == 200 and retired.body["active"] is False
    assert api.get("/products/TEE-W-M").status == 404
    assert api.get("/products?product_group=TEE").body["items"] == []
    assert api.get("/categories").body["items"][0]["product_count"] == 0
    assert_error(place(("TEE-W-M", 1)), 422, "unknown_sku")
    kept = api.get(f"/orders/{order.body['order_id']}", as_="customer").body
    assert kept["lines"][0]["sku"] == "TEE-W-M" and kept["lines"][0]["quantity"] == 2
    assert api.get("/staff/products/TEE-W-M", as_="staff").body["active"] is False  # staff still see it
    restored = patch(api, "TEE-W-M", {"active": True}, retired.body["version"])
    assert restored.status == 200 and api.get("/products/TEE-W-M").status == 200
    actions = [e["action"] for e in entries(api, target_type="product", target_id="TEE-W-M")]
    assert actions[:2] == ["product.restore", "product.retire"]


def test_moving_a_product_to_another_category_moves_its_count(api, apparel):
    api.request("PUT", "/staff/categories/gifts", json_body={"name": "礼品", "sort_order": -1}, as_="staff")
    create(api)
    assert patch(api, "TEE-W-M", {"category": "GIFTS"}, 1).status == 200
    counts = {item["category"]: item["product_count"] for item in api.get("/categories").body["items"]}
    assert counts == {"gifts": 1, "apparel": 0}
    assert [item["category"] for item in api.get("/categories").body["items"]] == ["gifts", "apparel"]  # sort_order
    assert [item["sku"] for item in api.get("/products?category=Gifts").body["items"]] == ["TEE-W-M"]
    assert_error(patch(api, "TEE-W-M", {"category": "nowhere"}, 2), 422, "unknown_category")


def test_a_category_is_renamed_and_audited(api, apparel):
    renamed = api.request("PUT", "/staff/categories/Apparel", json_body={"name": "服饰"}, as_="staff")
    assert renamed.status == 200 and renamed.body["name"] == "服饰" and renamed.body["category"] == "apparel"
    assert api.get("/categories").body["items"][0]["name"] == "服饰"
    logged = entries(api, target_type="category", target_id="apparel")
    assert [e["data"]["name"] for e in logged] == ["服饰", "服装"]


BIG = 12345678901234567890123456789012345678901


@pytest.mark.parametrize(
    ("value", "logged"),
    [(7.7e-134, "7.7e-134"), (-1e200, "-1e+200"), (BIG, str(BIG)), (0.5, 0.5), (10**40, 10**40), ("180 g/m²", "180 g/m²")],
)  # fmt: skip
def test_attributes_keep_any_json_number_even_one_dynamodb_cannot_hold(api, apparel, value, logged):
    """DynamoDB's numbers hold 38 digits between 1e-130 and 1e126: the product keeps what staff sent; its audit
    entry keeps such a number as its text."""
    assert create(api, attributes={"weight": value}).status == 201
    assert patch(api, "TEE-W-M", {"attributes": {"weight": value, "spare": [value]}}, 1).status == 200
    assert api.get("/products/TEE-W-M").body["attributes"] == {"weight": value, "spare": [value]}
    (edit,) = [e for e in entries(api, target_type="product", target_id="TEE-W-M") if e["action"] == "product.update"]
    assert edit["data"]["attributes"] == {"from": {"weight": logged}, "to": {"weight": logged, "spare": [logged]}}


@pytest.mark.parametrize(
    ("q", "expected"),
    [("organic", ["TEE-W-M"]), ("白色", ["TEE-W-M"]), ("tee-w", ["TEE-W-M"]), ("TEE", ["TEE-W-M"]),
     ("  ", ["MUG-1", "TEE-W-M"]), ("ceramic", ["MUG-1"]), ("nothing", [])],
)  # fmt: skip
def test_q_matches_the_description_option_values_and_a_sku_prefix(api, apparel, q, expected):
    api.request("PUT", "/staff/categories/kitchen", json_body={"name": "厨房"}, as_="staff")
    create(api)
    create(api, {"sku": "MUG-1", "name": "Mug", "description": "Ceramic, 350 ml", "category": "kitchen",
                 "price": 2500})  # fmt: skip
    from urllib.parse import quote

    found = api.get(f"/products?q={quote(q)}").body["items"]
    assert sorted(item["sku"] for item in found) == expected


@pytest.mark.parametrize(
    ("change", "field"),
    [({"sku": "OTHER"}, "sku"), ({"stock": 5}, "stock"), ({"price": -1}, "price"), ({"price": 9.5}, "price"),
     ({"price": "9"}, "price"), ({"options": {"size": 1}}, "options.size"), ({"name": ""}, "name"),
     ({"images": ["javascript:alert(1)"]}, "images[0]"), ({"whatever": 1}, "whatever"),
     ({"low_stock_threshold": -2}, "low_stock_threshold")],
)  # fmt: skip
def test_a_bad_edit_is_422_naming_the_field_and_changes_nothing(api, apparel, change, field):
    create(api)
    reply = patch(api, "TEE-W-M", change, 1)
    details = assert_error(reply, 422, "validation_failed")
    assert field in details["fields"], details
    assert api.get("/products/TEE-W-M").body["version"] == 1


@pytest.mark.parametrize("who", ["customer", None])
def test_customers_and_strangers_cannot_manage_the_catalogue(api, apparel, who):
    status = 403 if who else 401
    assert create(api, as_=who).status == status
    assert api.request("PUT", "/staff/categories/x", json_body={"name": "x"}, as_=who).status == status
    create(api)
    assert patch(api, "TEE-W-M", {"price": 1}, 1, as_=who).status == status
    assert api.request("DELETE", "/staff/products/TEE-W-M", as_=who).status == status
    assert api.get("/products/TEE-W-M").body["price"] == 9900


def test_an_unknown_product_is_404_for_every_staff_route(api):
    assert_error(patch(api, "NOPE", {"price": 1}, 1), 404, "not_found")
    assert_error(api.request("DELETE", "/staff/products/NOPE", as_="staff"), 404, "not_found")
    assert_error(api.get("/staff/products/NOPE", as_="staff"), 404, "not_found")
    assert_error(api.get("/staff/products/NOPE/stock-movements", as_="staff"), 404, "not_found")


def test_a_product_created_by_staff_can_be_ordered(api, apparel, place):
    create(api)
    reply = place(("TEE-W-M", 3))
    assert reply.status == 201, reply.body
    moves = movements(api, "TEE-W-M")
    assert [(m["delta"], m["reason"], m["balance_after"]) for m in moves] == [(-3, "order_placed", 27),
                                                                            (30, "created", 30)]  # fmt: skip
    assert moves[0]["order_id"] == reply.body["order_id"]
