"""Handlers of events beside HTTP: the tables' streams, the warehouse's queue and S3's image uploads.

Batches are processed with AWS Lambda Powertools' ``BatchProcessor``: a record that
fails is reported in ``batchItemFailures`` (the packaged template turns on
``ReportBatchItemFailures``) so it alone is retried, and the rest of its batch is not
held back or lost. The stream ARNs and queue below are placeholders for Chalice;
``infra/resources.json`` points the deployed event sources at the real ones.
"""

from __future__ import annotations

import logging
from typing import Any

from chalice import Blueprint

from chalicelib.config import settings
from chalicelib.entrypoints import observability
from chalicelib.entrypoints.http import wiring

api = Blueprint(__name__)
log = logging.getLogger("orders.events")

ORDERS_STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/placeholder"
PRODUCTS_STREAM = "arn:aws:dynamodb:us-east-1:000000000000:table/products/stream/placeholder"
FULFILMENT_UPDATES = "fulfilment-updates"
IMAGE_UPLOADS = "image-uploads"

# Business counts (custom metrics), from committed timeline events: at least once (a retried batch may count again).
EVENT_METRICS = {
    "order_placed": "OrdersPlaced",
    "payment_received": "PaymentsReceived",
    "payment_failed": "PaymentsFailed",
    "payment_mismatch": "PaymentMismatches",
    "refund_issued": "RefundsIssued",
    "refund_failed": "RefundsFailed",
    "order_cancelled": "OrdersCancelled",
    "order_expired": "OrdersExpired",
    "dispute_opened": "DisputesOpened",
}


@api.on_dynamodb_record(
    stream_arn=ORDERS_STREAM, batch_size=100, starting_position="TRIM_HORIZON", name="orders_stream"
)
def orders_stream(event) -> dict:
    """New timeline events → staff and customer notifications, and fulfilment requests for paid orders; new
    reviews → their products' ratings (each once)."""
    return _batch("DynamoDBStreams", event, _timeline_record)


@api.on_dynamodb_record(
    stream_arn=PRODUCTS_STREAM, batch_size=100, starting_position="TRIM_HORIZON", name="products_stream"
)
def products_stream(event) -> dict:
    """A stock change that crosses a SKU's low-stock threshold → one ``low_stock`` staff notification."""
    return _batch("DynamoDBStreams", event, _stock_record)


@api.on_sqs_message(queue=FULFILMENT_UPDATES, batch_size=10, name="fulfilment_updates")
def fulfilment_updates(event) -> dict:
    """The warehouse's picked/packed/shipped/delivered/returned reports."""
    return _batch("SQS", event, _fulfilment_message)


@api.on_sqs_message(queue=IMAGE_UPLOADS, batch_size=10, name="image_uploads")
def image_uploads(event) -> dict:
    """S3's notifications of uploaded product images: each object checked, then listed on its product once."""
    return _batch("SQS", event, _image_upload_message)


def _batch(kind: str, event: Any, handler) -> dict:
    """Each record on its own (its id is the correlation id of what it logs); the failed ones are reported back
    for retry and counted in the ``FailedRecords`` metric, which an alarm per function watches."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record) -> None:
        observability.correlate(getattr(record, "message_id", None) or getattr(record, "event_id", None))
        handler(record)

    processor = BatchProcessor(event_type=getattr(EventType, kind), raise_on_entire_batch_failure=False)
    answer = process_partial_response(event=event.to_dict(), record_handler=handle, processor=processor)
    observability.count("FailedRecords", len(answer.get("batchItemFailures", [])))
    return answer


def _timeline_record(record) -> None:
    from chalicelib.adapters.dynamo.reviews_repo import rating_fact
    from chalicelib.adapters.dynamo.streams import spend_fact, tier_change, timeline_fact
    from chalicelib.adapters.dynamo.tickets_repo import message_fact

    spend = spend_fact(record.raw_event)
    if spend is not None:  # money moved on an order: its customer's spend and tier
        tier = wiring.tier_keeper().spend_changed(**spend)
        log.info("order %s: net %s, customer's tier %s", spend["order_id"], spend["net"], tier)
        return
    change = tier_change(record.raw_event)
    if change is not None:
        wiring.tier_announcer().tier_changed(change)
        return
    rating = rating_fact(record.raw_event)
    if rating is not None:  # a product's entry of a new review: its rating added to the product, once
        outcome = wiring.ratings().review_added(rating)
        log.info("review of order %s rates %s: %s", rating["order_id"], rating["sku"], outcome)
        return
    message = message_fact(record.raw_event)
    if message is not None:  # a ticket's new message: ticket_opened / ticket_replied
        sent = wiring.ticket_announcer().message_added(message)
        log.info("ticket %s message %s: sent %s", message["ticket_id"], message["seq"], ", ".join(sent) or "nothing")
        return
    fact = timeline_fact(record.raw_event)
    if fact is not None:
        sent = wiring.dispatcher().timeline_event(fact)
        if fact.type in EVENT_METRICS:
            observability.count(EVENT_METRICS[fact.type])
        if sent:
            log.info("order %s event %s (%s): sent %s", fact.order_id, fact.seq, fact.type, ", ".join(sent))


def _stock_record(record) -> None:
    from chalicelib.adapters.dynamo.streams import stock_change

    change = stock_change(record.raw_event)
    if change is not None:
        wiring.dispatcher().stock_changed(**change)


def _fulfilment_message(record) -> None:
    from chalicelib.entrypoints.fulfilment_messages import parse_update

    try:
        update = parse_update(record.body)
        result = wiring.fulfilment().apply(update)
        log.info("fulfilment update %s for order %s: %s", update.update_id, update.order_id, result)
    except Exception as error:
        receives = int(record.attributes.approximate_receive_count or 1)
        log.warning("fulfilment message %s failed (receive %d): %s", record.message_id, receives, error)
        if receives >= settings.fulfilment_max_receives:
            try:
                wiring.dead_letter_alert(repr(error), record.body, record.message_id, receives)
            except Exception:  # the message still goes to the DLQ (and its alarm fires); keep the original error
                log.exception("could not alert staff about dead-lettered message %s", record.message_id)
        raise


def _image_upload_message(record) -> None:
    """Every object the notification names; a bad object is deleted and logged (not retried), a failed call raises."""
    from chalicelib.entrypoints.image_messages import created_objects

    for bucket, key in created_objects(record.body):
        outcome = wiring.product_images().record_upload(bucket, key)
        level = {"added": logging.INFO, "listed": logging.DEBUG}.get(outcome.split(":", 1)[0], logging.WARNING)
        log.log(level, "image upload s3://%s/%s: %s", bucket, key, outcome)
