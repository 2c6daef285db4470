"""A tenant from nothing, through the API only: operator set-up, configuration, then triggered messages."""

from __future__ import annotations

from typing import Any

import pytest

from functions.dal.opt_outs import GLOBAL_SCOPE, OptOut, OptOutsTable
from functions.domain.messages import utc_now
from local.demo import OPERATOR_API_KEY
from tests.integration.conftest import Platform

ALL = ["sms:create", "sms:view", "config:manage"]


def ok(
    platform: Platform, method: str, path: str, body: Any = None, key: str | None = None, status: int = 200
) -> Any:
    code, result = platform.call(method, path, body, key=key)
    assert code == status, result
    return result


@pytest.fixture
def acme(platform: Platform) -> str:
    """A new tenant, created and configured through the API; returns its key."""
    ok(platform, "POST", "/v1/operator/tenants", {
        "tenant_id": "acme-fiber", "name": "Acme Fiber", "time_zone": "America/Chicago",
        "price_per_segment_micros": 10_000, "sending_numbers": ["(833) 555-0100", "+1 833 555 0101"],
    }, key=OPERATOR_API_KEY, status=201)  # fmt: skip
    key = ok(platform, "POST", "/v1/operator/tenants/acme-fiber/api-keys", {"name": "ops", "permissions": ALL},
             key=OPERATOR_API_KEY, status=201)["api_key"]  # fmt: skip
    department = ok(platform, "POST", "/v1/departments", {
        "name": "Support", "phone_number": "312-555-0199", "email": "support@acme.example",
    }, key=key, status=201)  # fmt: skip
    ok(platform, "POST", "/v1/signatures", {
        "name": "Support", "department_id": department["department_id"],
        "text": "Need to chat? Call |DEPARTMENT_PHONE_NUMBER|. Email |DEPARTMENT_EMAIL|. Reply STOP to unsubscribe.",
        "default_for_triggered": True,
    }, key=key, status=201)  # fmt: skip
    ok(platform, "POST", "/v1/contacts", {
        "name": "Pat Doe", "contact_type": "Billing", "related_entity_id": "A-1", "related_entity_name": "Doe home",
        "phones": [{"number": "(312) 555-0142", "number_type": "Mobile", "sms_opt_in": True},
                   {"number": "312 555 0143", "number_type": "Home", "sms_opt_in": True}],
    }, key=key, status=201)  # fmt: skip
    return key


def contact_id(platform: Platform, key: str) -> str:
    # The fixture made exactly one contact; find it through the account's messages path instead of guessing.
    table = platform.table("CONFIG_TABLE")
    items = table.scan()["Items"]
    (found,) = [
        item for item in items if item["pk"] == "TENANT#acme-fiber" and item["sk"].startswith("CONTACT#")
    ]
    return found["contact_id"]


PAYMENT = {"variables": {"company": "Acme", "amount": 2500}}


def test_a_new_tenant_sends_nothing_until_it_enables_sms(platform: Platform, acme: str):
    settings = ok(platform, "GET", "/v1/settings", key=acme)
    assert settings["sms_enabled"] is False
    assert settings["default_sending_number"] == "+18335550100"
    body = {**PAYMENT, "contact_id": contact_id(platform, acme)}

    code, problem = platform.call("POST", "/v1/triggers/payment_received", body, key=acme)
    assert (code, problem["reason"]) == (409, "feature_disabled")
    assert platform.ready_count() == 0

    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    result = ok(platform, "POST", "/v1/triggers/payment_received", body, key=acme, status=202)
    (message,) = result["messages"]
    assert message["phone_number"] == "+13125550142"  # the Home number is not SMS-capable
    assert result["skipped"] == [
        {"contact_id": body["contact_id"], "phone_number": "+13125550143", "reason": "not_sms_capable",
         "detail": "+13125550143 is a Home number, which is not SMS-capable"}
    ]  # fmt: skip
    assert message["body"].endswith(
        "Need to chat? Call 312-555-0199. Email support@acme.example. Reply STOP to unsubscribe."
    )
    assert (message["segments"], message["price_micros"]) == (1, 10_000)


def test_a_department_change_shows_in_the_next_message(platform: Platform, acme: str):
    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    (department,) = ok(platform, "GET", "/v1/departments", key=acme)
    ok(platform, "PUT", f"/v1/departments/{department['department_id']}", {
        "name": "Support", "phone_number": "312-555-0100", "email": "help@acme.example",
    }, key=acme)  # fmt: skip
    message = platform.send(
        "/v1/triggers/payment_received", {**PAYMENT, "contact_id": contact_id(platform, acme)}, key=acme
    )
    assert "Call 312-555-0100. Email help@acme.example." in message["body"]


