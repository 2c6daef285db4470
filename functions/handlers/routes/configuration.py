"""A tenant's configuration (the 'config:manage' permission)."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, EmailStr, Field

from functions.domain.errors import NotFound
from functions.domain.signatures import SignatureText
from functions.domain.templates import Direction, VariableType
from functions.domain.tenants import (
    Company,
    Contact,
    Department,
    EntityType,
    TemplateStatus,
    Tenant,
    TenantTemplate,
)
from functions.domain.values import Flag, RequestBody, VisibleText
from functions.domain.windows import QuietHours
from functions.handlers.contract import answers
from functions.handlers.routes.common import principal, services
from functions.logic.auth import Permission
from functions.logic.configuration import (
    ContactInput,
    ContactSearch,
    PhoneInput,
    SettingsChange,
    SignatureInput,
)
from functions.logic.tenant_templates import TemplateInput

router = Router()
MANAGE = Permission.MANAGE_CONFIGURATION


class SettingsView(BaseModel):
    tenant_id: str
    name: str
    sms_enabled: bool
    time_zone: str
    price_per_segment_micros: int
    sending_numbers: list[str]
    default_sending_number: str | None
    default_mass_signature_id: str | None
    default_triggered_signature_id: str | None
    phone_number_types: dict[str, bool]
    quiet_hours: QuietHours | None
    hold_mass_messages: bool
    recipient_local_window: bool
    smart_encoding: bool
    three_a_day_rule: bool


class QuietHoursBody(RequestBody):
    start: str = Field(description="HH:MM (24-hour) in the system time zone, e.g. 21:00")
    end: str = Field(description="HH:MM; before start when the quiet hours cross midnight, e.g. 08:00")


class SettingsBody(RequestBody):
    sms_enabled: Flag | None = Field(default=None, description="The SMS feature toggle")
    time_zone: str | None = Field(
        default=None, description="The system time zone (IANA), e.g. America/Toronto"
    )
    quiet_hours: QuietHoursBody | None = Field(
        default=None, description="Triggered messages created inside them wait until they end; null: none"
    )
    hold_mass_messages: Flag | None = Field(
        default=None, description="Mass messages and calling lists wait out the quiet hours too"
    )
    recipient_local_window: Flag | None = Field(
        default=None,
        description="Every message waits for the recipient's local calling window (08:00-21:00, "
        "08:00-20:00 in FL, OK, MD, WA, 09:00-20:00 in CT, 09:00-21:00 in TX and 12:00-21:00 there on "
        "Sundays), in every time zone of its area code",
    )
    smart_encoding: Flag | None = Field(
        default=None,
        description="Replace look-alike characters (curly quotes, dashes, ellipsis, special spaces) by "
        "GSM-7 ones when that makes a message GSM-7 and no longer, before it is counted and priced",
    )
    three_a_day_rule: Flag | None = Field(
        default=None,
        description="At most three messages on one subject (saved message or template) in 24 hours to a "
        "number in FL, OK or MD: a triggered message waits, a mass message or calling list leaves the "
        "number out",
    )


class PhoneNumberTypeBody(RequestBody):
    sms_capable: Flag


class CompanyBody(RequestBody):
    name: str = Field(min_length=1, max_length=200)


class DepartmentBody(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    phone_number: str = Field(description="Substituted for |DEPARTMENT_PHONE_NUMBER| in signatures")
    email: EmailStr = Field(description="Substituted for |DEPARTMENT_EMAIL| in signatures")
    company_id: str | None = None


class SignatureBody(RequestBody):
    name: str = Field(min_length=1, max_length=100, description="Unique within the tenant")
    department_id: str
    text: SignatureText = Field(description="One of the six registered signature texts")
    default_for_mass: Flag = False
    default_for_triggered: Flag = False


class SignatureView(BaseModel):
    id: str
    name: str
    department_id: str
    text: SignatureText
    default_for_mass: bool
    default_for_triggered: bool


class PhoneBody(RequestBody):
    number: str = Field(description="A US or Canadian number, any common format")
    number_type: str = Field(description="One of the tenant's phone number types")
    sms_opt_in: Flag = False


class ContactBody(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    contact_type: str = Field(min_length=1, max_length=100, description="e.g. Billing, Technical, Primary")
    related_entity_type: EntityType = EntityType.ACCOUNT
    related_entity_id: str = Field(min_length=1, max_length=100)
    related_entity_name: str = Field(min_length=1, max_length=200)
    phones: list[PhoneBody] = Field(default_factory=list, max_length=20)


class PhoneView(BaseModel):
    number: str
    number_type: str
    sms_capable: bool
    sms_opt_in: bool


class ContactView(BaseModel):
    id: str
    name: str
    contact_type: str
    related_entity_type: EntityType
    related_entity_id: str
    related_entity_name: str
    phones: list[PhoneView]


class OptInBody(RequestBody):
    phone_number: str
    opted_in: Flag


class TemplateBody(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=1000, description="With {{variable}} placeholders")
    variables: dict[str, VariableType] = Field(default_factory=dict)
    direction: Direction = Direction.LTR


class TemplateView(BaseModel):
    id: str
    tenant_id: str
    name: str
    text: str
    variables: dict[str, VariableType]
    direction: Direction
    status: TemplateStatus
    created_at: datetime
    reviewed_at: datetime | None
    review_note: str | None


def settings_view(tenant: Tenant) -> SettingsView:
    return SettingsView.model_validate(tenant.model_dump())


def signature_view(
    tenant: Tenant, signature_id: str, name: str, department_id: str, text: SignatureText
) -> SignatureView:
    return SignatureView(
        id=signature_id,
        name=name,
        department_id=department_id,
        text=text,
        default_for_mass=tenant.default_mass_signature_id == signature_id,
        default_for_triggered=tenant.default_triggered_signature_id == signature_id,
    )


def contact_view(tenant: Tenant, contact: Contact) -> ContactView:
    return ContactView(
        id=contact.contact_id,
        name=contact.name,
        contact_type=contact.contact_type,
        related_entity_type=contact.related_entity_type,
        related_entity_id=contact.related_entity_id,
        related_entity_name=contact.related_entity_name,
        phones=[
            PhoneView(
                number=phone.number,
                number_type=phone.number_type,
                sms_capable=tenant.phone_number_types.get(phone.number_type, False),
                sms_opt_in=phone.sms_opt_in,
            )
            for phone in contact.phones
        ],
    )


def template_view(template: TenantTemplate) -> TemplateView:
    return TemplateView(id=template.template_id, **template.model_dump(exclude={"template_id"}))


def created(body: BaseModel) -> Response[BaseModel]:
    return Response(status_code=HTTPStatus.CREATED.value, content_type="application/json", body=body)


# ---- settings and phone number types ----


@router.get(
    "/v1/settings",
    summary="The tenant's SMS settings",
    responses=answers(HTTPStatus.OK, "The settings"),
)
def get_settings() -> SettingsView:
    tenant = principal(router, MANAGE, Permission.VIEW_SMS)
    return settings_view(services().configuration.tenant(tenant.tenant_id))


@router.patch(
    "/v1/settings",
    summary="Turn SMS on or off, set the system time zone and quiet hours",
    responses=answers(HTTPStatus.OK, "The settings as changed"),
)
def change_settings(body: SettingsBody) -> SettingsView:
    tenant = principal(router, MANAGE)
    change = SettingsChange.model_validate(body.model_dump(exclude_unset=True))
    return settings_view(services().configuration.change_settings(tenant.tenant_id, change))


@router.put(
    "/v1/phone-number-types/<name>",
    summary="Define a phone number type and whether it is SMS-capable",
    responses=answers(HTTPStatus.OK, "The settings with the type"),
)
def put_phone_number_type(
    name: Annotated[str, Path(min_length=1, max_length=50)], body: PhoneNumberTypeBody
) -> SettingsView:
    tenant = principal(router, MANAGE)
    return settings_view(
        services().configuration.set_phone_number_type(tenant.tenant_id, name, body.sms_capable)
    )


# ---- companies and departments ----


@router.post(
    "/v1/companies",
    summary="Add a company",
    responses=answers(HTTPStatus.CREATED, "The company"),
)
def create_company(body: CompanyBody) -> Response[Company]:
    tenant = principal(router, MANAGE)
    return created(services().configuration.create_company(tenant.tenant_id, body.name))  # type: ignore[return-value]


@router.get(
    "/v1/companies",
    summary="The tenant's companies",
    responses=answers(HTTPStatus.OK, "Every company"),
)
def list_companies() -> list[Company]:
    tenant = principal(router, MANAGE)
    return services().config.list_companies(tenant.tenant_id)


@router.post(
    "/v1/departments",
    summary="Add a department (its phone and email go into signatures)",
    responses=answers(HTTPStatus.CREATED, "The department", HTTPStatus.NOT_FOUND),
)
def create_department(body: DepartmentBody) -> Response[Department]:
    tenant = principal(router, MANAGE)
    department = services().configuration.save_department(
        tenant.tenant_id, body.name, body.phone_number, str(body.email), body.company_id, None
    )
    return created(department)  # type: ignore[return-value]


@router.put(
    "/v1/departments/<department_id>",
    summary="Change a department; the next message shows it",
    responses=answers(HTTPStatus.OK, "The department as changed", HTTPStatus.NOT_FOUND),
)
def update_department(department_id: str, body: DepartmentBody) -> Department:
    tenant = principal(router, MANAGE)
    return services().configuration.save_department(
        tenant.tenant_id, body.name, body.phone_number, str(body.email), body.company_id, department_id
    )


@router.get(
    "/v1/departments",
    summary="The tenant's departments",
    responses=answers(HTTPStatus.OK, "Every department"),
)
def list_departments() -> list[Department]:
    tenant = principal(router, MANAGE)
    return services().config.list_departments(tenant.tenant_id)


# ---- signatures ----


def _signature_response(tenant_id: str, signature_id: str) -> SignatureView:
    config = services().configuration
    signature = services().config.get_signature(tenant_id, signature_id)
    assert signature is not None
    return signature_view(
        config.tenant(tenant_id),
        signature.signature_id,
        signature.name,
        signature.department_id,
        signature.text,
    )


@router.post(
    "/v1/signatures",
    summary="Add a signature (one of the six texts, with a department)",
    responses=answers(HTTPStatus.CREATED, "The signature", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def create_signature(body: SignatureBody) -> Response[SignatureView]:
    tenant = principal(router, MANAGE)
    signature = services().configuration.save_signature(tenant.tenant_id, SignatureInput(**body.model_dump()))
    return created(_signature_response(tenant.tenant_id, signature.signature_id))  # type: ignore[return-value]


@router.put(
    "/v1/signatures/<signature_id>",
    summary="Change a signature or its default flags",
    responses=answers(HTTPStatus.OK, "The signature as changed", HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def update_signature(signature_id: str, body: SignatureBody) -> SignatureView:
    tenant = principal(router, MANAGE)
    services().configuration.save_signature(
        tenant.tenant_id, SignatureInput(**body.model_dump()), signature_id
    )
    return _signature_response(tenant.tenant_id, signature_id)


@router.delete(
    "/v1/signatures/<signature_id>",
    summary="Remove a signature",
    responses=answers(HTTPStatus.NO_CONTENT, "Removed", HTTPStatus.NOT_FOUND, content={}),
)
def delete_signature(signature_id: str) -> Response[None]:
    tenant = principal(router, MANAGE)
    services().configuration.delete_signature(tenant.tenant_id, signature_id)
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body=None)


@router.get(
    "/v1/signatures",
    summary="The tenant's signatures",
    responses=answers(HTTPStatus.OK, "Every signature"),
)
def list_signatures() -> list[SignatureView]:
    tenant = principal(router, MANAGE, Permission.CREATE_SMS)
    settings = services().configuration.tenant(tenant.tenant_id)
    return [
        signature_view(settings, s.signature_id, s.name, s.department_id, s.text)
        for s in services().config.list_signatures(tenant.tenant_id)
    ]


# ---- contacts ----

DEFAULT_FOUND, MAX_FOUND = 50, 100  # a name or number search answers one page, the first by name


def _contact_input(body: ContactBody) -> ContactInput:
    return ContactInput(
        **body.model_dump(exclude={"phones"}),
        phones=[PhoneInput(**phone.model_dump()) for phone in body.phones],
    )


@router.post(
    "/v1/contacts",
    summary="Add a contact of an account or a network site, with its numbers",
    responses=answers(HTTPStatus.CREATED, "The contact"),
)
def create_contact(body: ContactBody) -> Response[ContactView]:
    tenant = principal(router, MANAGE)
    contact = services().configuration.save_contact(tenant.tenant_id, _contact_input(body))
    settings = services().configuration.tenant(tenant.tenant_id)
    return created(contact_view(settings, contact))  # type: ignore[return-value]


@router.put(
    "/v1/contacts/<contact_id>",
    summary="Replace a contact's details and numbers",
    responses=answers(HTTPStatus.OK, "The contact as changed", HTTPStatus.NOT_FOUND),
)
def update_contact(contact_id: str, body: ContactBody) -> ContactView:
    tenant = principal(router, MANAGE)
    contact = services().configuration.save_contact(tenant.tenant_id, _contact_input(body), contact_id)
    return contact_view(services().configuration.tenant(tenant.tenant_id), contact)


@router.get(
    "/v1/contacts",
    summary="Find contacts: of an account or a network site, by phone number, or by name",
    responses=answers(HTTPStatus.OK, "The contacts found"),
)
def list_contacts(
    entity_id: Annotated[
        str | None, Query(min_length=1, max_length=100, description="The account or site id")
    ] = None,
    entity_type: Annotated[EntityType, Query()] = EntityType.ACCOUNT,
    name: Annotated[
        VisibleText | None,
        Query(
            min_length=1,
            max_length=100,
            description="A prefix of the name, or of its family name or any later word; case and "
            "accents do not matter",
        ),
    ] = None,
    phone_number: Annotated[
        str | None, Query(min_length=1, max_length=40, description="One of the contact's numbers, any form")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_FOUND, description="At most this many, by name (name and phone_number)")
    ] = DEFAULT_FOUND,
) -> list[ContactView]:
    tenant = principal(router, MANAGE, Permission.VIEW_SMS)
    settings = services().configuration.tenant(tenant.tenant_id)
    search = ContactSearch(entity_id=entity_id, entity_type=entity_type, name=name, phone_number=phone_number)
    contacts = services().configuration.find_contacts(tenant.tenant_id, search, limit)
    return [contact_view(settings, contact) for contact in contacts]


@router.get(
    "/v1/contacts/<contact_id>",
    summary="One contact",
    responses=answers(HTTPStatus.OK, "The contact", HTTPStatus.NOT_FOUND),
)
def get_contact(contact_id: str) -> ContactView:
    tenant = principal(router, MANAGE, Permission.VIEW_SMS)
    contact = services().config.get_contact(tenant.tenant_id, contact_id)
    if contact is None:
        raise NotFound(f"contact '{contact_id}' does not exist", "contact_id")
    return contact_view(services().configuration.tenant(tenant.tenant_id), contact)


@router.put(
    "/v1/contacts/<contact_id>/sms-opt-in",
    summary="Set or clear one number's SMS opt-in",
    responses=answers(HTTPStatus.OK, "The contact as changed", HTTPStatus.NOT_FOUND),
)
def set_opt_in(contact_id: str, body: OptInBody) -> ContactView:
    tenant = principal(router, MANAGE)
    contact = services().configuration.set_opt_in(
        tenant.tenant_id, contact_id, body.phone_number, body.opted_in
    )
    return contact_view(services().configuration.tenant(tenant.tenant_id), contact)


# ---- tenant templates ----


@router.post(
    "/v1/templates",
    summary="Submit a tenant template; it can be sent once the operator approves it",
    responses=answers(HTTPStatus.CREATED, "The template, pending review"),
)
def submit_template(body: TemplateBody) -> Response[TemplateView]:
    tenant = principal(router, MANAGE)
    template = services().templates.submit(tenant.tenant_id, TemplateInput(**body.model_dump()))
    return created(template_view(template))  # type: ignore[return-value]


@router.get(
    "/v1/templates",
    summary="The tenant's templates and their review status",
    responses=answers(HTTPStatus.OK, "Every template"),
)
def list_templates() -> list[TemplateView]:
    tenant = principal(router, MANAGE, Permission.CREATE_SMS)
    return [template_view(template) for template in services().config.list_templates(tenant.tenant_id)]


@router.get(
    "/v1/templates/<template_id>",
    summary="One tenant template",
    responses=answers(HTTPStatus.OK, "The template", HTTPStatus.NOT_FOUND),
)
def get_template(template_id: str) -> TemplateView:
    tenant = principal(router, MANAGE, Permission.CREATE_SMS)
    return template_view(services().templates.get(tenant.tenant_id, template_id))
