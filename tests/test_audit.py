"""The audit log (API.md "Audit log (admin)"): every staff change has its entry, written in the change's own
transaction; nothing else has one; admins read it by actor, target and time, a page at a time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import KEY, ApiClient, Reply, assert_error, view

SKU = "AUD-1"
UA = "StaffConsole/2.1 (audit test)"
LOCAL_IP = "127.0.0.1"  # the source IP the local gateway puts in the request context, as API Gateway does


def audit(api: ApiClient, as_: Any = "admin", **params: Any) -> Reply:
    query = urlencode(params)
    return api.get(f"/staff/audit?{query}" if query else "/staff/audit", as_=as_)


def entries(api: ApiClient, **params: Any) -> list[dict[str, Any]]:
    """Every entry the filters select, following the cursors."""
    found, cursor = [], None
    while True:
        reply = audit(api, **params, **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200, reply.body
        found += reply.body["items"]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return found


def staff_post(api: ApiClient, path: str, body: dict, as_: Any = "staff", **headers: str) -> Reply:
    return api.post(path, body, as_=as_, headers={"user-agent": UA, **headers})


@pytest.fixture
def order(seed, place) -> dict[str, Any]:
    seed(SKU, stock=20, price=2500)
    reply = place((SKU, 2))
    assert reply.status == 201, reply.body
    return reply.body


def pay_offline(api: ApiClient, order: dict[str, Any], as_: Any = "staff") -> dict[str, Any]:
    """The customer chooses bank transfer, staff confirm it; returns the confirm's answer."""
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "bank_transfer"}, as_="customer")
    assert started.status in (200, 201), started.body  # 200: the transfer was already chosen
    path = f"/staff/orders/{order['order_id']}/payments/{started.body['payment_id']}/confirm"
    reply = staff_post(api, path, {"amount": order["total"], "reference": "ICBC 0042"}, as_=as_)
    assert reply.status == 200, reply.body
    return reply.body


def refund(api: ApiClient, order_id: str, amount: int, as_: Any = "staff", key: str | None = None) -> Reply:
    headers = {"idempotency-key": key} if key else KEY()
    return staff_post(api, f"/staff/orders/{order_id}/refunds", {"amount": amount, "reason": "damaged box"},
                      as_=as_, **headers)  # fmt: skip


# --- each staff change today has its entry ----------------------------------------------------------------------


def test_confirming_an_offline_payment_is_audited_with_who_what_and_from_where(api, stack, order):
    pay_offline(api, order)

    (entry,) = entries(api, target_type="order", target_id=order["order_id"])
    assert set(entry) == {"at", "actor", "action", "target", "data", "source_ip", "user_agent"}
    assert entry["actor"] == f"staff:{stack.users['staff'].sub}"
    assert entry["action"] == "payment.confirm"
    assert entry["target"] == {"type": "order", "id": order["order_id"]}
    assert entry["source_ip"] == LOCAL_IP and entry["user_agent"] == UA
    data = entry["data"]
    assert data["payment_status"] == {"from": "pending", "to": "paid"}
    assert data["amount_paid"] == {"from": 0, "to": order["total"]}
    received = next(e for e in data["events"] if e["type"] == "payment_received")
    assert received["amount"] == order["total"] and received["reference"] == "ICBC 0042"
    assert received["method"] == "bank_transfer"
    assert entry["at"] == view(api, order["order_id"])["updated_at"]


