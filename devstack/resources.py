"""AWS resources for the local stack and the tests, made from the same definitions as infra/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"
TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "BillingMode",
    "StreamSpecification",
)  # encryption and recovery settings do not apply locally
DEFAULT_TABLE_NAMES = {
    "OrdersTable": "orders",
    "ProductsTable": "products",
    "AuditTable": "audit",
    "CatalogueTable": "catalogue",
    "JobsTable": "jobs",
}


def template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r.get("Type") == kind}


def create_tables(dynamodb, names: dict[str, str] | None = None) -> dict[str, str]:
    """Create every table of the template; returns logical name -> table name."""
    names = {**DEFAULT_TABLE_NAMES, **(names or {})}
    for logical, resource in _resources("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        spec = {k: props[k] for k in TABLE_KEYS if k in props}
        if "StreamSpecification" in spec:  # CloudFormation implies StreamEnabled; the API wants it said
            spec["StreamSpecification"] = {"StreamEnabled": True, **spec["StreamSpecification"]}
        dynamodb.create_table(TableName=names[logical], **spec)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=names[logical], TimeToLiveSpecification=ttl)
    return names


LOCAL_NAMES = {  # logical id in infra/ -> the name the contract and env.json use
    "FulfilmentRequestsQueue": "fulfilment-requests",
    "FulfilmentRequestsDLQ": "fulfilment-requests-dlq",
    "FulfilmentUpdatesQueue": "fulfilment-updates",
    "FulfilmentUpdatesDLQ": "fulfilment-updates-dlq",
    "OrdersStreamFailuresQueue": "orders-stream-failures",
    "ProductsStreamFailuresQueue": "products-stream-failures",
    "ImportUploadsQueue": "import-uploads",
    "ImportUploadsDLQ": "import-uploads-dlq",
    "ExportJobsQueue": "export-jobs",
    "ExportJobsDLQ": "export-jobs-dlq",
    "ImageUploadsQueue": "image-uploads",
    "ImageUploadsDLQ": "image-uploads-dlq",
    "StaffTopic": "staff",
    "CustomerTopic": "customer",
    "OpsTopic": "ops",
}


def create_messaging(
    sqs, sns, *, visibility_timeout: int = 5, prefix: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """The template's queues (dead-letter queues and redrive policies included) and topics.

    Returns (queue name -> URL, topic name -> ARN). Locally the visibility timeout is
    short, so retries and dead-lettering show within seconds, not minutes.
    """
    queues: dict[str, str] = {}
    arns: dict[str, str] = {}
    pending = dict(_resources("AWS::SQS::Queue"))
    while pending:  # dead-letter queues first: a redrive policy names its queue's ARN
        for logical, resource in list(pending.items()):
            props = resource.get("Properties", {})
            redrive = props.get("RedrivePolicy")
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] if redrive else None
            if target and target not in arns:
                continue
            attributes = {"VisibilityTimeout": str(visibility_timeout if redrive or target else props.get(
                "VisibilityTimeout", 30))}  # fmt: skip
            if redrive:
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": arns[target], "maxReceiveCount": redrive["maxReceiveCount"]}
                )
            name = prefix + LOCAL_NAMES[logical]
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            queues[LOCAL_NAMES[logical]] = url
            del pending[logical]
    topics = {
        LOCAL_NAMES[logical]: sns.create_topic(Name=prefix + LOCAL_NAMES[logical])["TopicArn"]
        for logical in _resources("AWS::SNS::Topic")
    }
    return queues, topics


LOCAL_BUCKETS = {
    "ReceiptsBucket": "receipts",
    "ImagesBucket": "images",
    "ImportsBucket": "imports",
    "ExportsBucket": "exports",
}  # logical id -> name
# What CloudFront serves in AWS (Origin Access Control, the bucket staying private), the emulator's S3 serves
# itself locally: anonymous GetObject under these prefixes, by a bucket policy of the local bucket only.
LOCAL_PUBLIC_READ = {"ImagesBucket": "products/"}


def queue_arns(sqs, queues: dict[str, str]) -> dict[str, str]:
    """The template's queues by logical id -> ARN, from ``create_messaging``'s name -> URL."""
    by_name = {name: logical for logical, name in LOCAL_NAMES.items()}
    return {
        by_name[name]: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name, url in queues.items()
        if name in by_name
    }


def create_buckets(
    s3, *, origin: str = "*", prefix: str = "", queue_arns: dict[str, str] | None = None
) -> dict[str, str]:
    """The template's buckets, private, with their encryption and CORS rules (the stage's origin for
    ``@CORS_ALLOW_ORIGIN@``), and, given ``queue_arns`` (logical id -> ARN), their notifications to those queues
    (the emulator delivers S3 -> SQS notifications, form uploads included, as S3 does); returns local name ->
    bucket name."""
    made: dict[str, str] = {}
    for logical, resource in _resources("AWS::S3::Bucket").items():
        props = resource.get("Properties", {})
        name = prefix + LOCAL_BUCKETS[logical]
        s3.create_bucket(Bucket=name)
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in props:
            rules = [  # CloudFormation's spelling → the S3 API's
                {**{k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"},
                 "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]  # fmt: skip
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        cors_rules = props.get("CorsConfiguration", {}).get("CorsRules", [])
        if cors_rules:
            cors = [
                {
                    **rule,
                    "AllowedOrigins": [origin if o == "@CORS_ALLOW_ORIGIN@" else o for o in rule["AllowedOrigins"]],
                }
                for rule in cors_rules
            ]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [_s3_api_case(r) for r in cors]})
        if logical in LOCAL_PUBLIC_READ:
            readable = f"arn:aws:s3:::{name}/{LOCAL_PUBLIC_READ[logical]}*"
            statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": readable}
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        notifications = _queue_notifications(props, queue_arns or {})
        if notifications:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"QueueConfigurations": notifications}
            )
        made[LOCAL_BUCKETS[logical]] = name
    return made


def _queue_notifications(props: dict[str, Any], arns: dict[str, str]) -> list[dict[str, Any]]:
    """A bucket's QueueConfigurations in the S3 API's spelling, for the queues made locally."""
    found = []
    for config in props.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
        logical = config["Queue"]["Fn::GetAtt"][0]
        if logical not in arns:
            continue
        rules = config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        found.append({
            "QueueArn": arns[logical],
            "Events": [config["Event"]],
            **({"Filter": {"Key": {"FilterRules": rules}}} if rules else {}),
        })  # fmt: skip
    return found


def _s3_api_case(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation CORS rule in the S3 API's spelling (AllowedMethods, MaxAgeSeconds, ExposeHeaders)."""
    renamed = {"MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders"}
    return {renamed.get(key, key): value for key, value in rule.items() if key != "Id"}


