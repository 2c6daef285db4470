"""Delivery receipts: a carrier event moves a sent message to its final status, once.

AWS End User Messaging says on every event whether it is the message's last (``isFinal``): a final
success (``TEXT_DELIVERED``, or ``TEXT_SUCCESSFUL`` where the destination sends no delivery event) is
``Delivered``; a final failure is ``Failed`` with its reason; a non-final event (progress, or a
temporary failure such as ``TEXT_CARRIER_UNREACHABLE``) is kept in the message's history and ends
nothing. The service gives up on a message after 72 hours; one still ``Sent`` by then ends ``Failed``
with reason ``unknown`` (``expire_unanswered``, run by a schedule).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from functions.dal.messages import MessagesTable
from functions.domain.delivery_events import FAILURE_REASONS, FINAL_UNLESS_SAID, SUCCESS_EVENTS
from functions.domain.messages import MessageStatus, RejectReason, StatusChange, utc_now

RECEIPT_WINDOW = timedelta(hours=72)  # AWS End User Messaging sends a message's events within this


class DeliveryEvent(BaseModel):
    """The fields of an SMS event the platform reads; the rest is kept by the carrier's logs."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    event_type: str = Field(alias="eventType")
    is_final: bool | None = Field(default=None, alias="isFinal")
    message_status_description: str | None = Field(default=None, alias="messageStatusDescription")
    context: dict[str, Any] = Field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.is_final if self.is_final is not None else self.event_type in FINAL_UNLESS_SAID

    def outcome(self) -> tuple[MessageStatus, RejectReason | None] | None:
        """The final status this event gives a message; None for a non-final or unknown event."""
        if not self.final:
            return None
        if self.event_type in SUCCESS_EVENTS:
            return MessageStatus.DELIVERED, None
        if self.event_type in FAILURE_REASONS:
            return MessageStatus.FAILED, FAILURE_REASONS[self.event_type]
        return None

    @property
    def detail(self) -> str:
        description = f": {self.message_status_description}" if self.message_status_description else ""
        return f"{self.event_type}{description}"


class ReceiptOutcome(StrEnum):
    APPLIED = "applied"  # the message reached its final status
    NOTED = "noted"  # a non-final event, kept in the message's history
    NOT_FINAL = "not_final"  # a non-final event for a message no longer Sent
    UNKNOWN_MESSAGE = "unknown_message"
    ALREADY_FINAL = "already_final"


class Receipts:
    def __init__(
        self,
        messages: MessagesTable,
        clock: Callable[[], datetime] = utc_now,
        window: timedelta = RECEIPT_WINDOW,
    ) -> None:
        self._messages = messages
        self._clock = clock
        self._window = window

    def apply(self, event: DeliveryEvent) -> ReceiptOutcome:
        message_id = event.context.get("message_id")
        if not isinstance(message_id, str):
            return ReceiptOutcome.UNKNOWN_MESSAGE
        outcome = event.outcome()
        if outcome is None:
            # History only, and only while the message waits for its outcome: never after the end.
            change = StatusChange(status=MessageStatus.SENT, at=self._clock(), detail=event.detail)
            noted = self._messages.note(message_id, change, while_in=MessageStatus.SENT)
            return ReceiptOutcome.NOTED if noted else ReceiptOutcome.NOT_FINAL
        status, reason = outcome
        # Only a message still in flight moves: a duplicate or late event changes nothing.
        moved = self._messages.move(
            message_id,
            status,
            allowed_from=[MessageStatus.IN_PROGRESS, MessageStatus.SENT],
            at=self._clock(),
            reason=reason,
            detail=event.detail,
        )
        return ReceiptOutcome.APPLIED if moved else ReceiptOutcome.ALREADY_FINAL

    def expire_unanswered(self, stop_before: Callable[[], bool] = lambda: False) -> int:
        """End ``Failed``/``unknown`` every message still ``Sent`` once the carrier's event window passed.

        Returns how many ended; ``stop_before`` lets a run end before its time limit (the next goes on).
        """
        now = self._clock()
        ended = 0
        for message_id in self._messages.awaiting_receipt_since_before(now - self._window):
            if stop_before():
                break
            ended += self._messages.move(
                message_id,
                MessageStatus.FAILED,
                allowed_from=[MessageStatus.SENT],
                at=now,
                reason=RejectReason.UNKNOWN,
                detail=f"no final delivery event within {int(self._window.total_seconds() // 3600)} h",
            )
        return ended
