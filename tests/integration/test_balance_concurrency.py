"""Many dispatchers (one per transport code) debiting one tenant's balance at once, through serialized
moto: never overdrawn, the ledger sums to the balance, one auto-buy per crossing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest

from functions.dal.config import ConfigTable
from functions.domain.ledger import EntryKind
from functions.domain.transport import CodeKind, TransportCode
from functions.logic.dispatch import DispatchReport
from functions.payments.simulator import PaymentSimulator, shared_simulator
from local.demo import DEMO_TENANT_ID, OPERATOR_API_KEY
from tests.integration.balances import (
    GOOD,
    PRICE,
    balance,
    dispatcher_tables,
    entries,
    of_kind,
    queue_messages,
    start_balance,
    statuses,
)
from tests.integration.concurrency import independent_dispatcher, serialized_moto
from tests.integration.conftest import Platform

CODES = [f"+1800555{200 + n:04d}" for n in range(12)]  # twelve toll-free numbers of one tenant


@pytest.fixture
def serialized(platform: Platform) -> Iterator[Platform]:
    # The carrier's pace is not what is measured here: room for every message at once on every code.
    config = ConfigTable(platform.table("CONFIG_TABLE"))
    for number in CODES:
        config.put_transport_code(
            TransportCode(number=number, kind=CodeKind.TOLL_FREE, parts_per_second=Decimal(1_000))
        )
        platform.simulator.settings.parts_per_second[number] = 1_000
    status, tenant = platform.call(
        "PATCH",
        f"/v1/operator/tenants/{DEMO_TENANT_ID}",
        {"sending_numbers": [platform.demo.sending_number, *CODES]},
        key=OPERATOR_API_KEY,
    )
    assert status == 200, tenant
    with serialized_moto():
        yield platform


@pytest.fixture
def payments() -> PaymentSimulator:
    return shared_simulator()


def auto_buy(platform: Platform, threshold: int, amount: int) -> None:
    body = {"enabled": True, "threshold_micros": threshold, "amount_micros": amount}
    code, result = platform.call("PUT", "/v1/balance/auto-buy", body)
    assert code == 200, result


def spread(platform: Platform, per_code: int, codes: list[str] = CODES) -> list[str]:
    """``per_code`` one-segment messages from each code; their ids."""
    ids = []
    for number in codes:
        ids += queue_messages(platform, per_code, {**GOOD, "sending_number": number})
    return ids


def race(payments: PaymentSimulator, codes: list[str] = CODES) -> list[DispatchReport]:
    """A dispatcher per code, started at the same moment, each with its own clients, caches and wallet."""
    dispatchers = [independent_dispatcher(code, dispatcher_tables(), payments) for code in codes]
    reports: list[DispatchReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(dispatchers))

    def run(dispatcher) -> None:
        start.wait()
        try:
            reports.append(dispatcher.run())
        except BaseException as error:  # a failed dispatcher must fail the test, not vanish in its thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)  # a guard against a hang; a busy machine may need minutes
    assert errors == []
    assert all(report.started for report in reports)
    return reports


def outcomes(reports: list[DispatchReport]) -> Counter[str]:
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report.outcomes)
    return total


def test_twelve_dispatchers_of_one_tenant_never_overdraw_a_balance_that_covers_half(
    serialized: Platform, payments
):
    platform = serialized
    # GIVEN 12 codes of one tenant with 2 messages each, and a balance that pays for exactly 12
    ids = spread(platform, 2)
    start_balance(platform, PRICE * len(ids) // 2)

    # WHEN the 12 codes' dispatchers run at once
    reports = race(payments)

    # THEN exactly half are sent, the rest are 'Insufficient funds' and never reach the carrier
    sent = [record for record in platform.simulator.records if record.context["tenant_id"] == DEMO_TENANT_ID]
    assert len(sent) == len(ids) // 2
    assert statuses(platform, ids) == {"Sent": len(ids) // 2, "Insufficient funds": len(ids) // 2}
    assert outcomes(reports)["sent"] == outcomes(reports)["insufficient_funds"] == len(ids) // 2
    # AND the balance is exactly spent, and the ledger accounts for every micro of it
    final = balance(platform).balance_micros
    found = entries(platform)
    debits = of_kind(found, EntryKind.DEBIT)
    assert final == 0
    assert sum(entry.amount_micros for entry in found) == final
    assert {entry.message_id for entry in debits} == {record.context["message_id"] for record in sent}


def test_one_crossing_under_concurrency_buys_once(serialized: Platform, payments: PaymentSimulator):
    platform = serialized
    # GIVEN a balance of 12 messages, auto-buy of 30 messages' worth below 6 messages' worth
    ids = spread(platform, 2)
    start_balance(platform, 12 * PRICE)
    auto_buy(platform, threshold=6 * PRICE, amount=30 * PRICE)

    # WHEN the 12 dispatchers send 24 messages at once (the balance falls below the threshold once)
    reports = race(payments)

    # THEN exactly one purchase was made and recorded, and everything was paid
    assert len(payments.charges) == 1
    found = entries(platform)
    (bought,) = of_kind(found, EntryKind.AUTO_BUY)
    assert bought.amount_micros == 30 * PRICE
    assert bought.purchase_id == payments.charges[0].request.idempotency_key
    sent = outcomes(reports)["sent"]
    assert sent + outcomes(reports)["insufficient_funds"] == len(ids)
    final = balance(platform)
    assert final.pending_purchase is None
    assert final.balance_micros == 12 * PRICE + 30 * PRICE - sent * PRICE
    assert sum(entry.amount_micros for entry in found) == final.balance_micros


def test_a_declined_auto_buy_is_recorded_and_sending_goes_on(
    serialized: Platform, payments: PaymentSimulator
):
    platform = serialized
    # GIVEN a card the payment provider declines
    payments.declined_tenants.add(DEMO_TENANT_ID)
    start_balance(platform, 15 * PRICE)
    auto_buy(platform, threshold=10 * PRICE, amount=10 * PRICE)
    codes = CODES[:5]

    # WHEN 10 messages go out at once from 5 codes (crossing the threshold once)
    spread(platform, 2, codes)
    assert outcomes(race(payments, codes)) == {"sent": 10}

    # THEN the one declined purchase is recorded, and what the balance covers is sent
    assert len(payments.charges) == 1
    (declined,) = of_kind(entries(platform), EntryKind.PURCHASE_FAILED)
    assert declined.amount_micros == 0
    assert "declined" in (declined.note or "")
    assert balance(platform).balance_micros == 5 * PRICE
    assert balance(platform).pending_purchase is None

    # WHEN more messages go out while the balance stays below the threshold
    spread(platform, 2, codes)
    second = outcomes(race(payments, codes))

    # THEN no purchase is tried again (no new crossing): 5 paid, 5 'Insufficient funds'
    assert second == {"sent": 5, "insufficient_funds": 5}
    assert len(payments.charges) == 1
    assert balance(platform).balance_micros == 0
    found = entries(platform)
    assert sum(entry.amount_micros for entry in found) == balance(platform).balance_micros
