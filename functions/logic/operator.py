"""The operator's side: tenants, their price and sending numbers, API keys, template approval."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from functions.dal.config import AlreadyExists, ConfigTable
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.messages import utc_now
from functions.domain.tenants import TemplateStatus, Tenant, TenantTemplate
from functions.domain.transport import normalize_code_number
from functions.domain.values import time_zone_name
from functions.logic.auth import Authenticator, Permission
from functions.logic.transport_codes import TransportCodes


class TenantInput(BaseModel):
    tenant_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str
    time_zone: str = "America/New_York"
    price_per_segment_micros: int = Field(default=8_500, ge=0)
    sending_numbers: list[str] = Field(default_factory=list)


class TenantChange(BaseModel):
    name: str | None = None
    price_per_segment_micros: int | None = Field(default=None, ge=0)
    sending_numbers: list[str] | None = None
    default_sending_number: str | None = None


class Operator:
    def __init__(
        self, config: ConfigTable, authenticator: Authenticator, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._config = config
        self._authenticator = authenticator
        self._clock = clock

    def create_tenant(self, data: TenantInput) -> Tenant:
        time_zone_name(data.time_zone)
        numbers = _sending_numbers(data.sending_numbers)
        tenant = Tenant(
            tenant_id=data.tenant_id,
            name=data.name,
            time_zone=data.time_zone,
            price_per_segment_micros=data.price_per_segment_micros,
            sending_numbers=numbers,
            default_sending_number=numbers[0] if numbers else None,
        )
        try:
            self._config.create_tenant(tenant)
        except AlreadyExists as error:
            raise Refused(
                "tenant_exists", f"tenant '{data.tenant_id}' already exists", "tenant_id"
            ) from error
        TransportCodes(self._config).register_defaults(numbers)
        return tenant

    def change_tenant(self, tenant_id: str, change: TenantChange) -> Tenant:
        if self._config.get_tenant(tenant_id) is None:
            raise NotFound(f"tenant '{tenant_id}' does not exist", "tenant_id")
        updates = change.model_dump(exclude_none=True)
        if change.sending_numbers is not None:
            updates["sending_numbers"] = _sending_numbers(change.sending_numbers)
        if change.default_sending_number is not None:
            updates["default_sending_number"] = normalize_code_number(
                change.default_sending_number, "default_sending_number"
            )

        def apply(tenant: Tenant) -> Tenant:
            updated = tenant.model_copy(update=updates)
            if updated.default_sending_number not in {None, *updated.sending_numbers}:
                raise InvalidInput("default_sending_number", "the default must be one of the sending numbers")
            return updated

        updated = self._config.update_tenant(tenant_id, apply)
        TransportCodes(self._config).register_defaults(updated.sending_numbers)
        return updated

    def issue_key(self, tenant_id: str, name: str, permissions: set[Permission]) -> str:
        if self._config.get_tenant(tenant_id) is None:
            raise NotFound(f"tenant '{tenant_id}' does not exist", "tenant_id")
        return self._authenticator.issue(tenant_id, name, permissions)

    def review_template(
        self, tenant_id: str, template_id: str, approve: bool, note: str | None
    ) -> TenantTemplate:
        template = self._config.get_template(tenant_id, template_id)
        if template is None:
            raise NotFound(f"template '{template_id}' does not exist", "template_id")
        if template.status is not TemplateStatus.PENDING:
            raise Refused("already_reviewed", f"the template is already {template.status.value}")
        reviewed = template.model_copy(
            update={
                "status": TemplateStatus.APPROVED if approve else TemplateStatus.REJECTED,
                "reviewed_at": self._clock(),
                "review_note": note,
            }
        )
        self._config.put_template(reviewed)
        return reviewed

    def pending_templates(self) -> list[TenantTemplate]:
        return self._config.pending_templates()


def _sending_numbers(raw: list[str]) -> list[str]:
    return [normalize_code_number(number, f"sending_numbers.{i}") for i, number in enumerate(raw)]
