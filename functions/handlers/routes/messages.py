"""Sending and the sent-messages log: triggers, approved tenant templates, messages."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import BaseModel, Field

from functions.domain.catalog import SAVED_MESSAGES
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.messages import Message, MessageStatus, RejectReason
from functions.domain.segments import Encoding
from functions.domain.templates import Direction, MessageKind, VariableType
from functions.domain.tenants import EntityType
from functions.domain.values import IDEMPOTENCY_KEY, RequestBody
from functions.handlers.contract import RETRY_AFTER, answers
from functions.handlers.routes.common import composed_to_json, principal, services
from functions.logic.auth import Permission
from functions.logic.compose import Recipients, Sender
from functions.logic.sent_messages import CSV_MAX_ROWS, LogFilters
from functions.logic.triggers import TriggerRequest
from functions.observability import metrics

router = Router()
# A concurrent retry of a request still running is told to come back: its answer is usually ready by then.
IN_PROGRESS_RETRY_SECONDS = 1


class SendBody(RequestBody):
    contact_id: str | None = Field(
        default=None, max_length=100, description="One contact; or give account_id"
    )
    account_id: str | None = Field(default=None, max_length=100, description="Every contact of this account")
    phone_number: str | None = Field(
        default=None, description="With contact_id: only this one of its numbers"
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="The template's variables")
    signature_id: str | None = Field(
        default=None, description="Default: the tenant's triggered-message default"
    )
    sending_number: str | None = Field(
        default=None, description="One of the tenant's numbers; default: its default"
    )

    def recipients(self) -> Recipients:
        return Recipients(
            contact_id=self.contact_id, account_id=self.account_id, phone_number=self.phone_number
        )

    def sender(self) -> dict[str, str | None]:
        return {"sending_number": self.sending_number, "signature_id": self.signature_id}


class StatusChangeView(BaseModel):
    status: MessageStatus
    at: datetime
    reason: RejectReason | None = None
    detail: str | None = None


class MessageView(BaseModel):
    id: str
    status: MessageStatus
    reject_reason: RejectReason | None
    created_at: datetime
    recipient_name: str
    contact_type: str
    related_entity_type: str
    related_entity_id: str
    related_entity: str
    phone_number: str
    sending_number: str
    trigger: str | None
    job_id: str | None = Field(default=None, description="The mass message or calling list it belongs to")
    saved_message: str
    body: str = Field(description="The text as sent (and priced)")
    original_body: str | None = Field(
        default=None, description="The text as written, when smart encoding replaced characters in it"
    )
    encoding: Encoding
    segments: int
    price_micros: int
    release_at: datetime | None = Field(
        default=None, description="Held by quiet hours or the recipient's calling window until then"
    )
    hold_rule: str | None = Field(
        default=None, description="quiet_hours, recipient_window_federal or recipient_window_state:<ST>"
    )
    history: list[StatusChangeView]


class SkippedView(BaseModel):
    contact_id: str
    phone_number: str | None
    reason: str
    detail: str


class SendResult(BaseModel):
    messages: list[MessageView]
    skipped: list[SkippedView]


class MessagePage(BaseModel):
    items: list[MessageView]
    next_cursor: str | None


class SavedMessageView(BaseModel):
    key: str
    version: int
    name: str
    kind: MessageKind
    trigger: str | None
    text: str
    variables: dict[str, VariableType]
    direction: Direction


def to_view(message: Message) -> MessageView:
    return MessageView(
        id=message.message_id,
        status=message.status,
        reject_reason=message.reject_reason,
        created_at=message.created_at,
        recipient_name=message.recipient.name,
        contact_type=message.recipient.contact_type,
        related_entity_type=message.recipient.related_entity_type,
        related_entity_id=message.recipient.related_entity_id,
        related_entity=message.recipient.related_entity_name,
        phone_number=message.recipient.phone_number,
        sending_number=message.origination_number,
        trigger=message.trigger,
        job_id=message.job_id,
        saved_message=f"{message.template_key}@v{message.template_version}",
        body=message.body,
        original_body=message.original_body,
        encoding=message.encoding,
        segments=message.segments,
        price_micros=message.price_micros,
        release_at=message.release_at,
        hold_rule=message.hold_rule,
        history=[StatusChangeView(**change.model_dump()) for change in message.history],
    )


def send_result(composed: dict[str, Any]) -> Response[SendResult]:
    result = SendResult(
        messages=[to_view(Message.model_validate(message)) for message in composed["messages"]],
        skipped=[SkippedView.model_validate(skipped) for skipped in composed["skipped"]],
    )
    metrics.add_metric(name="MessagesAccepted", unit="Count", value=len(result.messages))
    return Response(status_code=HTTPStatus.ACCEPTED.value, content_type="application/json", body=result)


@router.post(
    "/v1/triggers/<trigger>",
    summary="Send a trigger's registered saved message to a contact or to an account's contacts",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "Queued: one message per eligible number, and the numbers skipped",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.SERVICE_UNAVAILABLE,
        refusal_headers={HTTPStatus.CONFLICT: RETRY_AFTER},
    ),
)
def send_triggered(
    trigger: Annotated[str, Path(description="A registered trigger, e.g. invoice_created")],
    body: SendBody,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="idempotency-key",
            min_length=1,
            max_length=200,
            pattern=IDEMPOTENCY_KEY,
            description="Retries with it return the first answer",
        ),
    ] = None,
) -> Response[SendResult]:
    tenant = principal(router, Permission.CREATE_SMS)
    request = TriggerRequest(
        trigger=trigger, recipients=body.recipients(), variables=body.variables, sender=body.sender()
    )
    if idempotency_key is None:
        return send_result(composed_to_json(services().triggers.send(tenant.tenant_id, request)))
    data = {
        "tenant_id": tenant.tenant_id,
        "idempotency_key": idempotency_key,
        "request": request.model_dump(mode="json"),
    }
    try:
        return send_result(services().idempotent_trigger(data=data))
    except IdempotencyValidationError as error:
        raise InvalidInput(
            "idempotency-key", "this Idempotency-Key was used with a different request"
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise Refused(
            "in_progress",
            "a request with this Idempotency-Key is still running; retry after a second for its answer",
            "idempotency-key",
            retry_after_seconds=IN_PROGRESS_RETRY_SECONDS,
        ) from error


@router.post(
    "/v1/templates/<template_id>/messages",
    summary="Send an operator-approved tenant template",
    responses=answers(
        HTTPStatus.ACCEPTED,
        "Queued: one message per eligible number, and the numbers skipped",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ),
)
def send_template(template_id: str, body: SendBody) -> Response[SendResult]:
    tenant = principal(router, Permission.CREATE_SMS)
    composed = services().templates.send(
        tenant.tenant_id, template_id, body.variables, body.recipients(), Sender(**body.sender())
    )
    return send_result(composed_to_json(composed))


@router.get(
    "/v1/saved-messages",
    summary="The operator's registered saved messages (the catalog)",
    responses=answers(HTTPStatus.OK, "The catalog"),
)
def list_saved_messages() -> list[SavedMessageView]:
    principal(router, Permission.VIEW_SMS, Permission.CREATE_SMS, Permission.MANAGE_CONFIGURATION)
    return [SavedMessageView.model_validate(template.model_dump()) for template in SAVED_MESSAGES.values()]


Status = Annotated[MessageStatus | None, Query(description="Only messages in this status")]
CreatedFrom = Annotated[
    str | None, Query(max_length=40, description="Created at or after (ISO 8601 with an offset or Z)")
]
CreatedTo = Annotated[
    str | None, Query(max_length=40, description="Created before (ISO 8601 with an offset)")
]
PhoneNumber = Annotated[
    str | None, Query(max_length=40, description="The recipient's number, any common form")
]
EntityId = Annotated[
    str | None, Query(max_length=100, description="The related entity: an account or a network site id")
]
EntityKind = Annotated[EntityType | None, Query(description="account, network_site or calling_list")]
JobId = Annotated[str | None, Query(max_length=100, description="A mass message's or calling list's id")]
Trigger = Annotated[
    str | None, Query(max_length=100, description="A registered trigger, e.g. invoice_created")
]
Cursor = Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")]


@router.get(
    "/v1/messages/<message_id>",
    summary="One message, its body as sent and its status history",
    responses=answers(HTTPStatus.OK, "The message", HTTPStatus.NOT_FOUND),
)
def get_message(message_id: str) -> MessageView:
    tenant = principal(router, Permission.VIEW_SMS)
    return to_view(services().sent_messages.get(tenant.tenant_id, message_id))


@router.get(
    "/v1/messages",
    summary="The sent-messages log, newest first, filtered (with job_id: the job's messages by status)",
    responses=answers(HTTPStatus.OK, "A page of the log", HTTPStatus.NOT_FOUND),
)
def list_messages(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
    status: Status = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    phone_number: PhoneNumber = None,
    entity_id: EntityId = None,
    entity_type: EntityKind = None,
    job_id: JobId = None,
    trigger: Trigger = None,
) -> MessagePage:
    tenant = principal(router, Permission.VIEW_SMS)
    filters = LogFilters(
        status, created_from, created_to, phone_number, entity_id, entity_type, job_id, trigger
    )
    items, next_cursor = services().sent_messages.page(tenant.tenant_id, filters.query(), limit, cursor)
    return MessagePage(items=[to_view(message) for message in items], next_cursor=next_cursor)


@router.get(
    "/v1/messages.csv",
    summary="The filtered log as CSV; when more rows remain, a Link header (rel=next) carries on",
    responses=answers(
        HTTPStatus.OK,
        "One row per message, a header row first",
        HTTPStatus.NOT_FOUND,
        content={"text/csv": {"schema": {"type": "string"}}},
        headers={
            "Content-Disposition": {"schema": {"type": "string"}},
            "X-Row-Count": {"description": "Rows in this answer", "schema": {"type": "string"}},
            "Link": {
                "description": 'The next page (rel="next"), when rows remain',
                "schema": {"type": "string"},
            },
            "X-Next-Cursor": {
                "description": "The next page's cursor, when rows remain",
                "schema": {"type": "string"},
            },
        },
    ),
)
def export_messages(
    limit: Annotated[int, Query(ge=1, le=CSV_MAX_ROWS)] = CSV_MAX_ROWS,
    cursor: Cursor = None,
    status: Status = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    phone_number: PhoneNumber = None,
    entity_id: EntityId = None,
    entity_type: EntityKind = None,
    job_id: JobId = None,
    trigger: Trigger = None,
) -> Response[str]:
    tenant = principal(router, Permission.VIEW_SMS)
    if router.current_event.path != "/v1/messages.csv":  # the route's dot matches any character
        raise NotFound(f"no route for GET {router.current_event.path}", "path")
    filters = LogFilters(
        status, created_from, created_to, phone_number, entity_id, entity_type, job_id, trigger
    )
    export = services().sent_messages.export(tenant.tenant_id, filters.query(), cursor, limit)
    headers = {
        "Content-Disposition": 'attachment; filename="messages.csv"',
        "X-Row-Count": str(export.rows),
    }
    if export.next_cursor is not None:
        given = {name: value for name, value in vars(filters).items() if value is not None}
        following = urlencode({**given, "limit": limit, "cursor": export.next_cursor})
        headers["Link"] = f'</v1/messages.csv?{following}>; rel="next"'
        headers["X-Next-Cursor"] = export.next_cursor
    return Response(
        status_code=HTTPStatus.OK.value,
        content_type="text/csv; charset=utf-8",
        body=export.text,
        headers=headers,
    )
