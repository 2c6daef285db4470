"""Delivery status callbacks: the event a tenant receives for a status change, and the retry rules.

An event is one status change of one message, taken from the Messages table's stream: the change the
update appended to the message's history. Its ``sequence`` is that change's position in the history
(1 for the first), so a receiver keeps, per message, the highest sequence it has seen and drops an
event with a lower one (events can arrive out of order after retries). Its ``event_id`` is the
message id and the sequence: the same change always has the same id, so a receiver that sees an id
twice (delivery is at least once) drops the repeat.

Retries: an attempt that fails (a non-2xx answer, a timeout, a refused connection) is tried again
after ``retry_delay_seconds(attempt)``: 30 s, then doubling, at most 2 h between attempts, for
``GIVE_UP_AFTER`` (26 h, more than the 24 h a receiver may be down) from the change itself; an attempt
that fails after that sends the event to the dead-letter queue, where the alarm reports it. The
attempt number is the queue's receive count. A tenant whose endpoint fails
``CIRCUIT_THRESHOLD`` times in a row has its circuit opened: nothing is posted to it for
``circuit_open_seconds`` (1 minute, doubling with each further failure, at most 30 minutes); its
events wait for the circuit and then go, the first one alone (a success closes the circuit).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from functions.domain.messages import Message, MessageStatus, RejectReason

PUBLISHED_STATUSES = frozenset(
    {MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.INSUFFICIENT_FUNDS}
)
EVENT_TYPE = "message.status_changed"
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 2 * 3600
GIVE_UP_AFTER = timedelta(hours=26)
CIRCUIT_THRESHOLD = 5
CIRCUIT_FIRST_OPEN_SECONDS = 60
CIRCUIT_MAX_OPEN_SECONDS = 30 * 60


class StatusEvent(BaseModel):
    """What the tenant's callback receives (and the platform's event bus carries) for one change."""

    event_id: str
    type: str = EVENT_TYPE
    sequence: int
    message_id: str
    status: MessageStatus
    reject_reason: RejectReason | None = None
    detail: str | None = None
    occurred_at: datetime
    phone_number: str
    sending_number: str
    segments: int
    price_micros: int
    trigger: str | None = None
    job_id: str | None = None
    tenant_id: str


def status_events(before: Message | None, after: Message) -> list[StatusEvent]:
    """The events of the change from ``before`` to ``after``: one per published status its write
    reached, in order (a delivery event that came before the send was recorded brings Sent and
    Delivered in one write). A history entry that repeats the status before it is a note, not a change.
    """
    events = []
    for position in range(len(before.history) if before is not None else 0, len(after.history)):
        change = after.history[position]
        if change.status not in PUBLISHED_STATUSES:
            continue
        if position > 0 and after.history[position - 1].status is change.status:
            continue
        sequence = position + 1
        reason = change.reason or (after.reject_reason if change.status is after.status else None)
        events.append(
            StatusEvent(
                event_id=f"{after.message_id}:{sequence}",
                sequence=sequence,
                message_id=after.message_id,
                status=change.status,
                reject_reason=reason,
                detail=change.detail,
                occurred_at=change.at,
                phone_number=after.recipient.phone_number,
                sending_number=after.origination_number,
                segments=after.segments,
                price_micros=after.price_micros,
                trigger=after.trigger,
                job_id=after.job_id,
                tenant_id=after.tenant_id,
            )
        )
    return events


def retry_delay_seconds(attempt: int) -> int:
    """How long to wait after failed attempt number ``attempt`` (1 for the first)."""
    return int(min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempt - 1)))


def gives_up(event: StatusEvent, now: datetime) -> bool:
    """Whether a failed attempt at ``now`` is the last: the change is older than GIVE_UP_AFTER."""
    return now - event.occurred_at >= GIVE_UP_AFTER


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"  # tried, the endpoint did not take it: retried
    CIRCUIT_OPEN = "circuit_open"  # not tried: the tenant's endpoint kept failing
    GAVE_UP = "gave_up"  # the last attempt failed: the event goes to the dead-letter queue
    NO_CALLBACK = "no_callback"  # the tenant removed its callback: dropped


class Circuit(BaseModel):
    """A tenant's endpoint health: consecutive failures, and until when nothing is posted to it."""

    failures: int = 0
    open_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and now < self.open_until

    def after_failure(self, now: datetime) -> Circuit:
        failures = self.failures + 1
        if failures < CIRCUIT_THRESHOLD:
            return Circuit(failures=failures)
        extra = failures - CIRCUIT_THRESHOLD
        seconds = min(CIRCUIT_MAX_OPEN_SECONDS, CIRCUIT_FIRST_OPEN_SECONDS * 2 ** min(extra, 10))
        return Circuit(failures=failures, open_until=now + timedelta(seconds=seconds))