def test_signature_names_are_unique_and_defaults_are_one_of_each_kind(platform: Platform, acme: str):
    (department,) = ok(platform, "GET", "/v1/departments", key=acme)
    base = {"department_id": department["department_id"], "text": "Reply STOP to unsubscribe."}
    code, problem = platform.call("POST", "/v1/signatures", {**base, "name": "support "}, key=acme)
    assert (code, problem["reason"], problem["field"]) == (409, "name_taken", "name")

    second = ok(platform, "POST", "/v1/signatures", {**base, "name": "Short", "default_for_triggered": True,
                                                    "default_for_mass": True}, key=acme, status=201)  # fmt: skip
    signatures = {s["name"]: s for s in ok(platform, "GET", "/v1/signatures", key=acme)}
    assert signatures["Short"]["default_for_triggered"]
    assert signatures["Short"]["default_for_mass"]
    assert not signatures["Support"]["default_for_triggered"]
    settings = ok(platform, "GET", "/v1/settings", key=acme)
    assert settings["default_triggered_signature_id"] == second["id"]

    # Renaming frees the old name; deleting the default leaves no default.
    ok(platform, "PUT", f"/v1/signatures/{second['id']}", {**base, "name": "Shorter"}, key=acme)
    ok(platform, "POST", "/v1/signatures", {**base, "name": "Short"}, key=acme, status=201)
    ok(platform, "DELETE", f"/v1/signatures/{second['id']}", key=acme, status=204)
    assert ok(platform, "GET", "/v1/settings", key=acme)["default_triggered_signature_id"] is None


def test_only_the_six_signature_texts_are_accepted(platform: Platform, acme: str):
    (department,) = ok(platform, "GET", "/v1/departments", key=acme)
    code, problem = platform.call("POST", "/v1/signatures", {
        "name": "Free text", "department_id": department["department_id"], "text": "Text us anytime!",
    }, key=acme)  # fmt: skip
    assert (code, problem["field"]) == (422, "body.text")


def test_no_default_signature_is_a_stated_refusal(platform: Platform, acme: str):
    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    (signature,) = ok(platform, "GET", "/v1/signatures", key=acme)
    ok(platform, "PUT", f"/v1/signatures/{signature['id']}", {
        "name": "Support", "department_id": signature["department_id"], "text": signature["text"],
    }, key=acme)  # fmt: skip
    code, problem = platform.call(
        "POST",
        "/v1/triggers/payment_received",
        {**PAYMENT, "contact_id": contact_id(platform, acme)},
        key=acme,
    )
    assert (code, problem["reason"]) == (409, "no_signature")


def test_opt_in_and_sms_capable_types_decide_who_can_be_messaged(platform: Platform, acme: str):
    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    contact = contact_id(platform, acme)
    body = {**PAYMENT, "contact_id": contact}
    ok(
        platform,
        "PUT",
        f"/v1/contacts/{contact}/sms-opt-in",
        {"phone_number": "312-555-0142", "opted_in": False},
        key=acme,
    )
    code, problem = platform.call("POST", "/v1/triggers/payment_received", body, key=acme)
    assert (code, problem["reason"]) == (409, "not_opted_in")  # the first number's refusal, then every one:
    assert [(s["phone_number"], s["reason"]) for s in problem["skipped"]] == [
        ("+13125550142", "not_opted_in"),
        ("+13125550143", "not_sms_capable"),
    ]

    code, problem = platform.call(
        "POST", "/v1/triggers/payment_received", {**body, "phone_number": "3125550142"}, key=acme
    )
    assert (code, problem["reason"]) == (409, "not_opted_in")

    ok(platform, "PUT", "/v1/phone-number-types/Home", {"sms_capable": True}, key=acme)
    result = ok(platform, "POST", "/v1/triggers/payment_received", body, key=acme, status=202)
    assert [m["phone_number"] for m in result["messages"]] == ["+13125550143"]
    viewed = ok(platform, "GET", f"/v1/contacts/{contact}", key=acme)
    assert [(p["number"], p["sms_capable"], p["sms_opt_in"]) for p in viewed["phones"]] == [
        ("+13125550142", True, False), ("+13125550143", True, True)
    ]  # fmt: skip


