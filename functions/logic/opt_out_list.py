"""The opt-out list API: list, check, add and remove numbers, each change on the audit trail.

A tenant works on the scopes of its sending numbers (the global list, or the DNC group of a number's
registration); the operator on any scope. The global list is a suppression list every tenant must
honour, so every tenant that sends in it sees which numbers are on it, when and by which kind of
source (a keyword, the API, the carrier), as telemarketers read a do-not-call registry. Who did it
is another tenant's business: an opt-out or an audit line that came through another tenant (or the
operator, or no tenant) shows the tenant no actor, tenant or note. The operator sees everything.
A tenant may remove only an opt-out that came through it (its API calls, or a STOP in answer to its
messages): a STOP sent to another tenant, in a shared scope, is not its to undo. The recipient can
always undo an opt-out by replying START.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from functions.dal.config import ConfigTable
from functions.dal.opt_outs import (
    ChangeResult,
    OptOut,
    OptOutAction,
    OptOutChange,
    OptOutSource,
    OptOutsTable,
    scope_key,
    scope_name,
)
from functions.domain.errors import InvalidInput, NotFound, Refused
from functions.domain.messages import new_id, utc_now
from functions.domain.phone import to_e164
from functions.domain.transport import GLOBAL_SCOPE, default_code, validate_scope

MAX_PAGE = 500


@dataclass(frozen=True)
class Caller:
    """Who changes the list: a tenant's key (by its name), or the operator."""

    tenant_id: str
    key_name: str
    operator: bool = False

    def owns(self, tenant_id: str | None) -> bool:
        """Whether a record that came through ``tenant_id`` is this caller's to read whole."""
        return self.operator or (tenant_id is not None and tenant_id == self.tenant_id)


class ShownOptOut(BaseModel):
    """An opt-out as one caller may see it: who, through whom and why only if it is the caller's."""

    phone_number: str
    scope: str  # as the API names it: "global" or "dnc:<group>"
    opted_out_at: datetime
    source: OptOutSource
    actor: str | None
    tenant_id: str | None
    note: str | None

    @classmethod
    def of(cls, caller: Caller, opt_out: OptOut) -> ShownOptOut:
        mine = caller.owns(opt_out.tenant_id)
        return cls(
            phone_number=opt_out.phone_number,
            scope=scope_name(opt_out.scope),
            opted_out_at=opt_out.opted_out_at,
            source=OptOutSource(opt_out.source),
            actor=opt_out.actor if mine else None,
            tenant_id=opt_out.tenant_id if mine else None,
            note=opt_out.note if mine else None,
        )


class ShownChange(BaseModel):
    """One audit line as one caller may see it."""

    action: OptOutAction
    at: datetime
    source: OptOutSource
    actor: str | None
    tenant_id: str | None
    note: str | None

    @classmethod
    def of(cls, caller: Caller, change: OptOutChange) -> ShownChange:
        mine = caller.owns(change.tenant_id)
        return cls(
            action=change.action,
            at=change.at,
            source=OptOutSource(change.source),
            actor=change.actor if mine else None,
            tenant_id=change.tenant_id if mine else None,
            note=change.note if mine else None,
        )


@dataclass(frozen=True)
class NumberStatus:
    scope: str  # as the API names it: "global" or "dnc:<group>"
    phone_number: str
    opt_out: ShownOptOut | None
    history: list[ShownChange]


