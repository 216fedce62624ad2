"""Exports' job items in the jobs table (``EXPORT#<id>`` / ``#JOB``): created with their audit entry in one
transaction; every later move (``running``, ``done``, ``failed``) one conditional write on the status, so a
redelivered message builds the file again at most (the same object key, overwritten) and never finishes a job
twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.jobs_table import JOB_SK, JobsTableItem, job_pk
from chalicelib.config import settings
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.exports import ExportJob

KEEP_DAYS = 30  # the job item; its file goes after 7 (the bucket's lifecycle)


class ExportRecord(JobsTableItem, discriminator="export"):
    export_id = UnicodeAttribute()
    export_kind = UnicodeAttribute()  # orders | payments | ... (``kind`` is the table's discriminator)
    file_format = UnicodeAttribute()
    status = UnicodeAttribute()
    filters = UnicodeAttribute(default="{}")  # JSON
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    rows = NumberAttribute(default=0)
    attempts = NumberAttribute(default=0)
    object_key = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    failure = UnicodeAttribute(null=True)


def _key(export_id: str) -> ExportRecord:
    return ExportRecord(job_pk("EXPORT", export_id), JOB_SK)


def _job(record: ExportRecord) -> ExportJob:
    return ExportJob(
        export_id=record.export_id, kind=record.export_kind, file_format=record.file_format, status=record.status,
        filters=json.loads(record.filters or "{}"), created_at=record.created_at, created_by=record.created_by,
        updated_at=record.updated_at, rows=int(record.rows or 0), attempts=int(record.attempts or 0),
        object_key=record.object_key, finished_at=record.finished_at, failure=record.failure,
    )  # fmt: skip


class ExportsRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def create(self, job: ExportJob, audit: list[AuditEntry]) -> None:
        """The new job item with its audit entries: one TransactWriteItems."""
        from chalicelib.adapters.dynamo.audit_repo import add_audit

        record = _key(job.export_id)
        record.export_id, record.export_kind, record.file_format = job.export_id, job.kind, job.file_format
        record.status, record.created_at, record.created_by = job.status, job.created_at, job.created_by
        record.updated_at, record.filters = job.updated_at, json.dumps(job.filters, ensure_ascii=False)
        record.expires_at = datetime.now(UTC) + timedelta(days=KEEP_DAYS)
        with TransactWrite(connection=self._connection) as transaction:
            transaction.save(record, condition=ExportRecord.pk.does_not_exist())
            add_audit(transaction, audit)

    def get(self, export_id: str) -> ExportJob | None:
        """One consistent GetItem."""
        try:
            return _job(ExportRecord.get(job_pk("EXPORT", export_id), JOB_SK, consistent_read=True))
        except ExportRecord.DoesNotExist:
            return None

    def start(self, export_id: str, at: str) -> bool:
        """``queued`` (or ``running``: a retry after a crash) -> ``running``, one attempt more; False once done
        or failed (a duplicate message: nothing to do)."""
        actions = [ExportRecord.status.set("running"), ExportRecord.updated_at.set(at), ExportRecord.attempts.add(1)]
        return self._update(export_id, actions, ExportRecord.status.is_in("queued", "running"))

    def finish(self, export_id: str, at: str, rows: int, object_key: str) -> bool:
        """``running`` -> ``done`` with the file's key and row count (once)."""
        actions = [ExportRecord.status.set("done"), ExportRecord.updated_at.set(at), ExportRecord.finished_at.set(at),
                   ExportRecord.rows.set(rows), ExportRecord.object_key.set(object_key)]  # fmt: skip
        return self._update(export_id, actions, ExportRecord.status == "running")

    def fail(self, export_id: str, at: str, reason: str) -> bool:
        """``failed`` with ``reason``, unless it is done already."""
        actions = [ExportRecord.status.set("failed"), ExportRecord.failure.set(reason[:500]),
                   ExportRecord.updated_at.set(at), ExportRecord.finished_at.set(at)]  # fmt: skip
        return self._update(export_id, actions, ExportRecord.status.is_in("queued", "running"))

    def _update(self, export_id: str, actions: list[Any], condition: Any) -> bool:
        try:
            _key(export_id).update(actions=actions, condition=condition & ExportRecord.pk.exists())
        except UpdateError as error:
            if getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException":
                return False
            raise
        return True
