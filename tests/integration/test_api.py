"""The HTTP API's contract: authorization, problem details for bad input, and no state change on refusal."""

from __future__ import annotations

import pytest

from functions.domain.tenants import ApiKey, Tenant
from functions.logic.auth import Permission, hash_key
from tests.integration.conftest import Platform

TRIGGER = "/v1/triggers/payment_received"
GOOD = {"contact_id": "contact-ada", "variables": {"company": "Demo Fiber", "amount": 4999}}
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_nothing_changed(platform: Platform) -> None:
    assert platform.ready_count() == 0
    assert platform.table("MESSAGES_TABLE").scan()["Count"] == 0


def test_the_openapi_document_is_public_and_lists_the_routes(platform: Platform):
    status, document = platform.call("GET", "/v1/openapi.json", key=None)
    assert status == 200
    assert document["openapi"].startswith("3.")
    assert {"/v1/triggers/{trigger}", "/v1/messages", "/v1/messages/{message_id}"} <= set(document["paths"])
    assert "SendBody" in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("sms_not-a-real-key", 403), ("not even the right shape", 403)],
)
def test_a_request_without_a_valid_key_is_refused_by_the_gateway(platform: Platform, key, status):
    assert platform.call("POST", TRIGGER, GOOD, key=key)[0] == status
    assert_nothing_changed(platform)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        ({}, 400, "contact_id"),
        ({**GOOD, "account_id": "acct-1001"}, 400, "contact_id"),
        (
            {"account_id": "acct-1001", "phone_number": "+14165550123", "variables": GOOD["variables"]},
            400,
            "phone_number",
        ),
        ({"contact_id": 7, "variables": {}}, 422, "body.contact_id"),
        ({"contact_id": "contact-ada", "variables": {}}, 400, "variables.company"),
        (
            {"contact_id": "contact-ada", "variables": {"company": "X", "amount": "49.99"}},
            400,
            "variables.amount",
        ),
        ({**GOOD, "variables": {**GOOD["variables"], "extra": 1}}, 400, "variables.extra"),
        ({**GOOD, "contact_id": "nobody"}, 404, "contact_id"),
        ({**GOOD, "phone_number": "+442071838750"}, 400, "phone_number"),
        ({**GOOD, "phone_number": "+16045550142"}, 400, "phone_number"),
        ({**GOOD, "signature_id": "missing"}, 404, "signature_id"),
        ({**GOOD, "unexpected": True}, 422, "body.unexpected"),
    ],
)
def test_bad_input_gets_a_problem_naming_the_field_and_changes_nothing(
    platform: Platform, body, status, field
):
    code, problem = platform.call("POST", TRIGGER, body)
    assert code == status, problem
    assert set(problem) >= PROBLEM_KEYS
    assert problem["status"] == status
    assert problem["field"] == field
    assert_nothing_changed(platform)


def test_an_unknown_trigger_is_refused(platform: Platform):
    code, problem = platform.call("POST", "/v1/triggers/moon_landing", GOOD)
    assert (code, problem["field"]) == (400, "trigger")
    assert_nothing_changed(platform)


def test_a_form_body_is_unsupported_media(platform: Platform):
    code, problem = platform.call(
        "POST",
        TRIGGER,
        b"contact_id=contact-ada",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (code, problem["field"]) == (415, "content-type")
    assert_nothing_changed(platform)


def test_an_unknown_route_is_a_problem_not_a_crash(platform: Platform):
    code, problem = platform.call("GET", "/v1/nothing-here")
    assert (code, problem["title"]) == (404, "Not found")


def test_a_contact_not_opted_in_is_refused_with_the_reason(platform: Platform):
    code, problem = platform.call("POST", TRIGGER, {**GOOD, "contact_id": "contact-alan"})
    assert (code, problem["reason"]) == (409, "not_opted_in")
    assert_nothing_changed(platform)


def test_a_disabled_tenant_sends_nothing(platform: Platform):
    config = platform.table("CONFIG_TABLE")
    config.update_item(
        Key={"pk": "TENANT#demo-isp", "sk": "TENANT"},
        UpdateExpression="SET sms_enabled = :off",
        ExpressionAttributeValues={":off": False},
    )
    code, problem = platform.call("POST", TRIGGER, GOOD)
    assert (code, problem["reason"]) == (409, "feature_disabled")
    assert_nothing_changed(platform)


def _second_tenant(platform: Platform, permissions: list[str]) -> str:
    from functions.dal.config import ConfigTable

    config = ConfigTable(platform.table("CONFIG_TABLE"))
    config.put_tenant(
        Tenant(tenant_id="other", name="Other", sms_enabled=True, default_sending_number="+18005550111")
    )
    key = "sms_other_tenant_key"
    config.put_api_key(ApiKey(key_hash=hash_key(key), tenant_id="other", name="t", permissions=permissions))
    return key


def test_another_tenants_message_is_not_found(platform: Platform):
    created = platform.send(TRIGGER, GOOD)
    other_key = _second_tenant(platform, [Permission.VIEW_SMS.value, Permission.CREATE_SMS.value])

    code, problem = platform.call("GET", f"/v1/messages/{created['id']}", key=other_key)
    assert (code, problem["status"]) == (404, 404)
    assert platform.call("GET", "/v1/messages", key=other_key)[1]["items"] == []
    # Nor can it message the first tenant's contacts.
    assert platform.call("POST", TRIGGER, GOOD, key=other_key)[0] in {404, 409}


def test_a_key_without_the_create_permission_cannot_send(platform: Platform):
    view_only = _second_tenant(platform, [Permission.VIEW_SMS.value])
    code, problem = platform.call("POST", TRIGGER, GOOD, key=view_only)
    assert code == 403
    assert "sms:create" in problem["detail"]


def test_the_log_pages_newest_first_with_a_cursor(platform: Platform):
    ids = [platform.send(TRIGGER, GOOD)["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        path = "/v1/messages?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = platform.call("GET", path)
        assert status == 200
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


@pytest.mark.parametrize("query", ["limit=0", "limit=1000", "limit=abc", "cursor=%%%", "cursor=e30="])
def test_bad_list_parameters_are_problems(platform: Platform, query):
    code, problem = platform.call("GET", f"/v1/messages?{query}")
    assert 400 <= code < 500
    assert set(problem) >= PROBLEM_KEYS
