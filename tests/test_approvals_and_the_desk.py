"""Approvals across the order desk: each decision and policy change in the audit log (written with the change), and edits that make the policy ask for more."""

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


# --- edits and the policy ----------------------------------------------------------------------------------------


def _patch(api, order_id: str, items: list, as_: str = "customer"):
    current = api.get(f"/orders/{order_id}", as_="staff").body
    return api.request("PATCH", f"/orders/{order_id}", as_=as_, json_body={"items": items},
                       headers={"if-match": f'"{current["version"]}"'})  # fmt: skip


def test_an_edit_that_needs_more_than_was_approved_waits_again_and_one_that_needs_less_does_not(api, shop):  # noqa: F811
    order = shop(1)  # one staff step
    assert approve(api, order["order_id"], "staff").status == 200
    approved = api.get(f"/orders/{order['order_id']}", as_="customer").body
    assert approved["status"] == "confirmed" and approved["approval"]["status"] == "approved"

    raised = _patch(api, order["order_id"], [{"sku": "GOLD", "quantity": 3}])  # now staff then admin
    assert raised.status == 200, raised.body
    held = raised.body
    assert held["status"] == "pending_approval"
    assert [s["role"] for s in held["approval"]["steps"]] == ["staff", "admin"]
    assert {s["status"] for s in held["approval"]["steps"]} == {"pending"}
    modified = [e for e in held["timeline"] if e["type"] == "order_modified"][-1]
    assert held["approval"]["for_version"] == modified["data"]["to_version"]  # the edited content's version
    assert [e["type"] for e in held["timeline"][-2:]] == ["approval_reopened", "approval_required"]
    pay = api.post(f"/orders/{order['order_id']}/payments", {"method": "card"}, as_="customer")
    assert pay.status == 409 and pay.body["error"]["code"] == "invalid_transition"

    lowered = _patch(api, order["order_id"], [{"sku": "GOLD", "quantity": 2}])  # still staff then admin: no change
    assert lowered.status == 200 and lowered.body["approval"] == held["approval"]


def test_an_order_that_needed_no_approval_is_held_when_an_edit_makes_it_large(api, shop):  # noqa: F811
    small = shop(2, sku="PEN")
    assert small["approval"] is None
    grown = _patch(api, small["order_id"], [{"sku": "PEN", "quantity": 2}, {"sku": "GOLD", "quantity": 1}])
    assert grown.status == 200, grown.body
    assert grown.body["status"] == "pending_approval" and grown.body["approval"]["steps"][0]["role"] == "staff"
    assert approve(api, small["order_id"], "staff").status == 200
    assert api.get(f"/orders/{small['order_id']}", as_="customer").body["status"] == "confirmed"
