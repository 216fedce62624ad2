"""Staff importing products and stock from a spreadsheet (API.md, "Imports and exports"): the HTTP side.

``start`` makes the import's job item (audited) and a presigned upload; S3 then tells the import worker
(``services/import_worker.py``), which checks the file and records its errors and preview. ``apply`` starts
applying a ready import (audited) by a message to the same worker. No request waits for a file to be read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.audit import entry
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.identity import Principal
from chalicelib.domain.imports import MAX_UPLOAD_BYTES, Applier, ImportJob
from chalicelib.domain.orders import iso, parse_iso

STALL = timedelta(minutes=5)  # longer than a chunk of applying takes (the worker's timeout)


class ImportInvalid(Conflict):
    code = "import_invalid"


class ImportJobs(Protocol):
    def create(self, job: ImportJob, audit: list) -> None: ...
    def get(self, import_id: str) -> ImportJob | None: ...
    def start_apply(self, job: ImportJob, applier: Applier, at: str, audit: list) -> bool: ...


class ImportFiles(Protocol):
    def upload_form(self, key: str, max_bytes: int, seconds: int) -> tuple[str, dict[str, str]]: ...


class ImportQueue(Protocol):
    def apply(self, import_id: str, position: int) -> None: ...


@dataclass(frozen=True)
class Started:
    job: ImportJob
    url: str
    fields: dict[str, str]
    expires_at: str


@dataclass
class ImportService:
    jobs: ImportJobs
    files: ImportFiles
    queue: ImportQueue
    upload_key: Callable[[str, str], str]
    upload_seconds: int = 900
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex

    def start(self, principal: Principal, kind: str, file_format: str) -> Started:
        """A new import awaiting its file, and the form that uploads it (1 byte to 5 MB, for ``upload_seconds``).

        Calls: one TransactWriteItems (the job and its ``import.create`` audit entry); the form is signed here."""
        now = self.clock()
        at = iso(now)
        job = ImportJob(import_id=self.new_id(), kind=kind, file_format=file_format, status="awaiting_upload",
                        created_at=at, created_by=principal.actor, updated_at=at)  # fmt: skip
        data = {"kind": kind, "format": file_format}
        audit = [entry(principal, "import.create", ("import", job.import_id), at=at, key="create", data=data)]
        self.jobs.create(job, audit)
        url, fields = self.files.upload_form(self.upload_key(job.import_id, file_format), MAX_UPLOAD_BYTES,
                                             self.upload_seconds)  # fmt: skip
        return Started(job, url, fields, iso(now + timedelta(seconds=self.upload_seconds)))

    def get(self, import_id: str) -> ImportJob:
        job = self.jobs.get(import_id)
        if job is None:
            raise NotFound("No such import.", import_id=import_id)
        return job

    def apply(self, principal: Principal, import_id: str) -> tuple[ImportJob, bool]:
        """Start applying a ``ready`` import (or go on with one whose applying failed); ``(job, started)``.

        Applying it again while it applies, or once applied, changes nothing (``started`` False); when it has
        not moved for ``STALL`` its worker's message is sent again (one lost between this write and the send is
        then replaced; a duplicate only repeats rows that are each applied once). Any other status: ``409
        import_invalid``. Calls: one GetItem, one TransactWriteItems (the status and the ``import.apply`` audit
        entry), one SQS SendMessage; a repeat is the GetItem alone."""
        for _ in range(3):
            job = self.get(import_id)
            if job.status in ("applying", "applied"):
                if job.status == "applying" and self.clock() - parse_iso(job.updated_at) > STALL:
                    self.queue.apply(import_id, job.position)
                return job, False
            if not job.can_apply:
                raise ImportInvalid(_why_not(job), status=job.status, errors_total=job.errors_total)
            at = iso(self.clock())
            origin = principal.origin
            applier = Applier(principal.subject, tuple(sorted(principal.groups)),
                              origin.source_ip if origin else None, origin.user_agent if origin else None)  # fmt: skip
            data: dict[str, Any] = {"kind": job.kind, "rows": job.rows_valid}
            if job.status == "failed":
                data["resumed_from"] = job.position
            key = f"apply#{job.apply_attempts + 1}"
            audit = [entry(principal, "import.apply", ("import", import_id), at=at, key=key, data=data)]
            if self.jobs.start_apply(job, applier, at, audit):
                self.queue.apply(import_id, job.position)
                return self.get(import_id), True
        raise Conflict("The import is being changed right now; read it again.", import_id=import_id)


def _why_not(job: ImportJob) -> str:
    if job.status == "invalid":
        return f"The file has {job.errors_total} error(s): fix them and start a new import."
    if job.status in ("awaiting_upload", "validating"):
        return "The file has not been checked yet: upload it, then wait for status ready."
    return f"The import cannot be applied: it is {job.status}."
