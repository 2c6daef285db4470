"""Two tenants on one platform: what one tenant's key may see of the other's records, shared or not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constants import INBOUND_QUEUE_ID
from local.demo import DEMO_API_KEY, OPERATOR_API_KEY
from tests.integration.conftest import Platform

ADA, CHARLES = "+14165550123", "+14165550125"
TOLL_FREE = "+18005550100"  # the demo tenant's default number (global opt-out scope)
OTHER_NUMBER = "+18335550100"  # the other tenant's default number (global scope too)
DEMO_SECRETS = (
    "demo-isp",
    "local demo",
    "asked on the phone",
    "replied",
)  # what only the demo tenant may read


@pytest.fixture
def other_key(platform: Platform) -> str:
    """A second tenant sending in the same (global) opt-out scope; its key."""
    status, created = platform.call(
        "POST",
        "/v1/operator/tenants",
        {"tenant_id": "other-isp", "name": "Other ISP", "sending_numbers": [OTHER_NUMBER]},
        key=OPERATOR_API_KEY,
    )
    assert status == 201, created
    status, issued = platform.call(
        "POST",
        "/v1/operator/tenants/other-isp/api-keys",
        {"name": "other ops", "permissions": ["config:manage", "sms:view", "sms:create"]},
        key=OPERATOR_API_KEY,
    )
    assert status == 201, issued
    return str(issued["api_key"])


def run_inbound(platform: Platform) -> None:
    poller = platform.poller(INBOUND_QUEUE_ID, "inbound")
    while poller.poll_once():
        pass


def assert_nothing_of_the_demo_tenant(answer: Any) -> None:
    text = json.dumps(answer)
    for secret in DEMO_SECRETS:
        assert secret not in text, (secret, answer)


def test_a_shared_opt_out_shows_another_tenant_the_number_and_its_source_and_nothing_of_who(
    platform: Platform, other_key: str
):
    # GIVEN the demo tenant opted Charles out through the API (with a note), and Ada replied STOP
    # to one of its messages; both opt-outs are global
    status, added = platform.call("PUT", f"/v1/opt-outs/{CHARLES}", {"note": "asked on the phone"})
    assert status == 201, added
    sent = platform.send(
        "/v1/triggers/payment_received",
        {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}},
    )
    platform.run_dispatchers()
    platform.simulator.receive(ADA, TOLL_FREE, "STOP")
    run_inbound(platform)
    assert sent["id"]

    # WHEN the other tenant lists its (global) scope, by default and by name
    for path in ("/v1/opt-outs", "/v1/opt-outs?scope=global"):
        status, listed = platform.call("GET", path, key=other_key)
        # THEN it sees both numbers opted out and by which kind of source, nothing of who
        assert status == 200, listed
        assert {(i["phone_number"], i["source"]) for i in listed["items"]} == {
            (ADA, "keyword"),
            (CHARLES, "api"),
        }
        assert all(i["actor"] is i["tenant_id"] is i["note"] is None for i in listed["items"])
        assert_nothing_of_the_demo_tenant(listed)

    # WHEN it looks one number up THEN it is opted out, with its history's actions and sources only
    for number in (CHARLES, ADA):
        status, found = platform.call("GET", f"/v1/opt-outs/{number}", key=other_key)
        assert (status, found["opted_out"]) == (200, True), found
        assert found["history"]
        assert all(c["actor"] is c["tenant_id"] is None for c in found["history"])
        assert_nothing_of_the_demo_tenant(found)

    # WHEN it opts the same number out again, or tries to remove it THEN it learns nothing more
    status, again = platform.call("PUT", f"/v1/opt-outs/{CHARLES}", {"note": "mine"}, key=other_key)
    assert status == 200, again
    assert_nothing_of_the_demo_tenant(again)
    status, problem = platform.call("DELETE", f"/v1/opt-outs/{CHARLES}", key=other_key)
    assert (status, problem["reason"]) == (409, "opt_out_not_yours")
    assert_nothing_of_the_demo_tenant(problem)

    # AND the demo tenant still reads its own records whole, and the operator reads everything
    for key in (DEMO_API_KEY, OPERATOR_API_KEY):
        _, own = platform.call("GET", f"/v1/opt-outs/{CHARLES}?scope=global", key=key)
        assert (own["opt_out"]["actor"], own["opt_out"]["tenant_id"], own["opt_out"]["note"]) == (
            "local demo",
            "demo-isp",
            "asked on the phone",
        )
    _, own = platform.call("GET", f"/v1/opt-outs/{ADA}")
    assert own["opt_out"]["tenant_id"] == "demo-isp"
    assert own["opt_out"]["actor"]


def test_replies_and_the_reply_webhook_stay_with_their_tenant(platform: Platform, other_key: str):
    # GIVEN the demo tenant's message to Ada, its reply webhook, and Ada's reply
    platform.send(
        "/v1/triggers/payment_received",
        {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}},
    )
    platform.run_dispatchers()
    assert platform.call("PUT", "/v1/reply-webhook", {"url": "https://hooks.example.com/demo"})[0] == 200
    platform.simulator.receive(ADA, TOLL_FREE, "Is the outage over? It has been hours now")
    run_inbound(platform)
    assert len(platform.call("GET", "/v1/replies")[1]["items"]) == 1
    # THEN the other tenant sees no reply, no webhook, no message
    assert platform.call("GET", "/v1/replies", key=other_key) == (200, {"items": [], "next_cursor": None})
    assert platform.call("GET", "/v1/reply-webhook", key=other_key)[0] == 404
    assert platform.call("DELETE", "/v1/reply-webhook", key=other_key)[0] == 404
    assert platform.call("GET", "/v1/messages", key=other_key) == (200, {"items": [], "next_cursor": None})
