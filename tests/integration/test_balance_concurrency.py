"""Many senders debiting one balance at once, through serialized moto: never overdrawn, one auto-buy per crossing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from functions.logic.send import SendOutcome

from functions.dal.config import ConfigTable
from functions.domain.ledger import EntryKind
from functions.payments.simulator import PaymentSimulator, shared_simulator
from local.demo import DEMO_TENANT_ID, OPERATOR_API_KEY
from tests.integration.balances import (
    PRICE,
    balance,
    entries,
    of_kind,
    queue_messages,
    sender_tables,
    start_balance,
    statuses,
)
from tests.integration.concurrency import independent_sender, race, serialized_moto
from tests.integration.conftest import Platform

MESSAGES = 40
SENDERS = 12


@pytest.fixture
def serialized(platform: Platform) -> Iterator[Platform]:
    # The carrier and its pacing are not what is measured here: room for every message in one second.
    platform.simulator.settings.default_parts_per_second = 10_000
    platform.simulator.settings.parts_per_second[platform.demo.sending_number] = 10_000
    code = ConfigTable(platform.table("CONFIG_TABLE")).get_transport_code(platform.demo.sending_number)
    assert code is not None
    fast = code.model_copy(update={"parts_per_second": Decimal(10_000)})
    ConfigTable(platform.table("CONFIG_TABLE")).put_transport_code(fast)
    with serialized_moto():
        yield platform


@pytest.fixture
def payments() -> PaymentSimulator:
    return shared_simulator()


def auto_buy(platform: Platform, threshold: int, amount: int) -> None:
    body = {"enabled": True, "threshold_micros": threshold, "amount_micros": amount}
    code, result = platform.call("PUT", "/v1/balance/auto-buy", body)
    assert code == 200, result


def test_concurrent_senders_never_overdraw_a_balance_that_covers_half(serialized: Platform, payments):
    platform = serialized
    # GIVEN 40 one-segment messages and a balance that pays for exactly 20 of them
    work = queue_messages(platform, MESSAGES)
    start_balance(platform, PRICE * MESSAGES // 2)
    senders = [independent_sender(sender_tables(), payments) for _ in range(SENDERS)]

    # WHEN 12 independent senders take them all at once
    result = race(senders, work)

    # THEN exactly half are sent, the rest are 'Insufficient funds' and never reach the carrier
    assert result.errors == []
    sent = [record for record in platform.simulator.records if record.context["tenant_id"] == DEMO_TENANT_ID]
    assert len(sent) == MESSAGES // 2
    assert statuses(platform, work) == {"Sent": MESSAGES // 2, "Insufficient funds": MESSAGES // 2}
    assert result.outcomes == {
        SendOutcome.SENT: MESSAGES // 2,
        SendOutcome.INSUFFICIENT_FUNDS: MESSAGES // 2,
    }
    # AND the balance is exactly spent, and the ledger accounts for every micro of it
    final = balance(platform).balance_micros
    found = entries(platform)
    debits = of_kind(found, EntryKind.DEBIT)
    assert final == 0
    assert sum(entry.amount_micros for entry in found) == final
    assert len(debits) == MESSAGES // 2
    assert sum(entry.amount_micros for entry in debits) == final - PRICE * MESSAGES // 2
    assert {entry.message_id for entry in debits} == {record.context["message_id"] for record in sent}
    print(
        f"\nrace: {MESSAGES} messages, {SENDERS} senders, sent {len(sent)}, "
        f"insufficient {result.outcomes[SendOutcome.INSUFFICIENT_FUNDS]}, final balance {final}, "
        f"ledger sum {sum(entry.amount_micros for entry in found)}, debits {len(debits)}, "
        f"{result.seconds:.2f} s"
    )


def test_one_crossing_under_concurrency_buys_once(serialized: Platform, payments: PaymentSimulator):
    platform = serialized
    # GIVEN a balance of 20 messages, auto-buy of 30 messages' worth below 10 messages' worth
    work = queue_messages(platform, 30)
    start_balance(platform, 20 * PRICE)
    auto_buy(platform, threshold=10 * PRICE, amount=30 * PRICE)
    senders = [independent_sender(sender_tables(), payments) for _ in range(SENDERS)]

    # WHEN 12 senders send 30 messages at once (the balance falls below the threshold once)
    result = race(senders, work)

    # THEN exactly one purchase was made and recorded
    assert result.errors == []
    assert len(payments.charges) == 1
    found = entries(platform)
    (bought,) = of_kind(found, EntryKind.AUTO_BUY)
    assert bought.amount_micros == 30 * PRICE
    assert bought.purchase_id == payments.charges[0].request.idempotency_key
    sent = result.outcomes.get(SendOutcome.SENT, 0)
    assert sent + result.outcomes.get(SendOutcome.INSUFFICIENT_FUNDS, 0) == 30
    final = balance(platform)
    assert final.pending_purchase is None
    assert final.balance_micros == 20 * PRICE + 30 * PRICE - sent * PRICE
    assert sum(entry.amount_micros for entry in found) == final.balance_micros
    print(f"\nauto-buy, one crossing: 30 messages, {SENDERS} senders, sent {sent}, purchases 1")


def test_every_crossing_buys_once_wave_after_wave(serialized: Platform, payments: PaymentSimulator):
    platform = serialized
    # GIVEN 15 messages' worth, and auto-buy of 10 messages' worth below 10 messages' worth
    start_balance(platform, 15 * PRICE)
    auto_buy(platform, threshold=10 * PRICE, amount=10 * PRICE)
    waves, per_wave = 4, 10
    for wave in range(1, waves + 1):
        # WHEN a wave of 10 messages goes out through 10 senders at once: one crossing per wave
        work = queue_messages(platform, per_wave)
        senders = [independent_sender(sender_tables(), payments) for _ in range(per_wave)]
        result = race(senders, work)

        # THEN each wave buys exactly once, sends everything, and ends where it began
        assert result.errors == []
        assert result.outcomes == {SendOutcome.SENT: per_wave}
        assert len(payments.charges) == wave
        assert balance(platform).balance_micros == 15 * PRICE
    found = entries(platform)
    assert len(of_kind(found, EntryKind.AUTO_BUY)) == waves
    assert sum(entry.amount_micros for entry in found) == 15 * PRICE
    print(f"\nauto-buy, {waves} waves of {per_wave} concurrent messages: {len(payments.charges)} purchases")


def test_a_declined_auto_buy_is_recorded_and_sending_goes_on(
    serialized: Platform, payments: PaymentSimulator
):
    platform = serialized
    # GIVEN a card the payment provider declines
    payments.declined_tenants.add(DEMO_TENANT_ID)
    start_balance(platform, 15 * PRICE)
    auto_buy(platform, threshold=10 * PRICE, amount=10 * PRICE)

    # WHEN 10 messages go out at once (crossing the threshold once)
    first = race(
        [independent_sender(sender_tables(), payments) for _ in range(10)], queue_messages(platform, 10)
    )

    # THEN the one declined purchase is recorded, and what the balance covers is sent
    assert first.outcomes == {SendOutcome.SENT: 10}
    assert len(payments.charges) == 1
    (declined,) = of_kind(entries(platform), EntryKind.PURCHASE_FAILED)
    assert declined.amount_micros == 0
    assert "declined" in (declined.note or "")
    assert balance(platform).balance_micros == 5 * PRICE
    assert balance(platform).pending_purchase is None

    # WHEN more messages go out while the balance stays below the threshold
    second = race(
        [independent_sender(sender_tables(), payments) for _ in range(10)], queue_messages(platform, 10)
    )

    # THEN no purchase is tried again (no new crossing): 5 paid, 5 'Insufficient funds'
    assert second.outcomes == {SendOutcome.SENT: 5, SendOutcome.INSUFFICIENT_FUNDS: 5}
    assert len(payments.charges) == 1

    # WHEN the operator tops it up above the threshold, the card works again, and the next crossing comes
    payments.declined_tenants.clear()
    code, _ = platform.call(
        "POST",
        f"/v1/operator/tenants/{DEMO_TENANT_ID}/credits",
        {"amount_micros": 12 * PRICE, "reference": "top-up"},
        key=OPERATOR_API_KEY,
    )
    assert code == 201
    third = race(
        [independent_sender(sender_tables(), payments) for _ in range(10)], queue_messages(platform, 5)
    )

    # THEN auto-buy re-armed on that crossing and bought once
    assert third.outcomes == {SendOutcome.SENT: 5}
    assert len(payments.charges) == 2
    assert len(of_kind(entries(platform), EntryKind.AUTO_BUY)) == 1
    assert balance(platform).balance_micros == 12 * PRICE - 5 * PRICE + 10 * PRICE
    found = entries(platform)
    assert sum(entry.amount_micros for entry in found) == balance(platform).balance_micros
