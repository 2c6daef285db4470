"""Mass messages: create with a preview, confirm with its token, follow the job, cancel it; accounts."""

from __future__ import annotations

import csv
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field, StrictBool

from functions.domain.errors import InvalidInput, NotFound
from functions.domain.mass import (
    IfChanged,
    JobStatus,
    MassJob,
    Preview,
    PreviewProgress,
    RecipientFilter,
    Refusal,
    StartReport,
    Validation,
)
from functions.domain.messages import MessageStatus
from functions.domain.tenants import Account
from functions.domain.values import IsoDateTime, RequestBody
from functions.handlers.contract import answers
from functions.handlers.routes.common import principal, services
from functions.logic.auth import Permission
from functions.logic.calling_lists import (
    MAX_FIELD_NAME,
    MAX_INLINE_RECORDS,
    CallingListRequest,
    ListSpec,
    Upload,
    csv_records,
)
from functions.logic.mass import MassRequest

router = Router()


FilterValue = Annotated[str, Field(min_length=1, max_length=100)]  # an id, a status, a group or a type


class FilterBody(RequestBody):
    network_site_ids: list[FilterValue] = Field(default_factory=list, max_length=500)
    account_statuses: list[FilterValue] = Field(default_factory=list, max_length=50)
    account_groups: list[FilterValue] = Field(default_factory=list, max_length=200)
    contact_types: list[FilterValue] = Field(default_factory=list, max_length=50)


class MassBody(RequestBody):
    saved_message: str = Field(description="planned_outage, unplanned_outage or unplanned_outage_no_eta")
    outage_start: IsoDateTime
    outage_end: IsoDateTime | None = Field(default=None, description="Not with unplanned_outage_no_eta")
    variables: dict[str, Any] = Field(default_factory=dict, description="The template's other variables")
    filters: FilterBody = Field(default_factory=FilterBody)
    signature_id: str | None = Field(default=None, description="Default: the tenant's mass-message default")
    sending_number: str | None = None


class ConfirmBody(RequestBody):
    confirmation_token: str = Field(min_length=1, max_length=200)
    send_at: IsoDateTime | None = Field(
        default=None, description="Send later: an ISO date-time with its offset, within 30 days"
    )
    if_changed: IfChanged | None = Field(
        default=None,
        description="With send_at: what to do if, at send_at, the recipients or the text changed or the "
        "balance no longer covers the cost (default: stop)",
    )


class ScheduleBody(RequestBody):
    send_at: IsoDateTime = Field(description="The new start: an ISO date-time with its offset")


class PreviewView(BaseModel):
    recipients: int
    duplicates_removed: int
    excluded: dict[str, int]
    invalid_records: int
    segments_per_message: int
    segments_total: int
    price_per_message_micros: int
    total_micros: int
    balance_micros: int | None
    balance_covers: bool | None


class PreviewProgressView(BaseModel):
    generation: int
    purpose: str = Field(
        description="preview, confirm (a confirmation's check) or start (a scheduled start's)"
    )
    segments: int
    segments_done: int
    records_read: int


class MassView(BaseModel):
    id: str
    status: JobStatus
    created_at: datetime
    saved_message: str
    body: str = Field(description="The text as sent (a calling list's: its template)")
    original_body: str | None = Field(
        default=None, description="The text as written, when smart encoding replaced characters in it"
    )
    sending_number: str
    signature_id: str
    filters: RecipientFilter
    preview: PreviewView | None = Field(description="None until the first preview is computed")
    preview_progress: PreviewProgressView | None = Field(description="The latest preview computation")
    confirmation_token: str | None = Field(description="Only while the job waits for confirmation")
    token_expires_at: datetime | None
    refusal: Refusal | None = Field(description="The latest confirmation, refused as stale")
    send_at: datetime | None
    if_changed: IfChanged | None
    start_report: StartReport | None = Field(description="What a scheduled job found at its start")
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    created_messages: int
    progress: dict[MessageStatus, int] | None = None


class CallingListBody(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    template_id: str = Field(description="An operator-approved tenant template")
    phone_field: str = Field(
        min_length=1, max_length=MAX_FIELD_NAME, description="The record field holding the phone number"
    )
    name_field: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FIELD_NAME,
        description="The record field holding the recipient's name",
    )
    mapping: dict[str, Annotated[str, Field(min_length=1, max_length=MAX_FIELD_NAME)]] = Field(
        max_length=100, description="Template variable -> record field"
    )
    records: list[dict[str, Any]] | None = Field(
        default=None, max_length=MAX_INLINE_RECORDS, description="JSON records"
    )
    csv: str | None = Field(
        default=None, max_length=9_000_000, description="Or the list as CSV with a header row"
    )
    upload: StrictBool = Field(
        default=False,
        description="Or neither: answer with a pre-signed URL to PUT a CSV file to (up to 1,000,000 "
        "records and 200 MB); its arrival starts the validation",
    )
    signature_id: str | None = None
    sending_number: str | None = None


