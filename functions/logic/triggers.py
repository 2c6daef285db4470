"""Triggered messages: a business event names its registered saved message; the platform sends it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from functions.domain.catalog import TRIGGERS
from functions.domain.errors import InvalidInput
from functions.logic.compose import Composed, Composer, Recipients, Sender


class TriggerRequest(BaseModel):
    trigger: str
    recipients: Recipients
    variables: dict[str, Any] = Field(default_factory=dict)
    sender: dict[str, str | None] = Field(default_factory=dict)


class TriggeredMessages:
    def __init__(self, composer: Composer) -> None:
        self._composer = composer

    def send(self, tenant_id: str, request: TriggerRequest) -> Composed:
        tenant = self._composer.enabled_tenant(tenant_id)
        template = TRIGGERS.get(request.trigger)
        if template is None:
            raise InvalidInput("trigger", f"'{request.trigger}' is not a registered trigger")
        return self._composer.compose_and_record(
            tenant,
            template,
            request.variables,
            request.recipients,
            Sender(**request.sender),
            trigger=request.trigger,
        )
