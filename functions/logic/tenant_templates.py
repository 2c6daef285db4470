"""Tenant-authored templates (calling-list style): written by a tenant, sendable once approved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from functions.dal.config import ConfigTable
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.messages import new_id, utc_now
from functions.domain.templates import PLACEHOLDER, Direction, MessageKind, Template, VariableType
from functions.domain.tenants import TemplateStatus, TenantTemplate
from functions.logic.compose import Composed, Composer, Recipients, Sender


class TemplateInput(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=1_000)
    variables: dict[str, VariableType] = Field(default_factory=dict)
    direction: Direction = Direction.LTR


def as_template(template: TenantTemplate) -> Template:
    return Template(
        key=f"tenant:{template.template_id}",
        version=1,
        name=template.name,
        kind=MessageKind.TENANT,
        text=template.text,
        variables=template.variables,
        direction=template.direction,
    )


class TenantTemplates:
    def __init__(
        self, config: ConfigTable, composer: Composer, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._config = config
        self._composer = composer
        self._clock = clock

    def submit(self, tenant_id: str, data: TemplateInput) -> TenantTemplate:
        template = TenantTemplate(
            template_id=new_id("tpl"),
            tenant_id=tenant_id,
            name=data.name,
            text=data.text,
            variables=data.variables,
            direction=data.direction,
            created_at=self._clock(),
        )
        try:
            as_template(template)  # the placeholders must match the declared variables
        except ValidationError as error:
            raise InvalidInput(
                "text", "the text's {{placeholders}} must be exactly the declared variables"
            ) from error
        excess = self._composer.limits.excess(PLACEHOLDER.sub("", data.text))
        if excess is not None:  # too long even with every variable empty and no signature
            raise InvalidInput("text", f"without its variables and signature, {excess}")
        self._config.put_template(template)
        return template

    def get(self, tenant_id: str, template_id: str) -> TenantTemplate:
        template = self._config.get_template(tenant_id, template_id)
        if template is None:
            raise NotFound(f"template '{template_id}' does not exist", "template_id")
        return template

    def send(
        self,
        tenant_id: str,
        template_id: str,
        variables: dict[str, Any],
        recipients: Recipients,
        sender: Sender,
    ) -> Composed:
        tenant = self._composer.enabled_tenant(tenant_id)
        template = self.get(tenant_id, template_id)
        if template.status is not TemplateStatus.APPROVED:
            raise Refused(
                "template_not_approved",
                f"the template is {template.status.value}, not approved by the operator",
            )
        return self._composer.compose_and_record(tenant, as_template(template), variables, recipients, sender)
