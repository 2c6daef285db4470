"""The carrier interface: what a dispatcher needs from whoever delivers SMS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from functions.domain.messages import RejectReason


@dataclass(frozen=True)
class OutboundSms:
    origination_number: str
    destination_number: str
    body: str
    message_id: str
    tenant_id: str


class CarrierThrottled(Exception):
    """The carrier refused for rate: retry later, the message is fine."""


class CarrierUnavailable(Exception):
    """The carrier failed transiently: retry later."""


class CarrierInDoubt(Exception):
    """The call failed in a way that does not tell whether the carrier took the message (a 500): the
    claim is reconciled by its delivery event, never sent again blindly."""


class CarrierRejected(Exception):
    """The carrier refused this message for good."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Carrier(Protocol):
    def send(self, sms: OutboundSms) -> str:
        """Hand the message over; return the carrier's message id."""
        ...
