"""Export files: written row by row to a local temporary file (CSV or XLSX), then stored in the exports bucket
(``exports/<id>.<ext>``, gone after 7 days) and downloaded by a presigned link; the export worker's queue.

CSV is UTF-8 with a byte-order mark, so Excel opens Chinese text as it is; XLSX is written by XlsxWriter in
its ``constant_memory`` mode (each row is flushed to disk as it is written), imported only here. Text that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is written as text: an apostrophe
first in CSV, a string cell in XLSX.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib.adapters import aws

PREFIX = "exports/"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
SHEET_ROWS = 1_048_576  # Excel's rows per sheet: a longer export goes on in a second sheet
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PART_BYTES = 8 * 2**20  # an upload's part: one in memory at a time, whatever the file


def object_key(export_id: str, file_format: str) -> str:
    return f"{PREFIX}{export_id}.{file_format}"


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(path: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """The header and every row; returns how many rows."""
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(value) for value in row])
            count += 1
    return count


def write_xlsx(path: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str) -> int:
    """One sheet named ``sheet`` (more when Excel's row limit is reached), a bold frozen header; returns the rows."""
    import xlsxwriter

    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False,
                                      "strings_to_formulas": False, "strings_to_urls": False})  # fmt: skip
    bold = book.add_format({"bold": True})

    def new_sheet(number: int):
        worksheet = book.add_worksheet(sheet if number == 1 else f"{sheet} {number}")
        worksheet.write_row(0, 0, columns, bold)
        worksheet.freeze_panes(1, 0)
        return worksheet

    sheets, count, line = 1, 0, 1
    worksheet = new_sheet(1)
    for row in rows:
        if line == SHEET_ROWS:
            sheets += 1
            worksheet, line = new_sheet(sheets), 1
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                worksheet.write_boolean(line, column, value)
            elif isinstance(value, int | float):
                worksheet.write_number(line, column, value)
            else:
                worksheet.write_string(line, column, str(value))
        line += 1
        count += 1
    book.close()
    return count


class S3Exports:
    """Export files as private objects of one bucket."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        from botocore.config import Config

        self.bucket = bucket
        self._s3 = client or aws.client("s3", config=Config(signature_version="s3v4"))

    def store(self, path: str, key: str, file_format: str, filename: str) -> None:
        """The file at ``path`` as ``key``: one PutObject up to ``PART_BYTES``, else a multipart upload of
        ``PART_BYTES`` parts read one at a time (so the memory it takes does not grow with the file); a failed
        multipart upload is aborted (the bucket's lifecycle rule clears any left by a crash)."""
        extra = {"ContentType": XLSX_TYPE if file_format == "xlsx" else CSV_TYPE,
                 "ContentDisposition": f'attachment; filename="{filename}"'}  # fmt: skip
        with open(path, "rb") as source:
            first = source.read(PART_BYTES)
            if len(first) < PART_BYTES:
                self._s3.put_object(Bucket=self.bucket, Key=key, Body=first, **extra)
                return
            upload = self._s3.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)["UploadId"]
            try:
                parts, part, number = [], first, 1
                while part:
                    answer = self._s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number,
                                                  Body=part)  # fmt: skip
                    parts.append({"ETag": answer["ETag"], "PartNumber": number})
                    part, number = source.read(PART_BYTES), number + 1
                self._s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                                   MultipartUpload={"Parts": parts})  # fmt: skip
            except Exception:
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
                raise

    def download_url(self, key: str, filename: str, seconds: int) -> str:
        """A presigned GET of ``key`` for ``seconds``, saved as ``filename``: signed here, no call to S3."""
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{filename}"'},
            ExpiresIn=seconds,
        )  # fmt: skip


class SqsExportJobs:
    """Messages to the export worker: ``{"export_id"}``, build that export."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self._url = queue_url
        self._sqs = client or aws.client("sqs")

    def build(self, export_id: str) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps({"export_id": export_id}))


def write(file_format: str, path: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str) -> int:
    """The export's file at ``path`` in ``file_format``; returns the rows written."""
    if file_format == "xlsx":
        return write_xlsx(path, columns, rows, sheet)
    return write_csv(path, columns, rows)
