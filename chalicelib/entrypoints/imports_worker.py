"""The import worker (``import_uploads``): S3's notifications of uploaded import files, and the app's messages
to apply a ready import, chunk by chunk, from the one ``import-uploads`` queue (batch size 1).

A message that fails is reported back (``ReportBatchItemFailures``) and retried after the queue's visibility
timeout; on its last receive (``IMPORT_MAX_RECEIVES``, the queue's ``maxReceiveCount``) the import is marked
``failed`` before the message goes to ``import-uploads-dlq`` and its alarm fires. The placeholder queue name
is Chalice's; ``infra/resources.json`` points the deployed event source at the stack's queue.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chalice import Blueprint

from chalicelib.config import settings
from chalicelib.entrypoints.http import wiring

api = Blueprint(__name__)
log = logging.getLogger("orders.imports")

IMPORT_UPLOADS = "import-uploads"
LOCAL_BUDGET_SECONDS = 60.0  # without a Lambda context (the local stack, tests): the time a chunk may take


@api.on_sqs_message(queue=IMPORT_UPLOADS, batch_size=1, name="import_uploads")
def import_uploads(event) -> dict:
    """Check an uploaded file; apply the next chunk of an import."""
    from chalicelib.entrypoints.events import _batch

    context = getattr(event, "context", None)
    started = time.monotonic()

    def seconds_left() -> float:
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            return context.get_remaining_time_in_millis() / 1000
        return LOCAL_BUDGET_SECONDS - (time.monotonic() - started)

    return _batch("SQS", event, lambda record: _message(record, seconds_left))


def _message(record: Any, seconds_left) -> None:
    from chalicelib.entrypoints.import_messages import ApplyNext, parse

    worker = wiring.import_worker()
    import_id = None
    try:
        for request in parse(record.body):
            import_id = request.import_id
            if isinstance(request, ApplyNext):
                outcome = worker.apply_next(import_id, seconds_left)
            else:
                outcome = worker.uploaded(import_id, request.key, request.etag)
            log.info("import %s: %s", import_id, outcome)
    except Exception as error:
        receives = int(record.attributes.approximate_receive_count or 1)
        log.warning("import message %s failed (receive %d): %r", record.message_id, receives, error)
        if import_id is not None and receives >= settings.import_max_receives:
            try:
                worker.give_up(import_id, "the import could not be processed (retried; see the worker's log)")
            except Exception:  # the message still goes to the DLQ, whose alarm fires
                log.exception("could not mark import %s failed", import_id)
        raise
