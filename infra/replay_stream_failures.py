"""``make replay-stream-failures STREAM=orders|products STAGE=dev|prod``: re-drive what a stream handler gave up on.

When the orders or products stream handler keeps failing on records (``MaximumRetryAttempts`` or
``MaximumRecordAgeInSeconds`` reached), Lambda sends an on-failure record to the stream's failures queue
(``OrdersStreamFailuresQueue`` / ``ProductsStreamFailuresQueue``; its alarm tells the ops topic) and goes on. That
record holds no stream records, only where they are: ``DDBStreamBatchInfo`` with the stream ARN, shard and the first
and last sequence numbers. This script, once the cause is fixed, for each message in the queue:

1. reads the records back from the stream (``GetShardIterator`` ``AT_SEQUENCE_NUMBER`` the first, then
   ``GetRecords`` up to the last), which works while the stream still holds them: **24 hours** after the change;
2. hands them to the stream function again, in Lambda's event shape (``lambda:Invoke`` of the stage's function, or
   locally the handler itself), in batches of at most 100;
3. deletes the message once every record of it was accepted; a message whose records fail again, or that the stream
   no longer holds, stays in the queue (printed), so nothing is dropped silently.

Replaying is safe: the handlers keep sent-markers, so a record that had partly gone out is not announced twice.

Usage: python infra/replay_stream_failures.py orders|products --stack orders-api-dev [--dry-run]
       (or --queue-url URL --function NAME instead of --stack)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STREAMS = {"orders": "OrdersStream", "products": "ProductsStream"}  # STREAM= -> the function's logical id
BATCH = 100  # the event source mappings' BatchSize
Deliver = Callable[[dict[str, Any]], set[str]]  # a Lambda event -> the sequence numbers that failed


class ReplayError(Exception):
    """Why a failure record could not be replayed, in a sentence for the operator."""


@dataclass
class Outcome:
    """What one run did: messages replayed and deleted, records handed over, and the messages left (with why)."""

    replayed: int = 0
    records: int = 0
    left: list[str] = field(default_factory=list)


def batch_info(body: str) -> dict[str, Any]:
    """The ``DDBStreamBatchInfo`` of a Lambda on-failure record (the SQS message body)."""
    try:
        info = json.loads(body)["DDBStreamBatchInfo"]
        for key in ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber"):
            if not isinstance(info.get(key), str):
                raise KeyError(key)
    except (ValueError, KeyError, TypeError) as error:
        raise ReplayError(f"not a DynamoDB stream on-failure record ({error!r})") from None
    return info


def stream_records(streams: Any, info: dict[str, Any], max_empty_pages: int = 5) -> list[dict[str, Any]]:
    """The records of ``info``'s range, first to last sequence number, read back from the stream."""
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
    except Exception as error:  # TrimmedDataAccessException, ResourceNotFoundException: past the 24 h
        raise ReplayError(f"the stream no longer holds shard {info['shardId']} from {first}: {error}") from None
    found: list[dict[str, Any]] = []
    empty = 0
    while iterator and empty < max_empty_pages:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = page.get("Records", [])
        empty = 0 if records else empty + 1
        for record in records:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if sequence > last:
                return found
            if sequence >= first:
                found.append(record)
        if found and int(found[-1]["dynamodb"]["SequenceNumber"]) == last:
            return found
        iterator = page.get("NextShardIterator")
    if not found:
        raise ReplayError(f"the stream no longer holds records {first}..{last} of shard {info['shardId']}")
    return found


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda gives the function (epoch seconds, source ARN and region)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn, "awsRegion": region}


def failures_of(answer: Any) -> set[str] | None:
    """The sequence numbers a handler's answer reports as failed; None if the answer is not a batch response."""
    if isinstance(answer, dict) and isinstance(answer.get("batchItemFailures", []), list):
        return {str(item.get("itemIdentifier")) for item in answer.get("batchItemFailures", [])}
    return None if answer is not None else set()


def invoking(lambda_client: Any, function: str) -> Deliver:
    """Deliver by invoking the deployed function synchronously; a function error fails the whole batch."""

    def deliver(event: dict[str, Any]) -> set[str]:
        reply = lambda_client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(
            event, default=str).encode())  # fmt: skip
        payload = reply["Payload"].read()
        failed = None if reply.get("FunctionError") else failures_of(json.loads(payload or b"null"))
        return {r["dynamodb"]["SequenceNumber"] for r in event["Records"]} if failed is None else failed

    return deliver


