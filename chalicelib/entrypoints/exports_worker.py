"""The export worker (``export_jobs``): builds each export the app asks for on the ``export-jobs`` queue
(batch size 1), its file streamed from the indexes into S3.

A message that fails is reported back (``ReportBatchItemFailures``) and retried after the queue's visibility
timeout; on its last receive (``EXPORT_MAX_RECEIVES``, the queue's ``maxReceiveCount``) the export is marked
``failed`` before the message goes to ``export-jobs-dlq`` and its alarm fires. The placeholder queue name is
Chalice's; ``infra/resources.json`` points the deployed event source at the stack's queue.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from chalice import Blueprint

from chalicelib.config import settings
from chalicelib.entrypoints.http import wiring

api = Blueprint(__name__)
log = logging.getLogger("orders.exports")

EXPORT_JOBS = "export-jobs"
EXPORT_ID = re.compile(r"^[0-9a-f]{32}$")


class BadMessage(ValueError):
    """Not a message this queue carries: it goes to the dead-letter queue."""


@api.on_sqs_message(queue=EXPORT_JOBS, batch_size=1, name="export_jobs")
def export_jobs(event) -> dict:
    """Build the export each message names."""
    from chalicelib.entrypoints.events import _batch

    return _batch("SQS", event, _message)


def export_id_of(body: str) -> str:
    try:
        message = json.loads(body)
    except ValueError:
        raise BadMessage("not JSON") from None
    export_id = message.get("export_id") if isinstance(message, dict) else None
    if not isinstance(export_id, str) or not EXPORT_ID.match(export_id):
        raise BadMessage("no export_id")
    return export_id


def _message(record: Any) -> None:
    export_id = export_id_of(record.body)
    worker = wiring.export_worker()
    try:
        log.info("export %s: %s", export_id, worker.build(export_id))
    except Exception as error:
        receives = int(record.attributes.approximate_receive_count or 1)
        log.warning("export %s failed (receive %d): %r", export_id, receives, error)
        if receives >= settings.export_max_receives:
            try:
                worker.give_up(export_id, "the export could not be built (retried; see the worker's log)")
            except Exception:  # the message still goes to the DLQ, whose alarm fires
                log.exception("could not mark export %s failed", export_id)
        raise
