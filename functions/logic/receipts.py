"""Delivery receipts: a carrier event moves a sent message to its final status, once.

AWS End User Messaging says on every event whether it is the message's last (``isFinal``): a final
success (``TEXT_DELIVERED``, or ``TEXT_SUCCESSFUL`` where the destination sends no delivery event) is
``Delivered``; a final failure is ``Failed`` with its reason; a non-final event (progress, or a
temporary failure such as ``TEXT_CARRIER_UNREACHABLE``) is kept in the message's history and ends
nothing. The service gives up on a message after 72 hours; one still ``Sent`` by then ends ``Failed``
with reason ``unknown`` (``expire_unanswered``, run by a schedule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from functions.dal.messages import HistoryNote, MessagesTable, MessageWrite, StatusMove
from functions.domain.delivery_events import FAILURE_REASONS, FINAL_UNLESS_SAID, SUCCESS_EVENTS
from functions.domain.messages import MessageStatus, RejectReason, StatusChange, utc_now
from functions.observability import logger

SENT_BY_EVENT = "the carrier's event came before the send was recorded"
RECEIPT_WINDOW = timedelta(hours=72)  # AWS End User Messaging sends a message's events within this
# Messages written in one transaction: a request per ten, and a short transaction, which seldom meets
# a dispatcher's Sent record on one of its items (a conflict cancels it whole).
MESSAGES_PER_TRANSACTION = 10


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


@dataclass(frozen=True)
class _Settlement:
    """What one message's events in a batch write: ``first`` for a message Sent, as it should be by
    now; ``otherwise`` for one whose Sent record its dispatcher has not written yet (it gets its Sent
    on the carrier's word). Only a message in flight changes: a late or repeated event changes
    nothing."""

    message_id: str
    events: list[DeliveryEvent]
    final_at: int | None  # the first final event's place among them
    first: MessageWrite
    otherwise: MessageWrite

    @classmethod
    def of(cls, message_id: str, events: list[DeliveryEvent], at: datetime) -> _Settlement:
        final_at = next((index for index, event in enumerate(events) if event.outcome() is not None), None)
        notes = [
            StatusChange(status=MessageStatus.SENT, at=at, detail=event.detail)
            for event in events[: len(events) if final_at is None else final_at]
        ]
        first: MessageWrite
        otherwise: MessageWrite
        if final_at is None:
            # History only, and only while the message waits for its outcome: never after the end.
            first = HistoryNote(message_id, tuple(notes), MessageStatus.SENT)
            *earlier, last = notes  # unrecorded: the Sent entry first, then the notes, the last the move's
            otherwise = StatusMove(
                message_id,
                MessageStatus.SENT,
                (MessageStatus.IN_PROGRESS,),
                last.at,
                detail=last.detail,
                notes=(_sent_by_event(last.at), *earlier),
            )
        else:
            final = events[final_at]
            outcome = final.outcome()
            assert outcome is not None
            status, reason = outcome

            def move(allowed_from: MessageStatus, *before: StatusChange) -> StatusMove:
                return StatusMove(
                    message_id, status, (allowed_from,), at, reason, final.detail, notes=(*before, *notes)
                )

            first = move(MessageStatus.SENT)
            otherwise = move(MessageStatus.IN_PROGRESS, _sent_by_event(at))
        return cls(message_id, events, final_at, first, otherwise)

    def outcomes(self, moved: bool) -> list[ReceiptOutcome]:
        """Each event's outcome, once the message moved (or was noted), or did not."""
        if self.final_at is None:
            return [ReceiptOutcome.NOTED if moved else ReceiptOutcome.NOT_FINAL] * len(self.events)
        before = ReceiptOutcome.NOTED if moved else ReceiptOutcome.NOT_FINAL
        after = [
            ReceiptOutcome.ALREADY_FINAL if event.outcome() is not None else ReceiptOutcome.NOT_FINAL
            for event in self.events[self.final_at + 1 :]
        ]
        applied = ReceiptOutcome.APPLIED if moved else ReceiptOutcome.ALREADY_FINAL
        return [before] * self.final_at + [applied] + after


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

    def apply(self, events: Sequence[DeliveryEvent]) -> list[ReceiptOutcome | Exception]:
        """Apply a batch of events; each one's outcome, in order. A message's events in the batch share
        one write: the non-final ones before its first final one go into the history with the move
        (or, with no final one, are noted together); whatever follows a final one changes nothing.

        The batch's writes go together, in one transaction per 10 messages: a request for ten, not
        one per message. A message that is not as its write expects (its Sent record not written
        yet, or already final) is then tried on its own (see ``_settle``). If the transaction fails,
        every message is tried on its own, and one whose write failed has the error in place of its
        events' outcomes (they are tried again; the others stand)."""
        outcomes: list[ReceiptOutcome | Exception | None] = [None] * len(events)
        by_message: dict[str, list[int]] = {}
        for position, event in enumerate(events):
            message_id = event.context.get("message_id")
            if isinstance(message_id, str):
                by_message.setdefault(message_id, []).append(position)
            else:
                outcomes[position] = ReceiptOutcome.UNKNOWN_MESSAGE
        at = self._clock()
        settlements = [
            _Settlement.of(message_id, [events[p] for p in positions], at)
            for message_id, positions in by_message.items()
        ]
        together: dict[str, bool] = {}
        for start in range(0, len(settlements), MESSAGES_PER_TRANSACTION):
            chunk = settlements[start : start + MESSAGES_PER_TRANSACTION]
            try:
                missed = self._messages.write_together([settlement.first for settlement in chunk])
            except Exception:  # nothing of it was written: each on its own, so one's failure is its own
                logger.warning(
                    "receipts could not be written together; writing them one by one", exc_info=True
                )
                continue
            together.update(
                (settlement.message_id, settlement.message_id not in missed) for settlement in chunk
            )
        for settlement in settlements:
            settled: list[ReceiptOutcome] | Exception
            try:
                settled = settlement.outcomes(self._settle(settlement, together.get(settlement.message_id)))
            except Exception as error:  # this message's events fail; the batch goes on
                settled = error
            for index, position in enumerate(by_message[settlement.message_id]):
                outcomes[position] = settled if isinstance(settled, Exception) else settled[index]
        return [ReceiptOutcome.UNKNOWN_MESSAGE if outcome is None else outcome for outcome in outcomes]

    def _settle(self, settlement: _Settlement, together: bool | None) -> bool:
        """Whether the message moved: by the transaction (``together``, None if it was not written),
        else alone. A status only goes forward (In Progress, Sent, final), and a dispatcher may write
        its Sent record between two tries: a message not Sent for the first, then not In Progress for
        the second, is tried as Sent once more; only a final one fails all three."""
        if together:
            return True
        tries = [settlement.otherwise, settlement.first]
        if together is None:
            tries.insert(0, settlement.first)
        return any(self._messages.write_alone(write) for write in tries)  # stops at the first written

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


def _sent_by_event(at: datetime) -> StatusChange:
    """The Sent entry of a message whose carrier event came before its dispatcher's Sent record."""
    return StatusChange(status=MessageStatus.SENT, at=at, detail=SENT_BY_EVENT)