def messages(sqs: Any, queue_url: str, visibility: int) -> Iterator[dict[str, Any]]:
    """Every message in the queue now, once each (hidden for ``visibility`` seconds while it is replayed)."""
    seen: set[str] = set()
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=visibility)
        fresh = [m for m in got.get("Messages", []) if m["MessageId"] not in seen]
        for again in (m for m in got.get("Messages", []) if m["MessageId"] in seen):
            _release(sqs, queue_url, again)  # kept earlier in this run: visible again for the next run
        if not fresh:
            return
        seen.update(m["MessageId"] for m in fresh)
        yield from fresh


def replay(sqs: Any, streams: Any, queue_url: str, deliver: Deliver, region: str, dry_run: bool = False,
           say: Callable[[str], None] = print) -> Outcome:  # fmt: skip
    """Replay every failure record in ``queue_url`` (see the module docstring); ``dry_run`` only lists them."""
    outcome = Outcome()
    for message in messages(sqs, queue_url, visibility=300):
        try:
            info = batch_info(message["Body"])
            records = stream_records(streams, info)
        except ReplayError as error:
            outcome.left.append(f"{message['MessageId']}: {error}")
            say(f"kept {message['MessageId']}: {error}")
            _release(sqs, queue_url, message)
            continue
        span = f"shard {info['shardId']} {info['startSequenceNumber']}..{info['endSequenceNumber']}"
        if dry_run:
            say(f"{message['MessageId']}: {len(records)} records of {span}")
            outcome.left.append(message["MessageId"])
            _release(sqs, queue_url, message)
            continue
        failed: set[str] = set()
        for start in range(0, len(records), BATCH):
            batch = [lambda_record(r, info["streamArn"], region) for r in records[start : start + BATCH]]
            failed |= deliver({"Records": batch})
        outcome.records += len(records)
        if failed:
            outcome.left.append(f"{message['MessageId']}: {len(failed)} of {len(records)} records failed again")
            say(f"kept {message['MessageId']}: {len(failed)} of {len(records)} records of {span} failed again")
            _release(sqs, queue_url, message)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        outcome.replayed += 1
        say(f"replayed {message['MessageId']}: {len(records)} records of {span}")
    return outcome


def _release(sqs: Any, queue_url: str, message: dict[str, Any]) -> None:
    """Make a kept message visible again at once (its alarm stays on; the next run sees it)."""
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def from_stack(cloudformation: Any, stack: str, logical: str) -> tuple[str, str]:
    """(failures queue URL, function name) of the stream ``logical`` in ``stack``."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    queue = next((o["OutputValue"] for o in outputs if o["OutputKey"] == f"{logical}FailuresQueueUrl"), None)
    if not queue:
        raise ReplayError(f"stack {stack} has no output {logical}FailuresQueueUrl")
    function = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical)
    return queue, function["StackResourceDetail"]["PhysicalResourceId"]


def main(argv: list[str]) -> int:
    """Replay one stream's failures in AWS; exits 1 if any message is left in the queue."""
    parser = argparse.ArgumentParser(prog="make replay-stream-failures", description=__doc__.splitlines()[0])
    parser.add_argument("stream", choices=sorted(STREAMS))
    parser.add_argument("--stack", help="the stage's stack, e.g. orders-api-dev")
    parser.add_argument("--queue-url", help="the failures queue (instead of --stack)")
    parser.add_argument("--function", help="the stream function's name (instead of --stack)")
    parser.add_argument("--dry-run", action="store_true", help="list the failure records, replay nothing")
    args = parser.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session()
    region = session.region_name or "us-east-1"
    try:
        if args.queue_url and args.function:
            queue, function = args.queue_url, args.function
        elif args.stack:
            queue, function = from_stack(session.client("cloudformation"), args.stack, STREAMS[args.stream])
        else:
            parser.error("give --stack, or --queue-url and --function")
        deliver = invoking(session.client("lambda"), function)
        outcome = replay(session.client("sqs"), session.client("dynamodbstreams"), queue, deliver, region,
                         dry_run=args.dry_run)  # fmt: skip
    except ReplayError as error:
        print(f"replay-stream-failures: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:  # no credentials, no such stack, access denied
        print(f"replay-stream-failures: AWS refused or could not be reached: {error}", file=sys.stderr)
        return 1
    print(f"{outcome.replayed} failure records replayed ({outcome.records} stream records), {len(outcome.left)} left.")
    return 1 if outcome.left and not args.dry_run else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
