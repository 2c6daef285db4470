"""The prepaid balance in the running local service: the demo's opening balance, a purchase, auto-buy."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import LocalService
from tests.e2e.test_triggered_message import wait_for

pytestmark = pytest.mark.e2e


def test_the_demo_tenant_buys_funds_through_the_payment_simulator(service: LocalService):
    before = service.call("GET", "/v1/balance").body["balance_micros"]
    assert before > 0  # the demo starts with an opening credit

    bought = service.call("POST", "/v1/balance/purchases", {"amount_micros": 2_000_000})
    assert bought.status == 201, bought.body
    assert service.call("GET", "/v1/balance").body["balance_micros"] == before + 2_000_000
    charges = service.call("GET", "/_local/payments/charges", key=None).body["charges"]
    assert any(charge["idempotency_key"] == bought.body["purchase_id"] for charge in charges)
    assert service.call("POST", "/v1/balance/purchases", {"amount_micros": 2.5}).status == 422


def test_auto_buy_tops_up_when_a_message_takes_the_balance_below_the_threshold(service: LocalService):
    current = service.call("GET", "/v1/balance").body["balance_micros"]
    # The threshold at the current balance: the next message takes the balance below it.
    body = {"enabled": True, "threshold_micros": current, "amount_micros": 3_000_000}
    assert service.call("PUT", "/v1/balance/auto-buy", body).status == 200
    try:
        sent = service.call("POST", "/v1/triggers/payment_received", {
            "contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 100},
        })  # fmt: skip
        assert sent.status == 202, sent.body
        (message,) = sent.body["messages"]
        paid, _ = wait_for(service, message["id"], "Delivered")
        ledger = service.call("GET", "/v1/balance/ledger?limit=20").body["items"]
        entries = {(item["kind"], item["amount_micros"], item["message_id"]) for item in ledger}
        assert ("debit", -paid["price_micros"], message["id"]) in entries
        assert ("auto_buy", 3_000_000, None) in entries
    finally:
        service.call("PUT", "/v1/balance/auto-buy", {**body, "enabled": False})
