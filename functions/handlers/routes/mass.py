"""Mass messages: create with a preview, confirm with its token, follow the job, cancel it; accounts."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
from functions.handlers.routes.common import principal, services
from functions.logic.auth import Permission
from functions.logic.calling_lists import CallingListRequest, ListSpec, Upload, csv_records
from functions.logic.mass import MassRequest

router = Router()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterBody(Strict):
    network_site_ids: list[str] = Field(default_factory=list, max_length=500)
    account_statuses: list[str] = Field(default_factory=list, max_length=50)
    account_groups: list[str] = Field(default_factory=list, max_length=200)
    contact_types: list[str] = Field(default_factory=list, max_length=50)


class MassBody(Strict):
    saved_message: str = Field(description="planned_outage, unplanned_outage or unplanned_outage_no_eta")
    outage_start: AwareDatetime
    outage_end: AwareDatetime | None = Field(default=None, description="Not with unplanned_outage_no_eta")
    variables: dict[str, Any] = Field(default_factory=dict, description="The template's other variables")
    filters: FilterBody = Field(default_factory=FilterBody)
    signature_id: str | None = Field(default=None, description="Default: the tenant's mass-message default")
    sending_number: str | None = None


class ConfirmBody(Strict):
    confirmation_token: str = Field(min_length=1, max_length=200)
    send_at: AwareDatetime | None = Field(
        default=None, description="Send later: an ISO date-time with its offset, within 30 days"
    )
    if_changed: IfChanged | None = Field(
        default=None,
        description="With send_at: what to do if, at send_at, the recipients or the text changed or the "
        "balance no longer covers the cost (default: stop)",
    )


class ScheduleBody(Strict):
    send_at: AwareDatetime = Field(description="The new start: an ISO date-time with its offset")


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


class CallingListBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    template_id: str = Field(description="An operator-approved tenant template")
    phone_field: str = Field(description="The record field holding the phone number")
    name_field: str | None = Field(default=None, description="The record field holding the recipient's name")
    mapping: dict[str, str] = Field(description="Template variable -> record field")
    records: list[dict[str, Any]] | None = Field(default=None, max_length=100_000, description="JSON records")
    csv: str | None = Field(
        default=None, max_length=9_000_000, description="Or the list as CSV with a header row"
    )
    upload: bool = Field(
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
        default_factory=list, description="The first records refused (all: GET .../errors)"
    )
    upload: UploadView | None = None


class RowErrorsPage(BaseModel):
    items: list[RowErrorView]
    next_cursor: str | None


class AccountBody(Strict):
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
    rows = list(csv_records(body.csv))
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
)
def create_mass(body: MassBody) -> Response[MassView]:
    tenant = principal(router, Permission.CREATE_SMS)
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


@router.get("/v1/mass-messages", summary="The tenant's mass messages, newest first")
def list_mass() -> list[MassView]:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    return [mass_view(job) for job in services().jobs.list_for_tenant(tenant.tenant_id, 50)]


@router.get("/v1/calling-lists/<job_id>", summary="A calling list, its preview and its progress per status")
@router.get("/v1/mass-messages/<job_id>", summary="A mass message, its preview and its progress per status")
def get_mass(job_id: str) -> CallingListView | MassView:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    progress = services().mass.progress(tenant.tenant_id, job_id)
    view = mass_view(progress.job, progress.counts)
    if progress.job.list_spec is None:
        return view
    return CallingListView(**view.model_dump(), name=progress.job.name, validation=progress.job.validation)


@router.post("/v1/calling-lists/<job_id>/preview", summary="Preview again: fresh counts and a new token")
@router.post("/v1/mass-messages/<job_id>/preview", summary="Preview again: fresh counts and a new token")
def refresh_mass(job_id: str) -> Response[MassView]:
    tenant = principal(router, Permission.CREATE_SMS)
    return accepted(mass_view(services().mass.refresh(tenant.tenant_id, job_id)))


@router.post("/v1/calling-lists/<job_id>/confirm", summary="Confirm the preview: the messages go out")
@router.post("/v1/mass-messages/<job_id>/confirm", summary="Confirm the preview: the messages go out")
def confirm_mass(job_id: str, body: ConfirmBody) -> Response[MassView]:
    tenant = principal(router, Permission.CREATE_SMS)
    job = services().mass.confirm(
        tenant.tenant_id, job_id, body.confirmation_token, body.send_at, body.if_changed
    )
    return accepted(mass_view(job))


@router.post("/v1/calling-lists/<job_id>/schedule", summary="Reschedule a scheduled job")
@router.post("/v1/mass-messages/<job_id>/schedule", summary="Reschedule a scheduled job")
def reschedule_mass(job_id: str, body: ScheduleBody) -> MassView:
    tenant = principal(router, Permission.CREATE_SMS)
    return mass_view(services().mass.reschedule(tenant.tenant_id, job_id, body.send_at))


@router.post("/v1/calling-lists/<job_id>/cancel", summary="Cancel: messages not yet sent fail as 'cancelled'")
@router.post("/v1/mass-messages/<job_id>/cancel", summary="Cancel: messages not yet sent fail as 'cancelled'")
def cancel_mass(job_id: str) -> MassView:
    tenant = principal(router, Permission.CREATE_SMS)
    return mass_view(services().mass.cancel(tenant.tenant_id, job_id))


@router.post(
    "/v1/calling-lists",
    summary="A calling list for an approved template: inline records or CSV, or a pre-signed upload",
)
def upload_calling_list(body: CallingListBody) -> Response[CallingListView]:
    tenant = principal(router, Permission.CREATE_SMS)
    records = parse_records(body)
    spec = ListSpec.model_validate(body.model_dump(exclude={"records", "csv", "upload"}))
    lists = services().calling_lists
    if body.upload:
        job, upload = lists.request_upload(tenant.tenant_id, spec)
        return accepted(list_view(job, [], upload))
    job, errors = lists.upload(tenant.tenant_id, CallingListRequest(**spec.model_dump(), records=records))
    return accepted(list_view(job, [RowErrorView.model_validate(e.model_dump(mode="json")) for e in errors]))


def list_view(job: MassJob, errors: list[RowErrorView], upload: Upload | None = None) -> CallingListView:
    return CallingListView(
        **mass_view(job).model_dump(),
        name=job.name,
        validation=job.validation,
        errors=errors,
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


def _errors_cursor(job_id: str, offset: int | None) -> str | None:
    if offset is None:
        return None
    return base64.urlsafe_b64encode(json.dumps({"job": job_id, "offset": offset}).encode()).decode()


def _errors_offset(job_id: str, cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if decoded["job"] != job_id or not isinstance(decoded["offset"], int) or decoded["offset"] < 0:
            raise ValueError("another list's cursor")
        return int(decoded["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidInput("cursor", "this is not a cursor of this list's refused rows") from error


@router.get("/v1/calling-lists/<job_id>/errors", summary="The list's refused rows, page by page")
def list_errors(job_id: str) -> RowErrorsPage:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    query = router.current_event.query_string_parameters or {}
    raw_limit = query.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise InvalidInput("limit", "limit must be an integer from 1 to 1000")
    offset = _errors_offset(job_id, query.get("cursor"))
    errors, after = services().calling_lists.errors_page(tenant.tenant_id, job_id, offset, int(raw_limit))
    return RowErrorsPage(
        items=[RowErrorView.model_validate(error.model_dump(mode="json")) for error in errors],
        next_cursor=_errors_cursor(job_id, after),
    )


@router.get("/v1/calling-lists/<job_id>/errors.csv", summary="Download every refused row as CSV")
def list_errors_csv(job_id: str) -> Response[str]:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    url = services().calling_lists.errors_download(tenant.tenant_id, job_id)
    return Response(status_code=HTTPStatus.SEE_OTHER.value, headers={"Location": url}, body="")


@router.put(
    "/v1/accounts/<account_id>", summary="Create or replace an account (what mass messages filter on)"
)
def put_account(account_id: str, body: AccountBody) -> Account:
    tenant = principal(router, Permission.MANAGE_CONFIGURATION)
    account = Account(account_id=account_id, **body.model_dump())
    return services().configuration.save_account(tenant.tenant_id, account)


@router.get("/v1/accounts/<account_id>", summary="One account")
def get_account(account_id: str) -> Account:
    tenant = principal(router, Permission.MANAGE_CONFIGURATION, Permission.VIEW_SMS)
    account = services().config.get_account(tenant.tenant_id, account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' does not exist", "account_id")
    return account
