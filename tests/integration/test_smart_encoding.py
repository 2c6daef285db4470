# ruff: noqa: RUF001 (typographic look-alikes are what this file is about)
"""Smart encoding through the real handlers: triggers, mass messages and calling lists on moto."""

from __future__ import annotations

from typing import Any

from local.demo import DEMO_TEMPLATE_ID
from tests.integration.conftest import Platform

TRIGGER = "/v1/triggers/payment_received"
# A company name as a tenant's system writes it: a curly apostrophe and an em dash.
TYPOGRAPHIC = {"contact_id": "contact-ada", "variables": {"company": "O’Brien Fiber — North", "amount": 4999}}


def ok(platform: Platform, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    code, result = platform.call(method, path, body)
    assert code == status, result
    return result


def smart(platform: Platform, on: bool = True) -> None:
    assert ok(platform, "PATCH", "/v1/settings", {"smart_encoding": on})["smart_encoding"] is on


def test_off_by_default_a_curly_apostrophe_makes_the_message_ucs2(platform: Platform):
    assert ok(platform, "GET", "/v1/settings")["smart_encoding"] is False
    created = platform.send(TRIGGER, TYPOGRAPHIC)
    assert (created["encoding"], created["segments"], created["price_micros"]) == ("UCS2", 3, 3 * 8_500)
    assert created["original_body"] is None
    assert "O’Brien Fiber — North" in created["body"]


def test_on_the_message_is_sent_and_priced_as_gsm_and_shows_both_texts(platform: Platform):
    # GIVEN smart encoding on
    smart(platform)

    # WHEN a trigger renders a typographic company name
    created = platform.send(TRIGGER, TYPOGRAPHIC)

    # THEN the message is GSM-7, one part, priced as one; it keeps the text as written
    assert (created["encoding"], created["segments"], created["price_micros"]) == ("GSM", 1, 8_500)
    assert created["body"].startswith("O'Brien Fiber - North: thank you")
    assert created["original_body"].startswith("O’Brien Fiber — North: thank you")
    shown = ok(platform, "GET", f"/v1/messages/{created['id']}")
    assert (shown["body"], shown["original_body"]) == (created["body"], created["original_body"])

    # AND the carrier receives the GSM-7 text in one part
    platform.run_dispatchers()
    (record,) = platform.simulator.records
    assert (record.body, record.parts) == (created["body"], 1)


def test_a_body_with_a_real_non_gsm_character_is_sent_as_written(platform: Platform):
    smart(platform)
    arabic = platform.send(
        "/v1/triggers/payment_received_ar",
        {"contact_id": "contact-ada", "variables": {"company": "O’Brien Fiber", "amount": 4999}},
    )
    assert arabic["encoding"] == "UCS2"
    assert arabic["original_body"] is None
    assert "O’Brien Fiber" in arabic["body"]


def test_a_mass_message_previews_and_sends_the_gsm_text(platform: Platform):
    # GIVEN two site-north accounts, and smart encoding on
    ok(platform, "PUT", "/v1/accounts/acct-1001", {"name": "Lovelace", "network_site_id": "site-north"})
    ok(platform, "PUT", "/v1/accounts/acct-1002", {"name": "Hopper", "network_site_id": "site-north"})
    outage = {
        "saved_message": "planned_outage",
        "outage_start": "2026-12-01T02:00:00-05:00",
        "outage_end": "2026-12-01T04:00:00-05:00",
        "variables": {"company": "O’Brien Fiber"},
        "filters": {"network_site_ids": ["site-north"]},
    }
    as_written = ok(platform, "POST", "/v1/mass-messages", outage, status=202)
    smart(platform)

    # WHEN it is previewed and confirmed
    job = ok(platform, "POST", "/v1/mass-messages", outage, status=202)

    # THEN the preview counts the GSM-7 parts (2 instead of 4) and shows both texts
    assert as_written["preview"]["segments_per_message"] == 4
    assert as_written["original_body"] is None
    preview = job["preview"]
    assert preview["segments_per_message"] == 2
    assert preview["total_micros"] == preview["recipients"] * 2 * 8_500
    assert job["body"].startswith("O'Brien Fiber: planned maintenance")
    assert job["original_body"].startswith("O’Brien Fiber: planned maintenance")
    ok(platform, "POST", f"/v1/mass-messages/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]},
       status=202)  # fmt: skip
    platform.run_fanout()
    messages = ok(platform, "GET", f"/v1/messages?job_id={job['id']}")["items"]
    assert len(messages) == preview["recipients"]
    assert {(m["body"], m["original_body"], m["segments"]) for m in messages} == {
        (job["body"], job["original_body"], 2)
    }


def test_a_calling_list_record_is_encoded_and_the_template_is_unchanged(platform: Platform):
    smart(platform)
    template_text = ok(platform, "GET", f"/v1/templates/{DEMO_TEMPLATE_ID}")["text"]
    upload = {
        "name": "Fence painting",
        "template_id": DEMO_TEMPLATE_ID,
        "phone_field": "cell",
        "name_field": "first",
        "mapping": {"first_name": "first", "quote": "quote_cents"},
        "records": [
            {"first": "D’Arcy", "cell": "416-555-0301", "quote_cents": 125000},
            {"first": "Zoë", "cell": "416-555-0302", "quote_cents": 9900},  # ë is not GSM-7: as written
        ],
    }
    job = ok(platform, "POST", "/v1/calling-lists", upload, status=202)
    ok(platform, "POST", f"/v1/calling-lists/{job['id']}/confirm", {"confirmation_token": job["confirmation_token"]},
       status=202)  # fmt: skip
    platform.run_fanout()

    by_number = {
        m["phone_number"]: m for m in ok(platform, "GET", f"/v1/messages?job_id={job['id']}")["items"]
    }
    darcy, zoe = by_number["+14165550301"], by_number["+14165550302"]
    assert darcy["body"].startswith("Hi D'Arcy, sorry we missed you.")
    assert darcy["original_body"].startswith("Hi D’Arcy")
    assert (darcy["encoding"], zoe["encoding"]) == ("GSM", "UCS2")
    assert zoe["original_body"] is None
    assert ok(platform, "GET", f"/v1/templates/{DEMO_TEMPLATE_ID}")["text"] == template_text
