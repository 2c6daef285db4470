"""Mass messages: create with a preview, confirm with its token, follow the job, cancel it; accounts."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.domain.errors import InvalidInput, NotFound
from functions.domain.mass import JobStatus, MassJob, Preview, RecipientFilter
from functions.domain.messages import MessageStatus
from functions.domain.tenants import Account
from functions.domain.values import IsoDateTime
from functions.handlers.contract import answers
from functions.handlers.routes.common import principal, services
from functions.logic.auth import Permission
from functions.logic.calling_lists import MAX_FIELD_NAME, MAX_RECORDS, CallingListRequest
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
    outage_start: IsoDateTime
    outage_end: IsoDateTime | None = Field(default=None, description="Not with unplanned_outage_no_eta")
    variables: dict[str, Any] = Field(default_factory=dict, description="The template's other variables")
    filters: FilterBody = Field(default_factory=FilterBody)
    signature_id: str | None = Field(default=None, description="Default: the tenant's mass-message default")
    sending_number: str | None = None


class ConfirmBody(Strict):
    confirmation_token: str = Field(min_length=1, max_length=200)


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
    preview: PreviewView
    confirmation_token: str | None = Field(description="Only while the job waits for confirmation")
    token_expires_at: datetime | None
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    created_messages: int
    progress: dict[MessageStatus, int] | None = None


class CallingListBody(Strict):
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
        default=None, max_length=MAX_RECORDS, description="JSON records"
    )
    csv: str | None = Field(
        default=None, max_length=9_000_000, description="Or the list as CSV with a header row"
    )
    signature_id: str | None = None
    sending_number: str | None = None


class RowErrorView(BaseModel):
    row: int
    field: str
    error: str


class CallingListView(MassView):
    name: str | None
    errors: list[RowErrorView] = Field(
        default_factory=list, description="The first records refused at upload, by row (at most 100)"
    )
    errors_total: int = Field(default=0, description="Every record refused at upload")
    errors_next_cursor: str | None = Field(
        default=None, description="When more were refused: GET .../errors?cursor= with it pages the rest"
    )


class RowErrorPage(BaseModel):
    items: list[RowErrorView]
    next_cursor: str | None


class AccountBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    status: str = Field(default="Active", min_length=1, max_length=50)
    network_site_id: str | None = Field(default=None, max_length=100)
    groups: list[str] = Field(default_factory=list, max_length=50)


def parse_records(body: CallingListBody) -> list[dict[str, Any]]:
    if (body.records is None) == (body.csv is None):
        raise InvalidInput("records", "give the list as either records or csv")
    if body.records is not None:
        return body.records
    assert body.csv is not None
    return csv_records(body.csv)


def csv_records(text: str) -> list[dict[str, Any]]:
    """The CSV's rows as records keyed by its header (a spreadsheet's leading byte order mark is not
    part of the first name). A header naming a field twice, or a row with more cells than the header,
    is refused with its row: either would put a value under the wrong field. A row with fewer cells
    lacks the last fields, which the record checks then name."""
    rows: list[dict[str, Any]] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("csv", "the CSV has no header row")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise InvalidInput("csv", f"the header row names {', '.join(repeated)} more than once")
        for cells in reader:
            if not cells:  # a blank line is no record
                continue
            if len(cells) > len(header):
                raise InvalidInput(
                    "csv",
                    f"row {len(rows) + 1} has {len(cells)} cells where the header has {len(header)} fields",
                )
            if len(rows) == MAX_RECORDS:
                raise InvalidInput("csv", f"a calling list holds at most {MAX_RECORDS:,} records")
            rows.append({name: cells[i] if i < len(cells) else None for i, name in enumerate(header)})
    except csv.Error as error:  # a field over the reader's limit, a NUL byte...
        raise InvalidInput("csv", f"the CSV cannot be read: {error}") from error
    if not rows:
        raise InvalidInput("csv", "the CSV has a header row but no records")
    return rows


def preview_view(preview: Preview) -> PreviewView:
    return PreviewView.model_validate(preview.model_dump(exclude={"digest"}))


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
        confirmation_token=job.confirmation_token if waiting else None,
        token_expires_at=job.token_expires_at if waiting else None,
        confirmed_at=job.confirmed_at,
        cancelled_at=job.cancelled_at,
        created_messages=job.created_messages,
        progress=progress,
    )


@router.post(
    "/v1/mass-messages",
    summary="Create a mass message and its preview (nothing is sent yet)",
    responses=answers(
        HTTPStatus.CREATED, "The job and its preview", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
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
    job = services().mass.create(tenant.tenant_id, request)
    return Response(
        status_code=HTTPStatus.CREATED.value, content_type="application/json", body=mass_view(job)
    )


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
def get_mass(job_id: str) -> MassView:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    progress = services().mass.progress(tenant.tenant_id, job_id)
    return mass_view(progress.job, progress.counts)


@router.post(
    "/v1/calling-lists/<job_id>/preview",
    summary="Preview again: fresh counts and a new token",
    responses=answers(
        HTTPStatus.OK, "The job with a fresh preview", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
    ),
)
@router.post(
    "/v1/mass-messages/<job_id>/preview",
    summary="Preview again: fresh counts and a new token",
    responses=answers(
        HTTPStatus.OK, "The job with a fresh preview", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
    ),
)
def refresh_mass(job_id: str) -> MassView:
    tenant = principal(router, Permission.CREATE_SMS)
    return mass_view(services().mass.refresh(tenant.tenant_id, job_id))


@router.post(
    "/v1/calling-lists/<job_id>/confirm",
    summary="Confirm the preview: the messages go out",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "Confirmed: the fan-out started",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
)
@router.post(
    "/v1/mass-messages/<job_id>/confirm",
    summary="Confirm the preview: the messages go out",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "Confirmed: the fan-out started",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
)
def confirm_mass(job_id: str, body: ConfirmBody) -> Response[MassView]:
    tenant = principal(router, Permission.CREATE_SMS)
    job = services().mass.confirm(tenant.tenant_id, job_id, body.confirmation_token)
    return Response(
        status_code=HTTPStatus.ACCEPTED.value, content_type="application/json", body=mass_view(job)
    )


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
    summary="Upload a calling list for an approved template (nothing is sent yet)",
    responses=answers(
        HTTPStatus.CREATED,
        "The job, its preview and the records refused",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
    ),
)
def upload_calling_list(body: CallingListBody) -> Response[CallingListView]:
    tenant = principal(router, Permission.CREATE_SMS)
    request = CallingListRequest(
        name=body.name,
        template_id=body.template_id,
        phone_field=body.phone_field,
        name_field=body.name_field,
        mapping=body.mapping,
        records=parse_records(body),
        from_text=body.csv is not None,
        signature_id=body.signature_id,
        sending_number=body.sending_number,
    )
    job, errors = services().calling_lists.upload(tenant.tenant_id, request)
    total = job.preview.invalid_records
    view = CallingListView(
        **mass_view(job).model_dump(),
        name=job.name,
        errors=[RowErrorView.model_validate(error.model_dump()) for error in errors],
        errors_total=total,
        errors_next_cursor=str(errors[-1].row) if errors and total > len(errors) else None,
    )
    return Response(status_code=HTTPStatus.CREATED.value, content_type="application/json", body=view)


@router.get(
    "/v1/calling-lists/<job_id>/errors",
    summary="The records refused at upload, by row, paged",
    responses=answers(HTTPStatus.OK, "A page of refused records", HTTPStatus.NOT_FOUND),
)
def list_refused_records(
    job_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,9}$", description="next_cursor of the previous page")
    ] = None,
) -> RowErrorPage:
    tenant = principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS)
    errors, after = services().calling_lists.refused(tenant.tenant_id, job_id, int(cursor or 0), limit)
    return RowErrorPage(
        items=[RowErrorView.model_validate(error.model_dump()) for error in errors],
        next_cursor=None if after is None else str(after),
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
