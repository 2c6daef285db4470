"""The Message and its lifecycle: Pending -> In Progress -> Sent -> Delivered | Failed."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from functions.domain.segments import Encoding

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A ULID-style id: 48 bits of milliseconds then 80 random bits, so ids sort by creation."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def utc_now() -> datetime:
    return datetime.now(UTC)


class MessageStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "In Progress"
    SENT = "Sent"
    DELIVERED = "Delivered"
    FAILED = "Failed"
    INSUFFICIENT_FUNDS = "Insufficient funds"


FINAL_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.INSUFFICIENT_FUNDS})


class RejectReason(StrEnum):
    OPTED_OUT = "opted out"
    NOT_OPTED_IN = "not opted in"
    INVALID_NUMBER = "invalid number"
    CARRIER_REJECTED = "carrier rejected"
    BLOCKED = "blocked"
    UNREACHABLE = "unreachable"
    SPAM = "spam"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    INSUFFICIENT_FUNDS = "insufficient funds"  # the prepaid balance could not pay it: never sent


class StatusChange(BaseModel):
    status: MessageStatus
    at: datetime
    reason: RejectReason | None = None
    detail: str | None = None


class Recipient(BaseModel):
    contact_id: str
    name: str
    contact_type: str
    related_entity_type: str
    related_entity_id: str
    related_entity_name: str
    phone_number: str


class Message(BaseModel):
    message_id: str
    tenant_id: str
    created_at: datetime
    status: MessageStatus
    recipient: Recipient
    origination_number: str
    template_key: str
    template_version: int
    trigger: str | None = None
    job_id: str | None = None  # the mass message or calling list it belongs to
    job_page: int | None = None  # the fan-out page (checkpoint) that created it
    body: str  # as sent
    original_body: str | None = None  # as written, when smart encoding replaced characters in it
    encoding: Encoding
    segments: int
    price_micros: int = Field(ge=0)
    reject_reason: RejectReason | None = None
    carrier_message_id: str | None = None
    release_at: datetime | None = None  # held (quiet hours, calling window) until then; queued at that time
    hold_rule: str | None = None  # the rule that held it
    history: list[StatusChange]
