"""Staff exports (API.md, "Imports and exports"): starting one (audited), reading it with its download link,
and the worker that builds its file in the background.

``start`` writes the job (``queued``) and its ``export.create`` audit entry in one transaction, then asks the
export worker to build it by a queue message. The worker moves the job to ``running``, streams the rows from
the indexes into a temporary file, stores it in S3 and marks the job ``done``; a redelivered message builds
it again (the same key) until it is done, after which duplicates change nothing.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import exports
from chalicelib.domain.audit import entry
from chalicelib.domain.errors import NotFound
from chalicelib.domain.exports import ExportJob
from chalicelib.domain.identity import Principal
from chalicelib.domain.orders import iso


class ExportJobs(Protocol):
    def create(self, job: ExportJob, audit: list) -> None: ...
    def get(self, export_id: str) -> ExportJob | None: ...
    def start(self, export_id: str, at: str) -> bool: ...
    def finish(self, export_id: str, at: str, rows: int, object_key: str) -> bool: ...
    def fail(self, export_id: str, at: str, reason: str) -> bool: ...


class ExportFiles(Protocol):
    def store(self, path: str, key: str, file_format: str, filename: str) -> None: ...
    def download_url(self, key: str, filename: str, seconds: int) -> str: ...


class ExportQueue(Protocol):
    def build(self, export_id: str) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ExportService:
    jobs: ExportJobs
    files: ExportFiles
    queue: ExportQueue
    link_seconds: int = 900
    clock: Callable[[], datetime] = _now
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex

    def start(self, principal: Principal, kind: str, file_format: str, filters: dict[str, Any]) -> ExportJob:
        """A queued export (422 for a filter its kind does not take). Calls: one TransactWriteItems (the job
        and its audit entry), one SQS SendMessage."""
        filters = exports.check_filters(kind, filters)
        at = iso(self.clock())
        job = ExportJob(export_id=self.new_id(), kind=kind, file_format=file_format, status="queued",
                        filters=filters, created_at=at, created_by=principal.actor, updated_at=at)  # fmt: skip
        data = {"kind": kind, "format": file_format, "filters": filters}
        self.jobs.create(job, [entry(principal, "export.create", ("export", job.export_id), at=at, key="create",
                                     data=data)])  # fmt: skip
        self.queue.build(job.export_id)
        return job

    def get(self, export_id: str) -> dict[str, Any]:
        """The export's view; once done, with a fresh presigned link (signed here: no call to S3)."""
        job = self.jobs.get(export_id)
        if job is None:
            raise NotFound("No such export.", export_id=export_id)
        if job.status != "done" or not job.object_key:
            return job.view()
        expires = iso(self.clock() + timedelta(seconds=self.link_seconds))
        return job.view(self.files.download_url(job.object_key, job.filename, self.link_seconds), expires)


@dataclass
class ExportWorker:
    jobs: ExportJobs
    files: ExportFiles
    source: Callable[[str, dict[str, Any]], Iterator[Any]]  # kind, filters -> what the rows are made from
    object_key: Callable[[str, str], str]
    write: Callable[[str, str, tuple[str, ...], Iterator[tuple[Any, ...]], str], int]  # format, path, ...
    clock: Callable[[], datetime] = _now

    def build(self, export_id: str) -> str:
        """Build the export's file and mark it done; what happened, for the log."""
        job = self.jobs.get(export_id)
        if job is None:
            return "no such export"
        if not self.jobs.start(export_id, iso(self.clock())):
            return f"already {job.status}"
        items = iter(()) if exports.empty_range(job.filters) else self.source(job.kind, job.filters)
        rows = exports.rows_for(job.kind, items)
        key = self.object_key(export_id, job.file_format)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, f"export.{job.file_format}")
            count = self.write(job.file_format, path, exports.COLUMNS[job.kind], rows, job.kind)
            self.files.store(path, key, job.file_format, job.filename)
        self.jobs.finish(export_id, iso(self.clock()), count, key)
        return f"done: {count} rows"

    def give_up(self, export_id: str, reason: str) -> bool:
        return self.jobs.fail(export_id, iso(self.clock()), reason)
