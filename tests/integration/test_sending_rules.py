"""Recipients, idempotency, tenant templates and right-to-left text, on the demo tenant."""

from __future__ import annotations

from local.demo import DEMO_TEMPLATE_ID, OPERATOR_API_KEY
from tests.integration.conftest import Platform

PAYMENT_VARIABLES = {"company": "Demo Fiber", "amount": 4999}


def test_an_account_trigger_messages_each_eligible_number_of_its_contacts(platform: Platform):
    code, result = platform.call(
        "POST",
        "/v1/triggers/service_reactivated",
        {"account_id": "acct-1001", "variables": {"company": "Demo"}},
    )
    assert code == 202, result
    assert sorted(m["phone_number"] for m in result["messages"]) == ["+14165550123", "+14165550125"]
    assert [(s["phone_number"], s["reason"]) for s in result["skipped"]] == [
        ("+14165550124", "not_sms_capable")
    ]
    assert platform.ready_count() == 2


def test_an_accounts_contacts_can_be_listed(platform: Platform):
    code, contacts = platform.call("GET", "/v1/contacts?entity_id=acct-1001")
    assert code == 200
    assert sorted(contact["id"] for contact in contacts) == ["contact-ada", "contact-charles"]
    assert platform.call("GET", "/v1/contacts?entity_id=acct-1001&entity_type=planet")[0] == 422


def test_the_same_number_on_two_contacts_gets_one_message(platform: Platform):
    from functions.dal.config import ConfigTable

    config = ConfigTable(platform.table("CONFIG_TABLE"))
    charles = config.get_contact("demo-isp", "contact-charles")
    assert charles is not None
    shared = charles.phones[0].model_copy(update={"number": "+14165550123"})
    config.put_contact("demo-isp", charles.model_copy(update={"phones": [shared]}))

    _, result = platform.call(
        "POST",
        "/v1/triggers/service_reactivated",
        {"account_id": "acct-1001", "variables": {"company": "Demo"}},
    )
    assert [m["phone_number"] for m in result["messages"]] == ["+14165550123"]


def test_a_retried_request_with_the_same_idempotency_key_returns_the_same_messages(platform: Platform):
    body = {"contact_id": "contact-ada", "variables": PAYMENT_VARIABLES}
    headers = {"idempotency-key": "invoice-42-paid"}
    first = platform.call("POST", "/v1/triggers/payment_received", body, headers=headers)
    second = platform.call("POST", "/v1/triggers/payment_received", body, headers=headers)

    assert first[0] == second[0] == 202
    assert first[1]["messages"][0]["id"] == second[1]["messages"][0]["id"]
    assert platform.ready_count() == 1
    assert platform.table("MESSAGES_TABLE").scan()["Count"] == 1

    changed = {**body, "variables": {**PAYMENT_VARIABLES, "amount": 1}}
    code, problem = platform.call("POST", "/v1/triggers/payment_received", changed, headers=headers)
    assert (code, problem["field"]) == (400, "idempotency-key")
    assert platform.ready_count() == 1


def test_idempotency_keys_are_per_tenant(platform: Platform):
    headers = {"idempotency-key": "same-key"}
    body = {"contact_id": "contact-ada", "variables": PAYMENT_VARIABLES}
    platform.call("POST", "/v1/triggers/payment_received", body, headers=headers)
    other = platform.call("POST", "/v1/triggers/payment_received", {**body, "contact_id": "contact-grace"},
                          headers={"idempotency-key": "other-key"})  # fmt: skip
    assert other[0] == 202
    assert platform.ready_count() == 2


def test_a_tenant_template_is_sent_only_after_the_operator_approves_it(platform: Platform):
    code, template = platform.call("POST", "/v1/templates", {
        "name": "Shift notice", "text": "Bonus shift on {{day}}: reply to your lead.", "variables": {"day": "text"},
    })  # fmt: skip
    assert (code, template["status"]) == (201, "pending")
    send = {"contact_id": "contact-ada", "variables": {"day": "Friday"}}

    code, problem = platform.call("POST", f"/v1/templates/{template['id']}/messages", send)
    assert (code, problem["reason"]) == (409, "template_not_approved")
    assert platform.ready_count() == 0

    code, pending = platform.call("GET", "/v1/operator/templates", key=OPERATOR_API_KEY)
    assert template["id"] in [p["id"] for p in pending]
    code, reviewed = platform.call(
        "POST",
        f"/v1/operator/tenants/demo-isp/templates/{template['id']}/review",
        {"approve": True},
        key=OPERATOR_API_KEY,
    )
    assert (code, reviewed["status"]) == (200, "approved")
    assert template["id"] not in [
        p["id"] for p in platform.call("GET", "/v1/operator/templates", key=OPERATOR_API_KEY)[1]
    ]

    message = platform.send(f"/v1/templates/{template['id']}/messages", send)
    assert message["body"].startswith("Bonus shift on Friday: reply to your lead.\n")
    assert message["saved_message"] == f"tenant:{template['id']}@v1"


def test_a_rejected_template_stays_unsendable(platform: Platform):
    _, template = platform.call("POST", "/v1/templates", {"name": "Promo", "text": "50% off today only!"})
    platform.call("POST", f"/v1/operator/tenants/demo-isp/templates/{template['id']}/review",
                  {"approve": False, "note": "promotional"}, key=OPERATOR_API_KEY)  # fmt: skip
    code, problem = platform.call(
        "POST", f"/v1/templates/{template['id']}/messages", {"contact_id": "contact-ada"}
    )
    assert (code, problem["reason"]) == (409, "template_not_approved")


def test_a_template_must_declare_its_placeholders(platform: Platform):
    code, problem = platform.call(
        "POST", "/v1/templates", {"name": "Bad", "text": "Hi {{name}}", "variables": {}}
    )
    assert (code, problem["field"]) == (400, "text")


def test_the_approved_demo_template_renders_the_calling_list_fields(platform: Platform):
    message = platform.send(
        f"/v1/templates/{DEMO_TEMPLATE_ID}/messages",
        {"contact_id": "contact-grace", "variables": {"first_name": "Grace", "quote": 125000}},
    )
    assert message["body"].startswith(
        "Hi Grace, sorry we missed you. Your fence quote of $1,250.00 is ready."
    )


def test_an_arabic_message_goes_end_to_end_as_ucs2(platform: Platform):
    message = platform.send(
        "/v1/triggers/payment_received_ar", {"contact_id": "contact-ada", "variables": PAYMENT_VARIABLES}
    )
    assert message["encoding"] == "UCS2"
    assert "شكراً لك" in message["body"]
    assert message["segments"] == 3  # 70 UTF-16 units for one part; the signature makes it longer
    platform.run_dispatchers()
    platform.deliver_receipts()
    (record,) = platform.simulator.records
    assert record.body == message["body"]
    assert record.parts == 3
    assert platform.call("GET", f"/v1/messages/{message['id']}")[1]["status"] == "Delivered"


def test_the_catalog_is_readable(platform: Platform):
    code, catalog = platform.call("GET", "/v1/saved-messages")
    assert code == 200
    names = {entry["name"] for entry in catalog}
    assert {
        "Planned Outage",
        "Unplanned Outage",
        "Unplanned Outage (no restoration ETA)",
        "Invoice created",
    } <= names
    arabic = next(entry for entry in catalog if entry["key"] == "payment_received_ar")
    assert arabic["direction"] == "rtl"
