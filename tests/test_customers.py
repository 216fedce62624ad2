"""A customer's own profile (/me) and address book (/me/addresses), and checking out to a saved address."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import assert_error
from tests.test_checkout import checkout, put

HOME = {"label": "家", "name": "王小明", "phone": "+86 138 0013 8000", "line1": "浦东新区世纪大道100号",
        "line2": "12楼", "city": "上海", "postal_code": "200120", "country": "CN"}  # fmt: skip
WORK = {"name": "Wang Xiaoming", "phone": "+86 21 5555 0100", "line1": "1 Nanjing Rd", "city": "Shanghai",
        "country": "CN"}  # fmt: skip


def add(api, body=None, as_="customer", **changes):
    return api.post("/me/addresses", {**(body or HOME), **changes}, as_=as_)


def book(api, as_="customer"):
    reply = api.get("/me/addresses", as_=as_)
    assert reply.status == 200, reply.body
    return reply.body["items"]


def patch(api, path, body, as_="customer"):
    return api.request("PATCH", path, json_body=body, as_=as_)


def test_a_profile_is_made_on_first_use_from_the_token_and_kept(api):
    first = api.get("/me", as_="customer")
    assert first.status == 200, first.body
    me = first.body
    assert me["customer_id"] == api.users["customer"].sub
    assert me["email"] == api.users["customer"].email
    assert (me["tier"], me["points_balance"], me["addresses_count"], me["default_address_id"]) == ("standard", 0, 0,
                                                                                                    None)  # fmt: skip
    assert api.get("/me", as_="customer").body == me  # the same profile, not a second one


def test_the_profile_changes_what_was_sent_and_null_clears_a_field(api):
    changed = patch(api, "/me", {"name": "王小明", "phone": "+86 138 0013 8000", "birthday": "1990-05-17",
                                 "language": "zh-CN", "marketing_opt_in": True})  # fmt: skip
    assert changed.status == 200, changed.body
    assert (changed.body["name"], changed.body["birthday"], changed.body["marketing_opt_in"]) == ("王小明",
                                                                                                  "1990-05-17", True)  # fmt: skip
    cleared = patch(api, "/me", {"phone": None, "marketing_opt_in": None})
    assert (cleared.body["phone"], cleared.body["name"], cleared.body["marketing_opt_in"]) == (None, "王小明", True)
    assert api.get("/me", as_="customer").body == cleared.body


@pytest.mark.parametrize(
    ("body", "field"),
    [({"birthday": "2001-02-30"}, "birthday"), ({"birthday": "2099-01-01"}, "birthday"),
     ({"birthday": "17/05/1990"}, "birthday"), ({"phone": "call me"}, "phone"), ({"email": "x@y.z"}, "email"),
     ({"customer_id": "someone-else"}, "customer_id"), ({"marketing_opt_in": "yes"}, "marketing_opt_in"),
     ({"language": "<script>"}, "language")],
)  # fmt: skip
def test_a_bad_profile_change_is_422_naming_the_field_and_changes_nothing(api, body, field):
    before = patch(api, "/me", {"name": "Before"}).body
    details = assert_error(patch(api, "/me", body), 422, "validation_failed")
    assert field in details["fields"], details
    assert api.get("/me", as_="customer").body == before


def test_the_first_address_is_the_default_and_another_can_take_its_place(api):
    home = add(api)
    assert home.status == 201, home.body
    assert home.headers["location"] == f"/me/addresses/{home.body['address_id']}"
    assert {k: home.body[k] for k in HOME} == HOME and home.body["default"] is True
    work = add(api, WORK, default=True)
    assert work.status == 201 and work.body["default"] is True
    listed = book(api)
    assert [a["address_id"] for a in listed] == [home.body["address_id"], work.body["address_id"]]  # oldest first
    assert [a["default"] for a in listed] == [False, True]
    assert api.get("/me", as_="customer").body["default_address_id"] == work.body["address_id"]


def test_an_address_is_edited_null_clears_an_optional_line_and_default_false_leaves_none(api):
    home = add(api).body
    edited = patch(api, f"/me/addresses/{home['address_id']}", {"line1": "世纪大道200号", "line2": None,
                                                                "default": False})  # fmt: skip
    assert edited.status == 200, edited.body
    assert (edited.body["line1"], edited.body["line2"], edited.body["default"]) == ("世纪大道200号", None, False)
    assert edited.body["city"] == "上海" and edited.body["updated_at"] >= home["updated_at"]
    assert api.get("/me", as_="customer").body["default_address_id"] is None
    nulls = patch(api, f"/me/addresses/{home['address_id']}", {"city": None, "name": None})
    assert nulls.status == 200 and (nulls.body["city"], nulls.body["name"]) == ("上海", "王小明")  # required: kept


def test_deleting_the_default_address_leaves_no_default_and_frees_a_place(api):
    home, work = add(api).body, add(api, WORK).body
    gone = api.request("DELETE", f"/me/addresses/{home['address_id']}", as_="customer")
    assert gone.status == 200 and gone.body == {"address_id": home["address_id"], "deleted": True}
    assert [a["address_id"] for a in book(api)] == [work["address_id"]]
    me = api.get("/me", as_="customer").body
    assert (me["default_address_id"], me["addresses_count"]) == (None, 1)
    again = api.request("DELETE", f"/me/addresses/{home['address_id']}", as_="customer")
    assert_error(again, 404, "not_found")


def test_a_book_holds_twenty_addresses_even_when_they_are_added_all_at_once(api):
    def added(n: int):
        for _ in range(5):  # a request that lost every one of its writes is 429 "retry shortly": a client retries
            reply = add(api, line1=f"Road {n}")
            if reply.status != 429:
                return reply
        return reply

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(added, range(24)))
    assert sorted(r.status for r in replies) == [201] * 20 + [409] * 4
    for refused in (r for r in replies if r.status == 409):
        assert assert_error(refused, 409, "address_book_full")["max_addresses"] == 20
    listed = book(api)
    assert len(listed) == 20 and sum(a["default"] for a in listed) == 1
    assert api.get("/me", as_="customer").body["addresses_count"] == 20


def test_one_customer_never_sees_or_touches_anothers_addresses(api):
    mine = add(api).body
    assert book(api, as_="other") == []
    path = f"/me/addresses/{mine['address_id']}"
    assert_error(patch(api, path, {"city": "北京"}, as_="other"), 404, "not_found")
    assert_error(api.request("DELETE", path, as_="other"), 404, "not_found")
    assert book(api)[0]["city"] == "上海"
    assert api.get("/me", as_="other").body["customer_id"] != mine["address_id"]


@pytest.mark.parametrize("who", ["staff", None])
def test_staff_and_strangers_have_no_address_book(api, who):
    assert api.get("/me", as_=who).status == (403 if who else 401)
    assert add(api, as_=who).status == (403 if who else 401)


def test_an_order_to_a_saved_address_keeps_its_copy_when_the_book_changes(api, seed):
    seed("A", stock=5)
    home = add(api).body
    put(api, "A", 2)
    placed = checkout(api, {"address_id": home["address_id"]})
    assert placed.status == 201, placed.body
    expected = {k: v for k, v in HOME.items() if k != "label"}
    assert placed.body["shipping_address"] == expected
    patch(api, f"/me/addresses/{home['address_id']}", {"line1": "Somewhere else"})
    api.request("DELETE", f"/me/addresses/{home['address_id']}", as_="customer")
    assert api.get(f"/orders/{placed.body['order_id']}", as_="customer").body["shipping_address"] == expected


def test_a_checkout_to_a_saved_address_reads_it_in_the_batch_it_already_makes(api, seed, place, dynamodb_calls):
    seed("A", stock=10)
    assert place(("A", 1)).status == 201  # the approval policy is cached from here on
    home = add(api).body
    put(api, "A", 1)
    dynamodb_calls.clear()
    assert checkout(api, {"address_id": home["address_id"]}).status == 201
    assert sorted(dynamodb_calls) == sorted(["BatchGetItem", "BatchGetItem", "UpdateItem", "TransactWriteItems"])


def test_a_checkout_or_quote_to_an_address_not_in_the_callers_book_is_422_and_reserves_nothing(api, seed):
    seed("A", stock=5)
    theirs = add(api, as_="other").body
    put(api, "A", 1)
    for body in ({"address_id": theirs["address_id"]}, {"address_id": "addr_00000000000000000000"}):
        details = assert_error(checkout(api, body), 422, "validation_failed")
        assert "address_id" in details["fields"]
        quoted = api.post("/orders/quote", {"items": [{"sku": "A", "quantity": 1}], **body}, as_="customer")
        assert "address_id" in assert_error(quoted, 422, "validation_failed")["fields"]
    assert api.get("/products/A").body["stock_available"] == 5
    assert api.post("/orders/quote", {"items": [{"sku": "A", "quantity": 1}], "address_id": theirs["address_id"]},
                    as_="other").status == 200  # fmt: skip
