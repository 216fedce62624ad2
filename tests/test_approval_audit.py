"""Approvals in the audit log: each step decided, a rejection and a policy change, written with the change itself."""

from __future__ import annotations

from tests.test_approvals import approve, reject, shop  # noqa: F401  (the fixture)
from tests.test_audit import entries


def test_each_decided_step_and_a_rejection_are_audited_once(api, shop, stack):  # noqa: F811
    big = shop(3)  # staff then admin
    assert approve(api, big["order_id"], "staff", note="checked the customer").status == 200
    assert approve(api, big["order_id"], "staff").status == 403  # the admin step: refused, not audited
    assert approve(api, big["order_id"], "admin").status == 200
    decided = entries(api, target_type="order", target_id=big["order_id"])
    assert [(e["action"], e["actor"].split(":")[0]) for e in decided] == [("order.approve", "admin"),
                                                                          ("order.approve", "staff")]  # fmt: skip
    assert decided[0]["data"]["status"] == {"from": "pending_approval", "to": "confirmed"}
    assert "status" not in decided[1]["data"]  # the first step leaves the order waiting

    other = shop(1)
    assert reject(api, other["order_id"], "staff", reason="no credit").status == 200
    (rejected,) = entries(api, target_type="order", target_id=other["order_id"])
    assert rejected["action"] == "order.reject"
    assert rejected["data"]["status"] == {"from": "pending_approval", "to": "cancelled"}


def test_replacing_the_policy_is_audited_with_the_new_rules_and_a_stale_replace_is_not(api):
    read = api.get("/staff/settings/approval", as_="staff")
    rules = [{"name": "everything big", "when": {"total_at_least": 100000}, "steps": ["admin"]}]
    put = api.request("PUT", "/staff/settings/approval", as_="admin", json_body={"rules": rules},
                      headers={"if-match": read.headers["etag"]})  # fmt: skip
    assert put.status == 200, put.body
    stale = api.request("PUT", "/staff/settings/approval", as_="admin", json_body={"rules": rules},
                        headers={"if-match": read.headers["etag"]})  # fmt: skip
    assert stale.status == 412
    (changed,) = entries(api, target_type="settings", target_id="approval")
    assert changed["action"] == "settings.approval.replace"
    assert changed["data"]["rules"] == rules
    assert changed["data"]["version"]["to"] == put.body["version"]