class RowErrorView(BaseModel):
    row: int
    field: str
    reason: str
    error: str


class UploadView(BaseModel):
    url: str = Field(description="PUT the file here, with the header Content-Type: text/csv")
    method: str = "PUT"
    headers: dict[str, str]
    expires_at: datetime
    max_bytes: int
    max_records: int


class CallingListView(MassView):
    name: str | None
    validation: Validation | None = Field(description="Records read, accepted and refused by reason")
    errors: list[RowErrorView] = Field(
        default_factory=list, description="The first records refused, by row (at most 100)"
    )
    errors_total: int = Field(default=0, description="Every record refused")
    errors_next_cursor: str | None = Field(
        default=None, description="When more were refused: GET .../errors?cursor= with it pages the rest"
    )
    upload: UploadView | None = None


class RowErrorsPage(BaseModel):
    items: list[RowErrorView]
    next_cursor: str | None


class AccountBody(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    status: str = Field(default="Active", min_length=1, max_length=50)
    network_site_id: str | None = Field(default=None, max_length=100)
    groups: list[str] = Field(default_factory=list, max_length=50)


def parse_records(body: CallingListBody) -> list[dict[str, Any] | None]:
    given = [name for name in ("records", "csv") if getattr(body, name) is not None] + (
        ["upload"] if body.upload else []
    )
    if len(given) != 1:
        raise InvalidInput("records", "give the list as exactly one of records, csv or upload")
    if body.upload:
        return []  # the file comes later, to the pre-signed URL
    if body.records is not None:
        return list(body.records)
    assert body.csv is not None
    rows: list[dict[str, Any] | None] = []
    try:
        for row in csv_records(body.csv):
            if len(rows) == MAX_INLINE_RECORDS:
                raise InvalidInput("csv", f"a calling list holds at most {MAX_INLINE_RECORDS:,} records")
            rows.append(row)
    except csv.Error as error:  # a field over the reader's limit, a NUL byte...
        raise InvalidInput("csv", f"the CSV cannot be read: {error}") from error
    if not rows:
        raise InvalidInput("csv", "the CSV has a header row but no records")
    return rows


def preview_view(preview: Preview | None) -> PreviewView | None:
    return None if preview is None else PreviewView.model_validate(preview.model_dump(exclude={"digest"}))


def progress_view(progress: PreviewProgress | None) -> PreviewProgressView | None:
    return None if progress is None else PreviewProgressView.model_validate(progress.model_dump())


def mass_view(job: MassJob, progress: dict[MessageStatus, int] | None = None) -> MassView:
    waiting = job.status is JobStatus.PREVIEWED
    return MassView(
        id=job.job_id,
        status=job.status,
        created_at=job.created_at,
        saved_message=job.saved_message,
        body=job.body,
        original_body=job.original_body,
        sending_number=job.sending_number,
        signature_id=job.signature_id,
        filters=job.recipient_filter,
        preview=preview_view(job.preview),
        preview_progress=progress_view(job.preview_progress),
        confirmation_token=job.confirmation_token if waiting else None,
        token_expires_at=job.token_expires_at if waiting else None,
        refusal=job.refusal,
        send_at=job.send_at,
        if_changed=job.if_changed,
        start_report=job.start_report,
        confirmed_at=job.confirmed_at,
        cancelled_at=job.cancelled_at,
        created_messages=job.created_messages,
        progress=progress,
    )


def accepted(view: BaseModel) -> Response[Any]:
    return Response(status_code=HTTPStatus.ACCEPTED.value, content_type="application/json", body=view)


@router.post(
    "/v1/mass-messages",
    summary="Create a mass message; its preview is computed (answered at once for a small audience)",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "The job: previewing, or previewed when the audience is small",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
    ),
)
def create_mass(body: MassBody) -> Response[MassView]:
    tenant = principal(router, Permission.CREATE_SMS)
    for name in ("outage_start", "outage_end"):
        if name in body.variables:  # the body's own field is the only place for it
            raise InvalidInput(f"variables.{name}", f"give {name} as the body's field, not as a variable")
    if body.outage_end is not None and body.outage_end <= body.outage_start:
        raise InvalidInput("outage_end", "must be after outage_start")
    variables = {**body.variables, "outage_start": body.outage_start.isoformat()}
    if body.outage_end is not None:
        variables["outage_end"] = body.outage_end.isoformat()
    request = MassRequest(
        saved_message=body.saved_message,
        variables=variables,
        recipient_filter=RecipientFilter(**body.filters.model_dump()),
        signature_id=body.signature_id,
        sending_number=body.sending_number,
    )
    return accepted(mass_view(services().mass.create(tenant.tenant_id, request)))