def test_an_offline_refund_and_its_payout_are_audited_without_the_customers_contact_details(api, stack, order):
    pay_offline(api, order)
    made = refund(api, order["order_id"], 500)
    assert made.status == 201, made.body
    refund_id = made.body["refunds"][0]["refund_id"]
    sent = staff_post(api, f"/staff/orders/{order['order_id']}/refunds/{refund_id}/sent", {"reference": "OUT 7"},
                      as_="admin")  # fmt: skip
    assert sent.status == 200, sent.body

    newest, created, _ = entries(api, target_type="order", target_id=order["order_id"])
    assert (created["action"], created["actor"]) == ("refund.create", f"staff:{stack.users['staff'].sub}")
    assert created["data"]["amount_refunded"] == {"from": 0, "to": 500}
    (to_send,) = created["data"]["events"]
    assert to_send == {"type": "refund_to_send", "refund_id": refund_id, "payment_id": to_send["payment_id"],
                       "method": "bank_transfer", "amount": 500, "currency": "CNY", "reason": "damaged box",
                       "reference_code": to_send["reference_code"]}  # fmt: skip
    assert "customer_name" not in str(created) and "王小明" not in str(created) and "0000 0000" not in str(created)
    assert (newest["action"], newest["actor"]) == ("refund.sent", f"admin:{stack.users['admin'].sub}")
    (issued,) = newest["data"]["events"]
    assert (issued["type"], issued["refund_id"], issued["reference"]) == ("refund_issued", refund_id, "OUT 7")
    assert newest["at"] >= created["at"]


def test_staff_cancelling_is_audited_with_the_statuses_that_moved(api, stack, order):
    reply = staff_post(api, f"/orders/{order['order_id']}/cancel", {"reason": "customer phoned"})
    assert reply.status == 200, reply.body

    (entry,) = entries(api, target_id=order["order_id"], target_type="order")
    assert (entry["action"], entry["actor"]) == ("order.cancel", f"staff:{stack.users['staff'].sub}")
    assert entry["data"]["status"] == {"from": "confirmed", "to": "cancelled"}
    assert entry["data"]["events"][0] == {"type": "order_cancelled", "reason": "customer phoned"}
    assert entry["data"]["order_number"] == order["order_number"]


def test_cancelling_a_paid_order_audits_the_refund_it_made(api, order):
    pay_offline(api, order)
    reply = staff_post(api, f"/orders/{order['order_id']}/cancel", {})
    assert reply.status == 200, reply.body

    cancel = entries(api, target_type="order", target_id=order["order_id"])[0]
    assert cancel["action"] == "order.cancel"
    assert cancel["data"]["amount_refunded"] == {"from": 0, "to": order["total"]}
    assert "refund_to_send" in [event["type"] for event in cancel["data"]["events"]]


def test_customers_own_actions_write_no_entry(api, order, place):
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "bank_transfer"}, as_="customer")
    assert started.status == 201
    assert place((SKU, 1)).status == 201
    cancelled = api.post(f"/orders/{order['order_id']}/cancel", {"reason": "changed my mind"}, as_="customer")
    assert cancelled.status == 200

    assert entries(api) == []


# --- refused and failed changes write nothing -------------------------------------------------------------------


def test_refused_staff_changes_write_neither_the_change_nor_an_entry(api, order):
    started = api.post(f"/orders/{order['order_id']}/payments", {"method": "bank_transfer"}, as_="customer")
    path = f"/staff/orders/{order['order_id']}/payments/{started.body['payment_id']}/confirm"
    assert_error(staff_post(api, path, {"amount": 1, "reference": "X"}), 422, "validation_failed")
    assert_error(refund(api, order["order_id"], 100), 409, "invalid_transition")  # nothing paid yet
    pay_offline(api, order)
    before = view(api, order["order_id"])

    assert_error(refund(api, order["order_id"], order["total"] + 1), 409, "refund_exceeds_paid")
    assert_error(staff_post(api, f"/orders/{order['order_id']}/refunds/rf_none/sent", {"reference": "R"}), 404,
                 "not_found")  # fmt: skip

    after = view(api, order["order_id"])
    assert after["refunds"] == before["refunds"] == [] and after["timeline"] == before["timeline"]
    assert [e["action"] for e in entries(api)] == ["payment.confirm"]


def test_a_replayed_refund_writes_one_entry(api, order):
    pay_offline(api, order)
    key = uuid.uuid4().hex
    first, again = refund(api, order["order_id"], 300, key=key), refund(api, order["order_id"], 300, key=key)
    assert (first.status, again.status) == (201, 200)

    assert [e["action"] for e in entries(api)] == ["refund.create", "payment.confirm"]


