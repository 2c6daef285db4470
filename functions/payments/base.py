"""The payment provider interface: what buying funds needs from whoever charges the tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChargeRequest:
    tenant_id: str
    amount_micros: int
    idempotency_key: str  # one per purchase: a retried charge with it never charges twice
    description: str


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str | None = None  # the provider's id of the charge
    failure_reason: str | None = None


class PaymentUnavailable(Exception):
    """The provider did not answer; whether it charged is unknown, so retry with the same key."""


class PaymentProvider(Protocol):
    def charge(self, request: ChargeRequest) -> ChargeResult: ...


class NoPaymentProvider:
    """Declines every charge: the deployed stack has no payment provider configured."""

    def charge(self, request: ChargeRequest) -> ChargeResult:
        return ChargeResult(succeeded=False, failure_reason="no payment provider is configured")