@router.get(
    "/v1/mass-messages",
    summary="The tenant's mass messages, newest first",
    responses=answers(HTTPStatus.OK, "The latest jobs"),
)
def list_mass() -> list[MassView]:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    return [mass_view(job) for job in services().jobs.list_for_tenant(tenant.tenant_id, 50)]


@router.get(
    "/v1/calling-lists/<job_id>",
    summary="A calling list, its preview and its progress per status",
    responses=answers(HTTPStatus.OK, "The job", HTTPStatus.NOT_FOUND),
)
@router.get(
    "/v1/mass-messages/<job_id>",
    summary="A mass message, its preview and its progress per status",
    responses=answers(HTTPStatus.OK, "The job", HTTPStatus.NOT_FOUND),
)
def get_mass(job_id: str) -> CallingListView | MassView:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    progress = services().mass.progress(tenant.tenant_id, job_id)
    view = mass_view(progress.job, progress.counts)
    if progress.job.list_spec is None:
        return view
    return CallingListView(**view.model_dump(), name=progress.job.name, validation=progress.job.validation)


@router.post(
    "/v1/calling-lists/<job_id>/preview",
    summary="Preview again: fresh counts and a new token",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "The job, previewing or previewed again",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
    ),
)
@router.post(
    "/v1/mass-messages/<job_id>/preview",
    summary="Preview again: fresh counts and a new token",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "The job, previewing or previewed again",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
    ),
)
def refresh_mass(job_id: str) -> Response[MassView]:
    tenant = principal(router, Permission.CREATE_SMS)
    return accepted(mass_view(services().mass.refresh(tenant.tenant_id, job_id)))


@router.post(
    "/v1/calling-lists/<job_id>/confirm",
    summary="Confirm the preview: the messages go out, now or at send_at",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "Confirmed: sending, scheduled, or confirming while the preview is checked",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
)
@router.post(
    "/v1/mass-messages/<job_id>/confirm",
    summary="Confirm the preview: the messages go out, now or at send_at",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "Confirmed: sending, scheduled, or confirming while the preview is checked",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
)
def confirm_mass(job_id: str, body: ConfirmBody) -> Response[MassView]:
    tenant = principal(router, Permission.CREATE_SMS)
    job = services().mass.confirm(
        tenant.tenant_id, job_id, body.confirmation_token, body.send_at, body.if_changed
    )
    return accepted(mass_view(job))


