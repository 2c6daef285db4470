"""The HTTP API: thin routes over the use cases; an OpenAPI document at GET /v1/openapi.json."""

from __future__ import annotations

import functools
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.dal.config import ConfigTable
from functions.dal.messages import InvalidCursor, MessagesTable
from functions.dal.send_queue import SendQueue
from functions.domain.errors import Forbidden, InvalidInput, NotFound, PlatformError, Unauthorized
from functions.domain.messages import Message, MessageStatus, RejectReason, StatusChange
from functions.domain.segments import Encoding
from functions.handlers import problems
from functions.logic.auth import Permission, Principal
from functions.logic.triggers import TriggeredMessages, TriggerRequest
from functions.observability import logger, metrics, tracer
from functions.public_routes import OPENAPI_PATH
from functions.settings import ApiSettings

API_TITLE = "Outbound SMS"
API_VERSION = "1.0.0"

app = APIGatewayHttpResolver(enable_validation=True)


def unsupported_media(event: dict[str, Any]) -> dict[str, Any] | None:
    """A body must be JSON. Checked before routing: validation would otherwise parse a form body."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "application/json")
    if not event.get("body") or content_type.split(";")[0].strip().lower() == "application/json":
        return None
    return problems.as_proxy_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "Unsupported media type",
        f"send the body as application/json, not {content_type}",
        field="content-type",
    )


class Services:
    def __init__(self, settings: ApiSettings) -> None:
        dynamodb = boto3.resource("dynamodb")
        self.config = ConfigTable(dynamodb.Table(settings.config_table))
        self.messages = MessagesTable(dynamodb.Table(settings.messages_table))
        send_queue = SendQueue(boto3.client("sqs"), settings.send_queue_url)
        self.triggers = TriggeredMessages(self.config, self.messages, send_queue)


@functools.cache
def services() -> Services:
    return Services(ApiSettings.from_env())


def principal(required: Permission) -> Principal:
    context = app.current_event.request_context.authorizer.get_lambda or {}
    found = Principal.from_context(context)
    if found is None:
        raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
    if required not in found.permissions:
        raise Forbidden(f"the API key lacks the '{required.value}' permission")
    return found


# ---- API models (the API's own shapes, mapped explicitly from the domain) ----


class TriggerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: str = Field(min_length=1, max_length=100, description="The contact to message")
    phone_number: str | None = Field(
        default=None,
        description="One of the contact's numbers; default: its first SMS-capable opted-in number",
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="The trigger's template variables")
    signature_id: str | None = Field(
        default=None, description="Default: the tenant's triggered-message default"
    )


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
    related_entity: str
    phone_number: str
    trigger: str | None
    saved_message: str
    body: str
    encoding: Encoding
    segments: int
    price_micros: int
    history: list[StatusChangeView]


class MessagePage(BaseModel):
    items: list[MessageView]
    next_cursor: str | None


def to_view(message: Message) -> MessageView:
    return MessageView(
        id=message.message_id,
        status=message.status,
        reject_reason=message.reject_reason,
        created_at=message.created_at,
        recipient_name=message.recipient.name,
        contact_type=message.recipient.contact_type,
        related_entity=message.recipient.related_entity_name,
        phone_number=message.recipient.phone_number,
        trigger=message.trigger,
        saved_message=f"{message.template_key}@v{message.template_version}",
        body=message.body,
        encoding=message.encoding,
        segments=message.segments,
        price_micros=message.price_micros,
        history=[_history_view(change) for change in message.history],
    )


def _history_view(change: StatusChange) -> StatusChangeView:
    return StatusChangeView(status=change.status, at=change.at, reason=change.reason, detail=change.detail)


# ---- routes ----


@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_document() -> Response[str]:
    document = app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION)
    return Response(status_code=200, content_type="application/json", body=document)


@app.post(
    "/v1/triggers/<trigger>", summary="Send a triggered message", responses={202: {"description": "Queued"}}
)
def send_triggered(
    trigger: Annotated[str, Path(description="A registered trigger, e.g. invoice_created")], body: TriggerBody
) -> Response[MessageView]:
    tenant = principal(Permission.CREATE_SMS)
    request = TriggerRequest(trigger=trigger, **body.model_dump())
    message = services().triggers.send(tenant.tenant_id, request)
    metrics.add_metric(name="TriggeredMessagesAccepted", unit="Count", value=1)
    return Response(
        status_code=HTTPStatus.ACCEPTED.value, content_type="application/json", body=to_view(message)
    )


@app.get("/v1/messages/<message_id>", summary="One message, its body as sent and its status history")
def get_message(message_id: str) -> MessageView:
    tenant = principal(Permission.VIEW_SMS)
    message = services().messages.get(message_id)
    # Another tenant's message is indistinguishable from a missing one.
    if message is None or message.tenant_id != tenant.tenant_id:
        raise NotFound(f"message '{message_id}' does not exist", "message_id")
    return to_view(message)


@app.get("/v1/messages", summary="The sent-messages log, newest first")
def list_messages(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> MessagePage:
    tenant = principal(Permission.VIEW_SMS)
    try:
        items, next_cursor = services().messages.list_for_tenant(tenant.tenant_id, limit, cursor)
    except InvalidCursor as error:
        raise InvalidInput("cursor", "the cursor is not one this API returned") from error
    return MessagePage(items=[to_view(message) for message in items], next_cursor=next_cursor)


# ---- errors ----


@app.exception_handler(PlatformError)
def handle_platform_error(error: PlatformError) -> Response[Any]:
    return problems.from_platform_error(error)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response[Any]:
    return problems.from_validation_error(error)


@app.not_found
def handle_not_found(_: NotFoundError) -> Response[Any]:
    event = app.current_event
    return problems.problem(
        HTTPStatus.NOT_FOUND, "Not found", f"no route for {event.http_method} {event.path}", field="path"
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unsupported_media(event) or app.resolve(event, context)