class OptOutList:
    def __init__(
        self, config: ConfigTable, opt_outs: OptOutsTable, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._config = config
        self._opt_outs = opt_outs
        self._clock = clock

    def scopes_of(self, tenant_id: str) -> list[str]:
        """The scopes of the tenant's sending numbers, its default number's first."""
        tenant = self._config.get_tenant(tenant_id)
        if tenant is None:
            return []
        numbers = [tenant.default_sending_number] if tenant.default_sending_number else []
        numbers += [number for number in tenant.sending_numbers if number not in numbers]
        scopes: list[str] = []
        for number in numbers:
            code = self._config.get_transport_code(number) or default_code(number)
            if code.opt_out_scope not in scopes:
                scopes.append(code.opt_out_scope)
        return scopes

    def page(
        self, caller: Caller, scope: str | None, limit: int, cursor: str | None
    ) -> tuple[str, list[ShownOptOut], str | None]:
        chosen = self._scope(caller, scope)
        try:
            items, next_cursor = self._opt_outs.page(scope_key(chosen), min(limit, MAX_PAGE), cursor)
        except ValueError as error:
            raise InvalidInput("cursor", "is not a cursor this list returned") from error
        return chosen, [ShownOptOut.of(caller, item) for item in items], next_cursor

    def status(self, caller: Caller, raw_number: str, scope: str | None) -> NumberStatus:
        chosen = self._scope(caller, scope)
        number = to_e164(raw_number, "number")
        key = scope_key(chosen)
        opt_out = self._opt_outs.get(key, number)
        return NumberStatus(
            scope=chosen,
            phone_number=number,
            opt_out=ShownOptOut.of(caller, opt_out) if opt_out else None,
            history=[ShownChange.of(caller, change) for change in self._opt_outs.history(key, number)],
        )

    def add(
        self, caller: Caller, raw_number: str, scope: str | None, note: str | None
    ) -> tuple[bool, NumberStatus]:
        """Opt the number out; True if it was not opted out before."""
        chosen = self._scope(caller, scope)
        number = to_e164(raw_number, "number")
        key, now = scope_key(chosen), self._clock()
        tenant_id = None if caller.operator else caller.tenant_id
        result = self._opt_outs.record_opt_out(
            OptOut(
                scope=key,
                phone_number=number,
                opted_out_at=now,
                source=OptOutSource.API.value,
                actor=caller.key_name,
                tenant_id=tenant_id,
                note=note,
            ),
            self._change(caller, key, number, OptOutAction.OPTED_OUT, note),
        )
        return result is ChangeResult.APPLIED, self.status(caller, number, chosen)

    def remove(self, caller: Caller, raw_number: str, scope: str | None, note: str | None) -> NumberStatus:
        chosen = self._scope(caller, scope)
        number = to_e164(raw_number, "number")
        key = scope_key(chosen)
        result = self._opt_outs.record_opt_in(
            key,
            number,
            self._change(caller, key, number, OptOutAction.OPTED_IN, note),
            owned_by=None if caller.operator else caller.tenant_id,
        )
        if result is ChangeResult.UNCHANGED or (
            result is ChangeResult.NOT_ALLOWED and self._opt_outs.get(key, number) is None
        ):
            raise NotFound(f"{number} is not opted out in scope '{chosen}'", "number")
        if result is ChangeResult.NOT_ALLOWED:
            raise Refused(
                "opt_out_not_yours",
                f"{number} opted out through another tenant or the operator; only the recipient "
                "(by replying START) or the operator can undo it",
                "number",
            )
        return self.status(caller, number, chosen)

    def _change(
        self, caller: Caller, key: str, number: str, action: OptOutAction, note: str | None
    ) -> OptOutChange:
        return OptOutChange(
            change_id=new_id("chg"),
            scope=key,
            phone_number=number,
            action=action,
            at=self._clock(),
            source=OptOutSource.API.value,
            actor=caller.key_name,
            tenant_id=None if caller.operator else caller.tenant_id,
            note=note,
        )

    def _scope(self, caller: Caller, scope: str | None) -> str:
        if scope is not None:
            scope = validate_scope(scope, "scope")
        if caller.operator:
            return scope or GLOBAL_SCOPE
        allowed = self.scopes_of(caller.tenant_id)
        if scope is None:
            if not allowed:
                raise Refused("no_sending_number", "the tenant has no sending number, so no opt-out scope")
            return allowed[0]
        if scope not in allowed:
            raise NotFound(f"scope '{scope}' is not one of the tenant's ({', '.join(allowed)})", "scope")
        return scope
