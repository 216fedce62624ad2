"""Imports' job items in the jobs table (``IMPORT#<id>`` / ``#JOB``): every move of an import is one conditional
write on its status (and, while applying, on its position), so a redelivered or duplicated message moves it
at most once. Starting and applying write their audit entries in the same transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo.jobs_table import JOB_SK, JobsTableItem, job_pk
from chalicelib.config import settings
from chalicelib.domain.audit import AuditEntry
from chalicelib.domain.imports import Applier, ImportJob

KEEP_DAYS = 30  # the job item; its files go after 7 (the bucket's lifecycle)


class ImportRecord(JobsTableItem, discriminator="import"):
    import_id = UnicodeAttribute()
    import_kind = UnicodeAttribute()  # products | stock (``kind`` is the table's discriminator)
    file_format = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    object_etag = UnicodeAttribute(null=True)  # the upload being (or that was) checked
    rows_total = NumberAttribute(null=True)
    rows_valid = NumberAttribute(null=True)
    errors = UnicodeAttribute(default="[]")  # JSON: the first errors, [{row, column, message}]
    errors_total = NumberAttribute(default=0)
    preview = UnicodeAttribute(default="[]")  # JSON: the first rows' planned changes
    applier_sub = UnicodeAttribute(null=True)
    applier_groups = ListAttribute(of=UnicodeAttribute, null=True)
    applier_ip = UnicodeAttribute(null=True)
    applier_agent = UnicodeAttribute(null=True)
    apply_attempts = NumberAttribute(default=0)
    position = NumberAttribute(default=0)
    rows_applied = NumberAttribute(default=0)
    rows_unchanged = NumberAttribute(default=0)
    rows_failed = NumberAttribute(default=0)
    finished_at = UnicodeAttribute(null=True)
    failure = UnicodeAttribute(null=True)


def _key(import_id: str) -> ImportRecord:
    return ImportRecord(job_pk("IMPORT", import_id), JOB_SK)


def _job(record: ImportRecord) -> ImportJob:
    applier = None
    if record.applier_sub:
        applier = Applier(record.applier_sub, tuple(record.applier_groups or ()), record.applier_ip,
                          record.applier_agent)  # fmt: skip
    return ImportJob(
        import_id=record.import_id, kind=record.import_kind, file_format=record.file_format, status=record.status,
        created_at=record.created_at, created_by=record.created_by, updated_at=record.updated_at,
        rows_total=_int(record.rows_total), rows_valid=_int(record.rows_valid), errors=json.loads(record.errors),
        errors_total=int(record.errors_total or 0), preview=json.loads(record.preview),
        object_etag=record.object_etag, applier=applier, apply_attempts=int(record.apply_attempts or 0),
        position=int(record.position or 0), rows_applied=int(record.rows_applied or 0),
        rows_unchanged=int(record.rows_unchanged or 0), rows_failed=int(record.rows_failed or 0),
        finished_at=record.finished_at, failure=record.failure,
    )  # fmt: skip


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _rejected(error: Exception) -> bool:
    cause = getattr(error, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


class ImportsRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=settings.region)

    def create(self, job: ImportJob, audit: list[AuditEntry]) -> None:
        """The new job item with its audit entries: one TransactWriteItems."""
        from chalicelib.adapters.dynamo.audit_repo import add_audit

        record = _key(job.import_id)
        record.import_id, record.import_kind, record.file_format = job.import_id, job.kind, job.file_format
        record.status, record.created_at, record.created_by = job.status, job.created_at, job.created_by
        record.updated_at = job.updated_at
        record.expires_at = datetime.now(UTC) + timedelta(days=KEEP_DAYS)
        with TransactWrite(connection=self._connection) as transaction:
            transaction.save(record, condition=ImportRecord.pk.does_not_exist())
            add_audit(transaction, audit)

    def get(self, import_id: str) -> ImportJob | None:
        """One consistent GetItem."""
        try:
            return _job(ImportRecord.get(job_pk("IMPORT", import_id), JOB_SK, consistent_read=True))
        except ImportRecord.DoesNotExist:
            return None

    def claim(self, import_id: str, etag: str, at: str) -> bool:
        """``awaiting_upload`` -> ``validating`` for the upload ``etag`` (or it is already being checked: a
        redelivery); False for an import that is not waiting for this upload."""
        condition = (ImportRecord.status == "awaiting_upload") | (
            (ImportRecord.status == "validating") & (ImportRecord.object_etag == etag)
        )
        actions = [ImportRecord.status.set("validating"), ImportRecord.object_etag.set(etag),
                   ImportRecord.updated_at.set(at)]  # fmt: skip
        return self._update(import_id, actions, condition & ImportRecord.pk.exists())

    def checked(self, import_id: str, etag: str, at: str, *, valid: bool, rows_total: int, rows_valid: int,
                errors: list[dict[str, Any]], errors_total: int, preview: list[dict[str, Any]]) -> bool:  # fmt: skip
        """The check's outcome (``ready`` or ``invalid``), if this upload is still the one being checked."""
        actions = [
            ImportRecord.status.set("ready" if valid else "invalid"), ImportRecord.updated_at.set(at),
            ImportRecord.rows_total.set(rows_total), ImportRecord.rows_valid.set(rows_valid),
            ImportRecord.errors.set(json.dumps(errors, ensure_ascii=False)), ImportRecord.errors_total.set(errors_total),
            ImportRecord.preview.set(json.dumps(preview, ensure_ascii=False)),
        ]  # fmt: skip
        condition = (ImportRecord.status == "validating") & (ImportRecord.object_etag == etag)
        return self._update(import_id, actions, condition)

    def start_apply(self, job: ImportJob, applier: Applier, at: str, audit: list[AuditEntry]) -> bool:
        """``ready`` (or ``failed`` while applying) -> ``applying``, by ``applier``, with the audit entries: one
        TransactWriteItems conditional on the status and attempts read. False when another request won."""
        from chalicelib.adapters.dynamo.audit_repo import add_audit

        actions = [
            ImportRecord.status.set("applying"), ImportRecord.updated_at.set(at), ImportRecord.failure.remove(),
            ImportRecord.apply_attempts.set(job.apply_attempts + 1),
        ]  # fmt: skip
        if job.applier is None:  # the first apply names who applied it; a resumed one keeps them
            actions += [ImportRecord.applier_sub.set(applier.subject), ImportRecord.applier_groups.set(
                list(applier.groups))]  # fmt: skip
            if applier.source_ip:
                actions.append(ImportRecord.applier_ip.set(applier.source_ip))
            if applier.user_agent:
                actions.append(ImportRecord.applier_agent.set(applier.user_agent[:512]))
        condition = (ImportRecord.status == job.status) & (ImportRecord.apply_attempts == job.apply_attempts)
        if not job.apply_attempts:
            condition = (ImportRecord.status == job.status) & (
                ImportRecord.apply_attempts.does_not_exist() | (ImportRecord.apply_attempts == 0)
            )
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.update(_key(job.import_id), actions=actions, condition=condition)
                add_audit(transaction, audit)
        except TransactWriteError as error:
            reasons = [reason.code if reason else None for reason in (error.cancellation_reasons or [])]
            if reasons[:1] == ["ConditionalCheckFailed"] or "TransactionConflict" in reasons:
                return False
            raise
        return True

    def advance(self, import_id: str, start: int, end: int, at: str, *, applied: int, unchanged: int,
                failed: int, errors: list[dict[str, Any]] | None, finished: bool) -> bool:  # fmt: skip
        """Rows ``start..end`` done: the position moves on and the counts grow, once (conditional on the position
        still being ``start``: a second worker on the same rows loses). ``finished``: status ``applied``."""
        actions = [ImportRecord.position.set(end), ImportRecord.updated_at.set(at),
                   ImportRecord.rows_applied.add(applied), ImportRecord.rows_unchanged.add(unchanged),
                   ImportRecord.rows_failed.add(failed)]  # fmt: skip
        if errors is not None:
            actions += [ImportRecord.errors.set(json.dumps(errors, ensure_ascii=False)),
                        ImportRecord.errors_total.add(failed)]  # fmt: skip
        if finished:
            actions += [ImportRecord.status.set("applied"), ImportRecord.finished_at.set(at)]
        position = ImportRecord.position == start
        if start == 0:
            position = ImportRecord.position.does_not_exist() | position
        return self._update(import_id, actions, (ImportRecord.status == "applying") & position)

    def fail(self, import_id: str, at: str, reason: str, statuses: tuple[str, ...]) -> bool:
        """``failed`` with ``reason``, if the import is still in one of ``statuses``."""
        actions = [ImportRecord.status.set("failed"), ImportRecord.failure.set(reason[:500]),
                   ImportRecord.updated_at.set(at)]  # fmt: skip
        return self._update(import_id, actions, ImportRecord.status.is_in(*statuses))

    def _update(self, import_id: str, actions: list[Any], condition: Any) -> bool:
        try:
            _key(import_id).update(actions=actions, condition=condition)
        except UpdateError as error:
            if _rejected(error):
                return False
            raise
        return True
