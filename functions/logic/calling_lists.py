"""Calling lists: records merged into an approved tenant template, validated, previewed, then sent.

A list comes inline (JSON records or CSV text, for small lists) or as a file uploaded through a
pre-signed S3 URL (CSV with a header row, up to 1,000,000 records and 200 MB); its arrival starts
the validation. Both go through one streaming pass (``validate``): every record is checked (a
number that is not a US or Canadian number, a field the template needs that is missing or of the
wrong type, a CSV row with the wrong number of cells), a refused one is written to the list's
errors file with its row, field and reason, never dropped silently, and an accepted one is
rendered and written to its records file. Memory stays flat whatever the size: rows are read,
checked and written one at a time. The preview then counts the records after removing repeated
numbers and opted-out numbers (a calling list is the tenant's own consented list, so the contacts'
SMS opt-in flag does not apply; opt-outs always do). Confirmation works as for mass messages, and
the fan-out pages the records file.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from functions.dal.config import ConfigTable
from functions.dal.jobs import JobsTable
from functions.dal.list_records import (
    ListRecord,
    ListRecords,
    RowError,
    RowErrorReason,
    errors_key,
    records_key,
    upload_key,
)
from functions.domain.errors import InvalidInput, Refused
from functions.domain.mass import (
    JobKind,
    JobStatus,
    MassJob,
    PreviewProgress,
    PreviewPurpose,
    RecipientFilter,
    Validation,
)
from functions.domain.messages import new_id, utc_now
from functions.domain.phone import to_e164
from functions.domain.signatures import compose_body
from functions.domain.smart_encoding import encode_body
from functions.domain.templates import Template
from functions.domain.tenants import TemplateStatus, Tenant
from functions.logic.compose import Composer, Sender, longest_variable
from functions.logic.mass import MassMessages
from functions.logic.previews import Previews
from functions.logic.tenant_templates import TenantTemplates, as_template

MAX_INLINE_RECORDS = 100_000  # per list given in the request, as JSON records or CSV rows
MAX_UPLOAD_RECORDS = 1_000_000  # per uploaded file
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_FIELD_NAME = 200  # the longest record field name a request may point at
MAX_ERROR_TEXT = 300  # a refused record's reason, which may quote the record's value
MAX_NAME = 200  # a recipient's name as the log shows it
UPLOAD_VALIDITY = timedelta(hours=1)
UPLOAD_CONTENT_TYPE = "text/csv"
DOWNLOAD_VALIDITY = timedelta(minutes=15)
INLINE_DOWNLOAD_BYTES = 5 * 1024 * 1024  # a Lambda answer holds 6 MB; a larger file is downloaded from S3
ERRORS_SHOWN = 100  # refused rows listed in the answer to an inline list; the rest page by page


class ListSpec(BaseModel):
    name: str
    template_id: str
    phone_field: str
    name_field: str | None = None
    mapping: dict[str, str]  # template variable -> record field
    signature_id: str | None = None
    sending_number: str | None = None


class CallingListRequest(ListSpec):
    records: list[dict[str, Any] | None]  # None: a CSV row of the wrong width
    from_text: bool = False  # the records came as CSV: every value is text


@dataclass(frozen=True)
class Upload:
    url: str
    expires_at: datetime
    content_type: str = UPLOAD_CONTENT_TYPE
    max_bytes: int = MAX_UPLOAD_BYTES
    max_records: int = MAX_UPLOAD_RECORDS


@dataclass(frozen=True)
class ErrorsDownload:
    text: str | None = None
    url: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class _Prepared:
    tenant: Tenant
    template: Template
    text: str  # the template's own text, as the job shows it
    sending_number: str
    signature_id: str
    signature_text: str


class CallingLists:
    def __init__(
        self,
        config: ConfigTable,
        composer: Composer,
        templates: TenantTemplates,
        jobs: JobsTable,
        records: ListRecords,
        mass: MassMessages,
        previews: Previews,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._composer = composer
        self._templates = templates
        self._jobs = jobs
        self._records = records
        self._mass = mass
        self._previews = previews
        self._clock = clock

    # ---- inline lists ----

    def upload(
        self, tenant_id: str, request: CallingListRequest
    ) -> tuple[MassJob, list[RowError], int | None]:
        """A list given in the request: validated and previewed now; the first refused rows, and where
        the rest of them continue (None: no more)."""
        spec = ListSpec.model_validate(request.model_dump(exclude={"records", "from_text"}))
        prepared = self._prepare(tenant_id, spec)
        check_fields(spec, record_fields(request.records))
        job_id = new_id("job")
        validation = self.validate(prepared, job_id, spec, iter(request.records), request.from_text)
        errors, after = self._records.errors_page(job_id, 0, ERRORS_SHOWN)
        if validation.accepted == 0:
            self._discard(job_id)
            total = sum(validation.refused.values())
            raise Refused(
                "no_valid_records",
                f"no record of the list can be sent; the first {len(errors)} of {total:,} refused "
                "records are listed",
                "records",
                extra={
                    "errors": [error.model_dump(mode="json") for error in errors],
                    "errors_total": total,
                },
            )
        job = self._job(job_id, tenant_id, spec, prepared, JobStatus.PREVIEWING, validation)
        progress = PreviewProgress(generation=1, purpose=PreviewPurpose.PREVIEW, body=prepared.text)
        return self._mass.preview_new(job, progress), errors, after

    # ---- uploaded files ----

    def request_upload(self, tenant_id: str, spec: ListSpec) -> tuple[MassJob, Upload]:
        """A job waiting for its file, and the pre-signed URL to PUT it to."""
        prepared = self._prepare(tenant_id, spec)
        job = self._job(new_id("job"), tenant_id, spec, prepared, JobStatus.AWAITING_UPLOAD, None)
        self._jobs.put_new(job)
        url = self._records.store.presigned_put(upload_key(job.job_id), UPLOAD_CONTENT_TYPE, UPLOAD_VALIDITY)
        return job, Upload(url=url, expires_at=self._clock() + UPLOAD_VALIDITY)

    def upload_origin(self) -> str:
        """Where a browser sends an uploaded file (the pre-signed URLs' scheme and host)."""
        return self._records.store.upload_origin()

    def validate_upload(self, job_id: str) -> JobStatus | None:
        """The file arrived: validate it in one pass, then preview it (or refuse it as a whole)."""
        job = self._jobs.get(job_id)
        if job is None or job.list_spec is None:
            return None
        # A redelivered event (the last attempt died mid-file) validates again, from the start.
        if not self._jobs.set_status(
            job_id, JobStatus.VALIDATING, [JobStatus.AWAITING_UPLOAD, JobStatus.VALIDATING]
        ):
            return None  # cancelled, or validated already
        spec = ListSpec.model_validate(job.list_spec)
        size = self._records.store.size(upload_key(job_id))
        if size is None:
            return None
        if size > MAX_UPLOAD_BYTES:
            return self._reject(job_id, Validation(rejected_reason="too_large"))
        try:
            prepared = self._prepare(job.tenant_id, spec)
        except (InvalidInput, Refused) as error:
            return self._reject(job_id, Validation(rejected_reason=getattr(error, "reason", "invalid_list")))
        body = self._records.store.stream(upload_key(job_id))
        try:
            text = io.TextIOWrapper(io.BufferedReader(_Raw(body)), encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                return self._reject(job_id, Validation(rejected_reason="no_valid_records"))
            if repeated_fields(header):
                return self._reject(job_id, Validation(rejected_reason="duplicate_columns"))
            try:
                check_fields(spec, set(header))
            except InvalidInput:
                return self._reject(job_id, Validation(rejected_reason="missing_columns"))
            validation = self.validate(prepared, job_id, spec, _csv_rows(reader, header), from_text=True)
        except (UnicodeDecodeError, csv.Error):
            return self._reject(job_id, Validation(rejected_reason="not_utf8_csv"))
        finally:
            body.close()
        if validation.rejected_reason is not None:
            return self._reject(job_id, validation)
        if validation.accepted == 0:
            return self._reject(job_id, validation.model_copy(update={"rejected_reason": "no_valid_records"}))
        validated = job.model_copy(update={"validation": validation})
        progress = PreviewProgress(generation=1, purpose=PreviewPurpose.PREVIEW, body=prepared.text)
        self._previews.begin(
            validated,
            progress,
            [JobStatus.VALIDATING],
            also_set={"validation": validation.model_dump(mode="json")},
        )
        return JobStatus.PREVIEWING

    def errors_page(
        self, tenant_id: str, job_id: str, offset: int, limit: int
    ) -> tuple[list[RowError], int | None]:
        self._mass.get(tenant_id, job_id)  # the caller's own job, or not found
        if not self._records.starts_a_row(job_id, offset):
            raise InvalidInput("cursor", "the cursor is not one this API returned")
        return self._records.errors_page(job_id, offset, limit)

    def errors_download(self, tenant_id: str, job_id: str, link: bool = False) -> ErrorsDownload:
        """The refused rows as CSV: the text when it fits in an answer (unless ``link``), else a
        pre-signed download."""
        job = self._mass.get(tenant_id, job_id)
        if job.validation is None:
            detail = f"the calling list is {job.status.value}: it has no refused rows yet"
            raise Refused("not_validated", detail)
        key = errors_key(job_id)
        if not link and (self._records.store.size(key) or 0) <= INLINE_DOWNLOAD_BYTES:
            return ErrorsDownload(text=b"".join(self._records.store.chunks(key)).decode())
        name = f"{job_id}-errors.csv"
        url = self._records.store.presigned_get(key, DOWNLOAD_VALIDITY, name)
        return ErrorsDownload(url=url, expires_at=self._clock() + DOWNLOAD_VALIDITY)

    # ---- the one pass ----

    def validate(
        self,
        prepared: _Prepared,
        job_id: str,
        spec: ListSpec,
        rows: Iterator[dict[str, Any] | None],
        from_text: bool = False,
    ) -> Validation:
        """Check every row once, writing the accepted and the refused as they come (flat memory)."""
        started = time.monotonic()
        writer = self._records.writer(job_id)
        refused: Counter[str] = Counter()
        accepted = 0
        count = 0
        try:
            for count, row in enumerate(rows, start=1):
                if count > MAX_UPLOAD_RECORDS:
                    writer.abort()
                    return Validation(records=count, rejected_reason="too_many_records")
                outcome = self._check(prepared, job_id, spec, count, row, from_text)
                if isinstance(outcome, RowError):
                    refused[outcome.reason.value] += 1
                    writer.refuse(outcome)
                else:
                    accepted += 1
                    writer.accept(outcome)
        except BaseException:
            writer.abort()
            raise
        writer.close()
        return Validation(
            records=count,
            accepted=accepted,
            refused=dict(refused),
            milliseconds=round((time.monotonic() - started) * 1000),
        )

    def _check(
        self,
        prepared: _Prepared,
        job_id: str,
        spec: ListSpec,
        row: int,
        record: dict[str, Any] | None,
        from_text: bool,
    ) -> ListRecord | RowError:
        if record is None:
            return _refused(row, "", RowErrorReason.MALFORMED_ROW, "the row's cells do not match the header")
        raw = record.get(spec.phone_field)
        if raw is None or str(raw).strip() == "":
            return _refused(row, spec.phone_field, RowErrorReason.MISSING_FIELD, "no phone number")
        try:
            if not isinstance(raw, str | int) or isinstance(raw, bool):
                raise InvalidInput(spec.phone_field, "the phone number must be text")
            number = to_e164(str(raw), spec.phone_field)
        except InvalidInput as error:
            return _refused(row, spec.phone_field, RowErrorReason.INVALID_PHONE_NUMBER, error.detail)
        variables = {variable: record.get(field) for variable, field in spec.mapping.items()}
        for variable, field in spec.mapping.items():
            if variables[variable] is None or variables[variable] == "":
                return _refused(row, field, RowErrorReason.MISSING_FIELD, f"the field '{field}' is empty")
        try:
            rendered = prepared.template.rendered_values(variables, prepared.tenant.time_zone, from_text)
        except InvalidInput as error:
            variable = (error.field or "").removeprefix("variables.")
            field = spec.mapping.get(variable, variable)
            return _refused(row, field, RowErrorReason.INVALID_VALUE, error.detail)
        text = prepared.template.fill(rendered)
        encoded = encode_body(compose_body(text, prepared.signature_text), prepared.tenant.smart_encoding)
        excess = self._composer.limits.excess(encoded.body, encoded.count)
        if excess is not None:
            longest = longest_variable(rendered)
            return _refused(
                row, spec.mapping[longest] if longest else "records", RowErrorReason.TOO_LONG, excess
            )
        name = (str(record.get(spec.name_field) or "") if spec.name_field else "")[:MAX_NAME]
        return ListRecord(
            job_id=job_id,
            row=row,
            phone_number=number,
            name=name,
            body=encoded.body,
            segments=encoded.count.segments,
            original_body=encoded.original_body,
        )

    # ---- helpers ----

    def _prepare(self, tenant_id: str, spec: ListSpec) -> _Prepared:
        tenant = self._composer.enabled_tenant(tenant_id)
        stored = self._templates.get(tenant_id, spec.template_id)
        if stored.status is not TemplateStatus.APPROVED:
            raise Refused(
                "template_not_approved", f"the template is {stored.status.value}, not approved", "template_id"
            )
        template = as_template(stored)
        unmapped = sorted(set(template.variables) - set(spec.mapping))
        unknown = sorted(set(spec.mapping) - set(template.variables))
        if unmapped or unknown:
            raise InvalidInput(
                "mapping",
                f"map every template variable to a field: missing {unmapped}, not variables {unknown}",
            )
        signing = self._composer.signing(
            tenant,
            Sender(sending_number=spec.sending_number, signature_id=spec.signature_id),
            tenant.default_mass_signature_id,
        )
        return _Prepared(
            tenant=tenant,
            template=template,
            text=stored.text,
            sending_number=signing.sending_number,
            signature_id=signing.signature_id,
            signature_text=signing.signature_text,
        )

    def _job(
        self,
        job_id: str,
        tenant_id: str,
        spec: ListSpec,
        prepared: _Prepared,
        status: JobStatus,
        validation: Validation | None,
    ) -> MassJob:
        return MassJob(
            job_id=job_id,
            kind=JobKind.CALLING_LIST,
            name=spec.name,
            tenant_id=tenant_id,
            created_at=self._clock(),
            status=status,
            saved_message=prepared.template.key,
            variables={"mapping": spec.mapping, "phone_field": spec.phone_field},
            recipient_filter=RecipientFilter(),
            signature_id=prepared.signature_id,
            sending_number=prepared.sending_number,
            body=prepared.text,
            validation=validation,
            list_spec={
                **spec.model_dump(mode="json"),
                "sending_number": prepared.sending_number,
                "signature_id": prepared.signature_id,
            },
        )

    def _reject(self, job_id: str, validation: Validation) -> JobStatus:
        self._jobs.set_status(
            job_id, JobStatus.REJECTED, [JobStatus.VALIDATING], validation=validation.model_dump(mode="json")
        )
        return JobStatus.REJECTED

    def _discard(self, job_id: str) -> None:
        """An inline list refused as a whole leaves nothing behind."""
        for key in (records_key(job_id), errors_key(job_id)):
            self._records.store.delete(key)


class _Raw(io.RawIOBase):
    """A botocore stream as a raw binary file, for io's buffered and text layers."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _refused(row: int, field: str, reason: RowErrorReason, detail: str) -> RowError:
    shown = detail if len(detail) <= MAX_ERROR_TEXT else detail[: MAX_ERROR_TEXT - 3] + "..."
    return RowError(row=row, field=field, reason=reason, error=shown)


def record_fields(records: list[dict[str, Any] | None]) -> set[str]:
    """Every field some record has (for CSV: the header's)."""
    fields: set[str] = set()
    for record in records:
        fields.update(key for key in record or {} if isinstance(key, str))
    return fields


def check_fields(spec: ListSpec, fields: set[str]) -> None:
    """Every field the list points at is a field of its records: a typo is named, not a row error."""
    named = [("phone_field", spec.phone_field)]
    if spec.name_field is not None:
        named.append(("name_field", spec.name_field))
    named += [(f"mapping.{variable}", field) for variable, field in sorted(spec.mapping.items())]
    for where, field in named:
        if field not in fields:
            known = ", ".join(sorted(fields)[:20])
            raise InvalidInput(where, f"no record has a field '{field}' (the records have: {known})")


def _csv_rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[dict[str, Any] | None]:
    """Each row after a CSV file's header row as a record; None for a row of the wrong width."""
    width = len(header)
    for cells in reader:
        if not cells:
            continue  # a blank line is not a record
        yield dict(zip(header, cells, strict=True)) if len(cells) == width else None


def repeated_fields(header: list[str]) -> list[str]:
    """The names a CSV header gives more than once (each record would keep only the last cell)."""
    return sorted({name for name in header if header.count(name) > 1})


def csv_records(text: str) -> Iterator[dict[str, Any] | None]:
    """The records of an inline CSV body, as an uploaded file's are read (a leading byte order mark
    is not part of the first name). A header naming a field twice is an InvalidInput naming csv."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None:
        return iter(())
    repeated = repeated_fields(header)
    if repeated:
        raise InvalidInput("csv", f"the header row names {', '.join(repeated)} more than once")
    return _csv_rows(reader, header)
