"""Calling lists: uploaded records merged into an approved tenant template, previewed, then sent.

Every record is checked at upload: a number that is not a US or Canadian number, or a field the
template needs that is missing or of the wrong type, is reported with its row and field, never
dropped silently. Accepted records are stored rendered; the preview counts them after removing
repeated numbers and opted-out numbers (a calling list is the tenant's own consented list, so the
contacts' SMS opt-in flag does not apply; opt-outs always do). Confirmation works as for mass
messages, and the fan-out pages the stored records.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from functions.dal.jobs import JobsTable
from functions.dal.list_records import ListRecord, ListRecordsTable
from functions.dal.opt_outs import GLOBAL_SCOPE, OptOutsTable
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.mass import JobKind, JobStatus, MassJob, Preview, RecipientFilter
from functions.domain.messages import new_id, utc_now
from functions.domain.phone import to_e164
from functions.domain.signatures import compose_body
from functions.domain.smart_encoding import encode_body
from functions.domain.tenants import TemplateStatus, Tenant
from functions.domain.three_a_day import THREE_A_DAY_RULE
from functions.logic.compose import Composer, Sender, longest_variable
from functions.logic.mass import CONFIRMATION_VALIDITY, BalanceReader
from functions.logic.tenant_templates import TenantTemplates, as_template

MAX_RECORDS = 100_000  # per list, as JSON records or CSV rows
MAX_FIELD_NAME = 200  # the longest record field name a request may point at
ERRORS_SHOWN = 100  # refused records in an upload's answer; the rest are paged from the job
MAX_ERROR_TEXT = 300  # a refused record's reason, which may quote the record's value
MAX_NAME = 200  # a recipient's name as the log shows it


class CallingListRequest(BaseModel):
    name: str
    template_id: str
    phone_field: str
    name_field: str | None = None
    mapping: dict[str, str]  # template variable -> record field
    records: list[dict[str, Any]]
    from_text: bool = False  # the records came as CSV: every value is text
    signature_id: str | None = None
    sending_number: str | None = None


class RowError(BaseModel):
    row: int  # 1-based, as in the uploaded file
    field: str
    error: str

    @classmethod
    def of(cls, row: int, field: str, error: str) -> RowError:
        shown = error if len(error) <= MAX_ERROR_TEXT else error[: MAX_ERROR_TEXT - 3] + "..."
        return cls(row=row, field=field, error=shown)


def record_fields(records: list[dict[str, Any]]) -> set[str]:
    """Every field some record has (for CSV: the header's)."""
    fields: set[str] = set()
    for record in records:
        fields.update(key for key in record if isinstance(key, str))
    return fields


def check_fields(request: CallingListRequest) -> None:
    """Every field the request points at is a field of the records: a typo is named, not a row error."""
    fields = record_fields(request.records)
    named = [("phone_field", request.phone_field)]
    if request.name_field is not None:
        named.append(("name_field", request.name_field))
    named += [(f"mapping.{variable}", field) for variable, field in sorted(request.mapping.items())]
    for where, field in named:
        if field not in fields:
            known = ", ".join(sorted(fields)[:20])
            raise InvalidInput(where, f"no record has a field '{field}' (the records have: {known})")


def list_preview(
    records: ListRecordsTable,
    opt_outs: OptOutsTable,
    job_id: str,
    price_per_segment: int,
    sending_number: str,
    opt_out_scope: str = GLOBAL_SCOPE,
    full: Callable[[list[str]], set[str]] | None = None,
) -> Preview:
    """Count a stored list page by page: one message per number, numbers opted out in the sending
    number's scope (``opt_out_scope``, as the OptOuts table keys it) left out, and those ``full``
    names (no three-a-day slot left)."""
    seen: set[int] = set()
    duplicates = 0
    excluded: Counter[str] = Counter()
    segments_total = 0
    longest = 0
    digest = hashlib.sha256(f"{sending_number}\n".encode())
    cursor: dict[str, Any] | None = None
    while True:
        page, cursor = records.page(job_id, cursor)
        opted_out = opt_outs.opted_out(opt_out_scope, [record.phone_number for record in page])
        no_slot = full([r.phone_number for r in page if r.phone_number not in opted_out]) if full else set()
        for record in page:
            if record.phone_number in opted_out:
                excluded["opted_out"] += 1
                continue
            if record.phone_number in no_slot:
                excluded[THREE_A_DAY_RULE] += 1
                continue
            value = int(record.phone_number.removeprefix("+"))
            if value in seen:
                duplicates += 1
                continue
            seen.add(value)
            segments_total += record.segments
            longest = max(longest, record.segments)
            digest.update(f"{record.row}:{record.phone_number}\n".encode())
        if cursor is None:
            break
    return Preview(
        recipients=len(seen),
        duplicates_removed=duplicates,
        excluded=dict(excluded),
        segments_per_message=longest,
        price_per_message_micros=longest * price_per_segment,
        total_micros=segments_total * price_per_segment,
        segments_total=segments_total,
        digest=digest.hexdigest(),
    )


class CallingLists:
    def __init__(
        self,
        composer: Composer,
        templates: TenantTemplates,
        jobs: JobsTable,
        records: ListRecordsTable,
        opt_outs: OptOutsTable,
        clock: Callable[[], datetime] = utc_now,
        balances: BalanceReader | None = None,
    ) -> None:
        self._balances = balances
        self._composer = composer
        self._templates = templates
        self._jobs = jobs
        self._records = records
        self._opt_outs = opt_outs
        self._clock = clock

    def upload(self, tenant_id: str, request: CallingListRequest) -> tuple[MassJob, list[RowError]]:
        tenant = self._composer.enabled_tenant(tenant_id)
        stored = self._templates.get(tenant_id, request.template_id)
        if stored.status is not TemplateStatus.APPROVED:
            raise Refused(
                "template_not_approved", f"the template is {stored.status.value}, not approved", "template_id"
            )
        template = as_template(stored)
        unmapped = sorted(set(template.variables) - set(request.mapping))
        unknown = sorted(set(request.mapping) - set(template.variables))
        if unmapped or unknown:
            raise InvalidInput(
                "mapping",
                f"map every template variable to a field: missing {unmapped}, not variables {unknown}",
            )
        check_fields(request)
        signing = self._composer.signing(
            tenant,
            Sender(sending_number=request.sending_number, signature_id=request.signature_id),
            tenant.default_mass_signature_id,
        )
        job_id = new_id("job")
        accepted, errors = self._accept(tenant, job_id, request, signing.signature_text)
        if not accepted:
            raise Refused(
                "no_valid_records",
                f"no record of the list can be sent; the first {min(len(errors), ERRORS_SHOWN)} of "
                f"{len(errors):,} refused records are listed",
                "records",
                extra={
                    "errors": [error.model_dump() for error in errors[:ERRORS_SHOWN]],
                    "errors_total": len(errors),
                },
            )
        self._records.put_all(accepted)
        self._records.put_refused(job_id, [error.model_dump() for error in errors])
        now = self._clock()
        job = MassJob(
            job_id=job_id,
            kind=JobKind.CALLING_LIST,
            name=request.name,
            tenant_id=tenant_id,
            created_at=now,
            status=JobStatus.PREVIEWED,
            saved_message=template.key,
            variables={"mapping": request.mapping, "phone_field": request.phone_field},
            recipient_filter=RecipientFilter(),
            signature_id=signing.signature_id,
            sending_number=signing.sending_number,
            body=stored.text,
            preview=self.preview(tenant, job_id, signing.sending_number, len(errors), template.key),
            confirmation_token=secrets.token_urlsafe(24),
            token_expires_at=now + CONFIRMATION_VALIDITY,
        )
        self._jobs.put_new(job)
        return job, errors[:ERRORS_SHOWN]

    def refused(
        self, tenant_id: str, job_id: str, after_row: int, limit: int
    ) -> tuple[list[RowError], int | None]:
        """A page of the records refused at upload, after ``after_row``; and the row to continue after."""
        job = self._jobs.get(job_id)
        if job is None or job.tenant_id != tenant_id or job.kind is not JobKind.CALLING_LIST:
            raise NotFound(f"calling list '{job_id}' does not exist", "job_id")
        items, more = self._records.refused_page(job_id, after_row, limit)
        errors = [RowError.model_validate(item) for item in items]
        return errors, errors[-1].row if more and errors else None

    def preview(
        self, tenant: Tenant, job_id: str, sending_number: str, invalid: int, subject: str
    ) -> Preview:
        """The list's preview; ``subject`` is its template's key (what the three-a-day rule counts)."""
        preview = list_preview(
            self._records,
            self._opt_outs,
            job_id,
            tenant.price_per_segment_micros,
            sending_number,
            self._composer.opt_out_scope(sending_number),
            self._composer.full_by_subject(tenant, subject),
        )
        update: dict[str, Any] = {"invalid_records": invalid}
        if self._balances is not None:
            balance = self._balances.balance_micros(tenant.tenant_id)
            update.update(balance_micros=balance, balance_covers=balance >= preview.total_micros)
        return preview.model_copy(update=update)

    def _accept(
        self, tenant: Tenant, job_id: str, request: CallingListRequest, signature_text: str
    ) -> tuple[list[ListRecord], list[RowError]]:
        template = as_template(self._templates.get(tenant.tenant_id, request.template_id))
        accepted: list[ListRecord] = []
        errors: list[RowError] = []
        for row, record in enumerate(request.records, start=1):
            phone = record.get(request.phone_field)
            try:
                if phone is not None and not isinstance(phone, str | int):
                    raise InvalidInput(request.phone_field, "the phone number must be text")
                number = to_e164(str(phone or ""), request.phone_field)
            except InvalidInput as error:
                errors.append(RowError.of(row, request.phone_field, error.detail))
                continue
            variables = {variable: record.get(field) for variable, field in request.mapping.items()}
            try:
                rendered = template.rendered_values(variables, tenant.time_zone, request.from_text)
            except InvalidInput as error:
                variable = (error.field or "").removeprefix("variables.")
                errors.append(RowError.of(row, request.mapping.get(variable, variable), error.detail))
                continue
            encoded = encode_body(
                compose_body(template.fill(rendered), signature_text), tenant.smart_encoding
            )
            excess = self._composer.limits.excess(encoded.body, encoded.count)
            if excess is not None:
                longest = longest_variable(rendered)
                errors.append(RowError.of(row, request.mapping[longest] if longest else "records", excess))
                continue
            name = str(record.get(request.name_field) or "") if request.name_field else ""
            accepted.append(
                ListRecord(
                    job_id=job_id,
                    row=row,
                    phone_number=number,
                    name=name[:MAX_NAME],
                    body=encoded.body,
                    segments=encoded.count.segments,
                    original_body=encoded.original_body,
                )
            )
        return accepted, errors
