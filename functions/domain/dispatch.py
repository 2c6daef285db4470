"""What a transport code's dispatcher works with: lanes, ready messages, batches and outcomes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from functions.domain.inbound import KEYWORD_REPLY_TRIGGER


class Lane(IntEnum):
    """The order a code's ready messages are served in: every triggered message before any bulk one."""

    TRIGGERED = 0
    BULK = 1  # mass messages and calling lists


class DispatchOutcome(StrEnum):
    """Where a message the dispatcher took up went (one metric each, Messages<Outcome>)."""

    SENT = "sent"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    OPTED_OUT = "opted_out"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"  # the carrier refused it for good
    CARRIER_THROTTLED = "carrier_throttled"  # backed off; sent later
    CARRIER_UNAVAILABLE = "carrier_unavailable"  # backed off; sent later
    RECONCILED = "reconciled"  # an earlier holder's claim, settled by the next holder
    ALREADY_HANDLED = "already_handled"  # another claim or a cancel got there first
    HELD = "held"  # its quiet hours or calling window began while it waited: held until they end


@dataclass(frozen=True)
class ReadyMessage:
    """A message as the ready index holds it: what a dispatcher needs to claim, pay and send it."""

    message_id: str
    tenant_id: str
    origination_number: str
    phone_number: str
    body: str
    segments: int
    price_micros: int
    created_at: datetime
    trigger: str | None = None
    job_id: str | None = None
    release_at: datetime | None = None
    debited: bool = False  # paid by an earlier claim that handed it back unsent
    claim_token: int | None = None  # in flight: the lease token of the dispatcher that claimed it
    claimed_at: datetime | None = None
    resends: int = 0  # times a claim left in doubt was settled by sending it again

    @property
    def lane(self) -> Lane:
        return Lane.BULK if self.job_id else Lane.TRIGGERED

    @property
    def checks_opt_out(self) -> bool:
        """A keyword reply (the STOP confirmation above all) answers the recipient and is exempt."""
        return self.trigger != KEYWORD_REPLY_TRIGGER

    @property
    def valid_from(self) -> datetime:
        """Validity counts from when the message may go: a quiet-hours hold is not waiting."""
        return max(self.created_at, self.release_at or self.created_at)


def ready_shard(message_id: str, shards: int) -> int:
    """A message's shard of its code's ready key: stable, spread evenly."""
    if shards <= 1:
        return 0
    return int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:4], "big") % shards


def next_batch(page: list[ReadyMessage], max_messages: int, max_parts: int | None) -> list[ReadyMessage]:
    """The next batch from a page in index order: messages of the first one's tenant and lane.

    At most ``max_messages`` and (past the first) ``max_parts`` parts when given (what a daily cap
    still allows). The batch is not cut shorter for a triggered message that may come meanwhile:
    the dispatcher reads the triggered lane apart, and puts what it finds ahead of queued bulk.
    """
    if not page:
        return []
    first = page[0]
    batch = [first]
    parts = first.segments
    for message in page[1:]:
        if len(batch) >= max_messages:
            break
        if message.tenant_id != first.tenant_id or message.lane is not first.lane:
            continue
        if max_parts is not None and parts + message.segments > max_parts:
            break
        batch.append(message)
        parts += message.segments
    return batch
