"""A recipient texts STOP to the running local service through the carrier simulator, then START."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import LocalService

pytestmark = pytest.mark.e2e

GRACE = "+12125550187"
TOLL_FREE = "+18005550100"
PAYMENT = {"contact_id": "contact-grace", "variables": {"company": "Demo Fiber", "amount": 100}}


def wait_until_opted_out(service: LocalService, expected: bool, timeout: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if service.call("GET", f"/v1/opt-outs/{GRACE}").body["opted_out"] is expected:
            return time.monotonic() - started
        time.sleep(0.01)
    pytest.fail(f"{GRACE} never became opted_out={expected}")


def test_stop_through_the_carrier_simulator_opts_out_at_once_and_start_opts_back_in(service: LocalService):
    assert service.call("GET", f"/v1/opt-outs/{GRACE}").body["opted_out"] is False
    texted = service.call(
        "POST", "/_local/carrier/inbound", {"from": GRACE, "to": TOLL_FREE, "body": "Stop"}, key=None
    )
    assert texted.status == 202, texted.body
    elapsed = wait_until_opted_out(service, True)
    print(f"\ninbound STOP to recorded opt-out: {elapsed * 1000:.0f} ms")
    refused = service.call("POST", "/v1/triggers/payment_received", PAYMENT)
    assert (refused.status, refused.body["reason"]) == (409, "opted_out")

    texted = service.call(
        "POST", "/_local/carrier/inbound", {"from": GRACE, "to": TOLL_FREE, "body": "START"}, key=None
    )
    assert texted.status == 202
    wait_until_opted_out(service, False)
    assert service.call("POST", "/v1/triggers/payment_received", PAYMENT).status == 202