def test_an_opted_out_number_is_refused(platform: Platform, acme: str):
    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    OptOutsTable(platform.table("OPT_OUTS_TABLE")).add(
        OptOut(
            scope=GLOBAL_SCOPE,
            phone_number="+13125550142",
            opted_out_at=utc_now(),
            source="keyword",
            actor="STOP",
        )
    )
    code, problem = platform.call("POST", "/v1/triggers/payment_received", {
        **PAYMENT, "contact_id": contact_id(platform, acme), "phone_number": "+13125550142",
    }, key=acme)  # fmt: skip
    assert (code, problem["reason"]) == (409, "opted_out")
    assert platform.ready_count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "+44 20 7183 8750", "number_type": "Mobile"}, "phones.0.number"),
        ({"number": "312-555-0199", "number_type": "Pager"}, "phones.0.number_type"),
    ],
)
def test_contacts_take_only_nanp_numbers_of_known_types(platform: Platform, acme: str, body, field):
    code, problem = platform.call("POST", "/v1/contacts", {
        "name": "X", "contact_type": "Billing", "related_entity_id": "A-2", "related_entity_name": "X", "phones": [body],
    }, key=acme)  # fmt: skip
    assert (code, problem["field"]) == (400, field)
    assert (
        len([i for i in platform.table("CONFIG_TABLE").scan()["Items"] if i["sk"].startswith("CONTACT#")])
        == 5
    )


def test_a_bad_department_changes_nothing(platform: Platform, acme: str):
    before = ok(platform, "GET", "/v1/departments", key=acme)
    code, problem = platform.call(
        "POST", "/v1/departments", {"name": "X", "phone_number": "312-555-0100", "email": "nope"}, key=acme
    )
    assert (code, problem["field"]) == (422, "body.email")
    code, problem = platform.call(
        "POST", "/v1/departments", {"name": "X", "phone_number": "12", "email": "a@b.example"}, key=acme
    )
    assert (code, problem["field"]) == (400, "phone_number")
    assert ok(platform, "GET", "/v1/departments", key=acme) == before


def test_the_tenant_picks_only_its_own_sending_numbers(platform: Platform, acme: str):
    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    body = {**PAYMENT, "contact_id": contact_id(platform, acme)}
    message = platform.send(
        "/v1/triggers/payment_received", {**body, "sending_number": "833-555-0101"}, key=acme
    )
    assert message["sending_number"] == "+18335550101"
    code, problem = platform.call(
        "POST", "/v1/triggers/payment_received", {**body, "sending_number": "+18005550100"}, key=acme
    )
    assert (code, problem["field"]) == (400, "sending_number")


def test_keys_see_only_their_own_tenant(platform: Platform, acme: str):
    # The demo tenant's contact is invisible to acme: 404, never 403.
    code, problem = platform.call("GET", "/v1/contacts/contact-ada", key=acme)
    assert (code, problem["status"]) == (404, 404)
    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    code, _ = platform.call(
        "POST", "/v1/triggers/payment_received", {**PAYMENT, "contact_id": "contact-ada"}, key=acme
    )
    assert code == 404


def test_operator_routes_need_the_operator_and_tenant_routes_a_tenant(platform: Platform, acme: str):
    assert platform.call("GET", "/v1/operator/tenants", key=acme)[0] == 403
    assert platform.call("POST", "/v1/triggers/payment_received", PAYMENT, key=OPERATOR_API_KEY)[0] == 403
    tenants = ok(platform, "GET", "/v1/operator/tenants", key=OPERATOR_API_KEY)
    assert {"demo-isp", "acme-fiber"} <= {t["tenant_id"] for t in tenants}
    code, problem = platform.call(
        "POST", "/v1/operator/tenants", {"tenant_id": "acme-fiber", "name": "Again"}, key=OPERATOR_API_KEY
    )
    assert (code, problem["reason"]) == (409, "tenant_exists")


def test_the_operator_sets_the_price(platform: Platform, acme: str):
    ok(
        platform,
        "PATCH",
        "/v1/operator/tenants/acme-fiber",
        {"price_per_segment_micros": 7_000},
        key=OPERATOR_API_KEY,
    )
    ok(platform, "PATCH", "/v1/settings", {"sms_enabled": True}, key=acme)
    long_reason = {"company": "Acme " * 30, "amount": 100}
    message = platform.send(
        "/v1/triggers/payment_received",
        {"variables": long_reason, "contact_id": contact_id(platform, acme)},
        key=acme,
    )
    assert message["segments"] == 2
    assert message["price_micros"] == 14_000
    code, _ = platform.call("PATCH", "/v1/settings", {"price_per_segment_micros": 1}, key=acme)
    assert code == 422  # a tenant cannot set its own price


def test_names_and_ids_in_the_path_may_be_percent_encoded(platform: Platform, acme: str):
    # GIVEN a phone number type and an account id with a space, encoded as a browser sends them
    settings = ok(platform, "PUT", "/v1/phone-number-types/Work%20Cell", {"sms_capable": True}, key=acme)
    # THEN they are stored by their names, not their encodings
    assert settings["phone_number_types"]["Work Cell"] is True
    assert "Work%20Cell" not in settings["phone_number_types"]
    ok(platform, "PUT", "/v1/accounts/acct%201001", {"name": "Spaced"}, key=acme)
    assert ok(platform, "GET", "/v1/accounts/acct%201001", key=acme)["account_id"] == "acct 1001"
