"""Delivery receipts: a carrier event moves a sent message to its final status, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from functions.dal.messages import MessagesTable
from functions.domain.messages import MessageStatus, RejectReason, utc_now

# AWS End User Messaging SMS event types that end a message, and what they mean for it.
FINAL_EVENTS: dict[str, tuple[MessageStatus, RejectReason | None]] = {
    "TEXT_DELIVERED": (MessageStatus.DELIVERED, None),
    "TEXT_BLOCKED": (MessageStatus.FAILED, RejectReason.BLOCKED),
    "TEXT_CARRIER_BLOCKED": (MessageStatus.FAILED, RejectReason.BLOCKED),
    "TEXT_PROTECT_BLOCKED": (MessageStatus.FAILED, RejectReason.BLOCKED),
    "TEXT_SPAM": (MessageStatus.FAILED, RejectReason.SPAM),
    "TEXT_TTL_EXPIRED": (MessageStatus.FAILED, RejectReason.EXPIRED),
    "TEXT_UNREACHABLE": (MessageStatus.FAILED, RejectReason.UNREACHABLE),
    "TEXT_CARRIER_UNREACHABLE": (MessageStatus.FAILED, RejectReason.UNREACHABLE),
    "TEXT_INVALID": (MessageStatus.FAILED, RejectReason.INVALID_NUMBER),
    "TEXT_INVALID_MESSAGE": (MessageStatus.FAILED, RejectReason.CARRIER_REJECTED),
    "TEXT_UNKNOWN": (MessageStatus.FAILED, RejectReason.UNKNOWN),
}


class DeliveryEvent(BaseModel):
    """The fields of an SMS event the platform reads; the rest is kept by the carrier's logs."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    event_type: str = Field(alias="eventType")
    message_status_description: str | None = Field(default=None, alias="messageStatusDescription")
    context: dict[str, Any] = Field(default_factory=dict)


class ReceiptOutcome(StrEnum):
    APPLIED = "applied"
    NOT_FINAL = "not_final"
    UNKNOWN_MESSAGE = "unknown_message"
    ALREADY_FINAL = "already_final"


class Receipts:
    def __init__(self, messages: MessagesTable, clock: Callable[[], datetime] = utc_now) -> None:
        self._messages = messages
        self._clock = clock

    def apply(self, event: DeliveryEvent) -> ReceiptOutcome:
        outcome = FINAL_EVENTS.get(event.event_type)
        if outcome is None:
            return ReceiptOutcome.NOT_FINAL
        message_id = event.context.get("message_id")
        if not isinstance(message_id, str):
            return ReceiptOutcome.UNKNOWN_MESSAGE
        status, reason = outcome
        # Only a message still in flight moves: a duplicate or late event changes nothing.
        moved = self._messages.move(
            message_id,
            status,
            allowed_from=[MessageStatus.IN_PROGRESS, MessageStatus.SENT],
            at=self._clock(),
            reason=reason,
            detail=event.message_status_description,
        )
        return ReceiptOutcome.APPLIED if moved else ReceiptOutcome.ALREADY_FINAL
