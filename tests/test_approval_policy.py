"""The approval policy as a versioned setting: read by staff, replaced by admin on its version, applied to new orders."""

from __future__ import annotations

import json
from typing import Any

import botocore.client
import pytest

from chalicelib.entrypoints.http import wiring
from tests.conftest import assert_error

PATH = "/staff/settings/approval"
DEFAULT = {
    "version": 1,
    "rules": [
        {"name": "large_order", "when": {"total_at_least": 500000}, "steps": ["staff"]},
        {"name": "very_large_order", "when": {"total_at_least": 2000000}, "steps": ["staff", "admin"]},
    ],
}
POS_BULK = {"rules": [{"name": "pos_bulk", "when": {"channels": ["pos"], "quantity_at_least": 5}, "steps": ["admin"]}]}


def put(api, body: Any, *, as_="admin", version: str | None = '"1"'):
    headers = {} if version is None else {"if-match": version}
    return api.request("PUT", PATH, json_body=body, as_=as_, headers=headers)


def read(api) -> dict[str, Any]:
    reply = api.get(PATH, as_="staff")
    assert reply.status == 200, reply.body
    assert reply.headers["etag"] == f'"{reply.body["version"]}"'
    return reply.body


@pytest.fixture
def shop(seed, place):
    seed("PEN", stock=100, price=1500)

    def order(quantity: int = 1, as_: str = "customer", **extra: Any) -> dict[str, Any]:
        reply = place(("PEN", quantity), as_=as_, **extra)
        assert reply.status == 201, reply.body
        return reply.body

    return order


def test_a_fresh_system_has_the_two_default_rules(api):
    assert read(api) == DEFAULT


@pytest.mark.parametrize(
    ("caller", "get", "put_"),
    [("anonymous", 401, 401), ("customer", 403, 403), ("other", 403, 403), ("staff", 200, 403), ("admin", 200, 200)],
)
def test_staff_read_the_policy_and_only_admin_replace_it(api, caller, get, put_):
    user = None if caller == "anonymous" else caller
    assert api.get(PATH, as_=user).status == get
    reply = put(api, POS_BULK, as_=user)
    assert reply.status == put_, reply.body
    if put_ != 200:
        assert_error(reply, put_, "unauthorized" if put_ == 401 else "forbidden")
        assert read(api) == DEFAULT
    else:
        assert reply.body == {"version": 2, **POS_BULK} and reply.headers["etag"] == '"2"'


def test_a_replacement_needs_the_current_version_and_changes_nothing_otherwise(api):
    assert_error(put(api, POS_BULK, version=None), 428, "precondition_required")
    assert_error(put(api, POS_BULK, version='"7"'), 412, "version_mismatch")
    assert_error(put(api, POS_BULK, version="1"), 412, "version_mismatch")  # not an ETag
    assert_error(put(api, POS_BULK, version='"abc"'), 412, "version_mismatch")
    assert read(api) == DEFAULT

    assert put(api, POS_BULK).status == 200
    assert read(api) == {"version": 2, **POS_BULK}
    stale = assert_error(put(api, DEFAULT | {"version": 1}), 412, "version_mismatch")
    assert stale["current_version"] == 2
    third = put(api, {"version": 2, "rules": []}, version='"2"')
    assert third.status == 200 and third.body == {"version": 3, "rules": []}
    assert read(api)["version"] == 3


