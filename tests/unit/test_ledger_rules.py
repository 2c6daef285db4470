"""The balance's pure rules: when a debit crosses the auto-buy threshold; the payment simulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.ledger import (
    AutoBuy,
    Balance,
    PendingPurchase,
    crosses_threshold,
    purchase_id_for,
    should_arm,
)
from functions.payments.base import ChargeRequest, NoPaymentProvider, PaymentUnavailable
from functions.payments.simulator import PaymentSimulator


@pytest.mark.parametrize(
    ("before", "price", "threshold", "crosses"),
    [
        (100, 10, 95, True),  # 100 -> 90: from at or above 95 to below
        (95, 10, 95, True),  # exactly at the threshold, then below
        (105, 10, 95, False),  # 105 -> 95 stays at the threshold: not below
        (104, 10, 95, True),
        (94, 10, 95, False),  # already below: no new crossing
        (100, 0, 95, False),
        (10, 10, 1, True),  # down to zero crosses a threshold of one micro
    ],
)
def test_a_debit_crosses_when_it_takes_the_balance_below_the_threshold(before, price, threshold, crosses):
    assert crosses_threshold(before, price, threshold) is crosses


@given(
    start=st.integers(0, 10_000),
    threshold=st.integers(1, 10_000),
    prices=st.lists(st.integers(1, 500), max_size=60),
)
def test_a_falling_balance_crosses_once_exactly_when_it_ends_below_a_threshold_it_began_at(
    start, threshold, prices
):
    balance, crossings = start, 0
    for price in prices:
        if balance < price:
            continue  # refused: no debit, no crossing
        crossings += crosses_threshold(balance, price, threshold)
        balance -= price
    assert crossings == (1 if start >= threshold > balance else 0)


def test_auto_buy_arms_only_when_on_paid_crossing_and_nothing_pending():
    on = AutoBuy(enabled=True, threshold_micros=50, amount_micros=1_000)
    pending = PendingPurchase(purchase_id="buy_1", amount_micros=1_000, armed_at=datetime.now(UTC))
    assert should_arm(Balance(tenant_id="t", balance_micros=55, auto_buy=on), 10)
    assert not should_arm(
        Balance(tenant_id="t", balance_micros=55, auto_buy=on, pending_purchase=pending), 10
    )
    assert not should_arm(Balance(tenant_id="t", balance_micros=55, auto_buy=AutoBuy()), 10)
    assert not should_arm(
        Balance(tenant_id="t", balance_micros=5, auto_buy=on.model_copy(update={"threshold_micros": 6})), 10
    )


def test_a_purchase_id_follows_from_tenant_and_key():
    assert purchase_id_for("t1", "k") == purchase_id_for("t1", "k")
    assert purchase_id_for("t1", "k") != purchase_id_for("t2", "k")
    assert purchase_id_for("t1", "k").startswith("buy_")


def request(key: str, tenant: str = "t1") -> ChargeRequest:
    return ChargeRequest(tenant_id=tenant, amount_micros=5_000_000, idempotency_key=key, description="test")


def test_the_simulator_charges_once_per_key_and_declines_as_told():
    simulator = PaymentSimulator()
    first = simulator.charge(request("a"))
    assert first.succeeded
    assert first.reference
    assert simulator.charge(request("a")) == first
    assert len(simulator.charges) == 1
    simulator.declined_tenants.add("t2")
    declined = simulator.charge(request("b", "t2"))
    assert not declined.succeeded
    assert declined.failure_reason
    simulator.unavailable = True
    with pytest.raises(PaymentUnavailable):
        simulator.charge(request("c"))
    simulator.reset()
    assert simulator.charges == []
    assert simulator.charge(request("a")).succeeded


def test_without_a_provider_every_purchase_is_declined():
    assert not NoPaymentProvider().charge(request("a")).succeeded