@router.post(
    "/v1/calling-lists/<job_id>/schedule",
    summary="Move a scheduled job to another start",
    responses=answers(HTTPStatus.OK, "The job, rescheduled", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
@router.post(
    "/v1/mass-messages/<job_id>/schedule",
    summary="Move a scheduled job to another start",
    responses=answers(HTTPStatus.OK, "The job, rescheduled", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def reschedule_mass(job_id: str, body: ScheduleBody) -> MassView:
    tenant = principal(router, Permission.CREATE_SMS)
    return mass_view(services().mass.reschedule(tenant.tenant_id, job_id, body.send_at))


@router.post(
    "/v1/calling-lists/<job_id>/cancel",
    summary="Cancel: messages not yet sent fail as 'cancelled'",
    responses=answers(HTTPStatus.OK, "The job, cancelled", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
@router.post(
    "/v1/mass-messages/<job_id>/cancel",
    summary="Cancel: messages not yet sent fail as 'cancelled'",
    responses=answers(HTTPStatus.OK, "The job, cancelled", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def cancel_mass(job_id: str) -> MassView:
    tenant = principal(router, Permission.CREATE_SMS)
    return mass_view(services().mass.cancel(tenant.tenant_id, job_id))


@router.post(
    "/v1/calling-lists",
    summary="A calling list for an approved template: inline records or CSV, or a pre-signed upload",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "The job: previewed (inline, with the records refused), previewing, or awaiting its upload",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
    ),
)
def upload_calling_list(body: CallingListBody) -> Response[CallingListView]:
    tenant = principal(router, Permission.CREATE_SMS)
    records = parse_records(body)
    spec = ListSpec.model_validate(body.model_dump(exclude={"records", "csv", "upload"}))
    lists = services().calling_lists
    if body.upload:
        job, upload = lists.request_upload(tenant.tenant_id, spec)
        return accepted(list_view(job, [], upload))
    request = CallingListRequest(**spec.model_dump(), records=records, from_text=body.csv is not None)
    job, errors, after = lists.upload(tenant.tenant_id, request)
    view = list_view(job, [RowErrorView.model_validate(e.model_dump(mode="json")) for e in errors])
    return accepted(view.model_copy(update={"errors_next_cursor": None if after is None else str(after)}))


def list_view(job: MassJob, errors: list[RowErrorView], upload: Upload | None = None) -> CallingListView:
    return CallingListView(
        **mass_view(job).model_dump(),
        name=job.name,
        validation=job.validation,
        errors=errors,
        errors_total=sum(job.validation.refused.values()) if job.validation else 0,
        upload=None
        if upload is None
        else UploadView(
            url=upload.url,
            headers={"Content-Type": upload.content_type},
            expires_at=upload.expires_at,
            max_bytes=upload.max_bytes,
            max_records=upload.max_records,
        ),
    )


@router.get(
    "/v1/calling-lists/<job_id>/errors",
    summary="The records refused, by row, paged",
    responses=answers(HTTPStatus.OK, "A page of refused records", HTTPStatus.NOT_FOUND),
)
def list_errors(
    job_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,12}$", description="next_cursor of the previous page")
    ] = None,
) -> RowErrorsPage:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    errors, after = services().calling_lists.errors_page(tenant.tenant_id, job_id, int(cursor or 0), limit)
    return RowErrorsPage(
        items=[RowErrorView.model_validate(error.model_dump(mode="json")) for error in errors],
        next_cursor=None if after is None else str(after),
    )


class ErrorsLink(BaseModel):
    url: str = Field(description="The pre-signed download of errors.csv (no key needed)")
    expires_at: datetime


@router.get(
    "/v1/calling-lists/<job_id>/errors.csv",
    summary="Download every refused row as CSV",
    responses=answers(
        HTTPStatus.OK,
        "The refused rows as CSV (row,field,reason,error), when they fit in an answer (5 MB); with "
        "link=true, {url, expires_at}: the pre-signed download itself",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        also={HTTPStatus.SEE_OTHER: "A larger file: to its pre-signed download, valid 15 minutes"},
        content={
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": ErrorsLink.model_json_schema()},
        },
    ),
)
def list_errors_csv(
    job_id: str,
    link: Annotated[
        bool,
        Query(
            description="Answer with the pre-signed URL (valid 15 minutes) instead of the file or a "
            "redirect: a page can link to it, as a plain link cannot carry the key"
        ),
    ] = False,
) -> Response[str]:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    download = services().calling_lists.errors_download(tenant.tenant_id, job_id, link=link)
    if link:
        assert download.url is not None
        assert download.expires_at is not None
        answer = ErrorsLink(url=download.url, expires_at=download.expires_at)
        return Response(
            status_code=HTTPStatus.OK.value, content_type="application/json", body=answer.model_dump_json()
        )
    if download.url is not None:
        return Response(status_code=HTTPStatus.SEE_OTHER.value, headers={"Location": download.url}, body="")
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{job_id}-errors.csv"'},
        body=download.text or "",
    )


@router.put(
    "/v1/accounts/<account_id>",
    summary="Create or replace an account (what mass messages filter on)",
    responses=answers(HTTPStatus.OK, "The account"),
)
def put_account(account_id: str, body: AccountBody) -> Account:
    tenant = principal(router, Permission.MANAGE_CONFIGURATION)
    account = Account(account_id=account_id, **body.model_dump())
    return services().configuration.save_account(tenant.tenant_id, account)


@router.get(
    "/v1/accounts/<account_id>",
    summary="One account",
    responses=answers(HTTPStatus.OK, "The account", HTTPStatus.NOT_FOUND),
)
def get_account(account_id: str) -> Account:
    tenant = principal(router, Permission.MANAGE_CONFIGURATION, Permission.VIEW_SMS)
    account = services().config.get_account(tenant.tenant_id, account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' does not exist", "account_id")
    return account
