"""The prepaid balance: integer micro-dollars, an append-only ledger of entries, and auto-buy's rule.

Every change to a tenant's balance is one ledger entry written in the same transaction as the
change, so the entries always sum to the balance. Entry ids are idempotency keys: a message is
debited at most once (``DEBIT#<message id>``) and refunded at most once (``REFUND#<message id>``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from functions.domain.messages import new_id

# 1 USD = 1,000,000 micros, as for prices. The cap keeps a typo from crediting a fortune.
MAX_AMOUNT_MICROS = 1_000_000 * 1_000_000


class EntryKind(StrEnum):
    CREDIT = "credit"  # the operator added funds
    PURCHASE = "purchase"  # the tenant bought funds through the payment provider
    AUTO_BUY = "auto_buy"  # bought automatically when a debit took the balance below the threshold
    DEBIT = "debit"  # a message's price, taken just before the carrier
    REFUND = "refund"  # a debit given back: the carrier refused the message
    PURCHASE_FAILED = "purchase_failed"  # the provider declined a purchase: zero amount, kept as a record


class LedgerEntry(BaseModel):
    tenant_id: str
    entry_id: str  # unique per tenant; doubles as the entry's idempotency key
    kind: EntryKind
    amount_micros: int  # signed: what the entry did to the balance
    at: datetime
    message_id: str | None = None
    purchase_id: str | None = None
    reference: str | None = None
    note: str | None = None


class AutoBuy(BaseModel):
    """Buy ``amount_micros`` when a debit takes the balance from the threshold or above to below it."""

    enabled: bool = False
    threshold_micros: int = Field(default=0, ge=0)
    amount_micros: int = Field(default=0, ge=0)


class PendingPurchase(BaseModel):
    """An auto-buy armed by a debit and not yet settled; at most one per tenant at a time."""

    purchase_id: str
    amount_micros: int
    armed_at: datetime


class Balance(BaseModel):
    tenant_id: str
    balance_micros: int = 0
    auto_buy: AutoBuy = Field(default_factory=AutoBuy)
    pending_purchase: PendingPurchase | None = None
    updated_at: datetime | None = None


def debit_id(message_id: str) -> str:
    return f"DEBIT#{message_id}"


def refund_id(message_id: str) -> str:
    return f"REFUND#{message_id}"


def credit_id(reference: str) -> str:
    return f"CREDIT#{reference}"


def purchase_entry_id(kind: EntryKind, purchase_id: str) -> str:
    return f"{kind.name}#{purchase_id}"


def new_purchase_id() -> str:
    return new_id("buy")


def purchase_id_for(tenant_id: str, idempotency_key: str) -> str:
    """The same key from the same tenant names the same purchase, so a retry never buys twice."""
    return "buy_" + hashlib.sha256(f"{tenant_id}\n{idempotency_key}".encode()).hexdigest()[:26].upper()


def crosses_threshold(balance_before: int, price: int, threshold: int) -> bool:
    """Whether a debit of ``price`` takes the balance from ``threshold`` or above to below it.

    Debits of one balance are serialized, so exactly one debit crosses per fall below the threshold.
    """
    return price > 0 and threshold <= balance_before < threshold + price


def should_arm(balance: Balance, price: int) -> bool:
    """A debit arms auto-buy when it crosses the threshold and no purchase is already on its way."""
    return (
        balance.auto_buy.enabled
        and balance.pending_purchase is None
        and balance.balance_micros >= price
        and crosses_threshold(balance.balance_micros, price, balance.auto_buy.threshold_micros)
    )


def is_below_threshold(balance: Balance) -> bool:
    """Below the tenant's threshold (set with auto-buy on or off), and no purchase on its way to fix it."""
    threshold = balance.auto_buy.threshold_micros
    return threshold > 0 and balance.balance_micros < threshold and balance.pending_purchase is None


def affordable(balance_micros: int, prices: list[int]) -> list[bool]:
    """Which of the prices, in order, one balance pays: each that still fits is paid, the rest are not.

    A batch's debit takes the total of what is paid; what is not is ``Insufficient funds``.
    """
    left = balance_micros
    paid = []
    for price in prices:
        fits = price <= left
        paid.append(fits)
        if fits:
            left -= price
    return paid
