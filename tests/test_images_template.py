"""Product images in the packaged template: a private bucket that CloudFront alone reads (Origin Access Control),
S3's upload notifications through the image-uploads queue (with its dead-letter queue) to the ImageUploads function,
each role allowed only its part, and no circular dependency between the bucket, its queue and their policies.
"""

from __future__ import annotations

import json
import re
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

BUCKET_NAME = "orders-api-${Stage}-images-${AWS::AccountId}-${AWS::Region}"
BASE_URL = {"Fn::Sub": "https://${ImagesDistribution.DomainName}"}


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_images_bucket_is_private_encrypted_and_takes_browser_posts_from_the_stages_origin(request, stage):
    template = request.getfixturevalue("template" if stage == "dev" else "prod_template")
    bucket = props(template, "ImagesBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "AccessControl" not in bucket and "WebsiteConfiguration" not in bucket
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"  # CloudFront's OAC reads SSE-S3
    (cors,) = bucket["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [configured_origin(stage)] and cors["AllowedMethods"] == ["POST"]


def test_only_cloudfront_reads_the_bucket_and_only_images_over_tls(template):
    """The bucket policy: plain HTTP refused for everyone; one Allow, GetObject under products/ for the CloudFront
    service principal on behalf of this stack's distribution alone (OAC), not for any principal or distribution."""
    (policy,) = [r["Properties"] for r in resources(template, "AWS::S3::BucketPolicy").values()
                 if r["Properties"]["Bucket"] == {"Ref": "ImagesBucket"}]  # fmt: skip
    deny, allow = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and mentioned(deny["Resource"]) == {
        "ImagesBucket"
    }
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject" and allow["Resource"] == {"Fn::Sub": "${ImagesBucket.Arn}/products/*"}
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source == "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${ImagesDistribution}"


def test_the_distribution_serves_the_bucket_through_origin_access_control_over_https_only(template):
    config = props(template, "ImagesDistribution")["DistributionConfig"]
    (origin,) = config["Origins"]
    assert reference(origin["DomainName"]) == ("ImagesBucket", "RegionalDomainName")
    assert reference(origin["OriginAccessControlId"]) == ("ImagesOriginAccessControl", "Id")
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not the legacy identity
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == origin["Id"] and behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"] and behaviour["ResponseHeadersPolicyId"]  # nosniff & co
    oac = props(template, "ImagesOriginAccessControl")["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3", "always", "sigv4",
    )  # fmt: skip


def test_uploads_under_products_notify_the_image_uploads_queue_which_only_the_bucket_may_send_to(template):
    (notification,) = props(template, "ImagesBucket")["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert reference(notification["Queue"]) == ("ImageUploadsQueue", "Arn")
    assert notification["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "products/"}]}}
    queue_policy = props(template, "ImageUploadsQueuePolicy")
    assert queue_policy["Queues"] == [{"Ref": "ImageUploadsQueue"}]
    (statement,) = queue_policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{BUCKET_NAME}"
    }
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert props(template, "ImagesBucket")["BucketName"] == {"Fn::Sub": BUCKET_NAME}  # the ARN the condition names


def test_the_bucket_is_made_after_its_queue_policy_without_a_dependency_cycle(template):
    """S3 checks that it may send to the queue when the notification is configured: the bucket depends on the
    queue policy, which names the bucket's ARN by its fixed name (a Ref would make a cycle). No resource of the
    template depends on itself through Ref, GetAtt, Sub or DependsOn."""
    assert template["Resources"]["ImagesBucket"]["DependsOn"] == ["ImageUploadsQueuePolicy"]
    assert "ImagesBucket" not in depends_on(template)["ImageUploadsQueuePolicy"]
    graph = depends_on(template)
    for start in graph:
        seen, stack = set(), list(graph[start])
        while stack:
            node = stack.pop()
            assert node != start, f"{start} depends on itself"
            if node not in seen:
                seen.add(node)
                stack.extend(graph.get(node, ()))


def depends_on(template: dict[str, Any]) -> dict[str, set[str]]:
    names = set(template["Resources"])
    graph = {}
    for name, resource in template["Resources"].items():
        text = json.dumps(resource.get("Properties", {}))
        found = set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text))
        found |= set(re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)"', text))
        found |= set(re.findall(r"\$\{([A-Za-z0-9]+)[.}]", text))
        declared = resource.get("DependsOn", [])
        found |= set(declared if isinstance(declared, list) else [declared])
        graph[name] = (found & names) - {name}
    return graph


def test_the_upload_handler_reads_its_queue_checks_and_deletes_images_and_lists_them_nothing_more(template):
    assert sorted((action, json.dumps(resource, sort_keys=True)) for action, resource in grants(template, "ImageUploads")
                  if not action.startswith(("logs:", "xray:"))) == sorted(
        [(action, json.dumps([{"Fn::GetAtt": ["ImageUploadsQueue", "Arn"]}])) for action in
         ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility")]
        + [(action, json.dumps({"Fn::Sub": "${ImagesBucket.Arn}/products/*"})) for action in
           ("s3:GetObject", "s3:DeleteObject")]
        + [(action, json.dumps([{"Fn::GetAtt": ["ProductsTable", "Arn"]}])) for action in
           ("dynamodb:GetItem", "dynamodb:UpdateItem")]
    )  # fmt: skip
    variables = functions(template)["ImageUploads"]["Properties"]["Environment"]["Variables"]
    assert variables["IMAGES_BUCKET"] == {"Ref": "ImagesBucket"} and variables["IMAGES_BASE_URL"] == BASE_URL
    assert variables["PRODUCTS_TABLE"] == {"Ref": "ProductsTable"}


def test_the_api_signs_uploads_under_products_and_serves_the_cdns_urls(template):
    """A presigned POST is authorised as its signer: the API's role may PutObject under products/ (nothing else of
    the images bucket); no other function may touch the bucket."""
    touching = {
        f: [(a, r) for a, r in grants(template, f) if "ImagesBucket" in mentioned(r)] for f in functions(template)
    }
    touching = {f: found for f, found in touching.items() if found}
    assert set(touching) == {"APIHandler", "ImageUploads"}
    assert touching["APIHandler"] == [("s3:PutObject", {"Fn::Sub": "${ImagesBucket.Arn}/products/*"})]
    variables = functions(template)["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["IMAGES_BUCKET"] == {"Ref": "ImagesBucket"} and variables["IMAGES_BASE_URL"] == BASE_URL


def test_a_failing_notification_is_retried_then_dead_lettered_and_ops_are_told(template):
    queue = props(template, "ImageUploadsQueue")
    assert reference(queue["RedrivePolicy"]["deadLetterTargetArn"]) == ("ImageUploadsDLQ", "Arn")
    assert int(queue["RedrivePolicy"]["maxReceiveCount"]) == 5
    timeout = functions(template)["ImageUploads"]["Properties"]["Timeout"]
    assert int(queue["VisibilityTimeout"]) >= 6 * int(timeout)  # AWS's advice for an SQS event source
    assert queue["SqsManagedSseEnabled"] and props(template, "ImageUploadsDLQ")["SqsManagedSseEnabled"]
    (failed,) = [r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values()
                 if r["Properties"]["MetricName"] == "FailedRecords"
                 and {"Name": "function", "Value": {"Ref": "ImageUploads"}} in r["Properties"]["Dimensions"]]  # fmt: skip
    assert failed["AlarmActions"] == [{"Ref": "OpsTopic"}] and failed["Threshold"] == 1
