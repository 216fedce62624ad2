"""Exports in the packaged template: a private bucket whose files lapse, the export-jobs queue (with its
dead-letter queue) to the ExportJobs function, and each role allowed only its part: the API queues exports and
signs download links; the worker reads the indexes it exports from and writes under ``exports/`` only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_packaged_template import configured_origin, functions, grants, mentioned, reference, resources
from tests.test_packaged_template import prod_template as prod_template  # the session's packaged templates
from tests.test_packaged_template import template as template


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_exports_bucket_is_private_encrypted_tls_only_and_forgets_after_a_week(request, stage):
    template = request.getfixturevalue("template" if stage == "dev" else "prod_template")
    bucket = props(template, "ExportsBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    (cors,) = bucket["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [configured_origin(stage)] and cors["AllowedMethods"] == ["GET"]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert {(r["Prefix"], r["ExpirationInDays"]) for r in rules if "ExpirationInDays" in r} == {("exports/", 7)}
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)  # a crashed multipart upload lapses too
    (policy,) = [r["Properties"] for r in resources(template, "AWS::S3::BucketPolicy").values()
                 if r["Properties"]["Bucket"] == {"Ref": "ExportsBucket"}]  # fmt: skip
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Effect"] == "Deny"


def test_the_worker_consumes_its_queue_marking_the_export_failed_on_the_receive_before_the_dead_letter(template):
    function = functions(template)["ExportJobs"]["Properties"]
    variables = function["Environment"]["Variables"]
    queue = props(template, "ExportJobsQueue")
    assert int(variables["EXPORT_MAX_RECEIVES"]) == int(queue["RedrivePolicy"]["maxReceiveCount"])
    assert reference(queue["RedrivePolicy"]["deadLetterTargetArn"]) == ("ExportJobsDLQ", "Arn")
    assert int(queue["VisibilityTimeout"]) >= int(function["Timeout"])  # not received again while it builds
    assert variables["EXPORTS_BUCKET"] == {"Ref": "ExportsBucket"}
    api = functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["EXPORT_JOBS_QUEUE_URL"] == {"Ref": "ExportJobsQueue"} and api["EXPORTS_BUCKET"] == {
        "Ref": "ExportsBucket"
    }


def test_each_role_may_do_only_its_part_of_an_export(template):
    worker = grants(template, "ExportJobs")
    s3 = sorted((action, str(resource)) for action, resource in worker if action.startswith("s3:"))
    assert s3 == [("s3:AbortMultipartUpload", "{'Fn::Sub': '${ExportsBucket.Arn}/exports/*'}"),
                  ("s3:PutObject", "{'Fn::Sub': '${ExportsBucket.Arn}/exports/*'}")]  # fmt: skip
    dynamodb = {action for action, _ in worker if action.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"}  # reads by Query only: no Scan
    queried = [resource for action, resource in worker if action == "dynamodb:Query"]
    assert {"OrdersTable", "ProductsTable", "CatalogueTable"} == set().union(*(mentioned(r) for r in queried))
    writes = [resource for action, resource in worker if action == "dynamodb:UpdateItem"]
    assert set().union(*(mentioned(r) for r in writes)) == {"JobsTable"}  # the worker changes nothing but its job
    for name in functions(template):
        if name not in ("APIHandler", "ExportJobs"):
            assert not [g for g in grants(template, name) if "ExportsBucket" in mentioned(g[1])], name
    api = [
        (action, resource)
        for action, resource in grants(template, "APIHandler")
        if "ExportsBucket" in mentioned(resource)
    ]
    assert api == [("s3:GetObject", {"Fn::Sub": "${ExportsBucket.Arn}/exports/*"})]  # to sign download links
