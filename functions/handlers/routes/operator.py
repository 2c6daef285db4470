"""The operator's routes (the 'operator' permission): tenants, pricing, sending numbers, keys, reviews."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from functions.domain.errors import InvalidInput
from functions.domain.phone import from_path
from functions.domain.transport import CodeKind, TransportCode
from functions.domain.values import Flag, Micros, Number, NumberOut, PositiveCount, RequestBody
from functions.handlers.contract import answers
from functions.handlers.routes.common import principal, services
from functions.handlers.routes.configuration import SettingsView, TemplateView, settings_view, template_view
from functions.logic.auth import Permission
from functions.logic.operator import TenantChange, TenantInput
from functions.logic.transport_codes import TransportCodeInput, TransportCodeView

router = Router()
OPERATOR = Permission.OPERATOR
CODE_PATH = Path(max_length=64, description="A 5-6 digit short code, or a US/Canadian number, URL-encoded")


class TenantBody(RequestBody):
    tenant_id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="Lowercase letters, digits, hyphens"
    )
    name: str = Field(min_length=1, max_length=200)
    time_zone: str = "America/New_York"
    price_per_segment_micros: Micros = 8_500
    sending_numbers: list[str] = Field(default_factory=list, description="The first is the default")


class TenantChangeBody(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    price_per_segment_micros: Micros | None = None
    sending_numbers: list[str] | None = None
    default_sending_number: str | None = None


class KeyBody(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    permissions: list[Permission] = Field(min_length=1)


class IssuedKey(BaseModel):
    api_key: str = Field(description="Shown once; only its hash is stored")
    tenant_id: str
    permissions: list[Permission]


class ReviewBody(RequestBody):
    approve: Flag
    note: str | None = Field(default=None, max_length=500)


@router.post(
    "/v1/operator/tenants",
    summary="Create a tenant (SMS starts disabled)",
    responses=answers(HTTPStatus.CREATED, "The tenant", HTTPStatus.CONFLICT),
)
def create_tenant(body: TenantBody) -> Response[SettingsView]:
    principal(router, OPERATOR)
    tenant = services().operator.create_tenant(TenantInput(**body.model_dump()))
    return Response(
        status_code=HTTPStatus.CREATED.value, content_type="application/json", body=settings_view(tenant)
    )


@router.get(
    "/v1/operator/tenants",
    summary="Every tenant",
    responses=answers(HTTPStatus.OK, "Every tenant"),
)
def list_tenants() -> list[SettingsView]:
    principal(router, OPERATOR)
    return [settings_view(tenant) for tenant in services().config.list_tenants()]


@router.patch(
    "/v1/operator/tenants/<tenant_id>",
    summary="Set a tenant's price per segment and sending numbers",
    responses=answers(HTTPStatus.OK, "The tenant as changed", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def change_tenant(tenant_id: str, body: TenantChangeBody) -> SettingsView:
    principal(router, OPERATOR)
    return settings_view(services().operator.change_tenant(tenant_id, TenantChange(**body.model_dump())))


@router.post(
    "/v1/operator/tenants/<tenant_id>/api-keys",
    summary="Issue an API key for a tenant",
    responses=answers(HTTPStatus.CREATED, "The key, shown this once", HTTPStatus.NOT_FOUND),
)
def issue_key(tenant_id: str, body: KeyBody) -> Response[IssuedKey]:
    principal(router, OPERATOR)
    if Permission.OPERATOR in body.permissions:
        raise InvalidInput("permissions", "operator keys are not issued through the API")
    key = services().operator.issue_key(tenant_id, body.name, set(body.permissions))
    issued = IssuedKey(api_key=key, tenant_id=tenant_id, permissions=body.permissions)
    return Response(status_code=HTTPStatus.CREATED.value, content_type="application/json", body=issued)


@router.get(
    "/v1/operator/templates",
    summary="Tenant templates waiting for review",
    responses=answers(HTTPStatus.OK, "The review queue"),
)
def pending_templates() -> list[TemplateView]:
    principal(router, OPERATOR)
    return [template_view(template) for template in services().operator.pending_templates()]


@router.post(
    "/v1/operator/tenants/<tenant_id>/templates/<template_id>/review",
    summary="Approve or reject",
    responses=answers(HTTPStatus.OK, "The template, reviewed", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def review_template(tenant_id: str, template_id: str, body: ReviewBody) -> TemplateView:
    principal(router, OPERATOR)
    return template_view(services().operator.review_template(tenant_id, template_id, body.approve, body.note))


class TransportCodeBody(RequestBody):
    kind: CodeKind | None = Field(default=None, description="Default: read from the number")
    parts_per_second: Number | None = Field(
        default=None, gt=0, le=10_000, decimal_places=3, description="Default: the kind's carrier default"
    )
    daily_cap_parts: PositiveCount | None = Field(default=None, description="Parts per UTC day; none: no cap")
    opt_out_scope: str = Field(default="global", description="'global' or 'dnc:<group>'")
    tenant_ids: list[str] | None = Field(
        default=None, description="When given, exactly the tenants this number serves"
    )


class TransportCodeOut(BaseModel):
    number: str
    kind: CodeKind
    parts_per_second: NumberOut
    daily_cap_parts: int | None
    opt_out_scope: str
    tenant_ids: list[str]
    default_for: list[str] = Field(description="Tenants whose default sending number this is")


def _code_out(view: TransportCodeView) -> TransportCodeOut:
    code: TransportCode = view.code
    return TransportCodeOut(**code.model_dump(), tenant_ids=view.tenant_ids, default_for=view.default_for)


@router.get(
    "/v1/operator/transport-codes",
    summary="The transport code registry",
    responses=answers(HTTPStatus.OK, "Every transport code"),
)
def list_codes() -> list[TransportCodeOut]:
    principal(router, OPERATOR)
    return [_code_out(view) for view in services().transport_codes.all()]


@router.get(
    "/v1/operator/transport-codes/<number>",
    summary="One transport code",
    responses=answers(HTTPStatus.OK, "The transport code", HTTPStatus.NOT_FOUND),
)
def get_code(number: Annotated[str, CODE_PATH]) -> TransportCodeOut:
    principal(router, OPERATOR)
    return _code_out(services().transport_codes.get(from_path(number)))


@router.put(
    "/v1/operator/transport-codes/<number>",
    summary="Register or change a transport code",
    responses=answers(HTTPStatus.OK, "The transport code", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def put_code(number: Annotated[str, CODE_PATH], body: TransportCodeBody) -> TransportCodeOut:
    principal(router, OPERATOR)
    view = services().transport_codes.put(from_path(number), TransportCodeInput(**body.model_dump()))
    return _code_out(view)


@router.delete(
    "/v1/operator/transport-codes/<number>",
    summary="Remove a transport code no tenant uses",
    responses=answers(
        HTTPStatus.NO_CONTENT, "Removed", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, content={}
    ),
)
def delete_code(number: Annotated[str, CODE_PATH]) -> Response[None]:
    principal(router, OPERATOR)
    services().transport_codes.delete(from_path(number))
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body=None)
