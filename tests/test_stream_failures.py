"""Stream records a handler cannot process are not lost: they land in the stream's on-failure queue, which the ops
alarm watches, and ``make replay-stream-failures`` re-drives them from the stream (infra/replay_stream_failures.py).

Lambda's event source mapping is not emulated by devstack beyond reading the stream (``StreamPump`` retries forever);
``Mapping`` below does what the deployed mapping is configured to do in infra/resources.json: retry from the first
failed record ``MaximumRetryAttempts`` times, then send an on-failure record (shard and sequence range, not the
records) to the ``DestinationConfig`` queue. The queue is the local one made from the same template, and the alarm
that watches it is found in the template by its ``QueueName`` dimension.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack import resources
from devstack.events import call
from tests.test_notifications import SnsOutage, drained, kinds

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("replay_stream_failures", ROOT / "infra" / "replay_stream_failures.py")
replay_tool = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = replay_tool  # dataclasses look their module up there
_spec.loader.exec_module(replay_tool)


def mapping_config(function: str) -> dict[str, Any]:
    """The stream event source's properties for ``function`` in infra/resources.json."""
    (source,) = resources.template()["Resources"][function]["Properties"]["Events"].values()
    return source["Properties"]


def failure_queue(function: str) -> str:
    """The local name of the queue the stream function's failures go to."""
    logical = mapping_config(function)["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    return resources.LOCAL_NAMES[logical]


def alarm_on(queue_logical: str) -> dict[str, Any]:
    """The template's alarm on the depth of ``queue_logical``."""
    (alarm,) = [
        r["Properties"]
        for r in resources.template()["Resources"].values()
        if r.get("Type") == "AWS::CloudWatch::Alarm"
        and r["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and r["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_logical, "QueueName"]}
    ]
    return alarm


