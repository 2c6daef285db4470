"""The tenant's delivery status callback and its delivery log."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from functions.dal.callbacks import DeliveryAttempt
from functions.domain.values import RequestBody
from functions.handlers.contract import answers
from functions.handlers.routes.common import principal, services
from functions.logic.auth import Permission

router = Router()
MANAGE = Permission.MANAGE_CONFIGURATION


class CallbackBody(RequestBody):
    url: str = Field(min_length=1, max_length=2000, description="https URL to a public host")


class CallbackView(BaseModel):
    url: str
    created_at: datetime
    secret: str | None = Field(default=None, description="Shown once, in the answer that set it")


class AttemptPage(BaseModel):
    items: list[DeliveryAttempt]
    next_cursor: str | None


@router.put(
    "/v1/status-callback",
    summary="Post every status change of the tenant's messages to this URL, signed with a new secret",
    responses=answers(HTTPStatus.OK, "The callback and its secret, shown this once"),
)
def put_status_callback(body: CallbackBody) -> CallbackView:
    tenant = principal(router, MANAGE)
    callback = services().status_callbacks.register(tenant.tenant_id, body.url)
    return CallbackView(url=callback.url, created_at=callback.created_at, secret=callback.secret)


@router.get(
    "/v1/status-callback",
    summary="The tenant's status callback (its secret is shown only when set)",
    responses=answers(HTTPStatus.OK, "The callback", HTTPStatus.NOT_FOUND),
)
def get_status_callback() -> CallbackView:
    tenant = principal(router, MANAGE)
    callback = services().status_callbacks.get(tenant.tenant_id)
    return CallbackView(url=callback.url, created_at=callback.created_at)


@router.delete(
    "/v1/status-callback",
    summary="Stop posting status changes",
    responses=answers(HTTPStatus.NO_CONTENT, "Removed", HTTPStatus.NOT_FOUND, content={}),
)
def delete_status_callback() -> Response[str]:
    tenant = principal(router, MANAGE)
    services().status_callbacks.remove(tenant.tenant_id)
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")


@router.get(
    "/v1/status-callback/deliveries",
    summary="The status callback's delivery attempts, newest first: outcome, HTTP status, the answer",
    responses=answers(HTTPStatus.OK, "A page of attempts"),
)
def list_deliveries(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> AttemptPage:
    tenant = principal(router, MANAGE)
    items, next_cursor = services().status_callbacks.attempts(tenant.tenant_id, limit, cursor)
    return AttemptPage(items=items, next_cursor=next_cursor)
