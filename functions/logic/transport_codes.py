"""The operator's transport code registry: each number's kind, throughput, cap, opt-out scope, tenants."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from pydantic import BaseModel

from functions.dal.config import AlreadyExists, ConfigTable
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.tenants import Tenant
from functions.domain.transport import (
    DEFAULT_PARTS_PER_SECOND,
    GLOBAL_SCOPE,
    CodeKind,
    TransportCode,
    checked_kind,
    default_code,
    normalize_code_number,
    validate_scope,
)


class TransportCodeInput(BaseModel):
    kind: CodeKind | None = None  # read from the number; when given, it must agree
    parts_per_second: Decimal | None = None  # default: the kind's carrier default
    daily_cap_parts: int | None = None
    opt_out_scope: str = GLOBAL_SCOPE
    tenant_ids: list[str] | None = None  # when given: exactly the tenants this number serves


class TransportCodeView(BaseModel):
    code: TransportCode
    tenant_ids: list[str]
    default_for: list[str]


class TransportCodes:
    def __init__(self, config: ConfigTable) -> None:
        self._config = config

    def put(self, raw_number: str, data: TransportCodeInput) -> TransportCodeView:
        number = normalize_code_number(raw_number, "number")
        kind = checked_kind(number, data.kind)
        code = TransportCode(
            number=number,
            kind=kind,
            parts_per_second=data.parts_per_second or DEFAULT_PARTS_PER_SECOND[kind],
            daily_cap_parts=data.daily_cap_parts,
            opt_out_scope=validate_scope(data.opt_out_scope, "opt_out_scope"),
        )
        tenants = self._config.list_tenants()
        if data.tenant_ids is not None:
            known = {tenant.tenant_id for tenant in tenants}
            for index, tenant_id in enumerate(data.tenant_ids):
                if tenant_id not in known:
                    raise InvalidInput(f"tenant_ids.{index}", f"tenant '{tenant_id}' does not exist")
        self._config.put_transport_code(code)
        if data.tenant_ids is not None:
            tenants = self._serve_exactly(number, set(data.tenant_ids), tenants)
        return _view(code, tenants)

    def get(self, raw_number: str) -> TransportCodeView:
        number = normalize_code_number(raw_number, "number")
        code = self._config.get_transport_code(number)
        if code is None:
            raise NotFound(f"transport code '{number}' is not registered", "number")
        return _view(code, self._config.list_tenants())

    def all(self) -> list[TransportCodeView]:
        tenants = self._config.list_tenants()
        return [_view(code, tenants) for code in self._config.list_transport_codes()]

    def delete(self, raw_number: str) -> None:
        view = self.get(raw_number)
        if view.tenant_ids:
            raise Refused("in_use", f"{view.code.number} still serves {', '.join(view.tenant_ids)}", "number")
        self._config.delete_transport_code(view.code.number)

    def register_defaults(self, numbers: list[str]) -> None:
        """A number given to a tenant before the operator described it gets its kind's defaults."""
        for number in numbers:
            with contextlib.suppress(AlreadyExists):
                self._config.put_transport_code(default_code(number), create_only=True)

    def _serve_exactly(self, number: str, tenant_ids: set[str], tenants: list[Tenant]) -> list[Tenant]:
        def serve(tenant: Tenant) -> Tenant:
            numbers = [n for n in tenant.sending_numbers if n != number]
            if tenant.tenant_id in tenant_ids:
                numbers.append(number)
            default = tenant.default_sending_number
            if default not in numbers:
                default = numbers[0] if numbers else None
            return tenant.model_copy(update={"sending_numbers": numbers, "default_sending_number": default})

        updated = []
        for tenant in tenants:
            serves = number in tenant.sending_numbers
            if serves != (tenant.tenant_id in tenant_ids):
                tenant = self._config.update_tenant(tenant.tenant_id, serve)
            updated.append(tenant)
        return updated


def _view(code: TransportCode, tenants: list[Tenant]) -> TransportCodeView:
    return TransportCodeView(
        code=code,
        tenant_ids=sorted(t.tenant_id for t in tenants if code.number in t.sending_numbers),
        default_for=sorted(t.tenant_id for t in tenants if t.default_sending_number == code.number),
    )
