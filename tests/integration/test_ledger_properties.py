"""The ledger's invariants for any sequence of debits, redeliveries, refunds, credits and auto-buy changes.

A small reference model states what should happen; the wallet and the Ledger table on moto must
agree with it, the entries must sum to the balance, and the balance must never go below zero.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.dal.ledger import LedgerTable
from functions.domain.ledger import AutoBuy, EntryKind, LedgerEntry, crosses_threshold
from functions.domain.messages import Message, MessageStatus, Recipient, StatusChange
from functions.domain.segments import Encoding
from functions.logic.ledger import AutoBuyer, LedgerWallet, Payment
from functions.payments.simulator import PaymentSimulator
from tests.integration.conftest import Platform

MESSAGE_POOL = 6  # few ids, so the same message comes back (a redelivery) often


def message(tenant_id: str, index: int, price: int) -> Message:
    now = datetime.now(UTC)
    return Message(
        message_id=f"msg_{tenant_id}_{index}",
        tenant_id=tenant_id,
        created_at=now,
        status=MessageStatus.IN_PROGRESS,
        recipient=Recipient(
            contact_id="c",
            name="n",
            contact_type="t",
            related_entity_type="account",
            related_entity_id="a",
            related_entity_name="a",
            phone_number="+14165550123",
        ),
        origination_number="+18005550100",
        template_key="k",
        template_version=1,
        body="b",
        encoding=Encoding.GSM,
        segments=1,
        price_micros=price,
        history=[StatusChange(status=MessageStatus.PENDING, at=now)],
    )


@dataclass
class Model:
    balance: int = 0
    auto_buy: AutoBuy = field(default_factory=AutoBuy)
    debited: set[int] = field(default_factory=set)
    refunded: set[int] = field(default_factory=set)
    purchases: int = 0

    def debit(self, index: int, price: int) -> Payment:
        if index in self.debited:
            return Payment.PAID
        if self.balance < price:
            return Payment.REFUSED
        crossing = self.auto_buy.enabled and crosses_threshold(
            self.balance, price, self.auto_buy.threshold_micros
        )
        self.balance -= price
        self.debited.add(index)
        if crossing:  # the simulator accepts, at once
            self.balance += self.auto_buy.amount_micros
            self.purchases += 1
        return Payment.PAID

    def refund(self, index: int, price: int) -> None:
        if index in self.debited and index not in self.refunded:
            self.balance += price
            self.refunded.add(index)


operation = st.one_of(
    st.tuples(st.just("debit"), st.integers(0, MESSAGE_POOL - 1)),
    st.tuples(st.just("refund"), st.integers(0, MESSAGE_POOL - 1)),
    st.tuples(st.just("credit"), st.integers(1, 60)),
    st.tuples(st.just("auto_buy"), st.booleans(), st.integers(1, 40), st.integers(1, 60)),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.integers(1, 30), min_size=MESSAGE_POOL, max_size=MESSAGE_POOL),
    operations=st.lists(operation, max_size=25),
)
def test_the_ledger_agrees_with_the_model_and_sums_to_the_balance(platform: Platform, prices, operations):
    tenant_id = f"prop-{uuid.uuid4().hex[:12]}"  # every example its own tenant, on the same moto
    ledger = LedgerTable(platform.table("LEDGER_TABLE"))
    payments = PaymentSimulator()
    wallet = LedgerWallet(ledger, AutoBuyer(ledger, payments))  # its view of settings goes stale: on purpose
    model = Model()
    for step, op in enumerate(operations):
        if op[0] == "debit":
            assert wallet.debit(message(tenant_id, op[1], prices[op[1]])) is model.debit(op[1], prices[op[1]])
        elif op[0] == "refund":
            wallet.refund(message(tenant_id, op[1], prices[op[1]]))
            model.refund(op[1], prices[op[1]])
        elif op[0] == "credit":
            ledger.add_funds(
                LedgerEntry(
                    tenant_id=tenant_id,
                    entry_id=f"CREDIT#step-{step}",
                    kind=EntryKind.CREDIT,
                    amount_micros=op[1],
                    at=datetime.now(UTC),
                    reference=f"step-{step}",
                )
            )
            model.balance += op[1]
        else:
            model.auto_buy = AutoBuy(enabled=op[1], threshold_micros=op[2], amount_micros=op[3])
            ledger.set_auto_buy(tenant_id, model.auto_buy, datetime.now(UTC))
        stored = ledger.balance(tenant_id)
        assert stored.balance_micros == model.balance >= 0
        assert stored.pending_purchase is None
    entries = list(ledger.entries(tenant_id))
    assert sum(entry.amount_micros for entry in entries) == model.balance
    assert len([entry for entry in entries if entry.kind is EntryKind.AUTO_BUY]) == model.purchases
    assert len(payments.charges) == model.purchases