class Mapping:
    """Lambda's DynamoDB stream mapping as configured: partial batch responses, bounded retries, on-failure SQS."""

    def __init__(self, streams: Any, sqs: Any, stream_arn: str, handler: Any, queue_url: str, retries: int) -> None:
        self._streams, self._sqs, self._arn, self._handler = streams, sqs, stream_arn, handler
        self._queue, self._retries = queue_url, retries
        self.invocations = 0
        self._after: dict[str, str] = {}

    def run(self) -> None:
        """Deliver what is new on every shard, as Lambda would until it gives up on a record."""
        for shard in self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]:
            records = self._new_records(shard["ShardId"])
            attempts = 0
            while records:
                batch = [replay_tool.lambda_record(r, self._arn, "us-east-1") for r in records[:100]]
                self.invocations += 1
                answer = self._handler({"Records": batch}, None)
                failed = replay_tool.failures_of(answer) or set()
                if not failed:
                    self._after[shard["ShardId"]] = batch[-1]["dynamodb"]["SequenceNumber"]
                    records, attempts = records[len(batch) :], 0
                    continue
                first = min(int(f) for f in failed)
                records = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= first]
                attempts += 1
                if attempts > self._retries:  # RetryAttemptsExhausted: the failed part of the batch goes on-failure
                    part = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= first]
                    self._send_on_failure(shard["ShardId"], part)
                    self._after[shard["ShardId"]] = part[-1]["dynamodb"]["SequenceNumber"]
                    records, attempts = records[len(part) :], 0

    def _new_records(self, shard_id: str) -> list[dict[str, Any]]:
        after = self._after.get(shard_id)
        request = {"StreamArn": self._arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
        if after:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        iterator = self._streams.get_shard_iterator(**request)["ShardIterator"]
        records: list[dict[str, Any]] = []
        while iterator:
            page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                return records
            records += page["Records"]
            iterator = page.get("NextShardIterator")
        return records

    def _send_on_failure(self, shard_id: str, part: list[dict[str, Any]]) -> None:
        """The record Lambda sends to an SQS on-failure destination for a DynamoDB stream batch."""
        body = {
            "requestContext": {"requestId": str(uuid.uuid4()), "condition": "RetryAttemptsExhausted",
                               "approximateInvokeCount": self._retries + 1},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {"shardId": shard_id, "startSequenceNumber": part[0]["dynamodb"]["SequenceNumber"],
                                   "endSequenceNumber": part[-1]["dynamodb"]["SequenceNumber"],
                                   "batchSize": len(part), "streamArn": self._arn},
        }  # fmt: skip
        self._sqs.send_message(QueueUrl=self._queue, MessageBody=json.dumps(body))


def depth(sqs: Any, queue_url: str) -> int:
    """The queue's ``ApproximateNumberOfMessages`` attribute: what CloudWatch publishes as the metric
    ``ApproximateNumberOfMessagesVisible`` the on-failure alarm reads."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def orders_mapping(stack, tables, event_world):
    from app import app

    streams = boto3.client("dynamodbstreams", endpoint_url=stack.endpoint)
    arn = stack.dynamodb.describe_table(TableName=tables["OrdersTable"])["Table"]["LatestStreamArn"]
    handler = call(app.handler_map["orders_stream"])
    queue = event_world.queues[failure_queue("OrdersStream")]
    retries = mapping_config("OrdersStream")["MaximumRetryAttempts"]
    return Mapping(streams, event_world.sqs, arn, handler, queue, retries), streams, handler, queue


def local(handler: Any) -> replay_tool.Deliver:
    """Hand a replayed event to the handler in this process (as ``lambda:Invoke`` would in AWS)."""
    return lambda event: replay_tool.failures_of(handler(event, None)) or set()


def test_a_record_the_handler_keeps_failing_on_lands_in_the_alarmed_queue_and_replays_once_fixed(
    monkeypatch, event_world, orders_mapping, seed, place
):
    """SNS refuses every publish: the orders stream handler reports the new order's records failed, the mapping
    retries MaximumRetryAttempts times and sends their range to orders-stream-failures, whose depth alarm (threshold
    1) goes into ALARM. Once SNS works, the replay reads the range back from the stream, the handler announces the
    order once, and the queue is empty again."""
    mapping, streams, handler, queue = orders_mapping
    seed("MUG-REPLAY", stock=10, price=1500)
    outage = SnsOutage(monkeypatch)
    outage.down = True
    assert place(("MUG-REPLAY", 1)).status == 201

    mapping.run()
    retries = mapping_config("OrdersStream")["MaximumRetryAttempts"]
    assert mapping.invocations == retries + 1
    alarm = alarm_on("OrdersStreamFailuresQueue")
    assert depth(event_world.sqs, queue) >= alarm["Threshold"]  # the alarm's metric, over its threshold
    assert drained(event_world) == ([], [])

    outage.down = False
    said: list[str] = []
    outcome = replay_tool.replay(event_world.sqs, streams, queue, local(handler), "us-east-1", say=said.append)
    assert (outcome.replayed, outcome.left) == (1, []), said
    assert outcome.records >= 1
    staff, customer = drained(event_world)
    assert kinds(staff)["order_placed"] == 1 and kinds(customer)["order_confirmed"] == 1
    assert depth(event_world.sqs, queue) == 0

    again = replay_tool.replay(event_world.sqs, streams, queue, local(handler), "us-east-1", say=said.append)
    assert (again.replayed, again.records) == (0, 0)
    assert drained(event_world) == ([], [])


def test_a_replay_that_fails_again_or_finds_nothing_keeps_the_message(monkeypatch, event_world, orders_mapping, seed,
                                                                      place):  # fmt: skip
    """Still failing: the message stays (visible again, the alarm stays on); a range the stream no longer holds (or
    a body that is no failure record) is reported and kept, never dropped; --dry-run only lists."""
    mapping, streams, handler, queue = orders_mapping
    seed("MUG-AGAIN", stock=10, price=1500)
    outage = SnsOutage(monkeypatch)
    outage.down = True
    assert place(("MUG-AGAIN", 1)).status == 201
    mapping.run()
    said: list[str] = []
    dry = replay_tool.replay(
        event_world.sqs, streams, queue, local(handler), "us-east-1", dry_run=True, say=said.append
    )
    assert dry.replayed == 0 and len(dry.left) == 1 and depth(event_world.sqs, queue) == 1

    failed = replay_tool.replay(event_world.sqs, streams, queue, local(handler), "us-east-1", say=said.append)
    assert failed.replayed == 0 and "failed again" in failed.left[0]
    assert depth(event_world.sqs, queue) == 1

    (message,) = event_world.sqs.receive_message(QueueUrl=queue)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    event_world.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    gone = {"DDBStreamBatchInfo": {**info, "shardId": "shardId-00000000000000000000-00000000"}}
    event_world.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(gone))
    event_world.sqs.send_message(QueueUrl=queue, MessageBody="not a failure record")
    outage.down = False
    kept = replay_tool.replay(event_world.sqs, streams, queue, local(handler), "us-east-1", say=said.append)
    assert kept.replayed == 0 and len(kept.left) == 2, said
    assert depth(event_world.sqs, queue) == 2


class FakeLambda:
    """``lambda:Invoke`` answering as the deployed function would."""

    def __init__(self, answer: Any, error: str | None = None) -> None:
        self.answer, self.error, self.calls = answer, error, []

    def invoke(self, **request: Any) -> dict[str, Any]:
        import io

        self.calls.append(request)
        reply = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        return {**reply, "FunctionError": self.error} if self.error else reply


def test_invoking_the_deployed_function_reads_its_partial_batch_response_and_a_crash_fails_the_batch():
    event = {"Records": [{"dynamodb": {"SequenceNumber": "1"}}, {"dynamodb": {"SequenceNumber": "2"}}]}
    partial = FakeLambda({"batchItemFailures": [{"itemIdentifier": "2"}]})
    assert replay_tool.invoking(partial, "orders-api-dev-OrdersStream")(event) == {"2"}
    (call_,) = partial.calls
    assert call_["FunctionName"] == "orders-api-dev-OrdersStream" and call_["InvocationType"] == "RequestResponse"
    assert json.loads(call_["Payload"]) == event
    assert replay_tool.invoking(FakeLambda({"batchItemFailures": []}), "f")(event) == set()
    assert replay_tool.invoking(FakeLambda({"errorMessage": "boom"}, error="Unhandled"), "f")(event) == {"1", "2"}


def test_the_command_lists_the_failure_records_of_a_queue_on_a_dry_run(
    monkeypatch, capsys, stack, event_world, orders_mapping, seed, place
):
    """``make replay-stream-failures ... DRY_RUN=1`` against the emulator (``AWS_ENDPOINT_URL``): the range is read
    from the stream and listed, nothing is invoked or deleted, and the exit status is 0."""
    mapping, _, _, queue = orders_mapping
    seed("MUG-CLI", stock=10, price=1500)
    outage = SnsOutage(monkeypatch)
    outage.down = True
    assert place(("MUG-CLI", 1)).status == 201
    mapping.run()
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint)
    status = replay_tool.main(
        ["orders", "--queue-url", queue, "--function", "orders-api-dev-OrdersStream", "--dry-run"]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "records of shard" in out and "1 left" in out
    assert depth(event_world.sqs, queue) == 1
