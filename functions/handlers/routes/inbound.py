"""Inbound: the opt-out list, recipients' replies, the tenant's reply webhook, carriers' signed webhooks."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel, Field

from functions.dal.inbound import InvalidCursor
from functions.domain.errors import InvalidInput, NotFound
from functions.domain.inbound import InboundRecord, ReplyWebhook
from functions.domain.keywords import KeywordFamily
from functions.domain.messages import utc_now
from functions.domain.phone import from_path
from functions.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from functions.domain.values import RequestBody, VisibleText
from functions.handlers.contract import PUBLIC, answers
from functions.handlers.routes.common import principal, services
from functions.integrations.outbound_url import parse_outbound_url
from functions.logic.auth import Permission, Principal
from functions.logic.opt_out_list import Caller, NumberStatus, ShownChange, ShownOptOut
from functions.public_routes import CARRIER_WEBHOOK_PATH

router = Router()
MANAGE = Permission.MANAGE_CONFIGURATION
# A number in the path: any US/Canadian form, percent-encoded or not (functions.domain.phone.from_path).
NUMBER_PATH = Path(max_length=64, description="A US or Canadian number in any common form, URL-encoded")
SCOPE_QUERY = Query(
    max_length=70, description="'global' or 'dnc:<group>'; default: the scope of the default sending number"
)


# An opt-out (or audit line) that came through another tenant shows no actor, tenant_id or note.
OptOutView = ShownOptOut
OptOutChangeView = ShownChange


class OptOutPage(BaseModel):
    scope: str
    items: list[OptOutView]
    next_cursor: str | None


class NumberStatusView(BaseModel):
    phone_number: str
    scope: str
    opted_out: bool
    opt_out: OptOutView | None
    history: list[OptOutChangeView]


class OptOutBody(RequestBody):
    scope: str | None = Field(default=None, max_length=70, description="Default: the default number's scope")
    note: str | None = Field(default=None, max_length=500, description="Why, for the audit trail")


class ReplyView(BaseModel):
    id: str
    from_number: str
    to_number: str
    body: str
    received_at: datetime
    keyword: KeywordFamily
    matched: str | None
    message_id: str | None
    opt_out_scope: str | None
    webhook: str | None


class ReplyPage(BaseModel):
    items: list[ReplyView]
    next_cursor: str | None


class WebhookBody(RequestBody):
    url: str = Field(max_length=2000, description="https URL; replies are POSTed there, signed")


class WebhookView(BaseModel):
    url: str
    created_at: datetime
    secret: str | None = Field(
        default=None,
        description=f"Shown once: verify {SIGNATURE_HEADER} = HMAC-SHA256(secret, timestamp.body)",
    )


class Accepted(BaseModel):
    id: str


def caller(found: Principal) -> Caller:
    return Caller(
        tenant_id=found.tenant_id,
        key_name=found.key_name or "unnamed key",
        operator=Permission.OPERATOR in found.permissions,
    )


def status_view(status: NumberStatus) -> NumberStatusView:
    return NumberStatusView(
        phone_number=status.phone_number,
        scope=status.scope,
        opted_out=status.opt_out is not None,
        opt_out=status.opt_out,
        history=status.history,
    )


def reply_view(record: InboundRecord) -> ReplyView:
    return ReplyView(id=record.inbound_key, **record.model_dump(exclude={"inbound_key"}))


# ---- the opt-out list ----


@router.get(
    "/v1/opt-outs",
    summary="The opted-out numbers of one opt-out scope",
    responses=answers(
        HTTPStatus.OK, "A page of the scope's opt-outs", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
    ),
)
def list_opt_outs(
    scope: Annotated[str | None, SCOPE_QUERY] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> OptOutPage:
    found = principal(router, MANAGE, Permission.OPERATOR)
    chosen, items, next_cursor = services().opt_out_list.page(caller(found), scope, limit, cursor)
    return OptOutPage(scope=chosen, items=items, next_cursor=next_cursor)


@router.get(
    "/v1/opt-outs/<number>",
    summary="Whether a number is opted out, and who changed it when",
    responses=answers(
        HTTPStatus.OK, "The number's status and audit trail", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
    ),
)
def get_opt_out(
    number: Annotated[str, NUMBER_PATH], scope: Annotated[str | None, SCOPE_QUERY] = None
) -> NumberStatusView:
    found = principal(router, MANAGE, Permission.OPERATOR)
    return status_view(services().opt_out_list.status(caller(found), from_path(number), scope))


@router.put(
    "/v1/opt-outs/<number>",
    summary="Opt a number out (recorded with this key's name)",
    responses=answers(
        HTTPStatus.CREATED,
        "Opted out now",
        HTTPStatus.NOT_FOUND,
        HTTPStatus.CONFLICT,
        also={HTTPStatus.OK: "It was opted out already"},
    ),
)
def add_opt_out(number: Annotated[str, NUMBER_PATH], body: OptOutBody) -> Response[NumberStatusView]:
    found = principal(router, MANAGE, Permission.OPERATOR)
    added, status = services().opt_out_list.add(caller(found), from_path(number), body.scope, body.note)
    code = HTTPStatus.CREATED if added else HTTPStatus.OK
    return Response(status_code=code.value, content_type="application/json", body=status_view(status))


@router.delete(
    "/v1/opt-outs/<number>",
    summary="Remove a number's opt-out (one that came through this tenant)",
    responses=answers(
        HTTPStatus.OK, "The number's status, no longer opted out", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
    ),
)
def remove_opt_out(
    number: Annotated[str, NUMBER_PATH],
    scope: Annotated[str | None, SCOPE_QUERY] = None,
    note: Annotated[VisibleText | None, Query(max_length=500)] = None,
) -> NumberStatusView:
    found = principal(router, MANAGE, Permission.OPERATOR)
    return status_view(services().opt_out_list.remove(caller(found), from_path(number), scope, note))


# ---- replies and the reply webhook ----


@router.get(
    "/v1/replies",
    summary="What recipients sent to the tenant's numbers, newest first",
    responses=answers(HTTPStatus.OK, "A page of replies"),
)
def list_replies(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ReplyPage:
    tenant = principal(router, Permission.VIEW_SMS)
    try:
        records, next_cursor = services().inbound.records(tenant.tenant_id, limit, cursor)
    except InvalidCursor as error:
        raise InvalidInput("cursor", "the cursor is not one this API returned") from error
    return ReplyPage(items=[reply_view(record) for record in records], next_cursor=next_cursor)


@router.put(
    "/v1/reply-webhook",
    summary="Post every reply to this URL, signed with a new secret",
    responses=answers(HTTPStatus.OK, "The webhook and its secret, shown this once"),
)
def put_reply_webhook(body: WebhookBody) -> WebhookView:
    tenant = principal(router, MANAGE)
    url = parse_outbound_url(body.url, services().settings.allow_loopback_webhooks, "url")
    webhook = ReplyWebhook(url=url.url, secret="whsec_" + secrets.token_urlsafe(32), created_at=utc_now())
    services().inbound.put_webhook(tenant.tenant_id, webhook)
    return WebhookView(url=webhook.url, created_at=webhook.created_at, secret=webhook.secret)


@router.get(
    "/v1/reply-webhook",
    summary="The tenant's reply webhook (its secret is shown only when set)",
    responses=answers(HTTPStatus.OK, "The webhook", HTTPStatus.NOT_FOUND),
)
def get_reply_webhook() -> WebhookView:
    tenant = principal(router, MANAGE)
    webhook = services().inbound.get_webhook(tenant.tenant_id)
    if webhook is None:
        raise NotFound("no reply webhook is registered", "url")
    return WebhookView(url=webhook.url, created_at=webhook.created_at)


@router.delete(
    "/v1/reply-webhook",
    summary="Stop posting replies",
    responses=answers(HTTPStatus.NO_CONTENT, "Removed", HTTPStatus.NOT_FOUND, content={}),
)
def delete_reply_webhook() -> Response[str]:
    tenant = principal(router, MANAGE)
    if not services().inbound.delete_webhook(tenant.tenant_id):
        raise NotFound("no reply webhook is registered", "url")
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")


# ---- carriers' signed webhooks (public: the signature is the authentication) ----


@router.post(
    CARRIER_WEBHOOK_PATH.replace("{carrier}", "<carrier>"),
    summary="A carrier posts an inbound message (signed; no API key)",
    description=(
        f"Body {{from, to, body, message_id, in_reply_to?}}; {TIMESTAMP_HEADER}: Unix seconds; "
        f"{SIGNATURE_HEADER}: hex HMAC-SHA256 over '<timestamp>.<body>' with the shared secret. "
        "Unsigned, wrongly signed or stale (over 5 minutes) requests are refused with 401."
    ),
    responses=answers(
        HTTPStatus.ACCEPTED,
        "Queued for the inbound function",
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.NOT_FOUND,
        HTTPStatus.SERVICE_UNAVAILABLE,
        public=True,
    ),
    security=PUBLIC,
)
def carrier_inbound(carrier: Annotated[str, Path(max_length=32)]) -> Response[Accepted]:
    event: APIGatewayProxyEventV2 = router.current_event  # type: ignore[assignment]
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    key = services().carrier_webhook.accept(
        carrier, body, headers.get(TIMESTAMP_HEADER.lower()), headers.get(SIGNATURE_HEADER.lower())
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED.value, content_type="application/json", body=Accepted(id=key)
    )
