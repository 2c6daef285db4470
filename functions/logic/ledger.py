"""Paying for messages: the balance a dispatcher's batch debit decides with, refunds, and auto-buy.

A dispatcher debits a batch of messages in the transaction that claims them (functions/dal/claims.py),
one ledger entry per message keyed by its id, so a message is never charged twice. It decides with
the ``LedgerWallet``'s view of the tenant's balance (a few seconds old at most; a refused debit
brings the current one). When a debit takes the balance below the tenant's auto-buy threshold, the
same transaction arms one purchase, and the dispatcher that armed it makes it through the payment
provider; a declined purchase is recorded and sending goes on with what the balance still covers.
``LedgerWallet.debit`` pays one message the same way, alone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from botocore.exceptions import ClientError

from functions.dal.claims import FailResult, FailureWriter
from functions.dal.ledger import DebitResult, LedgerTable, RefundResult
from functions.dal.messages import StatusMove
from functions.domain.ledger import (
    Balance,
    EntryKind,
    LedgerEntry,
    PendingPurchase,
    debit_id,
    is_below_threshold,
    new_purchase_id,
    purchase_entry_id,
    refund_id,
    should_arm,
)
from functions.domain.messages import Message, utc_now
from functions.metrics_catalog import AUTO_BUY, AUTO_BUY_FAILED, BALANCE_BELOW_THRESHOLD
from functions.observability import logger, metrics
from functions.payments.base import ChargeRequest, PaymentProvider, PaymentUnavailable

# How stale a sender's view of a tenant's auto-buy settings may be; the debit's condition catches
# a stale view, so this bounds only the reads, not correctness.
SETTINGS_CACHE_SECONDS = 5.0
# An armed purchase older than this lost its buyer (its dispatcher died); the next one resumes it.
STALE_PURCHASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 0.02


class Payment(StrEnum):
    PAID = "paid"
    REFUSED = "refused"  # the balance does not cover the message


class LedgerBusy(Exception):
    """The balance stayed contended through every attempt; the message is retried later."""


class AutoBuyer:
    """Makes an armed purchase through the payment provider and records its outcome."""

    def __init__(
        self, ledger: LedgerTable, provider: PaymentProvider, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._ledger = ledger
        self._provider = provider
        self._clock = clock

    def settle(self, tenant_id: str, pending: PendingPurchase) -> LedgerEntry | None:
        """The entry recorded (funds, or a zero-amount record of the decline); None if left pending."""
        request = ChargeRequest(
            tenant_id=tenant_id,
            amount_micros=pending.amount_micros,
            idempotency_key=pending.purchase_id,
            description="auto-buy",
        )
        try:
            result = self._provider.charge(request)
        except PaymentUnavailable as error:
            # Left armed: a later sender resumes it with the same key once it is stale.
            logger.warning("auto-buy left pending", tenant_id=tenant_id, error=str(error))
            return None
        kind = EntryKind.AUTO_BUY if result.succeeded else EntryKind.PURCHASE_FAILED
        entry = LedgerEntry(
            tenant_id=tenant_id,
            entry_id=purchase_entry_id(kind, pending.purchase_id),
            kind=kind,
            amount_micros=pending.amount_micros if result.succeeded else 0,
            at=self._clock(),
            purchase_id=pending.purchase_id,
            reference=result.reference,
            note=None if result.succeeded else result.failure_reason,
        )
        try:
            settled = self._ledger.settle_purchase(pending.purchase_id, entry)
        except ClientError as error:
            # The charge is idempotent on the purchase id: resuming the stale purchase settles it.
            logger.warning("auto-buy not recorded yet", tenant_id=tenant_id, error=str(error))
            return None
        if not settled:
            return None
        metrics.add_metric(name=AUTO_BUY if result.succeeded else AUTO_BUY_FAILED, unit="Count", value=1)
        logger.info("auto-buy settled", tenant_id=tenant_id, kind=kind.value, amount=entry.amount_micros)
        return entry


class Refunds:
    """Gives a message's debit back, once, and only if it was debited."""

    def __init__(
        self,
        ledger: LedgerTable,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._sleep = sleep

    def refund(self, message: Message) -> None:
        self.refund_message(message.tenant_id, message.message_id, message.price_micros)

    def refund_message(self, tenant_id: str, message_id: str, price_micros: int) -> None:
        if price_micros == 0:
            return
        entry = LedgerEntry(
            tenant_id=tenant_id,
            entry_id=refund_id(message_id),
            kind=EntryKind.REFUND,
            amount_micros=price_micros,
            at=self._clock(),
            message_id=message_id,
        )
        for attempt in range(MAX_ATTEMPTS):
            result = self._ledger.try_refund(entry, debit_id(message_id))
            if result is not RefundResult.CONFLICT:
                if result is RefundResult.NOT_DEBITED:
                    logger.info("nothing to refund", message_id=message_id)
                return
            contention_backoff(self._sleep, attempt)
        raise LedgerBusy(f"the refund of {message_id} stayed contended")


class LedgerWallet:
    def __init__(
        self,
        ledger: LedgerTable,
        auto_buyer: AutoBuyer,
        clock: Callable[[], datetime] = utc_now,
        settings_cache_seconds: float = SETTINGS_CACHE_SECONDS,
        stale_purchase: timedelta = STALE_PURCHASE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ledger = ledger
        self._auto_buyer = auto_buyer
        self._clock = clock
        self._cache_seconds = settings_cache_seconds
        self._stale_purchase = stale_purchase
        self._sleep = sleep
        self._known: dict[str, tuple[float, Balance]] = {}
        self._refunds = Refunds(ledger, clock, sleep)

    def debit(self, message: Message) -> Payment:
        price = message.price_micros
        if price == 0:
            return Payment.PAID
        tenant_id = message.tenant_id
        entry = LedgerEntry(
            tenant_id=tenant_id,
            entry_id=debit_id(message.message_id),
            kind=EntryKind.DEBIT,
            amount_micros=-price,
            at=self._clock(),
            message_id=message.message_id,
        )
        seen = self._view(tenant_id)
        for attempt in range(MAX_ATTEMPTS):
            arm = self._purchase(seen) if should_arm(seen, price) else None
            outcome = self._ledger.try_debit(entry, seen.auto_buy, arm)
            if outcome.result is DebitResult.DEBITED:
                if arm is not None:
                    self._known.pop(tenant_id, None)
                    self._auto_buyer.settle(tenant_id, arm)
                return Payment.PAID
            if outcome.result is DebitResult.ALREADY_DEBITED:
                return Payment.PAID
            if outcome.result is DebitResult.CONFLICT:
                contention_backoff(self._sleep, attempt)
                continue
            assert outcome.current is not None
            seen = self._remember(outcome.current)
            if seen.balance_micros < price:
                # A sender that died after debiting left the entry; the message is paid for.
                if self._ledger.get_entry(tenant_id, entry.entry_id) is not None:
                    return Payment.PAID
                return Payment.REFUSED
        raise LedgerBusy(f"the balance of {tenant_id} stayed contended through {MAX_ATTEMPTS} attempts")

    def refund(self, message: Message) -> None:
        self._refunds.refund(message)

    # ---- what a dispatcher's batch debit decides with ----

    def view(self, tenant_id: str) -> Balance:
        """The tenant's balance as last seen (a few seconds at most), resuming a stale auto-buy."""
        return self._view(tenant_id)

    def remember(self, balance: Balance) -> Balance:
        """A fresher balance (a refused debit's condition saw it)."""
        return self._remember(balance)

    def purchase_for(self, seen: Balance) -> PendingPurchase:
        return self._purchase(seen)

    def armed(self, tenant_id: str, purchase: PendingPurchase) -> None:
        """A debit armed this purchase: make it."""
        self._known.pop(tenant_id, None)
        self._auto_buyer.settle(tenant_id, purchase)

    # ---- the cached view of a tenant's balance settings ----

    def _view(self, tenant_id: str) -> Balance:
        cached = self._known.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] <= self._cache_seconds:
            return cached[1]
        balance = self._remember(self._ledger.balance(tenant_id))
        pending = balance.pending_purchase
        if pending is not None and self._clock() - pending.armed_at > self._stale_purchase:
            logger.info("resuming a stale auto-buy", tenant_id=tenant_id, purchase_id=pending.purchase_id)
            self._auto_buyer.settle(tenant_id, pending)
            balance = self._remember(self._ledger.balance(tenant_id))
        return balance

    def _remember(self, balance: Balance) -> Balance:
        self._known[balance.tenant_id] = (time.monotonic(), balance)
        if is_below_threshold(balance):
            # Read at most every few seconds per sender while the tenant sends: what the alarm watches.
            metrics.add_metric(name=BALANCE_BELOW_THRESHOLD, unit="Count", value=1)
            logger.warning(
                "balance below its threshold",
                tenant_id=balance.tenant_id,
                balance_micros=balance.balance_micros,
                threshold_micros=balance.auto_buy.threshold_micros,
            )
        return balance

    def _purchase(self, seen: Balance) -> PendingPurchase:
        return PendingPurchase(
            purchase_id=new_purchase_id(), amount_micros=seen.auto_buy.amount_micros, armed_at=self._clock()
        )


def contention_backoff(sleep: Callable[[float], None], attempt: int) -> None:
    """A jittered wait before the next try of a transaction another one held."""
    sleep(BACKOFF_SECONDS * (2**attempt) * random.random())  # noqa: S311 - jitter, not security


def fail_refunded(
    failures: FailureWriter,
    move: StatusMove,
    tenant_id: str,
    price_micros: int,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """A paid message to Failed with its refund, in one write (retried while contended); False if
    someone else moved it first. A fault leaves both undone, never the one without the other."""
    if price_micros == 0:
        return failures.fail(move)
    refund = LedgerEntry(
        tenant_id=tenant_id,
        entry_id=refund_id(move.message_id),
        kind=EntryKind.REFUND,
        amount_micros=price_micros,
        at=move.at,
        message_id=move.message_id,
    )
    for attempt in range(MAX_ATTEMPTS):
        result = failures.fail_refunded(move, refund)
        if result is not FailResult.CONFLICT:
            return result is not FailResult.NOT_MOVED
        contention_backoff(sleep, attempt)
    raise LedgerBusy(f"the failure of {move.message_id} and its refund stayed contended")
