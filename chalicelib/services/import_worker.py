"""The import worker's use cases: checking an uploaded file, and applying a ready import chunk by chunk.

Checking (``uploaded``) reads the whole file once, compares every row with the catalogue (products by
BatchGetItem, 100 SKUs a call; the categories by one Query) and writes the result: the errors and preview
on the job item, and, for a file without errors, its rows as they will be applied (``parsed/<id>.jsonl``).

Applying (``apply_next``) goes through those rows from the job's ``position`` for at most ``chunk_rows``
rows or until the invocation's time runs short, then moves the position on (a write conditional on the
position it started from) and sends itself a message for the rest. Each row goes through the catalogue's
own services, as the staff member who pressed apply, with a token naming the row
(``import:<id>:<row>``) that the row's own transaction writes: a row applied before a crash, or by a
duplicated message, is refused the second time (``AlreadyApplied``, or the stock key's replay) and
counted as applied. So every row is applied once however often a chunk runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.identity import Origin, Principal
from chalicelib.domain.import_rows import RowError
from chalicelib.domain.imports import (
    MAX_ERRORS,
    MAX_UPLOAD_BYTES,
    Checked,
    FileRefused,
    ImportJob,
    Planned,
    check,
    chunks,
    read_rows,
)
from chalicelib.domain.orders import iso
from chalicelib.services.ports import AlreadyApplied

SAFETY_SECONDS = 20.0  # stop a chunk with this much of the invocation left


class WorkerJobs(Protocol):
    def get(self, import_id: str) -> ImportJob | None: ...
    def claim(self, import_id: str, etag: str, at: str) -> bool: ...
    def checked(self, import_id: str, etag: str, at: str, **result: Any) -> bool: ...
    def advance(self, import_id: str, start: int, end: int, at: str, **counts: Any) -> bool: ...
    def fail(self, import_id: str, at: str, reason: str, statuses: tuple[str, ...]) -> bool: ...


class ReplacedUpload(Exception):
    """The object was uploaded again while being checked."""


@dataclass
class ImportWorker:
    jobs: WorkerJobs
    files: Any  # adapters/imports_store.S3Imports: read, put_rows, rows
    queue: Any  # adapters/imports_store.SqsImportJobs: apply
    catalogue: Any  # CatalogueRepo: get_many
    categories: Callable[[], list[str]]  # the category keys
    products: Any  # services/products.ProductAdmin: create, update
    stock: Any  # services/stock.StockService: set_level
    read_file: Callable[[bytes, str], Iterator[tuple[int, list[Any]]]]  # adapters/import_files.rows
    rows_key: Callable[[str], str]
    currency: str
    chunk_rows: int = 1000
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- checking ----------------------------------------------------------------------------------------------

    def uploaded(self, import_id: str, key: str, etag: str) -> str:
        """Check the file S3 says was uploaded as ``key`` (version ``etag``); returns what happened, for the log.

        Calls: GetItem and UpdateItem (the claim), GetObject, a Query of the categories, one BatchGetItem per 100
        SKUs, PutObject of the rows (a valid file), UpdateItem (the result). A redelivery checks it again."""
        job = self.jobs.get(import_id)
        if job is None:
            return "no such import: ignored"
        if not self.jobs.claim(import_id, etag, iso(self.clock())):
            return f"ignored: the import is {job.status} (this upload is not the one it waits for)"
        try:
            checked = self._check(job, key, etag)
        except ReplacedUpload:
            message = "the file was uploaded again while it was being checked: start a new import"
            checked = Checked(errors=[RowError(None, None, message)], errors_total=1)
        if checked.valid:
            self.files.put_rows(self.rows_key(import_id), [plan.line() for plan in checked.planned])
        done = self.jobs.checked(
            import_id, etag, iso(self.clock()), valid=checked.valid, rows_total=checked.rows_total,
            rows_valid=len(checked.planned), errors=[error.as_dict() for error in checked.errors],
            errors_total=checked.errors_total, preview=checked.preview,
        )  # fmt: skip
        if not done:
            return "checked, but the import moved on meanwhile: result dropped"
        return f"{'ready' if checked.valid else 'invalid'}: {checked.rows_total} rows, {checked.errors_total} errors"

    def _check(self, job: ImportJob, key: str, etag: str) -> Checked:
        from chalicelib.adapters.imports_store import ObjectChanged

        try:
            data = self.files.read(key, etag, MAX_UPLOAD_BYTES)
            if data is None:
                raise FileRefused("the uploaded file is gone: upload it again with a new import")
            read = read_rows(job.kind, self.read_file(data, job.file_format), self.currency)
        except ObjectChanged:
            raise ReplacedUpload() from None
        except FileRefused as refused:
            return Checked(errors=[RowError(None, None, str(refused))], errors_total=1)
        products: dict[str, Any] = {}
        for skus in chunks(read.skus):
            products.update(self.catalogue.get_many(skus))
        categories = self.categories() if job.kind == "products" and read.rows else []
        return check(job.kind, read, products, categories)

    # --- applying ----------------------------------------------------------------------------------------------

    def apply_next(self, import_id: str, seconds_left: Callable[[], float]) -> str:
        """Apply the next chunk of an ``applying`` import; returns what happened, for the log.

        Calls: GetItem, GetObject (the rows), each row's own (a create: one TransactWriteItems; an update:
        GetItem + TransactWriteItems; a stock count: the stock service's), UpdateItem (the position), and an SQS
        SendMessage when rows are left."""
        job = self.jobs.get(import_id)
        if job is None or job.status != "applying" or job.applier is None:
            return f"nothing to apply (the import is {job.status if job else 'gone'})"
        rows = self.files.rows(self.rows_key(import_id))
        principal = Principal(job.applier.subject, frozenset(job.applier.groups),
                              origin=Origin(job.applier.source_ip, job.applier.user_agent))  # fmt: skip
        start = end = min(job.position, len(rows))
        counts = {"applied": 0, "unchanged": 0, "failed": 0}
        errors = list(job.errors)
        while end < len(rows) and end - start < self.chunk_rows and seconds_left() > SAFETY_SECONDS:
            plan = Planned.from_line(rows[end])
            outcome, message = self._apply_row(principal, job, plan)
            counts[outcome] += 1
            if message and len(errors) < MAX_ERRORS:
                errors.append(RowError(plan.row, None, message).as_dict())
            end += 1
        finished = end >= len(rows)
        moved = self.jobs.advance(
            import_id, start, end, iso(self.clock()), applied=counts["applied"], unchanged=counts["unchanged"],
            failed=counts["failed"], errors=errors if counts["failed"] else None, finished=finished,
        )  # fmt: skip
        if not moved:
            return f"rows {start}..{end} were done by another delivery meanwhile: stopping here"
        if not finished:
            self.queue.apply(import_id, end)
        state = "applied" if finished else f"continues at row index {end}"
        return f"rows {start}..{end} of {len(rows)} ({counts}); {state}"

    def _apply_row(self, principal: Principal, job: ImportJob, plan: Planned) -> tuple[str, str | None]:
        """("applied" | "unchanged" | "failed", why it failed)."""
        once = f"import:{job.import_id}:{plan.row}"
        try:
            if job.kind == "stock":
                done = self.stock.set_level(principal, plan.sku, int(plan.fields["stock"]), reason="stocktake",
                                            note=plan.fields.get("note"), key=once)  # fmt: skip
                return ("applied" if done.answer.get("movement") else "unchanged"), None
            if plan.action == "unchanged":
                return "unchanged", None
            if plan.action == "create":
                self.products.create(principal, _draft(plan), once=once)
            else:
                self.products.update(principal, plan.sku, None, dict(plan.fields), once=once)
            return "applied", None
        except AlreadyApplied:
            return "applied", None  # by an earlier delivery of this chunk: once is enough
        except NotFound:
            return "failed", f"{plan.sku} no longer exists: not applied"
        except DomainError as error:
            if error.code == "sku_exists":
                return "failed", f"a product {plan.sku} was added after the file was checked: not applied"
            if error.code in ("throttled", "busy", "request_in_progress"):
                raise  # transient: the message is retried, and this row with it
            return "failed", f"{plan.sku}: {error.message} (not applied)"

    def give_up(self, import_id: str, reason: str) -> bool:
        """The worker's last attempt at a message failed: the import is ``failed`` (rows applied stay applied)."""
        return self.jobs.fail(import_id, iso(self.clock()), reason, ("validating", "applying"))


def _draft(plan: Planned) -> Any:
    from chalicelib.domain.product_changes import ProductDraft

    fields = dict(plan.fields)
    return ProductDraft(sku=plan.sku, **{**fields, "stock": int(fields.get("stock") or 0)})
