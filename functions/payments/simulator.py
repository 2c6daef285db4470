"""A payment simulator: accepts or declines charges as told and records each, idempotent per key.

It is the only payment provider implementation; the local runtime and the tests select it through
the PAYMENT_PROVIDER setting, and steer it (decline a tenant, fail, go unavailable) through the one
instance per process that ``shared_simulator`` returns.
"""

from __future__ import annotations

import functools
import itertools
import threading
from dataclasses import dataclass

from functions.payments.base import ChargeRequest, ChargeResult, PaymentUnavailable


@dataclass(frozen=True)
class SimulatedCharge:
    request: ChargeRequest
    result: ChargeResult


class PaymentSimulator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)
        self._by_key: dict[str, SimulatedCharge] = {}
        self.charges: list[SimulatedCharge] = []  # one per distinct idempotency key
        self.declined_tenants: set[str] = set()
        self.unavailable = False

    def charge(self, request: ChargeRequest) -> ChargeResult:
        with self._lock:
            if self.unavailable:
                raise PaymentUnavailable("the payment simulator is set to be unavailable")
            known = self._by_key.get(request.idempotency_key)
            if known is not None:
                return known.result
            if request.tenant_id in self.declined_tenants:
                result = ChargeResult(succeeded=False, failure_reason="card declined (simulated)")
            else:
                result = ChargeResult(succeeded=True, reference=f"sim_charge_{next(self._sequence)}")
            charge = SimulatedCharge(request=request, result=result)
            self._by_key[request.idempotency_key] = charge
            self.charges.append(charge)
            return result

    def succeeded(self, tenant_id: str) -> list[SimulatedCharge]:
        with self._lock:
            return [c for c in self.charges if c.request.tenant_id == tenant_id and c.result.succeeded]

    def reset(self) -> None:
        with self._lock:
            self._by_key.clear()
            self.charges.clear()
            self.declined_tenants.clear()
            self.unavailable = False


@functools.cache
def shared_simulator() -> PaymentSimulator:
    return PaymentSimulator()