def test_a_change_whose_transaction_fails_writes_no_entry(api, stack, tables, order):
    """The product is gone, so releasing its stock fails inside the cancel's transaction: nothing is written."""
    stack.dynamodb.delete_item(TableName=tables["ProductsTable"], Key={"sku": {"S": SKU}})

    reply = staff_post(api, f"/orders/{order['order_id']}/cancel", {"reason": "x"})

    assert reply.status == 500, reply.body
    assert view(api, order["order_id"])["status"] == "confirmed"
    assert entries(api) == []


def test_an_entry_that_cannot_be_written_fails_its_change_too(api, stack, tables, order, monkeypatch):
    """The entry is in the change's transaction: when its Put is refused (here: the table refuses every write),
    the change is not made either."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def refusing(self, operation, params):
        if operation == "TransactWriteItems" and any(
            item.get("Put", {}).get("TableName") == tables["AuditTable"] for item in params["TransactItems"]
        ):
            params = {**params, "TransactItems": [_unwritable(item, tables["AuditTable"]) for item in
                                                  params["TransactItems"]]}  # fmt: skip
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refusing)
    reply = staff_post(api, f"/orders/{order['order_id']}/cancel", {})
    monkeypatch.undo()

    assert reply.status in (409, 429), reply.body
    assert view(api, order["order_id"])["status"] == "confirmed"
    assert entries(api) == []


def _unwritable(item: dict[str, Any], table: str) -> dict[str, Any]:
    """The audit entry's Put, with a condition that can never hold."""
    put = item.get("Put")
    if not put or put["TableName"] != table:
        return item
    (name,) = put["ExpressionAttributeNames"]  # the entry's own condition: attribute_not_exists(<pk>)
    return {"Put": {**put, "ConditionExpression": f"({put['ConditionExpression']}) AND attribute_exists({name})"}}