def delete_buckets(s3, names: dict[str, str]) -> None:
    for bucket in names.values():
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def max_receives(logical: str = "FulfilmentUpdatesQueue") -> int:
    return int(_resources("AWS::SQS::Queue")[logical]["Properties"]["RedrivePolicy"]["maxReceiveCount"])


def delete_tables(dynamodb, names: dict[str, str]) -> None:
    for table in names.values():
        dynamodb.delete_table(TableName=table)


def create_user_pool(cognito, name: str = "orders-local") -> tuple[str, str]:
    """The user pool, its checkout client and its groups; returns (pool id, client id)."""
    (pool,) = _resources("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    pool_id = cognito.create_user_pool(
        PoolName=name,
        UsernameAttributes=props["UsernameAttributes"],
        AutoVerifiedAttributes=props["AutoVerifiedAttributes"],
        Policies=props["Policies"],
    )["UserPool"]["Id"]
    (client,) = _resources("AWS::Cognito::UserPoolClient").values()
    client_props = client["Properties"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=client_props["ClientName"],
        GenerateSecret=client_props["GenerateSecret"],
        ExplicitAuthFlows=client_props["ExplicitAuthFlows"],
    )["UserPoolClient"]["ClientId"]
    for group in _resources("AWS::Cognito::UserPoolGroup").values():
        cognito.create_group(
            UserPoolId=pool_id,
            GroupName=group["Properties"]["GroupName"],
            Description=group["Properties"].get("Description", ""),
        )
    return pool_id, client_id


def create_user(cognito, pool_id: str, email: str, password: str, groups: tuple[str, ...] = ()) -> str:
    """A confirmed user with a permanent password; returns its ``sub``."""
    user = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
    )["User"]
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


def sign_in(cognito, client_id: str, email: str, password: str) -> str:
    """An ID token, the way real clients get one (USER_PASSWORD_AUTH)."""
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return result["AuthenticationResult"]["IdToken"]
