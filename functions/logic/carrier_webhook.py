"""Inbound messages from carriers other than AWS: a signed webhook, checked here, then queued.

The request is refused (and nothing changes) unless it is signed with the shared secret over its
timestamp and body and is at most five minutes old (functions/domain/signing.py). An accepted
message goes on the inbound queue in the same shape as AWS's two-way payload, so the inbound
function handles both paths alike.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.dal.inbound_queue import InboundQueue, TwoWaySms
from functions.domain.errors import InvalidInput
from functions.domain.inbound import webhook_channel
from functions.domain.phone import to_e164
from functions.domain.signing import verify
from functions.domain.transport import normalize_code_number

_CARRIER = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class CarrierInbound(BaseModel):
    """What a carrier posts: who wrote, to which of our numbers, what, and the carrier's id for it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    from_number: str = Field(alias="from", min_length=1, max_length=32)
    to_number: str = Field(alias="to", min_length=1, max_length=32)
    body: str = Field(max_length=1600)
    message_id: str = Field(min_length=1, max_length=200)
    in_reply_to: str | None = Field(default=None, max_length=200)


class CarrierWebhook:
    def __init__(
        self, secret: Callable[[], str], queue: InboundQueue, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._queue = queue
        self._clock = clock

    def accept(self, carrier: str, body: bytes, timestamp: str | None, signature: str | None) -> str:
        """Queue a signed inbound message; its key (channel and id). Unauthorized if not signed right."""
        if not _CARRIER.match(carrier):
            raise InvalidInput("carrier", "lowercase letters, digits and dashes, at most 32")
        verify(self._secret(), timestamp, signature, body, self._clock())
        try:
            inbound = CarrierInbound.model_validate(json.loads(body))
        except (ValueError, ValidationError) as error:
            raise InvalidInput("body", _first_error(error)) from error
        sms = TwoWaySms(
            origination_number=to_e164(inbound.from_number, "from"),
            destination_number=normalize_code_number(inbound.to_number, "to"),
            message_body=inbound.body,
            inbound_message_id=inbound.message_id,
            previous_published_message_id=inbound.in_reply_to,
            carrier=carrier,
        )
        self._queue.put(sms)
        return f"{webhook_channel(carrier)}:{inbound.message_id}"


def _first_error(error: ValueError | ValidationError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return "the body is not JSON"
