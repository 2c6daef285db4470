"""Which payment provider a function uses, by the PAYMENT_PROVIDER setting."""

from __future__ import annotations

from enum import StrEnum

from functions.payments.base import NoPaymentProvider, PaymentProvider
from functions.payments.simulator import shared_simulator


class ProviderName(StrEnum):
    SIMULATOR = "simulator"  # the local runtime and the tests
    DISABLED = "disabled"  # the deployed stack: there is no real provider yet, purchases are declined


def payment_provider(name: ProviderName) -> PaymentProvider:
    if name is ProviderName.SIMULATOR:
        return shared_simulator()
    return NoPaymentProvider()
