"""The audit log is append-only by policy: in the packaged template no role may change or delete an entry."""

from __future__ import annotations

from typing import Any

from tests.test_packaged_template import as_list, functions, mentioned, resources, statements
from tests.test_packaged_template import template as template  # the session's packaged template

APPEND_AND_READ = {"dynamodb:PutItem", "dynamodb:Query"}


def audit_grants(template: dict[str, Any]) -> dict[str, set[str]]:
    """Where (role, policy) -> every action an Allow statement grants on the audit table or its indexes."""
    found: dict[str, set[str]] = {}
    for where, statement in statements(template):
        if statement.get("Effect") == "Allow" and "AuditTable" in mentioned(statement.get("Resource", [])):
            found.setdefault(where, set()).update(as_list(statement["Action"]))
    return found


def test_no_role_may_update_or_delete_an_audit_entry(template):
    """Every IAM statement of the template: on the audit table only PutItem (a new entry) and Query (reading);
    never UpdateItem, DeleteItem, BatchWriteItem (which deletes too), PartiQL or the table's own deletion. (No
    statement grants on a wildcard resource either: test_packaged_template.test_no_permission_is_a_wildcard.)"""
    grants = audit_grants(template)
    assert grants, "someone must be able to write the audit log"
    for where, actions in grants.items():
        assert actions <= APPEND_AND_READ, (where, actions)
        assert not {a for a in actions if "Update" in a or "Delete" in a or "Batch" in a or "Statement" in a}


def test_only_the_api_writes_and_reads_the_audit_log(template):
    """Staff changes come through the API: its role alone may add entries (PutItem, inside the changes'
    transactions) and read them (Query, for GET /staff/audit); the table name reaches it as AUDIT_TABLE. The
    one other writer is the import worker, applying an import's rows as the staff member who pressed apply: it
    may only add entries."""
    api_role = functions(template)["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    importer = functions(template)["ImportUploads"]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert audit_grants(template) == {api_role: APPEND_AND_READ, importer: {"dynamodb:PutItem"}}
    variables = functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["AUDIT_TABLE"] == {"Ref": "AuditTable"}


def test_the_audit_table_is_kept_recoverable_and_encrypted(template):
    table = resources(template, "AWS::DynamoDB::Table")["AuditTable"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert "TimeToLiveSpecification" not in props, "entries never expire"
    indexes = {index["IndexName"]: index["KeySchema"][0]["AttributeName"] for index in props["GlobalSecondaryIndexes"]}
    assert indexes == {"actor-at": "actor", "time-at": "time_shard", "type-at": "type_shard"}