def test_two_admins_replacing_the_same_version_one_wins(api, stack):
    from concurrent.futures import ThreadPoolExecutor

    bodies = [POS_BULK, {"rules": []}]
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda body: put(api, body), bodies))
    assert sorted(r.status for r in replies) == [200, 412]
    winner = bodies[[r.status for r in replies].index(200)]
    assert read(api) == {"version": 2, **winner}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "rules"),
        ({"rules": "all"}, "rules"),
        ({"rules": [{"name": "x", "when": {}, "steps": []}]}, "rules[0].steps"),
        ({"rules": [{"name": "x", "when": {}, "steps": ["owner"]}]}, "rules[0].steps[0]"),
        ({"rules": [{"name": "x", "when": {}, "steps": ["staff"] * 6}]}, "rules[0].steps"),
        ({"rules": [{"name": "", "when": {}, "steps": ["staff"]}]}, "rules[0].name"),
        ({"rules": [{"when": {}, "steps": ["staff"]}]}, "rules[0].name"),
        ({"rules": [{"name": "x", "steps": ["staff"]}]}, "rules[0].when"),
        ({"rules": [{"name": "x", "when": {"total_over": 5}, "steps": ["staff"]}]}, "rules[0].when.total_over"),
        ({"rules": [{"name": "x", "when": {"total_at_least": -1}, "steps": ["staff"]}]}, "rules[0].when.total_at_least"),
        ({"rules": [{"name": "x", "when": {"total_at_least": "5"}, "steps": ["staff"]}]}, "rules[0].when.total_at_least"),
        ({"rules": [{"name": "x", "when": {"total_at_least": 2.5}, "steps": ["staff"]}]}, "rules[0].when.total_at_least"),
        ({"rules": [{"name": "x", "when": {"quantity_at_least": 0}, "steps": ["staff"]}]},
         "rules[0].when.quantity_at_least"),
        ({"rules": [{"name": "x", "when": {"first_order": "yes"}, "steps": ["staff"]}]}, "rules[0].when.first_order"),
        ({"rules": [{"name": "x", "when": {"channels": ["fax"]}, "steps": ["staff"]}]}, "rules[0].when.channels[0]"),
        ({"rules": [{"name": "x", "when": {"channels": []}, "steps": ["staff"]}]}, "rules[0].when.channels"),
        ({"rules": [{"name": "x", "when": {"channels": ["web", "web"]}, "steps": ["staff"]}]},
         "rules[0].when.channels"),
        ({"rules": [{"name": "x", "when": {"tiers": ["Gold!"]}, "steps": ["staff"]}]}, "rules[0].when.tiers[0]"),
        ({"rules": [{"name": "a", "when": {}, "steps": ["staff"]}] * 2}, "rules"),
        ({"rules": [{"name": f"r{n}", "when": {}, "steps": ["staff"]} for n in range(21)]}, "rules"),
        ({"rules": [], "colour": "blue"}, "colour"),
        ({"rules": [], "version": 2}, "version"),
        ({"rules": [], "version": "1"}, "version"),
    ],
)  # fmt: skip
def test_a_bad_policy_is_refused_naming_the_field_and_nothing_is_written(api, body, field):
    details = assert_error(put(api, body), 422, "validation_failed")
    assert field in details["fields"], details
    assert read(api) == DEFAULT


def test_malformed_and_oversized_bodies_are_refused(api):
    malformed = api.request("PUT", PATH, body=b"{", as_="admin", headers={"if-match": '"1"',
                                                                          "content-type": "application/json"})  # fmt: skip
    assert_error(malformed, 400, "malformed_json")
    big = {"rules": [{"name": "x" * 70000, "when": {}, "steps": ["staff"]}]}
    assert put(api, big).status == 413
    assert read(api) == DEFAULT


# --- the policy applied to new orders -------------------------------------------------------------------------------


def test_a_new_policy_applies_to_the_next_order(api, shop):
    assert shop(5, channel="pos")["status"] == "confirmed"
    assert put(api, POS_BULK).status == 200

    held = shop(5, channel="pos")
    assert held["status"] == "pending_approval"
    assert held["approval"] == {"status": "pending", "rule": "pos_bulk", "steps": [
        {"role": "admin", "status": "pending"}], "for_version": 1}  # fmt: skip
    assert shop(4, channel="pos")["status"] == "confirmed"  # quantity below
    assert shop(5, channel="web")["status"] == "confirmed"  # channel not listed


def test_no_rules_confirm_every_order(api, seed, place):
    seed("GOLD", stock=5, price=10_000_000)
    assert put(api, {"rules": []}).status == 200
    assert place(("GOLD", 1)).body["status"] == "confirmed"


