"""The emulator's TransactWriteItems keeps DynamoDB's promise: all or nothing, stream included."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(stack):
    client = boto3.client("dynamodb", endpoint_url=stack.endpoint)
    name = "tx-check"
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    client.put_item(TableName=name, Item={"pk": {"S": "stock"}, "n": {"N": "5"}, "label": {"S": "x"}})
    yield client, name
    client.delete_table(TableName=name)


def stream_length(client, name: str, endpoint: str) -> int:
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint)
    arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def take(amount: int, extra_item: str = "order-1") -> list[dict]:
    return [
        {"Put": {"TableName": "tx-check", "Item": {"pk": {"S": extra_item}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": "tx-check", "Key": {"pk": {"S": "stock"}}, "UpdateExpression": "ADD n :d",
                    "ConditionExpression": "n >= :a",
                    "ExpressionAttributeValues": {":d": {"N": str(-amount)}, ":a": {"N": str(amount)}}}},
    ]  # fmt: skip


def items(client, name: str) -> dict[str, dict]:
    return {i["pk"]["S"]: i for i in client.scan(TableName=name)["Items"]}


def test_a_transaction_that_fits_writes_everything(table, stack):
    client, name = table
    client.transact_write_items(TransactItems=take(3))
    assert items(client, name)["stock"]["n"] == {"N": "2"}
    assert "order-1" in items(client, name)
    assert stream_length(client, name, stack.endpoint) == 3  # seed + put + update


def test_a_failed_condition_writes_nothing_and_names_the_item(table, stack):
    client, name = table
    before = items(client, name)
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=take(6))
    reasons = [r["Code"] for r in refused.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert items(client, name) == before
    assert stream_length(client, name, stack.endpoint) == 1


def test_conditions_see_the_state_before_the_transaction(table):
    client, name = table
    client.put_item(TableName=name, Item={"pk": {"S": "order-1"}})
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=take(1))
    assert [r["Code"] for r in refused.value.response["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
    assert items(client, name)["stock"]["n"] == {"N": "5"}


def test_a_write_that_fails_after_others_undoes_them_and_their_stream_records(table, stack):
    client, name = table
    broken = {
        "Update": {
            "TableName": name,
            "Key": {"pk": {"S": "stock"}},
            "UpdateExpression": "ADD label :d",
            "ExpressionAttributeValues": {":d": {"N": "1"}},
        }
    }  # fmt: skip  (ADD a number to a string)
    before = items(client, name)
    with pytest.raises(ClientError):
        client.transact_write_items(TransactItems=[take(1)[0], broken])
    assert items(client, name) == before
    assert stream_length(client, name, stack.endpoint) == 1
