"""Customer tickets (API.md, "Tickets"): a customer opens one, staff find and answer it, the customer replies,
staff close it; nobody else sees it; what staff change is audited; what is written is announced once."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import assert_error
from tests.test_notifications import Feed

SKU = "TKT-1"
QUESTION = {"kind": "question", "subject": "尺码问题", "message": "这件T恤偏大吗？"}


def open_ticket(api, body=None, as_="customer", **changes):
    reply = api.post("/me/tickets", {**(body or QUESTION), **changes}, as_=as_)
    assert reply.status == 201, reply.body
    return reply.body


def staff_ids(api, query="", as_="staff"):
    reply = api.get(f"/staff/tickets{query}", as_=as_)
    assert reply.status == 200, reply.body
    return [item["ticket_id"] for item in reply.body["items"]]


def test_a_ticket_answered_by_staff_replied_to_and_closed(api, stack):
    complaint = open_ticket(api, kind="complaint", subject="破损", message="杯子碎了")
    question = open_ticket(api)
    sub = stack.users["customer"].sub
    assert question["ticket_id"].startswith("tkt_")
    assert (question["customer_id"], question["kind"], question["status"], question["messages_count"]) == (
        sub, "question", "open", 1)  # fmt: skip
    assert [(m["seq"], m["author"], m["message"]) for m in question["messages"]] == [(1, "customer", "这件T恤偏大吗？")]
    assert question["created_at"] == question["last_message_at"] == question["updated_at"]

    # staff see both open, newest first, and narrow by kind and status
    assert staff_ids(api) == [question["ticket_id"], complaint["ticket_id"]]
    assert staff_ids(api, "?status=open") == [question["ticket_id"], complaint["ticket_id"]]
    assert staff_ids(api, "?status=open&kind=question") == [question["ticket_id"]]
    assert staff_ids(api, "?kind=complaint", as_="admin") == [complaint["ticket_id"]]
    assert staff_ids(api, "?status=answered") == []

    path = f"/staff/tickets/{question['ticket_id']}"
    answered = api.post(f"{path}/messages", {"message": "偏小一码，建议选大一号。"}, as_="staff")
    assert answered.status == 201, answered.body
    assert (answered.body["ticket"]["status"], answered.body["message"]["seq"]) == ("answered", 2)
    assert answered.body["message"]["actor"] == f"staff:{stack.users['staff'].sub}"
    assert staff_ids(api, "?status=answered") == [question["ticket_id"]]
    assert staff_ids(api, "?status=open") == [complaint["ticket_id"]]

    # the customer sees the answer and the status, but not who answered
    mine = api.get(f"/me/tickets/{question['ticket_id']}", as_="customer").body
    assert (mine["status"], mine["messages_count"]) == ("answered", 2)
    assert mine["messages"][1] == {"seq": 2, "at": mine["last_message_at"], "author": "staff",
                                   "message": "偏小一码，建议选大一号。"}  # fmt: skip
    assert stack.users["staff"].sub not in str(mine)
    listed = api.get("/me/tickets", as_="customer").body
    assert [(t["ticket_id"], t["status"]) for t in listed["items"]] == [(question["ticket_id"], "answered"),
                                                                         (complaint["ticket_id"], "open")]  # fmt: skip

    replied = api.post(f"/me/tickets/{question['ticket_id']}/messages", {"message": "谢谢！"}, as_="customer")
    assert replied.status == 201, replied.body
    assert (replied.body["ticket"]["status"], replied.body["message"]) == ("open", {
        "seq": 3, "at": replied.body["ticket"]["last_message_at"], "author": "customer", "message": "谢谢！"})  # fmt: skip

    closed = api.post(f"{path}/close", as_="staff")
    assert closed.status == 200, closed.body
    assert (closed.body["status"], closed.body["closed_at"]) == ("closed", closed.body["updated_at"])
    assert_error(api.post(f"{path}/close", as_="admin"), 409, "invalid_transition")
    seen = api.get(path, as_="staff").body
    assert [(m["seq"], m["author"], m["actor"].split(":")[0]) for m in seen["messages"]] == [
        (1, "customer", "customer"), (2, "staff", "staff"), (3, "customer", "customer")]  # fmt: skip
    assert staff_ids(api, "?status=closed") == [question["ticket_id"]]


def test_a_customer_writing_in_a_closed_ticket_reopens_it(api):
    ticket = open_ticket(api)
    assert api.post(f"/staff/tickets/{ticket['ticket_id']}/close", as_="staff").status == 200
    again = api.post(f"/me/tickets/{ticket['ticket_id']}/messages", {"message": "还是不合适"}, as_="customer")
    assert again.status == 201, again.body
    assert (again.body["ticket"]["status"], again.body["ticket"]["closed_at"]) == ("open", None)
    assert staff_ids(api, "?status=open") == [ticket["ticket_id"]]
    assert staff_ids(api, "?status=closed") == []


def test_another_customers_ticket_does_not_exist_for_them(api):
    ticket = open_ticket(api)
    path = f"/me/tickets/{ticket['ticket_id']}"
    missing = f"/me/tickets/tkt_{'0' * 20}"
    for route in (path, missing):
        assert_error(api.get(route, as_="other"), 404, "not_found")
        assert_error(api.post(f"{route}/messages", {"message": "hi"}, as_="other"), 404, "not_found")
    theirs, nowhere = api.get(path, as_="other"), api.get(missing, as_="other")
    assert theirs.body["error"]["message"] == nowhere.body["error"]["message"]
    assert api.get("/me/tickets", as_="other").body == {"items": [], "next_cursor": None}
    assert api.get(path, as_="customer").body["messages_count"] == 1  # nothing was added
    assert_error(api.get("/me/tickets/not-a-ticket", as_="customer"), 404, "not_found")
    assert_error(api.get(f"/staff/tickets/tkt_{'0' * 20}", as_="staff"), 404, "not_found")


def test_a_ticket_about_an_order_must_name_one_of_the_callers_orders(api, seed, place):
    seed(SKU, stock=10)
    mine, theirs = place((SKU, 1)).body["order_id"], place((SKU, 1), as_="other").body["order_id"]
    about = open_ticket(api, kind="after_sales", order_id=mine)
    assert about["order_id"] == mine
    for order_id in (theirs, uuid.uuid4().hex):
        reply = api.post("/me/tickets", {**QUESTION, "order_id": order_id}, as_="customer")
        assert_error(reply, 404, "not_found")
        assert reply.body["error"]["message"] == "No such order."
    assert [t["ticket_id"] for t in api.get("/me/tickets", as_="customer").body["items"]] == [about["ticket_id"]]
    orders = api.get("/orders", as_="customer").body["items"]  # a ticket is not an order in any listing
    assert [o["order_id"] for o in orders] == [mine]
    assert {o["order_id"] for o in api.get("/orders", as_="staff").body["items"]} == {mine, theirs}


@pytest.mark.parametrize(
    ("body", "field"),
    [({**QUESTION, "kind": "praise"}, "kind"), ({**QUESTION, "message": ""}, "message"),
     ({**QUESTION, "message": "   "}, "message"), ({**QUESTION, "message": "x" * 4001}, "message"),
     ({**QUESTION, "subject": "s" * 201}, "subject"), ({**QUESTION, "status": "closed"}, "status"),
     ({**QUESTION, "customer_id": "someone"}, "customer_id"), ({"kind": "question", "message": "m"}, "subject"),
     ({**QUESTION, "order_id": "../x"}, "order_id")],
)  # fmt: skip
def test_a_ticket_that_is_not_acceptable_is_422_naming_the_field(api, body, field):
    details = assert_error(api.post("/me/tickets", body, as_="customer"), 422, "validation_failed")
    assert field in details["fields"]
    assert api.get("/me/tickets", as_="customer").body["items"] == []


def test_messages_at_the_limits(api):
    ticket = open_ticket(api, message="m" * 4000, subject="s" * 200)
    path = f"/me/tickets/{ticket['ticket_id']}/messages"
    for body, field in (({"message": ""}, "message"), ({"message": "x" * 4001}, "message"),
                        ({"message": "x", "author": "staff"}, "author")):  # fmt: skip
        assert field in assert_error(api.post(path, body, as_="customer"), 422, "validation_failed")["fields"]
    staff_path = f"/staff/tickets/{ticket['ticket_id']}/messages"
    assert (
        "message"
        in assert_error(api.post(staff_path, {"message": ""}, as_="staff"), 422, "validation_failed")["fields"]
    )
    for n in range(2, 101):
        who, route = ("staff", staff_path) if n % 2 else ("customer", path)
        assert api.post(route, {"message": f"#{n}"}, as_=who).status == 201
    details = assert_error(api.post(path, {"message": "#101"}, as_="customer"), 409, "ticket_full")
    assert details["max_messages"] == 100
    assert_error(api.post(staff_path, {"message": "#101"}, as_="staff"), 409, "ticket_full")
    seen = api.get(f"/me/tickets/{ticket['ticket_id']}", as_="customer").body
    assert seen["messages_count"] == len(seen["messages"]) == 100
    assert [m["seq"] for m in seen["messages"]] == list(range(1, 101))


def test_messages_written_at_once_all_land_each_with_its_own_number(api):
    ticket = open_ticket(api)
    me, staff = f"/me/tickets/{ticket['ticket_id']}/messages", f"/staff/tickets/{ticket['ticket_id']}/messages"
    sends = [(me, "customer", f"c{n}") if n % 2 else (staff, "staff", f"s{n}") for n in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda s: api.post(s[0], {"message": s[2]}, as_=s[1]), sends))
    assert [r.status for r in replies] == [201] * 6, [r.body for r in replies]
    seen = api.get(f"/me/tickets/{ticket['ticket_id']}", as_="customer").body
    assert seen["messages_count"] == 7 == len(seen["messages"])
    assert [m["seq"] for m in seen["messages"]] == list(range(1, 8))
    assert sorted(m["message"] for m in seen["messages"][1:]) == sorted(text for *_, text in sends)
    last = seen["messages"][-1]["author"]
    assert seen["status"] == ("open" if last == "customer" else "answered")


def test_pages_follow_the_cursor_and_a_listing_is_a_query_never_a_scan(api, dynamodb_calls):
    opened = [open_ticket(api, subject=f"#{n}")["ticket_id"] for n in range(5)]
    newest_first = opened[::-1]
    for route, as_, queries in (("/me/tickets", "customer", 1), ("/staff/tickets", "staff", 4),
                                ("/staff/tickets?status=open", "staff", 4)):  # fmt: skip
        seen, cursor = [], None
        while True:
            dynamodb_calls.clear()
            sep = "&" if "?" in route else "?"
            reply = api.get(f"{route}{sep}limit=2" + (f"&cursor={cursor}" if cursor else ""), as_=as_)
            assert reply.status == 200, reply.body
            counted = Counter(dynamodb_calls)
            assert counted["Scan"] == 0 and counted["Query"] <= queries, counted
            seen += [t["ticket_id"] for t in reply.body["items"]]
            cursor = reply.body["next_cursor"]
            if cursor is None:
                break
        assert seen == newest_first, route
    assert_error(api.get("/me/tickets?cursor=bm90LW91cnM", as_="customer"), 400, "invalid_cursor")


def test_staff_answers_and_closes_are_audited(api, stack):
    ticket = open_ticket(api)
    path = f"/staff/tickets/{ticket['ticket_id']}"
    assert api.post(f"{path}/messages", {"message": "已处理"}, as_="staff").status == 201
    assert api.post(f"{path}/close", {"reason": "已解决"}, as_="admin").status == 200
    reply = api.get(f"/staff/audit?target_type=ticket&target_id={ticket['ticket_id']}", as_="admin")
    assert reply.status == 200, reply.body
    got = [
        (e["action"], e["actor"], e["data"].get("status"), e["data"].get("message_seq")) for e in reply.body["items"]
    ]
    assert got == [
        ("ticket.close", f"admin:{stack.users['admin'].sub}", {"from": "answered", "to": "closed"}, None),
        ("ticket.answer", f"staff:{stack.users['staff'].sub}", {"from": "open", "to": "answered"}, 2),
    ]
    assert reply.body["items"][0]["data"]["reason"] == "已解决"
    assert "已处理" not in str(reply.body)  # the entry names the message, it does not copy it
    # a refused change is not audited
    assert_error(api.post(f"{path}/close", as_="staff"), 409, "invalid_transition")
    assert (
        len(api.get(f"/staff/audit?target_type=ticket&target_id={ticket['ticket_id']}", as_="admin").body["items"]) == 2
    )


def test_tickets_are_announced_once_even_when_the_stream_is_delivered_again(api, stack, tables, event_world):
    ticket = open_ticket(api, order_id=None)
    path = f"/staff/tickets/{ticket['ticket_id']}"
    assert api.post(f"{path}/messages", {"message": "请提供订单号"}, as_="staff").status == 201
    assert api.post(f"/me/tickets/{ticket['ticket_id']}/messages", {"message": "好的"}, as_="customer").status == 201
    assert api.post(f"{path}/close", as_="staff").status == 200
    event_world.pump()
    staff, customer = event_world.staff.drain(), event_world.customer.drain()

    assert Counter(n["attributes"]["event_type"] for n in staff) == {"ticket_opened": 1, "ticket_customer_replied": 1}
    opened = next(n for n in staff if n["attributes"]["event_type"] == "ticket_opened")
    assert opened["attributes"] == {"event_type": "ticket_opened"}
    assert (opened["message"]["ticket_id"], opened["message"]["message"]) == (ticket["ticket_id"], "这件T恤偏大吗？")
    assert QUESTION["subject"] in opened["subject"]
    sub = stack.users["customer"].sub
    assert [(n["attributes"], n["message"]["message"]) for n in customer] == [
        ({"event_type": "ticket_replied", "customer_id": sub}, "请提供订单号")]  # fmt: skip
    assert stack.users["staff"].sub not in str(customer)  # the customer is not told who answered

    replayed = Feed(stack, tables)
    assert replayed.pump() > 0
    assert replayed.failures == []
    assert (event_world.staff.drain(), event_world.customer.drain()) == ([], [])
