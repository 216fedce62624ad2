"""What Lambda's event source mappings do, done locally against the emulator.

``StreamPump`` reads a table's stream and calls a ``@app.on_dynamodb_record`` handler
with Lambda's event shape, resuming from the first failed record of a batch (as
``ReportBatchItemFailures`` does). ``QueuePump`` receives from a queue, calls a
``@app.on_sqs_message`` handler and deletes what succeeded; the rest come back after
the visibility timeout and, past the queue's ``maxReceiveCount``, the emulator's
redrive moves them to the dead-letter queue. ``TopicTap`` subscribes a queue to an
SNS topic so what was published can be read (and printed).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

log = logging.getLogger("devstack.events")
Handler = Callable[[dict[str, Any], Any], Any]


class StreamPump:
    def __init__(self, streams: Any, stream_arn: str, handler: Handler, region: str, batch_size: int = 100) -> None:
        self._streams, self._arn, self._handler = streams, stream_arn, handler
        self._region, self._batch = region, batch_size
        self._positions: dict[str, tuple[str, str | None]] = {}  # shard -> (iterator type, sequence number)

    def pump(self) -> int:
        """Deliver every record not yet handled; returns how many the handler accepted."""
        done = 0
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            done += self._pump_shard(shard["ShardId"])
        return done

    def _pump_shard(self, shard_id: str) -> int:
        kind, sequence = self._positions.get(shard_id, ("TRIM_HORIZON", None))
        request = {"StreamArn": self._arn, "ShardId": shard_id, "ShardIteratorType": kind}
        if sequence:
            request["SequenceNumber"] = sequence
        iterator = self._streams.get_shard_iterator(**request)["ShardIterator"]
        records: list[dict[str, Any]] = []
        while iterator:
            page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            records.extend(page["Records"])
            iterator = page.get("NextShardIterator")
        done = 0
        for start in range(0, len(records), self._batch):
            batch = [self._lambda_record(r) for r in records[start : start + self._batch]]
            failed = _failures(self._handler({"Records": batch}, None))
            if failed:
                first = min(failed, key=int)
                self._positions[shard_id] = ("AT_SEQUENCE_NUMBER", first)
                return done + sum(1 for r in batch if int(r["dynamodb"]["SequenceNumber"]) < int(first))
            self._positions[shard_id] = ("AFTER_SEQUENCE_NUMBER", batch[-1]["dynamodb"]["SequenceNumber"])
            done += len(batch)
        return done

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": dynamodb, "eventSourceARN": self._arn, "awsRegion": self._region}


class QueuePump:
    def __init__(self, sqs: Any, queue_url: str, handler: Handler, region: str, batch_size: int = 10) -> None:
        self._sqs, self._url, self._handler, self._region, self._batch = sqs, queue_url, handler, region, batch_size
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def pump(self, wait_seconds: int = 0) -> tuple[int, int]:
        """One receive and one handler call; returns (handled, failed)."""
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0, 0
        records = [self._lambda_record(m) for m in messages]
        failed = _failures(self._handler({"Records": records}, None))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(done), len(failed)

    def _lambda_record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {"stringValue": value.get("StringValue"), "dataType": value.get("DataType", "String")}
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self._region,
        }


def _failures(result: Any) -> set[str]:
    """The items a handler reported as failed; no ``batchItemFailures`` means all succeeded, as Lambda reads it.

    (A handler that raises is wrapped by ``call``, which reports the whole batch as failed.)
    """
    if isinstance(result, dict) and isinstance(result.get("batchItemFailures"), list):
        return {str(item.get("itemIdentifier")) for item in result["batchItemFailures"]}
    return set()


def call(handler: Handler) -> Handler:
    """The handler, with an exception meaning the whole batch failed (as Lambda treats it)."""

    def invoke(event: dict[str, Any], context: Any) -> Any:
        try:
            return handler(event, context)
        except Exception:
            log.exception("handler failed; the whole batch will be retried")
            ids = [r.get("messageId") or r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
            return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}

    return invoke


class TopicTap:
    """A queue subscribed to an SNS topic: what was published, with its subject and attributes."""

    def __init__(self, sqs: Any, sns: Any, topic_arn: str, name: str) -> None:
        self._sqs = sqs
        self._url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)

    def drain(self) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return seen
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()}
                seen.append({"subject": envelope.get("Subject"), "attributes": attributes,
                             "message": json.loads(envelope["Message"])})  # fmt: skip
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


class EventLoop:
    """Runs ``steps`` every ``interval`` seconds in a thread (the local stack's event sources)."""

    def __init__(self, steps: list[Callable[[], Any]], interval: float) -> None:
        self._steps, self._interval = steps, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for step in self._steps:
                try:
                    step()
                except Exception:  # the emulator going away at shutdown, a bug: keep the other steps running
                    log.exception("local event step failed")