def test_first_order_is_known_with_one_query_only_while_a_rule_asks(api, shop, dynamodb_calls):
    read(api)  # policy cached
    dynamodb_calls.clear()
    shop(1)
    assert "Query" not in dynamodb_calls  # no rule uses first_order: nothing read

    rule = {"rules": [{"name": "newcomer", "when": {"first_order": True}, "steps": ["staff"]}]}
    assert put(api, rule).status == 200
    dynamodb_calls.clear()
    first = shop(1, as_="other")
    assert dynamodb_calls.count("Query") == 1
    assert first["status"] == "pending_approval"
    assert shop(1, as_="other")["status"] == "confirmed"  # they have ordered before
    assert shop(1)["status"] == "confirmed"  # "customer" ordered above

    returning = {"rules": [{"name": "returning", "when": {"first_order": False}, "steps": ["staff"]}]}
    assert put(api, returning, version='"2"').status == 200
    assert shop(1)["status"] == "pending_approval"


def test_a_tiers_condition_matches_no_order_until_tiers_exist(api, shop):
    rule = {"rules": [{"name": "gold", "when": {"tiers": ["standard", "gold"]}, "steps": ["staff"]}]}
    assert put(api, rule).status == 200
    assert shop(50)["status"] == "confirmed"


def test_the_policy_is_read_through_a_short_cache(api, stack, monkeypatch, tables):
    """Reads within CACHE_SECONDS cost no DynamoDB call; a change written by another container is seen once the
    cache has lapsed; this container's own change at once."""
    from chalicelib.adapters.dynamo import approvals_repo

    now = [1000.0]
    repo = wiring.approval_policies()
    monkeypatch.setattr(repo, "_clock", lambda: now[0])
    repo.forget()
    read(api)

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation, params):
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    read(api)
    read(api)
    assert "GetItem" not in calls

    elsewhere = {"pk": {"S": "SETTING#approval"}, "sk": {"S": "#SETTING"}, "kind": {"S": "setting"},
                 "version": {"N": "2"}, "body": {"S": json.dumps(POS_BULK)}, "updated_at": {"S": "2026-12-01T00:00:00.000Z"},
                 "updated_by": {"S": "admin:another-container"}}  # fmt: skip
    stack.dynamodb.put_item(TableName=tables["OrdersTable"], Item=elsewhere)
    assert read(api)["version"] == 1  # still cached here
    now[0] += approvals_repo.CACHE_SECONDS
    assert read(api) == {"version": 2, **POS_BULK}
    assert put(api, {"rules": []}, version='"2"').status == 200
    assert read(api)["version"] == 3  # our own write: at once


def test_a_stale_policy_is_read_in_the_orders_own_batch_read_and_applied_to_it(api, stack, monkeypatch, tables,
                                                                               seed, place, dynamodb_calls):  # fmt: skip
    """Placing an order with the cache lapsed costs no GetItem of its own: the policy item comes in the BatchGetItem
    that reads the key's earlier use and the prices, and the order is reviewed against what it says."""
    from chalicelib.adapters.dynamo import approvals_repo

    now = [5000.0]
    repo = wiring.approval_policies()
    monkeypatch.setattr(repo, "_clock", lambda: now[0])
    repo.forget()
    seed("BULK-1", stock=50, price=100)
    strict = {"rules": [{"name": "any pos order", "when": {"channels": ["pos"]}, "steps": ["staff"]}]}
    item = {"pk": {"S": "SETTING#approval"}, "sk": {"S": "#SETTING"}, "kind": {"S": "setting"},
            "version": {"N": "2"}, "body": {"S": json.dumps(strict)}, "updated_at": {"S": "2026-12-01T00:00:00.000Z"},
            "updated_by": {"S": "admin:another-container"}}  # fmt: skip
    stack.dynamodb.put_item(TableName=tables["OrdersTable"], Item=item)
    dynamodb_calls.clear()
    held = place(("BULK-1", 1), channel="pos")
    assert held.status == 201 and held.body["status"] == "pending_approval", held.body
    assert sorted(dynamodb_calls) == ["BatchGetItem", "TransactWriteItems", "UpdateItem"]
    dynamodb_calls.clear()
    now[0] += approvals_repo.CACHE_SECONDS / 2  # cached now: the next order reads no policy at all
    assert place(("BULK-1", 1), channel="web").body["status"] == "confirmed"
    assert sorted(dynamodb_calls) == ["BatchGetItem", "TransactWriteItems", "UpdateItem"]
