"""Imports in the packaged template: a private bucket browsers POST files into, S3's notifications through the
import-uploads queue (with its dead-letter queue) to the ImportUploads function, each role allowed only its part,
and no circular dependency between the bucket, its queue and their policies.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_packaged_template import (
    configured_origin,
    functions,
    grants,
    mentioned,
    reference,
    resources,
)
from tests.test_packaged_template import prod_template as prod_template  # the session's packaged templates
from tests.test_packaged_template import template as template

BUCKET_NAME = "orders-api-${Stage}-imports-${AWS::AccountId}-${AWS::Region}"


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_imports_bucket_is_private_encrypted_tls_only_takes_posts_from_the_stages_origin_and_forgets(request,
                                                                                                         stage):  # fmt: skip
    template = request.getfixturevalue("template" if stage == "dev" else "prod_template")
    bucket = props(template, "ImportsBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "AccessControl" not in bucket and "WebsiteConfiguration" not in bucket
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    (cors,) = bucket["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [configured_origin(stage)] and cors["AllowedMethods"] == ["POST"]
    expiring = {(r["Prefix"], r["ExpirationInDays"]) for r in bucket["LifecycleConfiguration"]["Rules"]
                if "ExpirationInDays" in r and r["Status"] == "Enabled"}  # fmt: skip
    assert expiring == {("imports/", 7), ("parsed/", 7)}
    (policy,) = [r["Properties"] for r in resources(template, "AWS::S3::BucketPolicy").values()
                 if r["Properties"]["Bucket"] == {"Ref": "ImportsBucket"}]  # fmt: skip
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert mentioned(deny["Resource"]) == {"ImportsBucket"} and len(deny["Resource"]) == 2


def test_uploads_notify_the_import_queue_which_only_this_bucket_may_send_to_without_a_dependency_cycle(template):
    """The bucket names its queue; the queue policy names the bucket by its fixed name (not a Ref, which would make
    a cycle) and comes first, as S3 checks it may send when the notification is configured."""
    bucket = template["Resources"]["ImportsBucket"]
    assert bucket["Properties"]["BucketName"] == {"Fn::Sub": BUCKET_NAME}
    assert bucket["DependsOn"] == ["ImportUploadsQueuePolicy"]
    (notification,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert reference(notification["Queue"]) == ("ImportUploadsQueue", "Arn")
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "imports/"}]  # not parsed/

    policy = props(template, "ImportUploadsQueuePolicy")
    assert policy["Queues"] == [{"Ref": "ImportUploadsQueue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::"
                                                                               f"{BUCKET_NAME}"}  # fmt: skip
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "ImportsBucket" not in mentioned(list(policy.values()))


def test_the_worker_takes_one_message_at_a_time_retries_what_fails_and_marks_the_import_failed_on_the_last(template):
    """Batch size 1 (a chunk of applying is one invocation), ReportBatchItemFailures, its queue's visibility timeout
    at least six times the function's timeout (AWS's advice for SQS event sources), and the receive count on which
    the handler marks an import failed is the queue's maxReceiveCount, after which it goes to import-uploads-dlq."""
    function = functions(template)["ImportUploads"]["Properties"]
    (source,) = function["Events"].values()
    assert source["Properties"]["BatchSize"] == 1
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = props(template, "ImportUploadsQueue")
    assert int(queue["VisibilityTimeout"]) >= 6 * int(function["Timeout"])
    assert reference(queue["RedrivePolicy"]["deadLetterTargetArn"]) == ("ImportUploadsDLQ", "Arn")
    assert int(function["Environment"]["Variables"]["IMPORT_MAX_RECEIVES"]) == queue["RedrivePolicy"]["maxReceiveCount"]
    assert function["Environment"]["Variables"]["IMPORT_UPLOADS_QUEUE_URL"] == {"Ref": "ImportUploadsQueue"}
    assert function["Environment"]["Variables"]["IMPORTS_BUCKET"] == {"Ref": "ImportsBucket"}


def test_each_role_may_do_only_its_part_of_an_import(template):
    """The API signs uploads under imports/ (PutObject: the POST is authorised as its role) and sends the apply
    message; the worker reads imports/ and parsed/, writes parsed/ only, and never deletes; nobody lists the bucket."""

    def on_imports(function: str) -> list[tuple[str, Any]]:
        return [(action, resource) for action, resource in grants(template, function)
                if "ImportsBucket" in mentioned(resource) or "ImportUploadsQueue" in mentioned(resource)]  # fmt: skip

    assert sorted((a, str(r)) for a, r in on_imports("APIHandler")) == sorted([
        ("s3:PutObject", str({"Fn::Sub": "${ImportsBucket.Arn}/imports/*"})),
        ("sqs:SendMessage", str([{"Fn::GetAtt": ["ImportUploadsQueue", "Arn"]}])),
    ])  # fmt: skip
    worker = on_imports("ImportUploads")
    s3 = sorted((action, str(resource)) for action, resource in worker if action.startswith("s3:"))
    assert s3 == sorted([
        ("s3:GetObject", str([{"Fn::Sub": "${ImportsBucket.Arn}/imports/*"}, {"Fn::Sub": "${ImportsBucket.Arn}/parsed/*"}])),
        ("s3:PutObject", str({"Fn::Sub": "${ImportsBucket.Arn}/parsed/*"})),
    ])  # fmt: skip
    for function in functions(template):
        if function not in ("APIHandler", "ImportUploads"):
            assert on_imports(function) == [], function
    actions = {action for action, _ in grants(template, "ImportUploads")}
    assert not {
        a for a in actions if a.startswith("dynamodb:") and a.endswith(("DeleteItem", "BatchWriteItem", "Scan"))
    }
    audit = [resource for action, resource in grants(template, "ImportUploads") if "AuditTable" in mentioned(resource)]
    assert audit and all(
        action == "dynamodb:PutItem"
        for action, resource in grants(template, "ImportUploads")
        if "AuditTable" in mentioned(resource)
    )