def test_the_entry_is_written_in_the_changes_own_transaction(api, tables, order, monkeypatch):
    import botocore.client

    writes: list[tuple[str, list[str]]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == "TransactWriteItems":
            writes.append((operation, [next(iter(i.values()))["TableName"] for i in params["TransactItems"]]))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
            writes.append((operation, [params.get("TableName", "")]))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    reply = staff_post(api, f"/orders/{order['order_id']}/cancel", {})
    assert reply.status == 200

    (write,) = writes
    assert write[0] == "TransactWriteItems"
    assert write[1].count(tables["AuditTable"]) == 1 and tables["OrdersTable"] in write[1]


def test_a_write_retried_after_a_transaction_conflict_writes_one_entry(api, order, monkeypatch):
    import botocore.client
    from botocore.exceptions import ClientError

    original = botocore.client.BaseClient._make_api_call
    conflicts = []

    def conflicting_once(self, operation, params):
        if operation == "TransactWriteItems" and not conflicts:
            conflicts.append(params)
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (len(params["TransactItems"]) - 1)
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": reasons}, operation)  # fmt: skip
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", conflicting_once)
    reply = staff_post(api, f"/orders/{order['order_id']}/cancel", {})
    monkeypatch.undo()

    assert reply.status == 200, reply.body
    assert len(conflicts) == 1
    (entry,) = entries(api)
    assert entry["action"] == "order.cancel"


def test_an_entry_is_never_written_twice(api, stack, tables, order, monkeypatch):
    """The entry's Put, as the app sent it, sent again after it committed (a transaction replayed at DynamoDB) is
    refused by its own condition: one change, one entry, however often its write arrives."""
    import botocore.client
    from botocore.exceptions import ClientError

    sent: list[dict[str, Any]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == "TransactWriteItems":
            sent.extend(i for i in params["TransactItems"] if i.get("Put", {}).get("TableName") == tables["AuditTable"])
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    assert staff_post(api, f"/orders/{order['order_id']}/cancel", {}).status == 200
    monkeypatch.undo()

    (put,) = sent
    with pytest.raises(ClientError) as refused:
        stack.dynamodb.transact_write_items(TransactItems=[put])
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert len(entries(api)) == 1


# --- reading: who may, filters, pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(("caller", "status"), [(None, 401), ("customer", 403), ("staff", 403), ("admin", 200)])
def test_only_admins_read_the_audit_log(api, order, caller, status):
    pay_offline(api, order)
    reply = audit(api, as_=caller)
    assert reply.status == status, reply.body
    if status == 200:
        assert len(reply.body["items"]) == 1
    else:
        assert_error(reply, status, {401: "unauthorized", 403: "forbidden"}[status])


@pytest.fixture
def history(api, stack, seed, place) -> dict[str, Any]:
    """Two orders paid and refunded by two staff members: 6 entries."""
    seed(SKU, stock=50, price=1200)
    second_staff = stack.new_user("staff")
    orders = []
    for who in ("staff", second_staff):
        placed = place((SKU, 1)).body
        pay_offline(api, placed, as_=who)
        assert refund(api, placed["order_id"], 100, as_=who).status == 201
        assert refund(api, placed["order_id"], 200, as_=who).status == 201
        orders.append(placed["order_id"])
    return {"orders": orders, "actors": [f"staff:{stack.users['staff'].sub}", f"staff:{second_staff.sub}"]}


def test_the_whole_log_pages_newest_first_with_cursors(api, history):
    everything = entries(api)
    assert len(everything) == 6
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)
    paged = entries(api, limit=1)
    assert paged == everything
    first = audit(api, limit=4).body
    assert len(first["items"]) == 4 and first["next_cursor"]
    rest = audit(api, limit=4, cursor=first["next_cursor"]).body
    assert first["items"] + rest["items"] == everything and rest["next_cursor"] is None


def test_filter_by_actor_by_target_by_type_and_combined(api, history):
    one, two = history["actors"]
    first, second = history["orders"]
    assert {e["actor"] for e in entries(api, actor=one)} == {one} and len(entries(api, actor=one)) == 3
    on_second = entries(api, target_type="order", target_id=second)
    assert len(on_second) == 3 and {e["target"]["id"] for e in on_second} == {second}
    assert [e["action"] for e in on_second] == ["refund.create", "refund.create", "payment.confirm"]
    assert len(entries(api, target_type="order")) == 6
    assert entries(api, target_type="product") == []
    assert entries(api, actor=one, target_type="order", target_id=second) == []
    assert len(entries(api, actor=two, target_type="order", target_id=second)) == 3
    assert len(entries(api, actor=two, target_type="order")) == 3
    assert entries(api, actor=f"admin:{uuid.uuid4().hex}") == []
    paged = entries(api, actor=one, limit=1)
    assert paged == entries(api, actor=one) and {e["target"]["id"] for e in paged} == {first}


def test_filter_by_time_range(api, history):
    everything = entries(api)
    today = datetime.now(UTC).date()
    middle = everything[2]["at"]
    assert len(entries(api, **{"from": today.isoformat()})) == 6
    assert len(entries(api, to=today.isoformat())) == 6
    assert entries(api, **{"from": (today + timedelta(days=1)).isoformat()}) == []
    assert entries(api, to=(today - timedelta(days=1)).isoformat()) == []
    since = entries(api, **{"from": middle})
    assert since == [e for e in everything if e["at"] >= middle] and since[-1]["at"] == middle
    until = entries(api, to=middle)
    assert until == [e for e in everything if e["at"] <= middle] and until[0]["at"] == middle
    one = history["actors"][0]
    by_actor = entries(api, actor=one, **{"from": middle})
    assert by_actor == [e for e in everything if e["actor"] == one and e["at"] >= middle]
    target = history["orders"][1]
    window = entries(api, target_type="order", target_id=target, to=middle, **{"from": everything[-1]["at"]})
    assert window == [e for e in everything if e["target"]["id"] == target and e["at"] <= middle]
    shifted = middle.replace("Z", "+00:00")
    assert entries(api, to=shifted) == until


@pytest.mark.parametrize(
    ("params", "reads"),
    [({}, 4), ({"target_type": "order"}, 4), ({"target_type": "order", "target_id": "o1"}, 1),
     ({"actor": "staff:abc"}, 1), ({"actor": "staff:abc", "from": "2026-01-01", "to": "2027-01-01"}, 1)],
)  # fmt: skip
def test_each_filter_costs_a_bounded_number_of_queries(api, history, dynamodb_calls, params, reads):
    dynamodb_calls.clear()
    reply = audit(api, limit=100, **params)
    assert reply.status == 200
    assert dynamodb_calls == ["Query"] * reads


@pytest.mark.parametrize(
    ("query", "field"),
    [("target_id=abc", "target_id"), ("from=2026-13-01", "from"), ("from=yesterday", "from"),
     ("to=2026-12-01T25:00:00Z", "to"), ("from=2026-12-02&to=2026-12-01", "from"), ("actor=nobody", "actor"),
     ("target_type=Order!", "target_type"), ("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
     ("target_type=order&target_id=" + "a" * 129, "target_id"), ("colour=red", "colour")],
)  # fmt: skip
def test_bad_filters_are_422_naming_the_field(api, query, field):
    details = assert_error(api.get(f"/staff/audit?{query}", as_="admin"), 422, "validation_failed")
    assert field in details["fields"], details


def test_a_cursor_of_another_listing_is_refused(api, history):
    cursor = audit(api, limit=1).body["next_cursor"]
    assert_error(api.get(f"/staff/audit?actor={history['actors'][0]}&cursor={cursor}", as_="admin"), 400,
                 "invalid_cursor")  # fmt: skip
    assert_error(api.get("/staff/audit?cursor=not-a-cursor", as_="admin"), 400, "invalid_cursor")


def test_concurrent_refunds_each_write_one_entry(api, order):
    """Four staff refunds at once on one order: each is made once (retried past the others' writes) with its one
    entry, each entry computed from what its write really changed (the refunded total runs 0 → ... → 406 without a
    gap or overlap), and they add up to what was refunded."""
    from concurrent.futures import ThreadPoolExecutor

    pay_offline(api, order)
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda n: refund(api, order["order_id"], 100 + n), range(4)))

    assert sorted(r.status for r in replies) == [201] * 4, [r.body for r in replies]
    made = entries(api, target_type="order", target_id=order["order_id"], actor=_staff(api))
    refunds = [e for e in made if e["action"] == "refund.create"]
    assert len(refunds) == 4
    assert sorted(e["data"]["events"][0]["amount"] for e in refunds) == [100, 101, 102, 103]
    assert len({e["data"]["events"][0]["refund_id"] for e in refunds}) == 4
    assert view(api, order["order_id"])["amount_refunded"] == 406
    chain = sorted((e["data"]["amount_refunded"]["from"], e["data"]["amount_refunded"]["to"]) for e in refunds)
    assert [start for start, _ in chain] == [0] + [end for _, end in chain[:-1]] and chain[-1][1] == 406, chain


