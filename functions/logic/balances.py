"""A tenant's prepaid balance through the API: read it and its ledger, add funds, set auto-buy.

Funds come from the operator (a credit, idempotent on the operator's reference) or from the
tenant's own purchase through the payment provider (idempotent on the request's Idempotency-Key).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from functions.dal.config import ConfigTable
from functions.dal.ledger import InvalidLedgerCursor, LedgerTable
from functions.domain.errors import InvalidInput, NotFound, Refused, Unavailable
from functions.domain.ledger import (
    AutoBuy,
    Balance,
    EntryKind,
    LedgerEntry,
    credit_id,
    new_purchase_id,
    purchase_entry_id,
    purchase_id_for,
)
from functions.domain.messages import utc_now
from functions.payments.base import ChargeRequest, PaymentProvider, PaymentUnavailable


class Balances:
    def __init__(
        self,
        ledger: LedgerTable,
        config: ConfigTable,
        provider: PaymentProvider,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._ledger = ledger
        self._config = config
        self._provider = provider
        self._clock = clock

    def balance(self, tenant_id: str) -> Balance:
        return self._ledger.balance(tenant_id)

    def ledger(self, tenant_id: str, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
        try:
            return self._ledger.entries_page(tenant_id, limit, cursor)
        except InvalidLedgerCursor as error:
            raise InvalidInput("cursor", "the cursor is not one this API returned") from error

    def set_auto_buy(self, tenant_id: str, auto_buy: AutoBuy) -> Balance:
        if auto_buy.enabled and auto_buy.threshold_micros <= 0:
            raise InvalidInput(
                "threshold_micros", "auto-buy fires when a debit takes the balance below it: give more than 0"
            )
        if auto_buy.enabled and auto_buy.amount_micros <= 0:
            raise InvalidInput("amount_micros", "auto-buy must buy more than 0")
        return self._ledger.set_auto_buy(tenant_id, auto_buy, self._clock())

    def credit(
        self, tenant_id: str, amount_micros: int, reference: str, note: str | None
    ) -> tuple[LedgerEntry, bool]:
        """The operator adds funds; a repeated reference returns the first credit (and False)."""
        if self._config.get_tenant(tenant_id) is None:
            raise NotFound(f"tenant '{tenant_id}' does not exist", "tenant_id")
        entry = LedgerEntry(
            tenant_id=tenant_id,
            entry_id=credit_id(reference),
            kind=EntryKind.CREDIT,
            amount_micros=amount_micros,
            at=self._clock(),
            reference=reference,
            note=note,
        )
        existing = self._ledger.add_funds(entry)
        if existing is None:
            return entry, True
        if existing.amount_micros != amount_micros:
            raise Refused(
                "reference_used",
                f"reference '{reference}' already credited {existing.amount_micros} micros",
                "reference",
            )
        return existing, False

    def purchase(self, tenant_id: str, amount_micros: int, idempotency_key: str | None) -> LedgerEntry:
        """The tenant buys funds through the payment provider; a declined charge is recorded and refused."""
        purchase_id = purchase_id_for(tenant_id, idempotency_key) if idempotency_key else new_purchase_id()
        earlier = self._earlier_purchase(tenant_id, purchase_id, amount_micros)
        if earlier is not None:
            return earlier
        request = ChargeRequest(
            tenant_id=tenant_id,
            amount_micros=amount_micros,
            idempotency_key=purchase_id,
            description="purchase",
        )
        try:
            result = self._provider.charge(request)
        except PaymentUnavailable as error:
            raise Unavailable(
                "the payment provider did not answer; retry with the same Idempotency-Key"
            ) from error
        kind = EntryKind.PURCHASE if result.succeeded else EntryKind.PURCHASE_FAILED
        entry = LedgerEntry(
            tenant_id=tenant_id,
            entry_id=purchase_entry_id(kind, purchase_id),
            kind=kind,
            amount_micros=amount_micros if result.succeeded else 0,
            at=self._clock(),
            purchase_id=purchase_id,
            reference=result.reference,
            note=None if result.succeeded else result.failure_reason,
        )
        recorded = self._ledger.add_funds(entry) or entry
        return self._accepted(recorded, amount_micros)

    def _earlier_purchase(self, tenant_id: str, purchase_id: str, amount_micros: int) -> LedgerEntry | None:
        for kind in (EntryKind.PURCHASE, EntryKind.PURCHASE_FAILED):
            earlier = self._ledger.get_entry(tenant_id, purchase_entry_id(kind, purchase_id))
            if earlier is not None:
                return self._accepted(earlier, amount_micros)
        return None

    def _accepted(self, entry: LedgerEntry, amount_micros: int) -> LedgerEntry:
        if entry.kind is EntryKind.PURCHASE and entry.amount_micros != amount_micros:
            raise InvalidInput("idempotency-key", "this Idempotency-Key was used with a different amount")
        if entry.kind is EntryKind.PURCHASE_FAILED:
            raise Refused(
                "payment_declined",
                f"the payment provider declined the purchase: {entry.note or 'no reason given'}",
                "amount_micros",
                extra={"purchase_id": entry.purchase_id},
            )
        return entry
