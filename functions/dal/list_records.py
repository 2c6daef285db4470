"""A calling list's accepted records and refused rows, as files in the lists bucket.

Access patterns (keys in functions/dal/objects.py):
- written once, in one pass, by the validation (inline body or uploaded file): ``records.jsonl`` in
  row order and ``errors.csv``, each through a multipart writer (flat memory at any size);
- the preview reads byte ranges of ``records.jsonl`` in parallel (a line belongs to the range it
  starts in); the fan-out pages it from a byte offset (its checkpoint's cursor ``{"offset": n}``);
- the refused rows are paged by byte offset for the API and downloaded through a pre-signed URL.
A record is immutable once validated, and a file costs one GET per page: no table, no hot key.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from functions.dal.objects import ObjectStore, ObjectWriter

PAGE_SIZE = 500
ERRORS_HEADER = ("row", "field", "reason", "error")


class ListRecord(BaseModel):
    job_id: str
    row: int
    phone_number: str  # E.164
    name: str
    body: str  # the rendered text with its signature, as sent
    segments: int
    original_body: str | None = None  # as written, when smart encoding replaced characters in it


class RowErrorReason(StrEnum):
    INVALID_PHONE_NUMBER = "invalid_phone_number"  # not a valid US or Canadian number
    MISSING_FIELD = "missing_field"  # a field the template or the phone needs is empty or absent
    INVALID_VALUE = "invalid_value"  # a field of the wrong type (an amount that is not a number...)
    MALFORMED_ROW = "malformed_row"  # a CSV row with more or fewer cells than the header
    TOO_LONG = "message_too_long"  # the rendered message passes the carrier's length or part limits


class RowError(BaseModel):
    row: int  # 1-based, counting records (the header is not a record)
    field: str
    reason: RowErrorReason
    error: str


def records_key(job_id: str) -> str:
    return f"lists/{job_id}/records.jsonl"


def errors_key(job_id: str) -> str:
    return f"lists/{job_id}/errors.csv"


def upload_key(job_id: str) -> str:
    return f"uploads/{job_id}.csv"


def job_of_upload(key: str) -> str | None:
    """The job an uploaded object belongs to, or None for a key outside ``uploads/``."""
    if not key.startswith("uploads/") or not key.endswith(".csv"):
        return None
    return key.removeprefix("uploads/").removesuffix(".csv") or None


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


class ListWriter:
    """The two files of one validation, written as rows arrive."""

    def __init__(self, records: ObjectWriter, errors: ObjectWriter) -> None:
        self._records, self._errors = records, errors
        self._cells = io.StringIO()
        self._csv = csv.writer(self._cells, lineterminator="\n")
        self._csv.writerow(ERRORS_HEADER)
        self._errors.write(self._take())

    def _take(self) -> bytes:
        text = self._cells.getvalue()
        self._cells.seek(0)
        self._cells.truncate()
        return text.encode()

    def accept(self, record: ListRecord) -> None:
        line = json.dumps(record.model_dump(mode="json", exclude={"job_id"}), ensure_ascii=False)
        self._records.write(line.encode() + b"\n")

    def refuse(self, error: RowError) -> None:
        # One line per refused row: the reader pages the file by lines.
        cells = (error.row, _one_line(error.field), error.reason.value, _one_line(error.error))
        self._csv.writerow(cells)
        self._errors.write(self._take())

    def close(self) -> None:
        self._records.close()
        self._errors.close()

    def abort(self) -> None:
        self._records.abort()
        self._errors.abort()


class ListRecords:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @property
    def store(self) -> ObjectStore:
        return self._store

    def writer(self, job_id: str) -> ListWriter:
        return ListWriter(
            self._store.writer(records_key(job_id), "application/x-ndjson"),
            self._store.writer(errors_key(job_id), "text/csv"),
        )

    def size(self, job_id: str) -> int:
        return self._store.size(records_key(job_id)) or 0

    def records(
        self, job_id: str, start: int, end: int | None
    ) -> Generator[tuple[int, ListRecord], None, None]:
        """The records that start in the byte range, each with the offset just past it."""
        for offset, line in self._store.lines(records_key(job_id), start, end):
            if line:
                yield offset, ListRecord.model_validate({**json.loads(line), "job_id": job_id})

    def page(
        self, job_id: str, start: dict[str, Any] | None, limit: int | None = None
    ) -> tuple[list[ListRecord], dict[str, Any] | None]:
        """Up to ``limit`` records from the cursor on, and the cursor after them (None at the end)."""
        offset = int(start["offset"]) if start else 0
        wanted = limit or PAGE_SIZE
        page: list[ListRecord] = []
        stream = self.records(job_id, offset, None)
        for offset, record in stream:  # noqa: B007 - the offset after the last record is the cursor
            page.append(record)
            if len(page) == wanted:
                break
        else:
            return page, None
        stream.close()
        return page, {"offset": offset}

    def starts_a_row(self, job_id: str, offset: int) -> bool:
        """Whether ``offset`` is where a line of the errors file begins (0, or just past a newline):
        the offsets a page hands out as its next cursor."""
        if offset == 0:
            return True
        key = errors_key(job_id)
        size = self._store.size(key)
        return (
            size is not None
            and offset < size
            and b"".join(self._store.chunks(key, offset - 1, offset)) == b"\n"
        )

    def errors_page(self, job_id: str, offset: int, limit: int) -> tuple[list[RowError], int | None]:
        """Refused rows from a byte offset of the errors file (0: its start), and the next offset."""
        found: list[RowError] = []
        stream = self._store.lines(errors_key(job_id), offset, None)
        for end, line in stream:
            (row, field, reason, error), *_ = csv.reader([line.decode()])
            if row == ERRORS_HEADER[0]:
                continue
            found.append(RowError(row=int(row), field=field, reason=RowErrorReason(reason), error=error))
            if len(found) == limit:
                stream.close()
                return found, end
        return found, None