def _staff(api: ApiClient) -> str:
    return f"staff:{api.users['staff'].sub}"


def test_any_time_the_schema_allows_is_answered_200_or_422_never_500(api, order):
    """What /openapi.json publishes for from/to (its pattern) is either a real moment (200) or an impossible date
    (422 naming the field); never a fault."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from chalicelib.entrypoints.http.schemas import AUDIT_TIME

    pay_offline(api, order)

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(since=st.from_regex(AUDIT_TIME, fullmatch=True), until=st.from_regex(AUDIT_TIME, fullmatch=True))
    def answered(since: str, until: str) -> None:
        reply = audit(api, **{"from": since, "to": until})
        assert reply.status in (200, 422), (since, until, reply.body)
        if reply.status == 422:
            assert set(reply.error["details"]["fields"]) <= {"from", "to"}, reply.body

    answered()


@pytest.mark.parametrize(
    ("since", "until", "status"),
    [("0001-01-01T00:00+01:00", None, 422), (None, "9999-12-31T23:59-01:00", 422), ("0005-01-01", "9999-12-31", 200),
     ("0001-01-01T00:00Z", "9999-12-31T23:59:59.999999+00:00", 200)],
)  # fmt: skip
def test_the_edges_of_time(api, order, since, until, status):
    """Before year 1 or after 9999 once in UTC is not a moment (422); the earliest and latest that are take all."""
    pay_offline(api, order)
    params = {k: v for k, v in (("from", since), ("to", until)) if v}
    reply = audit(api, **params)
    assert reply.status == status, reply.body
    if status == 200:
        assert len(reply.body["items"]) == 1
