"""The sent-messages log: which messages a filtered view holds, and its CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from functions.domain.messages import Message, MessageStatus, Recipient
from functions.domain.tenants import EntityType

CSV_COLUMNS = (
    "id",
    "created_at",
    "status",
    "reject_reason",
    "recipient_name",
    "contact_type",
    "related_entity_type",
    "related_entity_id",
    "related_entity",
    "phone_number",
    "sending_number",
    "trigger",
    "job_id",
    "segments",
    "price_micros",
    "body",
)
# A spreadsheet runs a cell that starts like a formula; a signed number (a phone number) is left alone.
_FORMULA_START = re.compile(r"^(?:[=@\t\r]|[+-](?![\d\s().-]*$))")


class MessageQuery(BaseModel):
    """Every field given narrows the view; ``created_from`` is inclusive, ``created_to`` exclusive."""

    model_config = ConfigDict(frozen=True)

    status: MessageStatus | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    phone_number: str | None = None  # E.164
    entity_id: str | None = None
    entity_type: EntityType | None = None
    job_id: str | None = None
    trigger: str | None = None

    @property
    def filters_beyond_the_key(self) -> bool:
        """Whether rows must be tested after the key lookup (the tenant's log or the job's messages)."""
        return any(
            value is not None
            for value in (self.status, self.phone_number, self.entity_id, self.entity_type, self.trigger)
        )

    def matches(self, message: Message) -> bool:
        return self.matches_fields(
            message.status, message.created_at, message.recipient, message.job_id, message.trigger
        )

    def matches_fields(
        self,
        status: MessageStatus,
        created_at: datetime,
        recipient: Recipient,
        job_id: str | None,
        trigger: str | None,
    ) -> bool:
        """``matches`` on the fields it reads (what an index of the log carries)."""
        checks = (
            self.status is None or status is self.status,
            self.created_from is None or created_at >= self.created_from,
            self.created_to is None or created_at < self.created_to,
            self.phone_number is None or recipient.phone_number == self.phone_number,
            self.entity_id is None or recipient.related_entity_id == self.entity_id,
            self.entity_type is None or recipient.related_entity_type == self.entity_type.value,
            self.job_id is None or job_id == self.job_id,
            self.trigger is None or trigger == self.trigger,
        )
        return all(checks)


def created_key_floor(instant: datetime) -> str:
    """The lowest ``created_key`` of a message created in ``instant``'s second or later.

    Keys start with the creation time as pydantic writes it (``2026-05-01T10:00:00.123456Z``, or
    without the fraction on a whole second); cutting to the second keeps the range a superset,
    and ``MessageQuery.matches`` then applies the exact bound.
    """
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def created_key_ceiling(instant: datetime) -> str:
    """A key above every ``created_key`` of a message created in ``instant``'s second or earlier."""
    return created_key_floor(instant) + "~"  # '~' sorts after every character of a time or an id


def spreadsheet_safe(value: str) -> str:
    """Quote a cell a spreadsheet would run as a formula (names and bodies come from tenants' data)."""
    return f"'{value}" if _FORMULA_START.match(value) else value


def csv_row(message: Message) -> list[str]:
    recipient = message.recipient
    values = (
        message.message_id,
        message.created_at.isoformat(),
        message.status.value,
        message.reject_reason.value if message.reject_reason else "",
        recipient.name,
        recipient.contact_type,
        recipient.related_entity_type,
        recipient.related_entity_id,
        recipient.related_entity_name,
        recipient.phone_number,
        message.origination_number,
        message.trigger or "",
        message.job_id or "",
        str(message.segments),
        str(message.price_micros),
        message.body,
    )
    return [spreadsheet_safe(value) for value in values]


def to_csv(messages: Iterable[Message]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for message in messages:
        writer.writerow(csv_row(message))
    return out.getvalue()
